import ArgumentParser
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
        path, including every signal that ends the process (then the editor is ended too; a \
        Ctrl-C or Ctrl-\\ at the terminal is left to the editor, as git does); the next edit \
        removes a folder that a SIGKILLed edit left. If the edited text does not parse, the \
        error names the line and column; on a terminal, Enter opens the editor again on the same \
        text and q gives up, elsewhere envseal gives up at once. The sealed file is untouched \
        until the text parses. Core dumps are disabled. \
        Unchanged values keep their exact ciphertext; new variables are sealed; covered plain \
        variables stay plain.

        Examples:
          envseal edit .env.sealed
          EDITOR='code --wait' envseal edit .env.sealed
        """
    )

    @Argument(help: "The sealed file, changed in place.") var file: String
    @OptionGroup var writing: InPlaceOptions
    @OptionGroup var recovery: RecoveryKeyOptions
    @OptionGroup var service: KeyServiceOptions
    @Flag(help: "Accept a private folder on disk when neither /dev/shm nor TMPDIR is on tmpfs or ramfs.")
    var allowDisk = false

    func validate() throws { try recovery.validate(with: service) }

    func run() async throws {
        disableCoreDumpsOrWarn()
        // Locked for the whole session: another writer waits (up to --lock-timeout) instead of
        // having its change overwritten by the edited text.
        let target = try writing.open(file)
        let sealed = try target.readDotenv()
        // The private folder first: no key-service call when there is nowhere safe to edit.
        let workspace = try PrivateWorkspace(name: URL(fileURLWithPath: file).lastPathComponent, allowDisk: allowDisk)
        defer { workspace.destroy() }
        let connection = try await recovery.connect(or: service, toOpen: sealed, file: file)
        let plain = try await connection.run(file: file) { try await connection.sealer.decrypt(sealed) }
        var original = plain.render()
        defer { original.withUnsafeMutableBytes { SecureMemory.zero($0) } }
        try workspace.write(original)

        var edited: [UInt8] = []
        defer { edited.withUnsafeMutableBytes { SecureMemory.zero($0) } }
        let parsed: DotenvFile
        while true {
            let status = try workspace.runEditor()
            guard status == 0 else {
                throw CLIError("the editor exited with status \(status); \(file) is unchanged")
            }
            edited.withUnsafeMutableBytes { SecureMemory.zero($0) }
            edited = try workspace.read()
            guard edited != original else {
                FileHandle.standardError.write(Data("envseal: no changes; \(file) is unchanged\n".utf8))
                return
            }
            do {
                parsed = try DotenvFile.parse(edited)
                break
            } catch {
                let message = "the edited text, line \(error.line), column \(error.column): \(error.kind)"
                // The work is kept: on a terminal the editor opens again on the same text.
                guard EditAgainPrompt.ask(message, file: file) else {
                    throw CLIError("\(message); \(file) is unchanged", exitCode: EnvSealExit.malformedInput)
                }
            }
        }
        let resealed = try await connection.run(file: file) { try await connection.sealer.reseal(parsed, from: sealed) }
        try target.replace(with: resealed.render())
    }
}

/// The question `edit` asks when the edited text does not parse.
enum EditAgainPrompt {
    /// Shows `message` and, when standard input and standard error are a terminal, asks whether
    /// to open the editor again. Returns `true` for Enter (or anything but q); `false` for q,
    /// end of input, or no terminal, where nobody could answer and asking again would loop.
    static func ask(_ message: String, file: String) -> Bool {
        guard isatty(STDIN_FILENO) == 1, isatty(STDERR_FILENO) == 1 else { return false }
        let prompt = "envseal: error: \(message)\nenvseal: hint: press Enter to edit again, or q and Enter to leave \(file) unchanged: "
        FileHandle.standardError.write(Data(prompt.utf8))
        var answer: [UInt8] = []
        var byte: UInt8 = 0
        while true {
            let count = read(STDIN_FILENO, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return false }
            if byte == UInt8(ascii: "\n") { break }
            answer.append(byte)
        }
        let text = String(decoding: answer, as: UTF8.self).trimmingCharacters(in: .whitespaces).lowercased()
        return text != "q" && text != "quit"
    }
}
