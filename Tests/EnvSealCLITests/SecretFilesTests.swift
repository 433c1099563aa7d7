import EnvSeal
@testable import EnvSealCLI
import Foundation
import Testing

/// The private folder of `envseal exec --as-files`.
@Suite("exec --as-files: the secret files")
struct SecretFilesTests {
    private func parent() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("secret-files-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The permission bits of `path` itself (a symlink is not followed), or 0 when it is missing.
    private func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int) ?? 0
    }

    @Test("each value is written, exactly, to a 0400 file of a 0700 folder, all removed by destroy")
    func writesAndRemoves() throws {
        let base = try parent()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let files = try SecretFiles(parent: base, allowDisk: true)
        let path = try files.write(name: "TOKEN", secret: Secret("line one\nline two \u{e9}"))
        let empty = try files.write(name: "EMPTY", secret: Secret(""))
        #expect(path == files.directory + "/TOKEN")
        #expect(mode(files.directory) == 0o700)
        #expect(mode(path) == 0o400)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Data("line one\nline two \u{e9}".utf8))
        #expect(try Data(contentsOf: URL(fileURLWithPath: empty)).isEmpty)
        // O_EXCL: a name is written once.
        #expect(throws: CLIError.self) { try files.write(name: "TOKEN", secret: Secret("again")) }
        files.destroy()
        #expect(!FileManager.default.fileExists(atPath: files.directory))
    }

    @Test("folders erased at the same time, each with its own listing memory, are all removed")
    func concurrentErasers() async throws {
        let base = try parent()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let folders = try (0..<8).map { index in
            let folder = base + "/folder-\(index)"
            try FileManager.default.createDirectory(atPath: folder + "/nested", withIntermediateDirectories: true)
            // Long names, so each listing takes several getdents64 calls' worth of records.
            for file in 0..<300 {
                let name = String(repeating: "n", count: 120) + "-\(file)"
                try Data("value \(file)".utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
                try Data("nested \(file)".utf8).write(to: URL(fileURLWithPath: folder + "/nested/" + name))
            }
            return folder
        }
        await withTaskGroup(of: Void.self) { group in
            for folder in folders {
                group.addTask { folder.withCString { FolderEraser.eraseWithOwnMemory($0) } }
            }
        }
        for folder in folders { #expect(!FileManager.default.fileExists(atPath: folder)) }
    }

    @Test("a name that is not a plain file name is refused", arguments: ["", ".lock", "../x", "a/b"])
    func badNames(name: String) throws {
        let base = try parent()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let files = try SecretFiles(parent: base, allowDisk: true)
        defer { files.destroy() }
        #expect(throws: CLIError.self) { try files.write(name: name, secret: Secret("value")) }
    }

    @Test("a parent on disk is refused without allowDisk; a missing one always")
    func diskParent() throws {
        let base = try parent()
        defer { try? FileManager.default.removeItem(atPath: base) }
        #expect(throws: CLIError.self) { try SecretFiles(parent: base + "/missing", allowDisk: true) }
        let onMemory = try MemoryFileSystem.holds(base, for: "test")
        if !onMemory {
            #expect(throws: CLIError.self) { try SecretFiles(parent: base, allowDisk: false) }
        }
        if access("/dev/shm", W_OK) == 0 {
            #expect(try MemoryFileSystem.holds("/dev/shm", for: "test"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: base).isEmpty)
    }

    @Test("a folder whose lock nobody holds is swept by the next one made beside it")
    func sweepsAbandoned() throws {
        let base = try parent()
        defer { try? FileManager.default.removeItem(atPath: base) }
        let abandoned = base + "/" + SecretFiles.prefix + "999999-abcdef"
        try FileManager.default.createDirectory(atPath: abandoned, withIntermediateDirectories: false)
        _ = FileManager.default.createFile(atPath: abandoned + "/" + PrivateWorkspace.lockName, contents: nil)
        _ = FileManager.default.createFile(atPath: abandoned + "/TOKEN", contents: Data("x".utf8))
        let files = try SecretFiles(parent: base, allowDisk: true)
        defer { files.destroy() }
        #expect(!FileManager.default.fileExists(atPath: abandoned))
        #expect(FileManager.default.fileExists(atPath: files.directory))
    }
}
