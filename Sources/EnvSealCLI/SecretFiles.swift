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
    let directory: String
    private let lock: Int32
    private var written: [String] = []

    /// Makes the folder in `parent`.
    /// - Parameters:
    ///   - parent: An existing folder, on tmpfs or ramfs unless `allowDisk`.
    ///   - allowDisk: Accept a parent on any file system.
    init(parent: String, allowDisk: Bool) throws {
        if !allowDisk, try !MemoryFileSystem.holds(parent, for: "--as-files") {
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
        FolderEraser.eraseWithOwnMemory(directory)
        close(lock)
    }
}
