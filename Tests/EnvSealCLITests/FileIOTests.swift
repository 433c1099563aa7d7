import ArgumentParser
@testable import EnvSealCLI
import EnvSealFormat
import Foundation
import Testing

/// Where the CLI writes: symlinks followed, devices and FIFOs written into, other kinds, the input
/// itself and read-only files refused, and in-place writers taking turns under a lock.
@Suite("envseal CLI: output targets and in-place files")
struct FileIOTests {
    /// A fresh folder, removed by the caller.
    static func folder() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-fileio-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func exitCode(_ body: () throws -> Void) -> Int32? {
        do {
            try body()
            return nil
        } catch let error as CLIError {
            return error.exitCode
        } catch {
            return -1
        }
    }

    @Test func aWriteThatMustNotReplaceRefusesAnExistingFileAndLeavesNothingBehind() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileIO.writeAtomically(Array("first\n".utf8), to: "\(dir)/key", isPrivate: true, replacing: false)
        #expect(try FileManager.default.attributesOfItem(atPath: "\(dir)/key")[.posixPermissions] as? Int == 0o600)
        #expect(Self.exitCode { try FileIO.writeAtomically(Array("second\n".utf8), to: "\(dir)/key", isPrivate: true, replacing: false) } == 73)
        #expect(try String(contentsOfFile: "\(dir)/key", encoding: .utf8) == "first\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["key"])
    }

    @Test func symlinkChainsAreFollowedEachAgainstItsOwnFolder() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: "\(dir)/a/b", withIntermediateDirectories: true)
        try Data("X=1\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/a/b/real.env"))
        symlink("b/real.env", "\(dir)/a/inner")
        symlink("a/inner", "\(dir)/outer")
        symlink("\(dir)/outer", "\(dir)/absolute")
        #expect(try FileIO.followSymlinks("\(dir)/outer") == "\(dir)/a/b/real.env")
        #expect(try FileIO.followSymlinks("\(dir)/absolute") == "\(dir)/a/b/real.env")
        #expect(try FileIO.followSymlinks("\(dir)/a/b/real.env") == "\(dir)/a/b/real.env")
        symlink("missing/new.env", "\(dir)/a/dangling")
        #expect(try FileIO.followSymlinks("\(dir)/a/dangling") == "\(dir)/a/missing/new.env")
        symlink("loop2", "\(dir)/loop1")
        symlink("loop1", "\(dir)/loop2")
        #expect(Self.exitCode { _ = try FileIO.followSymlinks("\(dir)/loop1") } == EnvSealExit.cannotWrite)
    }

    @Test func outputTargetsByKind() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try OutputTarget("-", force: false, input: nil).destination == .standardOutput)
        #expect(try OutputTarget("\(dir)/new.env", force: false, input: nil).destination == .file("\(dir)/new.env"))
        #expect(Self.exitCode { _ = try OutputTarget("", force: false, input: nil) } == EnvSealExit.usage)
        #expect(Self.exitCode { _ = try OutputTarget(dir, force: true, input: nil) } == EnvSealExit.cannotWrite)
        #expect(mkfifo("\(dir)/fifo", 0o600) == 0)
        #expect(try OutputTarget("\(dir)/fifo", force: false, input: nil).destination == .stream("\(dir)/fifo"))
        symlink("fifo", "\(dir)/to-fifo")
        #expect(try OutputTarget("\(dir)/to-fifo", force: false, input: nil).destination == .stream("\(dir)/to-fifo"))
    }

    @Test func theInputAndReadOnlyFilesAreRefused() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let input = "\(dir)/in.env"
        try Data("X=1\n".utf8).write(to: URL(fileURLWithPath: input))
        symlink("in.env", "\(dir)/link")
        link(input, "\(dir)/hard")
        for output in [input, "\(dir)/./in.env", "\(dir)/link", "\(dir)/hard"] {
            #expect(Self.exitCode { _ = try OutputTarget(output, force: true, input: input) } == EnvSealExit.usage, "\(output)")
        }
        #expect(try OutputTarget("\(dir)/link", force: false, input: "\(dir)/other").destination == .file(input))

        chmod(input, 0o444)
        #expect(Self.exitCode { _ = try OutputTarget(input, force: false, input: nil) } == EnvSealExit.cannotWrite)
        #expect(try OutputTarget(input, force: true, input: nil).destination == .file(input))
        #expect(Self.exitCode { _ = try InPlaceFile(input, force: false, lockTimeout: 0) } == EnvSealExit.cannotWrite)
        let forced = try InPlaceFile(input, force: true, lockTimeout: 0)
        try forced.replace(with: Array("X=2\n".utf8))
        let mode = try FileManager.default.attributesOfItem(atPath: input)[.posixPermissions] as? Int
        #expect(mode == 0o444, "the mode was not kept")
    }

    @Test func standardInputAndNonRegularFilesCannotBeChangedInPlace() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(Self.exitCode { _ = try InPlaceFile("-", force: false, lockTimeout: 0) } == EnvSealExit.usage)
        #expect(mkfifo("\(dir)/fifo", 0o600) == 0)
        #expect(Self.exitCode { _ = try InPlaceFile("\(dir)/fifo", force: false, lockTimeout: 0) } == EnvSealExit.cannotWrite)
        #expect(Self.exitCode { _ = try InPlaceFile("\(dir)/missing", force: false, lockTimeout: 0) } == EnvSealExit.cannotRead)
    }

    @Test func aSecondWriterWaitsThenGivesUp() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/sealed.env"
        try Data("X=1\n".utf8).write(to: URL(fileURLWithPath: path))
        var first: InPlaceFile? = try InPlaceFile(path, force: false, lockTimeout: 0)
        let started = Date()
        #expect(Self.exitCode { _ = try InPlaceFile(path, force: false, lockTimeout: 0.3) } == EnvSealExit.cannotWrite)
        #expect(Date().timeIntervalSince(started) >= 0.3)
        withExtendedLifetime(first) {}
        first = nil
        #expect(try InPlaceFile(path, force: false, lockTimeout: 0).readDotenv().names == ["X"])
    }

    @Test func aWaitingWriterLocksTheFileThatReplacedTheOneItWaitedFor() async throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = "\(dir)/sealed.env"
        try Data("A=1\n".utf8).write(to: URL(fileURLWithPath: path))
        var first: InPlaceFile? = try InPlaceFile(path, force: false, lockTimeout: 0)
        let waiting = Task.detached { () throws -> [String] in
            let second = try InPlaceFile(path, force: false, lockTimeout: 20)
            return try second.readDotenv().names
        }
        try await Task.sleep(for: .milliseconds(200))
        // Renamed over the name: the waiting writer holds back on the old inode until this one
        // lets go, then must find the new file and read that, not the old one.
        try first?.replace(with: Array("A=1\nB=2\n".utf8))
        first = nil
        #expect(try await waiting.value == ["A", "B"])
    }

    @Test func lockTimeoutComesFromTheOptionThenTheEnvironment() throws {
        #expect(try InPlaceOptions.parse([]).timeout(environment: [:]) == InPlaceOptions.defaultLockTimeout)
        #expect(try InPlaceOptions.parse([]).timeout(environment: ["ENVSEAL_LOCK_TIMEOUT": "2.5"]) == 2.5)
        #expect(try InPlaceOptions.parse(["--lock-timeout", "1"]).timeout(environment: ["ENVSEAL_LOCK_TIMEOUT": "2.5"]) == 1)
        #expect(Self.exitCode { _ = try InPlaceOptions.parse([]).timeout(environment: ["ENVSEAL_LOCK_TIMEOUT": "soon"]) } == EnvSealExit.usage)
        #expect(throws: (any Error).self) { try InPlaceOptions.parse(["--lock-timeout", "-1"]) }
    }

    @Test func readingAFolderSaysItIsADirectory() throws {
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(throws: CLIError.self) { try FileIO.readBytes(dir) }
        do {
            _ = try FileIO.readBytes(dir)
        } catch let error as CLIError {
            #expect(error.message == "cannot read \(dir): it is a directory")
            #expect(error.exitCode == EnvSealExit.cannotRead)
        }
        #expect(Self.exitCode { _ = try FileIO.readBytes("\(dir)/missing") } == EnvSealExit.cannotRead)
        try Data("A=1\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/a.env"))
        #expect(try FileIO.readBytes("\(dir)/a.env") == Array("A=1\n".utf8))
    }

    /// `--output` is a format everywhere: in `encrypt`/`decrypt` the old `--output FILE` still
    /// parses, but `--output text|json` is a usage error, never a file name.
    @Test func outputTextOrJSONIsNotAFileName() throws {
        for value in ["json", "text", "JSON"] {
            #expect(throws: (any Error).self) { try DecryptCommand.parse(["f", "--output", value]) }
            #expect(throws: (any Error).self) { try EncryptCommand.parse(["f", "--key", "k", "--output", value]) }
        }
        #expect(throws: (any Error).self) { try DecryptCommand.parse(["f", "-o", "a", "--output", "b"]) }
        #expect(try DecryptCommand.parse(["f", "--out", "plain.env"]).out == "plain.env")
        #expect(try DecryptCommand.parse(["f", "--output", "plain.env"]).legacyOutput == "plain.env")
        #expect(try DecryptCommand.parse(["f", "-o", "json"]).out == "json")
    }
}
