@testable import EnvSealCLI
import Foundation
import Testing

/// The pieces of `envseal edit` that keep plaintext from outliving it.
@Suite("edit: the private folder")
struct PrivateWorkspaceTests {
    @Test("a plain editor command runs with exec, so signals passed on reach the editor itself", arguments: [
        ("vi", "exec vi \"$1\""),
        ("code --wait", "exec code --wait \"$1\""),
        ("$HOME/bin/ed -q", "exec $HOME/bin/ed -q \"$1\""),
        ("cd /tmp; vi", "cd /tmp; vi \"$1\""),
        ("vi || nano", "vi || nano \"$1\""),
        ("TERM=xterm vi", "TERM=xterm vi \"$1\""),
        ("exec vim", "exec vim \"$1\""),
    ])
    func shellCommand(editor: String, expected: String) {
        #expect(PrivateWorkspace.shellCommand(editor) == expected)
    }

    @Test("the folder goes in memory, and on a disk only with --allow-disk",
          .enabled(if: (try? MemoryFileSystem.holds("/var/tmp", for: "test")) == false, "needs /var/tmp on a disk"))
    func memoryOnly() throws {
        let disk = "/var/tmp/envseal-workspace-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: disk) }
        #expect(throws: CLIError.self) { _ = try PrivateWorkspace(name: "env", candidates: ["/nonexistent", disk]) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: disk).isEmpty)
        #expect(try PrivateWorkspace.base(among: ["/nonexistent", disk], allowDisk: true) == disk)
        if try MemoryFileSystem.holds("/dev/shm", for: "test") {
            #expect(try PrivateWorkspace.base(among: [disk, "/dev/shm"], allowDisk: false) == "/dev/shm")
            #expect(try PrivateWorkspace.base(among: [disk, "/dev/shm/"], allowDisk: true) == "/dev/shm")
        }
    }

    @Test("the eraser zeroes and removes files, folders and links, follows no link and waits on no FIFO")
    func eraser() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("eraser-\(UUID().uuidString)").path
        let folder = base + "/work"
        let outside = base + "/outside.txt"
        try FileManager.default.createDirectory(atPath: folder + "/sub/deeper", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: outside))
        for name in ["env", ".env.swp", "env~", "sub/a", "sub/deeper/b"] {
            try Data("SECRET=1".utf8).write(to: URL(fileURLWithPath: folder + "/" + name))
        }
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: outside)
        #expect(mkfifo(folder + "/fifo", 0o600) == 0)
        // An open descriptor still sees the inode after it is unlinked: it must be zeroes by then.
        let held = open(folder + "/env", O_RDONLY)
        defer { close(held) }

        _ = FolderEraser.isAvailable
        FolderEraser.erase(folder)

        #expect(!FileManager.default.fileExists(atPath: folder))
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "keep me")
        var bytes = [UInt8](repeating: 0xFF, count: 8)
        #expect(pread(held, &bytes, 8, 0) == 8)
        #expect(bytes == [UInt8](repeating: 0, count: 8))
    }
}
