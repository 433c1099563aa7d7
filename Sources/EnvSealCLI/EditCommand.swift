import ArgumentParser
import Dispatch
import EnvSealFormat
import Foundation
import KMSClient
import SealedDotenv
import SodiumKit

/// `envseal edit`: open a sealed file in `$EDITOR` as plain text, seal it again on save.
struct EditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edit",
        abstract: "Edit a sealed file as plain text in $VISUAL or $EDITOR, and seal it again.",
        discussion: """
        The plaintext goes to a 0600 file in a private 0700 folder, in memory-backed storage \
        (/dev/shm) where the machine has it; the folder is overwritten and removed on every exit \
        path, including SIGTERM and SIGHUP (SIGINT is left to the editor, as git does). If the \
        edited text does not parse, the error names the line and the sealed file is untouched. \
        Unchanged values keep their exact ciphertext; new variables are sealed; covered plain \
        variables stay plain.

        Examples:
          envseal edit .env.sealed
          EDITOR='code --wait' envseal edit .env.sealed
        """
    )

    @Argument(help: "The sealed file, changed in place.") var file: String
    @OptionGroup var writing: InPlaceOptions
    @OptionGroup var service: KeyServiceOptions

    func run() async throws {
        // Locked for the whole session: another writer waits (up to --lock-timeout) instead of
        // having its change overwritten by the edited text.
        let target = try writing.open(file)
        let sealed = try target.readDotenv()
        let connection = try await service.connect()
        let plain = try await connection.run(file: file) { try await connection.sealer.decrypt(sealed) }
        let workspace = try PrivateWorkspace(name: URL(fileURLWithPath: file).lastPathComponent)
        defer { workspace.destroy() }
        var original = plain.render()
        defer { original.withUnsafeMutableBytes { SecureMemory.zero($0) } }
        try workspace.write(original)

        let status = try workspace.runEditor()
        guard status == 0 else {
            throw CLIError("the editor exited with status \(status); \(file) is unchanged")
        }
        var edited = try workspace.read()
        defer { edited.withUnsafeMutableBytes { SecureMemory.zero($0) } }
        guard edited != original else {
            FileHandle.standardError.write(Data("envseal: no changes; \(file) is unchanged\n".utf8))
            return
        }
        let parsed: DotenvFile
        do {
            parsed = try DotenvFile.parse(edited)
        } catch {
            throw CLIError("the edited text, line \(error.line), column \(error.column): \(error.kind); \(file) is unchanged",
                           exitCode: EnvSealExit.malformedInput)
        }
        let resealed = try await connection.run(file: file) { try await connection.sealer.reseal(parsed, from: sealed) }
        try target.replace(with: resealed.render())
    }
}

/// A private folder for plaintext: 0700, in /dev/shm when it exists, emptied and removed by
/// ``destroy()`` or by SIGTERM/SIGHUP.
final class PrivateWorkspace {
    let directory: String
    let path: String
    private let signalSources: [any DispatchSourceSignal]

    init(name: String) throws {
        var isDirectory: ObjCBool = false
        let shm = "/dev/shm"
        let base = FileManager.default.fileExists(atPath: shm, isDirectory: &isDirectory) && isDirectory.boolValue && access(shm, W_OK) == 0
            ? shm : NSTemporaryDirectory()
        var template = Array("\(base)/envseal-edit-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!).map { String(cString: $0) } }
        guard let created else {
            throw CLIError("cannot make a private folder in \(base): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotWrite)
        }
        directory = created
        path = directory + "/" + (name.isEmpty || name == "-" ? "env" : name)
        // Remove the plaintext when terminated. The handlers run on a dispatch queue while the
        // main thread waits for the editor; the signals are ignored at the process level so that
        // only the sources see them, and reset to default for the editor by posix_spawn.
        var sources: [any DispatchSourceSignal] = []
        let directory = self.directory
        let path = self.path
        for signalNumber in [SIGTERM, SIGHUP] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler {
                PrivateWorkspace.erase(path: path, directory: directory)
                _exit(128 + signalNumber)
            }
            source.resume()
            sources.append(source)
        }
        signalSources = sources
    }

    func write(_ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileIO.cannotWrite(path, errno) }
        defer { close(fd) }
        try FileIO.writeAll(fd, bytes)
    }

    func read() throws -> [UInt8] {
        // Editors often replace the file instead of writing into it: read it by name.
        try FileIO.readBytes(path)
    }

    /// Runs `$VISUAL`, else `$EDITOR`, else `vi`, through the shell (so `code --wait` works), with
    /// SIGINT ignored here while it runs.
    func runEditor() throws -> Int32 {
        let environment = ProcessEnvironment.variables()
        let editor = [environment["VISUAL"], environment["EDITOR"]].compactMap { $0 }.first { !$0.isEmpty } ?? "vi"
        let arguments = ["/bin/sh", "-c", "\(editor) \"$1\"", "sh", path]
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signalNumber in [SIGTERM, SIGHUP, SIGINT, SIGQUIT] { sigaddset(&defaults, signalNumber) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        defer { signal(SIGINT, previousInterrupt) }
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", nil, &attributes, &argv, environ)
        guard spawned == 0 else {
            throw CLIError("cannot start the editor \(editor): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw CLIError("lost the editor: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// Overwrites and removes the plaintext and everything the editor left beside it (swap and
    /// backup files).
    func destroy() {
        for source in signalSources { source.cancel() }
        Self.erase(path: path, directory: directory)
    }

    static func erase(path: String, directory: String) {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
            for name in names { overwrite(directory + "/" + name) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func overwrite(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return }
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let zeros = [UInt8](repeating: 0, count: Int(info.st_size))
        try? FileIO.writeAll(fd, zeros)
        fsync(fd)
    }
}
