import ArgumentParser
import EnvSealFormat
import Foundation
import KMSClient
import SealedDotenv
import SodiumKit

/// `envseal recovery`: offline recovery keys (break-glass). A recovery key is an X25519 key pair
/// kept offline; a file sealed for its recipient opens with the secret key file alone, with no key
/// service involved (and so nothing in `envseal audit`).
struct RecoveryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recovery",
        abstract: "Make and inspect offline recovery keys (break-glass access without a key service).",
        discussion: """
        `keygen` makes a key pair: the secret key file (mode 0600) and the recipient line \
        (esr1:…) it prints, which `envseal encrypt --recipient` seals files for. A file sealed for \
        a recipient opens with `--recovery-key FILE` and no key service at all: keep the secret \
        key offline, and know that `envseal audit` cannot see its use (docs/THREAT_MODEL.md).

        Examples:
          envseal recovery keygen -o recovery.key
          envseal recovery keygen -o recovery.key --passphrase
          envseal recovery recipient recovery.key
        """,
        subcommands: [Keygen.self, Recipient.self]
    )

    struct Keygen: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keygen",
            abstract: "Make a recovery key pair: the secret key file, and the recipient printed on standard output.",
            discussion: """
            The secret key file is written atomically with mode 0600; an existing file is left \
            alone unless --force is given. With a passphrase (--passphrase, --passphrase-stdin or \
            --passphrase-env VAR), the secret key is sealed under a key derived from it with \
            Argon2id (3 passes over 256 MiB, as the root key); opening the file then asks for it \
            (ENVSEAL_RECOVERY_PASSPHRASE, or a prompt on the terminal).
            """
        )

        @Option(name: [.customShort("o"), .customLong("out")], help: "Write the secret key file here (mode 0600).")
        var out: String
        @Flag(help: "Replace an existing file at OUT (its key is then gone for good).") var force = false
        @Flag(help: "Protect the secret key with a passphrase asked for on the terminal (twice), or taken from ENVSEAL_RECOVERY_PASSPHRASE.")
        var passphrase = false
        @Flag(help: "Protect the secret key with a passphrase read from standard input (one trailing newline removed).")
        var passphraseStdin = false
        @Option(help: ArgumentHelp("Protect the secret key with the passphrase in this environment variable.", valueName: "VAR"))
        var passphraseEnv: String?

        func validate() throws {
            if [passphrase, passphraseStdin, passphraseEnv != nil].filter({ $0 }).count > 1 {
                throw ValidationError("give one of --passphrase, --passphrase-stdin and --passphrase-env")
            }
            if out == "-" { throw ValidationError("-o needs a file: standard output carries the recipient") }
        }

        func run() throws {
            disableCoreDumpsOrWarn()
            var info = stat()
            if !force, lstat(out, &info) == 0 {
                throw CLIError("\(out) already exists; it was left unchanged",
                               hint: "give --force to replace it (the key it holds is then lost for good)",
                               exitCode: EnvSealExit.cannotWrite)
            }
            let target = try OutputTarget(out, force: force, input: nil)
            guard case .file = target.destination else {
                throw CLIError("cannot write \(out): a recovery key goes to a regular file", exitCode: EnvSealExit.cannotWrite)
            }
            let protection = try readPassphrase().map { RecoveryKeyFile.Protection(passphrase: $0, parameters: .moderate) }
            let keyPair = try BoxKeyPair.generate()
            let created = ISO8601DateFormatter().string(from: Date())
            var bytes = try RecoveryKeyFile.render(keyPair, protection: protection, created: created)
            defer { SecureMemory.zero(&bytes) }
            // Linked, not renamed, without --force: a file that appeared since the check above is
            // refused too, never replaced.
            try target.write(bytes, isPrivate: true, replacing: force)
            print(try RecoveryRecipient(publicKey: keyPair.publicKey).text)
        }

        /// The new file's passphrase, or `nil` for none. Never from a flag's value.
        func readPassphrase() throws -> SecureBytes? {
            let secret: SecureBytes
            if passphraseStdin {
                secret = try RecoveryPassphrase.fromStandardInput()
            } else if let name = passphraseEnv {
                guard let value = ProcessEnvironment.variables()[name] else {
                    throw CLIError("--passphrase-env \(name): the variable is not set", exitCode: EnvSealExit.usage)
                }
                secret = try SecureBytes(utf8: value)
            } else if passphrase {
                secret = try RecoveryPassphrase.forNewKey()
            } else {
                return nil
            }
            guard secret.count > 0 else { throw CLIError("the passphrase is empty", exitCode: EnvSealExit.usage) }
            return secret
        }
    }

    struct Recipient: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "recipient",
            abstract: "Print the recipient (esr1:…) of a recovery key file; no passphrase needed.")

        @Argument(help: "The secret key file.") var file: String

        func run() throws {
            let parsed = try RecoveryKeySource.parse(file)
            print(parsed.recipient.text)
        }
    }
}

