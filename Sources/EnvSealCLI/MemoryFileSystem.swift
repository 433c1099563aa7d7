import Foundation

/// Whether a folder is on a file system kept in memory (tmpfs, ramfs), where plaintext written
/// by `edit` and `exec --as-files` never reaches a disk.
enum MemoryFileSystem {
    /// `statfs` types of the file systems kept in memory.
    static let types: Set<Int> = [0x0102_1994 /* tmpfs */, 0x8584_58F6 /* ramfs */]

    /// Whether `path` is on tmpfs or ramfs.
    /// - Parameters:
    ///   - path: An existing file or folder.
    ///   - purpose: What the folder is for (`--as-files`, `edit`), for the error.
    /// - Throws: `CLIError` when the file system cannot be told (no such path, no statfs).
    static func holds(_ path: String, for purpose: String) throws -> Bool {
        types.contains(try type(of: path, for: purpose))
    }

    private typealias StatFS = @convention(c) (UnsafePointer<CChar>, UnsafeMutableRawPointer) -> Int32
    /// `statfs`, which the Glibc module does not import (`sys/vfs.h`).
    private static let statfsFunction: StatFS? = dlsym(nil, "statfs").map { unsafeBitCast($0, to: StatFS.self) }

    /// The `f_type` of the file system holding `path`.
    static func type(of path: String, for purpose: String) throws -> Int {
        guard let statfsFunction else {
            throw CLIError("\(purpose) \(path): cannot tell which file system it is on (no statfs)", exitCode: EnvSealExit.cannotWrite)
        }
        // struct statfs is 120 bytes on 64-bit Linux and starts with f_type, a long.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 16)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 256)
        guard statfsFunction(path, buffer) == 0 else {
            throw CLIError("\(purpose) \(path): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotWrite)
        }
        return buffer.load(as: Int.self)
    }
}
