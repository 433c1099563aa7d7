import ArgumentParser
import EnvSealFormat
import Foundation
import KMSClient
import SealedDotenv
import SodiumKit

/// `envseal encrypt`: seal a plain dotenv file.
struct EncryptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Seal a plain dotenv file under a master key.",
        discussion: """
        Envelope mode (the default) makes one data key for the file (GenerateDataKey), seals every \
        selected value under it with the variable's name bound in, leaves the other variables plain \
        but covered by the header's MAC, and appends the ENVSEAL header. Lambda mode encrypts each \
        selected value with its own Encrypt call under the context {"LambdaFunctionName": NAME}, \
        as AWS's console encryption helper does.

        With several --key, the header holds one slot per key, any of which opens the file: the data key \
        is made under the first (GenerateDataKey) and wrapped under the others (Encrypt), each at the first \
        --endpoint that knows it, all with the same --context. Each --recipient (esr1:…, from `envseal \
        recovery keygen`) adds a slot with the data key sealed to that offline recovery key, which opens \
        the file with no key service (`--recovery-key`); with recipients only, no key service is used.

        The sealed file goes to standard output unless -o/--out or --in-place is given. A report of its \
        size goes to standard error, with a warning above Lambda's 4 KB limit.

        Examples:
          envseal encrypt .env --key alias/billing -o .env.sealed
          envseal encrypt .env --key alias/billing --context app=billing --only 'PASSWORD|SECRET|KEY$' --in-place
          envseal encrypt .env --key alias/billing --key alias/billing-dr -o .env.sealed
          envseal encrypt .env --key alias/billing --recipient "$(envseal recovery recipient recovery.key)" -o .env.sealed
          envseal encrypt .env --key alias/billing --mode lambda --function billing-fn -o lambda.env
        """
    )

    @Argument(help: "The plain dotenv file (- for standard input).") var file: String
    @Option(name: [.customShort("o"), .customLong("out")], help: "Write the sealed file here (atomically, keeping its mode; - for standard output).")
    var out: String?
    @Option(name: .customLong("output"), help: .hidden) var legacyOutput: String?
    @Flag(help: "Replace FILE with the sealed file.") var inPlace = false
    @OptionGroup var writing: InPlaceOptions
    @OptionGroup var creation: CreationOptions
    @OptionGroup var mode: ModeOptions
    @Option(name: .customLong("report"), help: "How to print the size report: text or json (json goes to standard output, so use -o or --in-place).")
    var report: OutputFormat = .text
    @OptionGroup var service: KeyServiceOptions

    /// `-o/--out`, or its old spelling `--output`.
    private var output: String? { out ?? legacyOutput }

    func validate() throws {
        try OutputFileArgument.validate(out: out, legacyOutput: legacyOutput)
        if inPlace, output != nil { throw ValidationError("give -o OUT or --in-place, not both") }
        if inPlace, file == "-" { throw ValidationError("--in-place needs a file, not standard input") }
        if report == .json, output == nil || output == "-", !inPlace { throw ValidationError("--report json needs -o OUT (a file) or --in-place") }
        if writing.lockTimeout != nil, !inPlace { throw ValidationError("--lock-timeout applies to --in-place") }
        if mode.mode == .lambda, !creation.context.isEmpty { throw ValidationError("--context does not apply to --mode lambda (its context is the function name)") }
        if mode.mode == .lambda, creation.key.count > 1 || !creation.recipient.isEmpty {
            throw ValidationError("--mode lambda takes one --key (each value is its own Encrypt) and no --recipient")
        }
        if creation.key.count + creation.recipient.count > SealedFileHeader.maxSlotCount {
            throw ValidationError("at most \(SealedFileHeader.maxSlotCount) keys and recipients")
        }
        // A mistyped recipient is refused before anything is sealed.
        _ = try RecoveryRecipientArgument.parse(creation.recipient)
    }

    func run() async throws {
        disableCoreDumpsOrWarn()
        TerminalProgress.startIfWanted()
        OutputFileArgument.warnIfLegacy(legacyOutput)
        // Flags first, then FILE's creation rule in the project config, field by field.
        let environment = ProcessEnvironment.variables()
        let settings = try CreationSettings.resolve(file: file, flags: creation.flags, endpointFlags: service.endpoint,
                                                    keystoreFlag: service.store.keystoreFlag, environment: environment)
        let recipients = try settings.recoveryRecipients()
        let keyIDs = recipients.isEmpty ? try settings.keyIDs(for: file) : settings.keys.value
        guard keyIDs.count + recipients.count <= SealedFileHeader.maxSlotCount else {
            throw CLIError("\(keyIDs.count) keys and \(recipients.count) recipients apply (\(settings.keys.source), \(settings.recipients.source)); "
                           + "a file has at most \(SealedFileHeader.maxSlotCount) slots", exitCode: EnvSealExit.usage)
        }
        if keyIDs.isEmpty, !settings.context.value.isEmpty {
            throw CLIError("the context (\(settings.context.source)) binds a key's wrapped data key, and no key applies; give --key with it",
                           exitCode: EnvSealExit.usage)
        }
        let chosen = try SelectionOptions.selection(only: settings.only.value, except: settings.except.value)
        let encryptionContext = try settings.encryptionContext()
        if mode.mode == .lambda, !settings.context.value.isEmpty {
            warn("the context of \(settings.context.source) does not apply to --mode lambda (its context is the function name)")
        }
        let target = try OutputTarget(output ?? "-", force: writing.force, input: file, sameFileHint: "give --in-place to replace FILE")
        let inPlaceFile = inPlace ? try writing.open(file) : nil
        let plain = try inPlaceFile?.readDotenv() ?? FileIO.readDotenv(file)
        // Recipients only: the data key is made here and sealed to them; no key service at all.
        let connection = keyIDs.isEmpty ? KeyServiceConnection.offline([]) : try await service.connect(settings.service, environment: environment)
        let targets = keyIDs.map { SealedFile.SlotTarget.kms(keyID: $0, context: encryptionContext) }
            + recipients.map { .recipient(publicKey: $0.publicKey) }
        let sealed: DotenvFile = try await connection.run(file: file) {
            switch mode.mode {
            case .envelope:
                return try await connection.sealer.seal(plain, for: targets, selection: chosen)
            case .lambda:
                guard keyIDs.count == 1, recipients.isEmpty else {
                    throw CLIError("--mode lambda takes one key and no recipient, and \(keyIDs.count) keys and \(recipients.count) recipients apply",
                                   exitCode: EnvSealExit.usage)
                }
                return try await connection.sealer.sealForLambda(plain, keyID: keyIDs[0], functionName: mode.function!, selection: chosen)
            }
        }
        let bytes = sealed.render()
        if let inPlaceFile {
            try inPlaceFile.replace(with: bytes)
        } else {
            try target.write(bytes)
        }
        let size = SealedFile.environmentSize(of: sealed)
        // One pass over each file: looking each name up in the other is quadratic in the file's size.
        let before = Dictionary(plain.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        let after = Dictionary(sealed.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last })
        let sealedCount = before.keys.count(where: { after[$0] != before[$0] })
        let limit = SealedFile.lambdaEnvironmentLimit
        switch report {
        case .text:
            if !MessageOptions.isQuiet {
                FileHandle.standardError.write(Data("envseal: sealed \(sealedCount) of \(plain.assignments.count) variables (\(mode.mode.rawValue) mode); environment size \(size) of Lambda's \(limit) bytes\n".utf8))
            }
        case .json:
            struct Report: Encodable { let file: String; let mode: String; let variables: Int; let sealed: Int; let environmentBytes: Int; let lambdaLimitBytes: Int }
            try JSONOutput.print(Report(file: inPlace ? file : output!, mode: mode.mode.rawValue, variables: plain.assignments.count,
                                        sealed: sealedCount, environmentBytes: size, lambdaLimitBytes: limit))
        }
        if size > limit {
            warn("the sealed environment is \(size) bytes, over Lambda's \(limit)-byte limit for a function's environment variables")
        }
    }
}