/// Reading a recovery key file given as `--recovery-key FILE`.
enum RecoveryKeySource {
    /// The file's key pair, unlocked with ENVSEAL_RECOVERY_PASSPHRASE or a terminal prompt when it
    /// is protected. A file others can read is used, with a warning.
    static func load(_ path: String) throws -> BoxKeyPair {
        let parsed = try parse(path)
        let passphrase = parsed.isPassphraseProtected ? try RecoveryPassphrase.forOpening(path) : nil
        do {
            return try parsed.unlock(passphrase: passphrase)
        } catch {
            throw cliError(error, path)
        }
    }

    /// The parsed file, its secret key still locked when protected.
    static func parse(_ path: String) throws -> RecoveryKeyFile {
        var bytes = try FileIO.readBytes(path)
        defer { SecureMemory.zero(&bytes) }
        var info = stat()
        if path != "-", stat(path, &info) == 0, info.st_mode & 0o077 != 0 {
            warn("the recovery key \(path) is open to other users (mode \(String(info.st_mode & 0o777, radix: 8))): run chmod 600 \(path)")
        }
        do {
            return try RecoveryKeyFile(parsing: bytes)
        } catch {
            throw cliError(error, path)
        }
    }

    static func cliError(_ error: RecoveryKeyError, _ path: String) -> CLIError {
        switch error.reason {
        case .wrongPassphrase:
            CLIError("\(path): \(error)", hint: "check ENVSEAL_RECOVERY_PASSPHRASE, or unset it to be asked", exitCode: EnvSealExit.wrongKey)
        case .passphraseRequired:
            CLIError("\(path): \(error)", hint: "set ENVSEAL_RECOVERY_PASSPHRASE or run on a terminal", exitCode: EnvSealExit.configuration)
        default:
            CLIError("\(path): \(error)", exitCode: EnvSealExit.malformedInput)
        }
    }
}

/// Passphrases of recovery keys: from the environment or the terminal, never from a flag's value.
enum RecoveryPassphrase {
    static let variable = "ENVSEAL_RECOVERY_PASSPHRASE"

    /// For opening a protected file: ENVSEAL_RECOVERY_PASSPHRASE, or asked once on the terminal.
    static func forOpening(_ path: String) throws -> SecureBytes {
        if let value = ProcessEnvironment.variables()[variable], !value.isEmpty {
            return try SecureBytes(utf8: value)
        }
        guard let secret = try prompt("envseal: passphrase of the recovery key \(path): ") else {
            throw RecoveryKeySource.cliError(RecoveryKeyError(.passphraseRequired), path)
        }
        return secret
    }

    /// For a new file: ENVSEAL_RECOVERY_PASSPHRASE, or asked twice on the terminal.
    static func forNewKey() throws -> SecureBytes {
        if let value = ProcessEnvironment.variables()[variable], !value.isEmpty {
            return try SecureBytes(utf8: value)
        }
        guard let first = try prompt("envseal: passphrase for the new recovery key: "),
              let second = try prompt("envseal: the same passphrase again: ") else {
            throw CLIError("no passphrase: set \(variable), give --passphrase-stdin or --passphrase-env VAR, or run on a terminal",
                           exitCode: EnvSealExit.configuration)
        }
        guard first == second else { throw CLIError("the two passphrases differ; nothing was written", exitCode: EnvSealExit.usage) }
        return first
    }

