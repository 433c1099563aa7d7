import ArgumentParser
import EnvSealFormat
import Foundation
import KMSClient

/// A file a command rewrites in place (`set`, `unset`, `edit`, `rotate`, `rewrap`,
/// `encrypt --in-place`), held under an exclusive lock from before it is read until it is
/// replaced, so that concurrent writers take turns instead of losing each other's changes.
///
/// Symlinks are followed to the file they name, which is what gets locked and replaced. The lock
/// is `flock` on the file itself, so nothing is left beside it. A replacement is a new inode
/// renamed over the name, and a lock on the old inode does not hold back a writer that opens the
/// new one: so after taking the lock, the name is checked to still lead to the locked inode, and
/// if it does not (another writer replaced the file meanwhile), the new file is locked instead.
/// The file is read through the locked descriptor, so what is changed is what was locked.
///
/// Standard input (`-`) cannot be changed in place (64); nor can anything but a regular file
/// (73); a read-only file is refused (73) unless forced. The lock is released when the object
/// goes away or the process ends.
final class InPlaceFile {
    /// The name as the user gave it, for messages.
    let name: String
    /// The file `name` leads to.
    let path: String
    private let descriptor: Int32

    /// Opens and locks `name`, waiting up to `lockTimeout` seconds for another writer.
    init(_ name: String, force: Bool, lockTimeout: Double) throws {
        guard name != "-" else {
            throw CLIError("standard input (-) cannot be changed in place", hint: "name the file (./- for a file named -)",
                           exitCode: EnvSealExit.usage)
        }
        self.name = name
        path = try FileIO.followSymlinks(name)
        let deadline = Date().addingTimeInterval(lockTimeout)
        var announced = false
        var fd = try Self.open(name, path: path, force: force)
        while true {
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                var locked = stat()
                var current = stat()
                if fstat(fd, &locked) == 0, stat(path, &current) == 0, locked.st_dev == current.st_dev, locked.st_ino == current.st_ino {
                    break
                }
                // Replaced while we waited: lock the file that is there now.
                close(fd)
                fd = try Self.open(name, path: path, force: force)
                continue
            }
            guard errno == EWOULDBLOCK || errno == EINTR else {
                let code = errno
                close(fd)
                throw CLIError("cannot lock \(name): \(String(cString: strerror(code)))", exitCode: EnvSealExit.cannotWrite)
            }
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                close(fd)
                throw CLIError("\(name) is being changed by another envseal command; gave up waiting after \(Self.seconds(lockTimeout)) s; it was left unchanged",
                               hint: "try again when that command is done, or wait longer with --lock-timeout SECONDS (or ENVSEAL_LOCK_TIMEOUT)",
                               exitCode: EnvSealExit.cannotWrite)
            }
            if !announced, lockTimeout - remaining >= 1 {
                FileHandle.standardError.write(Data("envseal: waiting for another envseal command changing \(name)\n".utf8))
                announced = true
            }
            usleep(UInt32(min(remaining, 0.02) * 1_000_000))
        }
        descriptor = fd
    }

    deinit {
        close(descriptor)
    }

    /// Reads and parses the locked file.
    func readDotenv() throws -> DotenvFile {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var offset: off_t = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read \(name): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotRead)
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
            offset += off_t(n)
        }
        return try FileIO.parseDotenv(bytes, from: name)
    }

    /// Replaces the file atomically with `bytes`, keeping its mode; the lock is held until after.
    func replace(with bytes: [UInt8]) throws {
        try FileIO.writeAtomically(bytes, to: path)
    }

    /// Opens `path` for reading and locking, after checking it is a regular file (a FIFO would
    /// block the open) that may be replaced.
    private static func open(_ name: String, path: String, force: Bool) throws -> Int32 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileIO.cannotRead(name, errno) }
        if info.st_mode & S_IFMT == S_IFDIR { throw FileIO.cannotRead(name, EISDIR) }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw CLIError("\(name) is not a regular file, and only a regular file can be changed in place", exitCode: EnvSealExit.cannotWrite)
        }
        if !force { try FileIO.refuseReadOnly(name, path: path, info: info) }
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw CLIError("cannot read \(name): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotRead)
        }
        return fd
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

/// `--force` and `--lock-timeout`, for the commands that rewrite a file in place.
struct InPlaceOptions: ParsableArguments {
    /// How long a writer waits for another by default.
    static let defaultLockTimeout = 30.0

    @Flag(help: "Replace the file even when it is read-only.")
    var force = false

    @Option(help: ArgumentHelp(
        "Seconds to wait while another envseal command changes the same file.",
        discussion: "Default: ENVSEAL_LOCK_TIMEOUT, else 30.", valueName: "seconds"))
    var lockTimeout: Double?

    func validate() throws {
        if let lockTimeout, !(lockTimeout >= 0 && lockTimeout.isFinite) {
            throw ValidationError("--lock-timeout must be a number of seconds, 0 or more")
        }
    }

    /// Opens and locks `file` for changing in place.
    func open(_ file: String) throws -> InPlaceFile {
        try InPlaceFile(file, force: force, lockTimeout: timeout())
    }

    /// `--lock-timeout`, else `ENVSEAL_LOCK_TIMEOUT`, else 30 seconds.
    func timeout(environment: [String: String] = ProcessEnvironment.variables()) throws -> Double {
        if let lockTimeout { return lockTimeout }
        guard let text = environment["ENVSEAL_LOCK_TIMEOUT"] else { return Self.defaultLockTimeout }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else {
            throw CLIError("ENVSEAL_LOCK_TIMEOUT=\(text) is not a number of seconds", exitCode: EnvSealExit.usage)
        }
        return seconds
    }
}
