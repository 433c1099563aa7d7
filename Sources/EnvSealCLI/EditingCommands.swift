import ArgumentParser
import EnvSealFormat
import Foundation
import SealedDotenv
import SodiumKit

/// `envseal set`: seal one value into a sealed file.
struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set one variable of a sealed file to a sealed value read from standard input or a prompt.",
        discussion: """
        The value is never taken from the command line, where process listings and shell history \
        would keep it. From a pipe, one trailing newline is removed. Every other value keeps its \
        exact ciphertext, so a diff shows only this variable and the header.

        Examples:
          printf '%s' "$NEW_PASSWORD" | envseal set .env.sealed DB_PASSWORD
          envseal set .env.sealed API_KEY          # asks for the value without echo
        """
    )

    @Argument(help: "The sealed file, changed in place.") var file: String
    @Argument(help: "The variable.") var name: String
    @OptionGroup var writing: InPlaceOptions
    @OptionGroup var service: KeyServiceOptions

    func run() async throws {
        disableCoreDumpsOrWarn()
        TerminalProgress.startIfWanted()
        let target = try writing.open(file)
        let sealed = try target.readDotenv()
        let value = try SecretInput.read(name: name)
        let connection = try await service.connect(for: file)
        let edited = try await connection.run(file: file) { try await connection.sealer.set(name, to: value, in: sealed) }
        try target.replace(with: edited.render())
    }
}

/// `envseal get`: print one value.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "get",
        abstract: "Verify a sealed file and print one variable's plaintext.",
        discussion: """
        The whole file is verified first. Prints the value and a newline (--no-newline for none).

        Example:
          export DB_PASSWORD="$(envseal get .env.sealed DB_PASSWORD)"
        """
    )

    @Argument(help: "The sealed file.") var file: String
    @Argument(help: "The variable.") var name: String
    @Flag(help: "Print the value without a trailing newline.") var noNewline = false
    @OptionGroup var recovery: RecoveryKeyOptions
    @OptionGroup var service: KeyServiceOptions

    func validate() throws { try recovery.validate(with: service) }

    func run() async throws {
        TerminalProgress.startIfWanted()
        disableCoreDumpsOrWarn()
        let sealed = try FileIO.readDotenv(file)
        let connection = try await recovery.connect(or: service, toOpen: sealed, file: file)
        let opened = try await connection.run(file: file) { try await connection.sealer.open(sealed) }
        if let value = opened.values[name] {
            try value.withUnsafeBytes { try FileIO.writeStandardOutput(Array($0)) }
        } else if opened.coveredNames.contains(name), let plain = sealed.value(of: name) {
            try FileIO.writeStandardOutput(Array(plain.utf8))
        } else {
            throw CLIError("\(file): variable \(name) is not in the file", exitCode: EnvSealExit.usage)
        }
        if !noNewline { try FileIO.writeStandardOutput([0x0A]) }
    }
}

/// `envseal unset`: remove one variable.
struct UnsetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unset",
        abstract: "Remove one variable from a sealed file and MAC the header again.",
        discussion: """
        Example:
          envseal unset .env.sealed OLD_API_KEY
        """
    )

    @Argument(help: "The sealed file, changed in place.") var file: String
    @Argument(help: "The variable.") var name: String
    @OptionGroup var writing: InPlaceOptions
    @OptionGroup var service: KeyServiceOptions

    func run() async throws {
        disableCoreDumpsOrWarn()
        TerminalProgress.startIfWanted()
        let target = try writing.open(file)
        let sealed = try target.readDotenv()
        let connection = try await service.connect(for: file)
        let edited = try await connection.run(file: file) { try await connection.sealer.unset(name, in: sealed) }
        try target.replace(with: edited.render())
    }
}