    /// Standard input to its end, one trailing newline (and carriage return) removed.
    static func fromStandardInput() throws -> SecureBytes {
        var data = FileHandle.standardInput.readDataToEndOfFile()
        defer { data.resetBytes(in: 0..<data.count) }
        var count = data.count
        if count > 0, data[count - 1] == 0x0A { count -= 1 }
        if count > 0, data[count - 1] == 0x0D { count -= 1 }
        return try data.withUnsafeBytes { try SecureBytes(copying: UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
    }

    /// A line typed on the terminal without echo, or `nil` when there is no terminal.
    private static func prompt(_ text: String) throws -> SecureBytes? {
        guard isatty(STDIN_FILENO) != 0, let pointer = getpass(text) else { return nil }
        defer { SecureMemory.zero(UnsafeMutableRawBufferPointer(start: pointer, count: strlen(pointer))) }
        return try SecureBytes(copying: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
    }
}

/// `--recovery-key FILE`: open a sealed file with a recovery key, and no key service at all.
struct RecoveryKeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "Open the file with this recovery key file (envseal recovery keygen), without any key service.",
        discussion: "No key service is configured or contacted, so `envseal audit` cannot see the open. A protected file's passphrase comes from ENVSEAL_RECOVERY_PASSPHRASE or the terminal.",
        valueName: "FILE"))
    var recoveryKey: String?

    /// Refuses a key-service option beside `--recovery-key`, which uses none.
    func validate(with service: KeyServiceOptions) throws {
        if recoveryKey != nil, !service.endpoint.isEmpty {
            throw ValidationError("--recovery-key opens the file without a key service; --endpoint does not go with it")
        }
    }

    /// The connection that opens `sealed`: offline through the recovery key, which must have a
    /// slot in it; else the key service the other options name, which cannot open a file sealed
    /// for recovery recipients only (refused before any connection, with a hint).
    func connect(
        or service: KeyServiceOptions, toOpen sealed: DotenvFile, file: String
    ) async throws -> KeyServiceConnection {
        if recoveryKey == nil, let text = sealed.value(of: SealedFileHeader.variableName),
           let header = try? SealedFileHeader(parsing: text), header.kmsSlots.isEmpty {
            throw CLIError("\(file) is sealed for recovery recipients only, and no key service can open it",
                           hint: "give --recovery-key FILE (`envseal keys list \(file)` shows its recipients)", exitCode: EnvSealExit.usage)
        }
        let connection = try await connect(or: service, for: file)
        try connection.requireRecipientSlot(in: sealed, file: file)
        return connection
    }

    /// The recovery key's offline connection, or the key service the other options name.
    func connect(
        or service: KeyServiceOptions, for file: String? = nil, environment: [String: String] = ProcessEnvironment.variables()
    ) async throws -> KeyServiceConnection {
        guard let recoveryKey else { return try await service.connect(for: file, environment: environment) }
        return .offline([RecoveryIdentity(try RecoveryKeySource.load(recoveryKey))])
    }
}

extension KeyServiceConnection {
    /// A connection to no key service: the sealed-file operations open recipient slots with
    /// `identities`, and any call to a key service fails without a connection being made.
    static func offline(_ identities: [RecoveryIdentity]) -> KeyServiceConnection {
        KeyServiceConnection(client: KMSClient(transport: NoKeyServiceTransport()), home: nil,
                             name: "no key service (a recovery key)", recoveryIdentities: identities)
    }

    /// With a recovery key, refuses a sealed file that has no slot for it, naming its recipient.
    func requireRecipientSlot(in sealed: DotenvFile, file: String) throws {
        do {
            try SealedFile.requireRecipientSlot(in: sealed.value(of: SealedFileHeader.variableName), for: recoveryIdentities)
        } catch {
            throw ErrorReport.cliError(error, file: file)
        }
    }
}

/// `--recipient esr1:…` values, checked: a mistyped one is refused (64) before anything is written.
enum RecoveryRecipientArgument {
    static func parse(_ texts: [String]) throws -> [RecoveryRecipient] {
        try texts.map { text in
            do {
                return try RecoveryRecipient(parsing: text)
            } catch {
                throw ValidationError("--recipient \(text): \(error)")
            }
        }
    }
}
