import EnvSealFormat
import Foundation
import SealedDotenv
import Synchronization

/// Reading dotenv files and writing files atomically, so that a crash or a SIGKILL at any moment
/// leaves either the old file or the new one, never a torn one, and never plaintext behind.
enum FileIO {
    /// Reads and parses a dotenv file; errors name the file, line and column.
    static func readDotenv(_ path: String) throws -> DotenvFile {
        try parseDotenv(readBytes(path), from: path)
    }

    /// Parses the bytes of a dotenv file; errors name `path`, the line and column.
    static func parseDotenv(_ bytes: [UInt8], from path: String) throws -> DotenvFile {
        do {
            return try DotenvFile.parse(bytes)
        } catch {
            throw CLIError("\(path):\(error.line):\(error.column): \(error.kind)", exitCode: EnvSealExit.code(for: ErrorClassification(error).kind))
        }
    }

    /// Reads a whole file (`-` is standard input); a failure (66) says why, a folder included.
    static func readBytes(_ path: String) throws -> [UInt8] {
        if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw cannotRead(path, errno) }
        defer { close(fd) }
        var info = stat()
        if fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFDIR { throw cannotRead(path, EISDIR) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw cannotRead(path, errno)
            }
            if n == 0 { return bytes }
            bytes += chunk[0..<n]
        }
    }

    /// The error (66) for a file that cannot be read, in words: "no such file", "it is a directory".
    static func cannotRead(_ path: String, _ code: Int32) -> CLIError {
        let reason = switch code {
        case ENOENT: "no such file"
        case EACCES: "permission denied"
        case EISDIR: "it is a directory"
        default: String(cString: strerror(code))
        }
        return CLIError("cannot read \(path): \(reason)", exitCode: EnvSealExit.cannotRead)
    }

    /// Replaces (or creates) `path` with `bytes` atomically, leaving nothing behind on any exit.
    ///
    /// The bytes go to an unnamed file in the target's folder (`O_TMPFILE`), given its final mode
    /// (the old file's; 0644 for a new one; always 0600 when `isPrivate`) before any byte, written
    /// in full and fsynced; only then does it get a name (`linkat`), which is renamed over `path`
    /// at once, and the folder is fsynced so the rename is durable. A SIGKILL before the link
    /// leaves no file at all (the kernel drops the unnamed inode); at any moment the target is
    /// the old file or the new one. Where the file system has no `O_TMPFILE`, a named temporary
    /// file (`mkstemp`) is used and removed on every error.
    ///
    /// Linux cannot link a file over an existing name, so a SIGKILL in the microseconds between
    /// the link and the rename leaves the complete new file under its temporary name,
    /// `.NAME.envseal-…`, with the target's mode. The next write to the same path removes such
    /// leftovers first.
    ///
    /// With `replacing` false an existing `path` is never replaced: the complete file is linked to
    /// `path` (which fails with `EEXIST` when something is there, atomically) instead of renamed
    /// over it, and the error says so (73).
    static func writeAtomically(_ bytes: [UInt8], to path: String, isPrivate: Bool = false, replacing: Bool = true) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        removeLeftovers(of: url.lastPathComponent, in: directory)
        var info = stat()
        let mode: mode_t = isPrivate ? 0o600 : (stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0o644)
        let temporaryName = "\(directory)/.\(url.lastPathComponent).envseal-\(UInt32.random(in: .min ... .max))"

        var fd = open(directory, oTmpFile | O_WRONLY | O_CLOEXEC, 0o600)
        if fd < 0 {
            guard errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL || errno == ENOENT && FileManager.default.fileExists(atPath: directory) else {
                throw cannotWrite(path, errno)
            }
            var template = Array("\(directory)/.\(url.lastPathComponent).envseal-XXXXXX".utf8CString)
            fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
            guard fd >= 0 else { throw cannotWrite(path, errno) }
            return try finish(fd: fd, bytes: bytes, mode: mode, path: path, directory: directory, named: String(cString: template),
                              replacing: replacing)
        }
        try finish(fd: fd, bytes: bytes, mode: mode, path: path, directory: directory, unnamedLinkName: temporaryName, replacing: replacing)
    }

    /// The path `path` leads to once every symlink on the way is followed, each relative one
    /// against its own folder: the file a replacement must go to, so that the link stays a link.
    /// The last path may not exist yet (a dangling symlink names a file to create).
    static func followSymlinks(_ path: String) throws -> String {
        var current = path
        // The kernel's own limit on symlinks in one lookup (MAXSYMLINKS).
        for _ in 0..<40 {
            var info = stat()
            guard lstat(current, &info) == 0 else {
                guard errno == ENOENT else { throw cannotWrite(path, errno) }
                return current
            }
            guard info.st_mode & S_IFMT == S_IFLNK else { return current }
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX))
            let length = readlink(current, &buffer, buffer.count)
            guard length >= 0 else { throw cannotWrite(path, errno) }
            let target = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if target.hasPrefix("/") {
                current = target
            } else if let slash = current.lastIndex(of: "/") {
                current = String(current[...slash]) + target
            } else {
                current = target
            }
        }
        throw cannotWrite(path, ELOOP)
    }

    /// Whether `output` (already `stat`ed) is the file `input` names, or standard input's file
    /// for `-`: the same device and inode, whatever the spelling, symlink or hard link.
    static func isSameFile(_ output: stat, as input: String) -> Bool {
        var info = stat()
        let found = input == "-" ? fstat(STDIN_FILENO, &info) == 0 : stat(input, &info) == 0
        return found && info.st_mode & S_IFMT == S_IFREG && info.st_dev == output.st_dev && info.st_ino == output.st_ino
    }

    /// Refuses (73) to replace a file without write permission: its mode grants none (root may
    /// write anything, and would otherwise replace a 0444 file silently), or the caller has none.
    static func refuseReadOnly(_ name: String, path: String, info: stat) throws {
        guard info.st_mode & 0o222 == 0 || access(path, W_OK) != 0 else { return }
        throw CLIError("\(name) is read-only (mode \(String(info.st_mode & 0o7777, radix: 8))); it was left unchanged",
                       hint: "give --force to replace it anyway", exitCode: EnvSealExit.cannotWrite)
    }

    /// The refusal (73) to write over something that is neither a regular file, a character
    /// device nor a FIFO.
    static func notWritable(_ name: String, _ info: stat) -> CLIError {
        let kind = switch info.st_mode & S_IFMT {
        case S_IFDIR: "a directory"
        case S_IFSOCK: "a socket"
        case S_IFBLK: "a block device"
        default: "not a regular file"
        }
        return CLIError("cannot write \(name): it is \(kind)",
                        hint: "envseal writes regular files (replaced atomically), character devices and FIFOs", exitCode: EnvSealExit.cannotWrite)
    }

    /// Writes into a character device or FIFO: opened for writing only, without creating or
    /// truncating anything, as the shell's `>` would on such a file.
    static func writeStream(_ bytes: [UInt8], to path: String, name: String) throws {
        let fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw cannotWrite(name, errno) }
        let written = writeFully(fd, bytes)
        guard written == 0 else { close(fd); throw cannotWrite(name, written) }
        guard close(fd) == 0 || errno == EINTR else { throw cannotWrite(name, errno) }
    }

    /// Removes the temporary files a killed write to `name` left in `directory`.
    private static func removeLeftovers(of name: String, in directory: String) {
        let prefix = ".\(name).envseal-"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for entry in entries where entry.hasPrefix(prefix) {
            unlink("\(directory)/\(entry)")
        }
    }

    /// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`), which Glibc's Swift module does not import.
    private static let oTmpFile: Int32 = 0o20_000_000 | O_DIRECTORY

    private static func finish(
        fd: Int32, bytes: [UInt8], mode: mode_t, path: String, directory: String,
        named: String? = nil, unnamedLinkName: String? = nil, replacing: Bool = true
    ) throws {
        var linked: String? = named
        defer {
            if let linked { unlink(linked) }
        }
        // The final mode before any byte goes in: a plaintext output is never readable by others.
        guard fchmod(fd, mode) == 0 else { let e = errno; close(fd); throw cannotWrite(path, e) }
        let written = writeFully(fd, bytes)
        guard written == 0 else { close(fd); throw cannotWrite(path, written) }
        guard fsync(fd) == 0 else { let e = errno; close(fd); throw cannotWrite(path, e) }
        if let unnamedLinkName {
            // Give the unnamed file a name through /proc, which needs no privilege (AT_EMPTY_PATH does).
            guard linkat(AT_FDCWD, "/proc/self/fd/\(fd)", AT_FDCWD, unnamedLinkName, AT_SYMLINK_FOLLOW) == 0 else {
                let e = errno
                close(fd)
                throw cannotWrite(path, e)
            }
            linked = unnamedLinkName
        }
        close(fd)
        if replacing {
            guard let source = linked, rename(source, path) == 0 else { throw cannotWrite(path, errno) }
            linked = nil
        } else {
            // The temporary name is removed by the `defer` either way.
            guard let source = linked, link(source, path) == 0 else {
                let code = errno
                if code == EEXIST {
                    throw CLIError("\(path) already exists; it was left unchanged", hint: "give --force to replace it", exitCode: EnvSealExit.cannotWrite)
                }
                throw cannotWrite(path, code)
            }
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Writes every byte, retrying partial writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        let code = writeFully(fd, bytes)
        guard code == 0 else {
            throw CLIError("write failed: \(String(cString: strerror(code)))", exitCode: EnvSealExit.cannotWrite)
        }
    }

    /// Writes every byte, retrying partial writes and EINTR; 0, or the `errno` of the write that failed.
    private static func writeFully(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
    }

    /// Writes to standard output, after anything left in stdio's buffers. A failed write is
    /// an error (73); a reader that went away (EPIPE) ends the process quietly, see
    /// ``endByBrokenPipe()``.
    static func writeStandardOutput(_ bytes: [UInt8]) throws {
        guard fflush(nil) == 0 else { throw standardOutputError(errno) }
        let code = writeFully(STDOUT_FILENO, bytes)
        guard code == 0 else { throw standardOutputError(code) }
    }

    /// Flushes stdio, closes standard output and reports the first write that failed: a full disk
    /// or a closed pipe must not pass for success. Called once, when a command succeeded.
    static func finishStandardOutput() throws {
        guard fflush(nil) == 0 else { throw standardOutputError(errno) }
        let failed = printFailure.load(ordering: .acquiring)
        guard failed == 0 else { throw standardOutputError(failed) }
        // close reports what a file system defers (NFS); EBADF: standard output was never open.
        guard close(STDOUT_FILENO) == 0 || errno == EBADF || errno == EINTR else { throw standardOutputError(errno) }
    }

    /// The `errno` of the first failed ``print(_:separator:terminator:)``, 0 while none failed.
    private static let printFailure = Atomic<Int32>(0)

    /// Writes what ``print(_:separator:terminator:)`` prints; after a failure, nothing more.
    fileprivate static func printToStandardOutput(_ bytes: [UInt8]) {
        guard printFailure.load(ordering: .acquiring) == 0 else { return }
        let code = writeFully(STDOUT_FILENO, bytes)
        if code == EPIPE { endByBrokenPipe() }
        if code != 0 { printFailure.store(code, ordering: .releasing) }
    }

    /// The error for a failed write to standard output; EPIPE does not return.
    private static func standardOutputError(_ code: Int32) -> CLIError {
        if code == EPIPE { endByBrokenPipe() }
        return CLIError("cannot write standard output: \(String(cString: strerror(code)))", exitCode: EnvSealExit.cannotWrite)
    }

    /// Ends the process as a closed pipe ends `cat`: killed by SIGPIPE, without a message. Reached
    /// when SIGPIPE is ignored (inherited from the parent), so the write failed with EPIPE instead.
    static func endByBrokenPipe() -> Never {
        signal(SIGPIPE, SIG_DFL)
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_UNBLOCK, &pipeSignal, nil)
        raise(SIGPIPE)
        _exit(128 + SIGPIPE)
    }

    static func cannotWrite(_ path: String, _ code: Int32) -> CLIError {
        CLIError("cannot write \(path): \(String(cString: strerror(code)))", exitCode: EnvSealExit.cannotWrite)
    }
}

/// Everything this module prints goes through here instead of the standard library's `print`,
/// which it shadows: that one buffers in stdio, whose failed writes (a full disk, a closed pipe)
/// go unseen and whose `errno` is lost. Each call is one unbuffered write; the first failure is
/// reported when the command ends (``FileIO/finishStandardOutput()``, exit 73), and EPIPE ends
/// the process as SIGPIPE does.
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    FileIO.printToStandardOutput(Array((items.map { String(describing: $0) }.joined(separator: separator) + terminator).utf8))
}
