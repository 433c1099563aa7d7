import EnvSealFormat
import Foundation

/// Reading dotenv files and writing files atomically, so that a crash or a SIGKILL at any moment
/// leaves either the old file or the new one, never a torn one, and never plaintext behind.
enum FileIO {
    /// Reads and parses a dotenv file; errors name the file, line and column.
    static func readDotenv(_ path: String) throws -> DotenvFile {
        let bytes = try readBytes(path)
        do {
            return try DotenvFile.parse(bytes)
        } catch {
            throw CLIError("\(path):\(error.line):\(error.column): \(error.kind)", exitCode: EnvSealExit.malformedInput)
        }
    }

    /// Reads a whole file (`-` is standard input).
    static func readBytes(_ path: String) throws -> [UInt8] {
        if path == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path): \(FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")",
                           exitCode: EnvSealExit.cannotRead)
        }
        return Array(data)
    }

    /// Replaces (or creates) `path` with `bytes` atomically: a temporary file in the same folder,
    /// written, fsynced, given the old file's mode (0644 for a new file; always 0600 when
    /// `isPrivate`), renamed over `path`, and the folder fsynced so the rename itself is durable.
    static func writeAtomically(_ bytes: [UInt8], to path: String, isPrivate: Bool = false) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        var info = stat()
        let mode: mode_t = isPrivate ? 0o600 : (stat(path, &info) == 0 ? info.st_mode & 0o7777 : 0o644)
        var template = Array("\(directory)/.\(url.lastPathComponent).envseal-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw cannotWrite(path, errno) }
        let temporary = String(cString: template)
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        // The final mode before any byte goes in: a plaintext output is never readable by others.
        guard fchmod(fd, mode) == 0 else { let e = errno; close(fd); throw cannotWrite(path, e) }
        do {
            try writeAll(fd, bytes)
        } catch {
            close(fd)
            throw cannotWrite(path, errno)
        }
        guard fsync(fd) == 0 else { let e = errno; close(fd); throw cannotWrite(path, e) }
        close(fd)
        guard rename(temporary, path) == 0 else { throw cannotWrite(path, errno) }
        renamed = true
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// Writes every byte, retrying partial writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw CLIError("write failed: \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotWrite)
                }
                offset += n
            }
        }
    }

    /// Writes to standard output.
    static func writeStandardOutput(_ bytes: [UInt8]) throws {
        try writeAll(STDOUT_FILENO, bytes)
    }

    static func cannotWrite(_ path: String, _ code: Int32) -> CLIError {
        CLIError("cannot write \(path): \(String(cString: strerror(code)))", exitCode: EnvSealExit.cannotWrite)
    }
}
