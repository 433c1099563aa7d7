import EnvSeal
import Foundation

/// The private folder of `envseal exec --as-files`: one file per sealed variable, named after
/// it, holding the value's exact bytes (mode 0400), in a folder of mode 0700 made inside a
/// parent on tmpfs or ramfs (a disk only when allowed), so that no secret reaches a disk.
///
/// The folder is named `envseal-exec-PID-XXXXXX` and holds a lock file, like
/// ``PrivateWorkspace``'s: a folder whose lock can be taken was left by an envseal killed
/// without cleaning up (SIGKILL), and the next `exec --as-files` in the same parent removes it.
final class SecretFiles {
    static let prefix = "envseal-exec-"
    /// `statfs` types of the file systems kept in memory.
    static let memoryFileSystems: Set<Int> = [0x0102_1994 /* tmpfs */, 0x8584_58F6 /* ramfs */]

    let directory: String
    private let lock: Int32
    private var written: [String] = []

    /// Makes the folder in `parent`.
    /// - Parameters:
    ///   - parent: An existing folder, on tmpfs or ramfs unless `allowDisk`.
    ///   - allowDisk: Accept a parent on any file system.
    init(parent: String, allowDisk: Bool) throws {
        let type = try Self.fileSystemType(parent)
        if !allowDisk, !Self.memoryFileSystems.contains(type) {
            throw CLIError("--as-files \(parent): not a tmpfs or ramfs folder, so the secrets would reach a disk",
                           hint: "use a folder in memory such as /dev/shm, or pass --allow-disk", exitCode: EnvSealExit.usage)
        }
        PrivateWorkspace.removeAbandoned(in: parent, prefix: Self.prefix, leftBy: "envseal exec --as-files")
        var template = Array("\(parent)/\(Self.prefix)\(getpid())-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!).map { String(cString: $0) } }
        guard let created else {
            throw CLIError("cannot make a private folder in \(parent): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotWrite)
        }
        directory = created
        lock = try PrivateWorkspace.lock(folder: directory)
    }

    private typealias StatFS = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32
    /// `statfs`, which the Glibc module does not import (`sys/vfs.h`).
    private static let statfsFunction: StatFS? = dlsym(nil, "statfs").map { unsafeBitCast($0, to: StatFS.self) }

    /// The `f_type` of the file system holding `path`.
    static func fileSystemType(_ path: String) throws -> Int {
        guard let statfsFunction else {
            throw CLIError("--as-files \(path): cannot tell which file system it is on (no statfs)", exitCode: EnvSealExit.cannotWrite)
        }
        // struct statfs is 120 bytes on 64-bit Linux and starts with f_type, a long.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        guard statfsFunction(path, buffer) == 0 else {
            throw CLIError("--as-files \(path): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotWrite)
        }
        return buffer.load(as: Int.self)
    }

    /// Writes `secret` to a new file named `name` and returns its path.
    func write(name: String, secret: Secret<String>) throws -> String {
        guard !name.isEmpty, !name.hasPrefix("."), !name.contains("/") else {
            throw CLIError("variable \(name) cannot name a file in the --as-files folder", exitCode: EnvSealExit.malformedInput)
        }
        let path = directory + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o400)
        guard fd >= 0 else { throw FileIO.cannotWrite(path, errno) }
        written.append(path)
        defer { close(fd) }
        // Straight from guarded memory: no copy of the value on the heap.
        let code: Int32 = secret.withRevealedBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return 0
        }
        guard code == 0 else { throw FileIO.cannotWrite(path, code) }
        return path
    }

    /// Overwrites and removes the files and the folder.
    func destroy() {
        // The eraser overwrites only what it can open for writing.
        for path in written { chmod(path, 0o600) }
        FolderEraser.erase(directory)
        close(lock)
    }
}