/// `envseal rotate`: a new data key for a file.
struct RotateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Seal every value again under a new data key from the newest version of the master key.",
        discussion: """
        Every sealed value changes. Use it after someone who could read the file leaves, or after \
        rotating the master key. `rewrap` changes only the wrapped data key.

        Examples:
          envseal rotate .env.sealed
          envseal rotate .env.sealed --key alias/billing-2027
        """
    )

    @Argument(help: "The sealed file, changed in place.") var file: String
    @Option(help: "Move the file to this master key (default: the key that sealed it).") var key: String?
    @OptionGroup var writing: InPlaceOptions
    @OptionGroup var service: KeyServiceOptions

    func run() async throws {
        disableCoreDumpsOrWarn()
        TerminalProgress.startIfWanted()
        let target = try writing.open(file)
        let sealed = try target.readDotenv()
        let connection = try await service.connect(for: file)
        let edited = try await connection.run(file: file) { try await connection.sealer.rotate(sealed, keyID: key) }
        try target.replace(with: edited.render())
    }
}

/// `envseal rewrap`: wrap the data key again.
struct RewrapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rewrap",
        abstract: "Wrap the file's data key again (ReEncrypt), under the newest key version or another key; values do not change.",
        discussion: """
        Examples:
          envseal rewrap .env.sealed
          envseal rewrap .env.sealed --key alias/billing-2027
        """
    )

    @Argument(help: "The sealed file, changed in place.") var file: String
    @Option(help: "The master key to wrap under (default: the key that wrapped it).") var key: String?
    @OptionGroup var writing: InPlaceOptions
    @OptionGroup var service: KeyServiceOptions

    func run() async throws {
        disableCoreDumpsOrWarn()
        TerminalProgress.startIfWanted()
        let target = try writing.open(file)
        let sealed = try target.readDotenv()
        let connection = try await service.connect(for: file)
        let edited = try await connection.run(file: file) { try await connection.sealer.rewrap(sealed, destinationKeyID: key) }
        try target.replace(with: edited.render())
    }
}

/// `envseal verify`: check a sealed file completely.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a sealed file's MAC and every sealed value, without printing any value.",
        discussion: """
        Exit codes: 0 intact; 51 tampered (the variable is named); 52 the data key does not unwrap \
        (wrong key or context); 53 the key is disabled or deleted; 77 access denied; 69 the key \
        service did not answer; 65 the file does not parse.

        Examples:
          envseal verify .env.sealed
          envseal verify --output json .env.sealed
        """
    )

    @Argument(help: "The sealed file.") var file: String
    @Option(help: "Output format: text or json.") var output: OutputFormat = .text
    @OptionGroup var recovery: RecoveryKeyOptions
    @OptionGroup var service: KeyServiceOptions

    func validate() throws { try recovery.validate(with: service) }

    func run() async throws {
        disableCoreDumpsOrWarn()
        TerminalProgress.startIfWanted()
        let sealed = try FileIO.readDotenv(file)
        let connection = try await recovery.connect(or: service, toOpen: sealed, file: file)
        let opened = try await connection.run(file: file) { try await connection.sealer.open(sealed) }
        switch output {
        case .text:
            let by = opened.keyARN.map { "data key wrapped by \($0)" } ?? "data key opened by a recovery key"
            let slots = opened.header.slots.count > 1 ? " (slot \(opened.slotIndex + 1) of \(opened.header.slots.count))" : ""
            print("\(file): intact: \(opened.values.count) sealed and \(opened.coveredNames.count) covered variables; \(by)\(slots)")
        case .json:
            struct Report: Encodable {
                let file: String; let intact: Bool; let sealed: [String]; let covered: [String]; let keyArn: String?
                let context: [String: String]; let slot: Int; let slots: Int
            }
            var context: [String: String] = [:]
            if case .kms(let kms) = opened.header.slots[opened.slotIndex] { context = kms.context.dictionary }
            try JSONOutput.print(Report(file: file, intact: true, sealed: opened.values.keys.sorted(), covered: opened.coveredNames,
                                        keyArn: opened.keyARN, context: context, slot: opened.slotIndex + 1, slots: opened.header.slots.count))
        }
    }
}