/// `envseal decrypt`: a sealed file back to plain text.
struct DecryptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Verify a sealed file and write it out in plain text.",
        discussion: """
        Checks the header's MAC and every value first; a tampered file exits 51 and nothing is \
        written. The plain file goes to standard output, or to -o/--out OUT, created with mode 0600.

        --only and --except choose the variables written out (the header's MAC is still checked \
        over the whole file). In lambda mode, where nothing marks which values are ciphertexts, \
        they choose the values decrypted, and the others are copied as they are.

        Examples:
          envseal decrypt .env.sealed -o .env
          envseal decrypt lambda.env --mode lambda --function billing-fn --only 'PASSWORD$'
        """
    )

    @Argument(help: "The sealed file (- for standard input).") var file: String
    @Option(name: [.customShort("o"), .customLong("out")], help: "Write the plain file here, mode 0600 (- for standard output).")
    var out: String?
    @Option(name: .customLong("output"), help: .hidden) var legacyOutput: String?
    @Flag(help: "Replace OUT even when it is read-only.") var force = false
    @OptionGroup var selection: DecryptSelectionOptions
    @OptionGroup var mode: ModeOptions
    @OptionGroup var recovery: RecoveryKeyOptions
    @OptionGroup var service: KeyServiceOptions

    func validate() throws {
        try OutputFileArgument.validate(out: out, legacyOutput: legacyOutput)
        try recovery.validate(with: service)
        if recovery.recoveryKey != nil, mode.mode == .lambda { throw ValidationError("--recovery-key opens envelope-mode files; lambda mode needs the key service") }
    }

    func run() async throws {
        TerminalProgress.startIfWanted()
        disableCoreDumpsOrWarn()
        OutputFileArgument.warnIfLegacy(legacyOutput)
        let target = try OutputTarget(out ?? legacyOutput ?? "-", force: force, input: file)
        let sealed = try FileIO.readDotenv(file)
        let chosen = try selection.selection()
        // A choice that matches nothing would write the whole file (lambda mode) or none of it.
        if selection.isNarrowed, !sealed.assignments.contains(where: {
            $0.name != SealedFileHeader.variableName && chosen.includes($0.name) && (mode.mode == .envelope || !$0.value.isEmpty)
        }) {
            throw ErrorReport.cliError(SealedFileError(.nothingSelected), file: file)
        }
        let connection = try await recovery.connect(or: service, toOpen: sealed, file: file)
        var plain: DotenvFile = try await connection.run(file: file) {
            switch mode.mode {
            case .envelope: return try await connection.sealer.decrypt(sealed)
            case .lambda: return try await connection.sealer.decryptLambda(sealed, functionName: mode.function!, selection: chosen)
            }
        }
        if mode.mode == .envelope, selection.isNarrowed {
            plain.removeAll { !chosen.includes($0) }
        }
        var bytes = plain.render()
        defer { bytes.withUnsafeMutableBytes { SecureMemory.zero($0) } }
        try target.write(bytes, isPrivate: true)
    }
}
