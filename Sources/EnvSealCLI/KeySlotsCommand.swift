import ArgumentParser
import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import SealedDotenv

/// `envseal keys add FILE` and `keys remove FILE`: a sealed file's key slots (header version 2),
/// changed in place without touching a value line; and `keys list FILE`, which lists them.
extension KeysCommand {
    struct AddSlot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Let another master key or recovery recipient open a sealed file: a new slot in its header; values do not change.",
            discussion: """
            Opens the file through one of its slots (one Decrypt, or --recovery-key with no key service), \
            then wraps its data key under each --key (Encrypt) at the first --endpoint that knows the key, \
            and seals it to each --recipient. Only the ENVSEAL line changes.

            Examples:
              envseal keys add .env.sealed --key alias/billing-dr
              envseal keys add .env.sealed --recipient esr1:…
              envseal keys add .env.sealed --key dr@https://kms.dr.example --endpoint https://kms.example --endpoint dr@https://kms.dr.example
            """
        )

        @Argument(help: "The sealed file, changed in place.") var file: String
        @Option(help: "A master key to add: key ID, ARN, alias name or alias ARN. Repeat for more.") var key: [String] = []
        @Option(help: ArgumentHelp("A recovery recipient to add (esr1:…, from `envseal recovery keygen`). Repeat for more.", valueName: "esr1:…"))
        var recipient: [String] = []
        @Option(help: "The encryption context of the new slots, key=value, repeated (default: the first key slot's).")
        var context: [String] = []
        @OptionGroup var writing: InPlaceOptions
        @OptionGroup var recovery: RecoveryKeyOptions
        @OptionGroup var service: KeyServiceOptions

        func validate() throws {
            if key.isEmpty, recipient.isEmpty { throw ValidationError("give the key to add with --key, or the recipient with --recipient") }
            if recovery.recoveryKey != nil, !key.isEmpty { throw ValidationError("--recovery-key uses no key service, so it can add recipients only, not --key") }
            try recovery.validate(with: service)
            _ = try RecoveryRecipientArgument.parse(recipient)
        }

        func run() async throws {
            disableCoreDumpsOrWarn()
            let target = try writing.open(file)
            let sealed = try target.readDotenv()
            let given = context.isEmpty ? nil : try ContextArgument.parse(context)
            let header = try KeySlotsList.header(of: sealed, file: file)
            let slotContext = given ?? header.kmsSlots.first?.context ?? .empty
            let connection = try await recovery.connect(or: service, toOpen: sealed, file: file)
            let targets = key.map { SealedFile.SlotTarget.kms(keyID: $0, context: slotContext) }
                + (try RecoveryRecipientArgument.parse(recipient)).map { .recipient(publicKey: $0.publicKey) }
            let edited = try await connection.run(file: file) {
                try await connection.sealer.addSlots(to: sealed, for: targets)
            }
            try target.replace(with: edited.render())
        }
    }

    struct RemoveSlot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Stop a master key or recovery recipient from opening a sealed file: its slot leaves the header; values do not change.",
            discussion: """
            The key is resolved to its ARN (DescribeKey, at the first --endpoint that knows it) and every \
            slot of that key is removed; --recipient removes that recipient's slot. The last slot cannot \
            be removed. Whoever could use the key may have kept the file's data key: `envseal rotate \
            FILE` seals every value under a new one.

            Examples:
              envseal keys remove .env.sealed --key alias/billing-old
              envseal keys remove .env.sealed --recipient esr1:…
            """
        )

        @Argument(help: "The sealed file, changed in place.") var file: String
        @Option(help: "The master key whose slot to remove: key ID, ARN, alias name or alias ARN.") var key: String?
        @Option(help: ArgumentHelp("The recovery recipient whose slot to remove (esr1:…).", valueName: "esr1:…")) var recipient: String?
        @OptionGroup var writing: InPlaceOptions
        @OptionGroup var recovery: RecoveryKeyOptions
        @OptionGroup var service: KeyServiceOptions

        func validate() throws {
            if (key == nil) == (recipient == nil) { throw ValidationError("give the slot to remove with --key or --recipient (one of them)") }
            try recovery.validate(with: service)
            _ = try RecoveryRecipientArgument.parse(recipient.map { [$0] } ?? [])
        }

        func run() async throws {
            disableCoreDumpsOrWarn()
            let target = try writing.open(file)
            let sealed = try target.readDotenv()
            let connection = try await recovery.connect(or: service, toOpen: sealed, file: file)
            let selector: SealedFile.SlotSelector
            let what: String
            if let recipient {
                selector = .recipient(publicKey: try RecoveryRecipientArgument.parse([recipient])[0].publicKey)
                what = "recipient \(recipient)"
            } else {
                let arn = try await connection.run(file: file) { try await Self.resolve(key!, with: connection.clients) }
                selector = .keyARN(arn)
                what = arn
            }
            let result = try await connection.run(file: file) {
                try await connection.sealer.removeSlots(from: sealed, matching: selector)
            }
            try target.replace(with: result.file.render())
            warn("\(file): removed \(result.removed == 1 ? "the slot" : "\(result.removed) slots") of \(what); whoever could use it may have kept the file's data key")
            if !MessageOptions.isQuiet {
                FileHandle.standardError.write(Data("envseal: hint: run `envseal rotate \(file)` to seal every value under a new data key\n".utf8))
            }
        }

        /// A key's ARN: a key ARN as given, else DescribeKey at the first endpoint that knows it.
        static func resolve(_ key: String, with clients: [KMSClient]) async throws -> String {
            if key.hasPrefix("arn:"), key.contains(":key/") { return key }
            var firstError: (any Error)?
            for client in clients {
                do {
                    let described = try await client.call(KMS.DescribeKeyRequest(keyId: key))
                    if let arn = described.keyMetadata?.arn { return arn }
                } catch where SealedFile.passesToNextSlot(error) {
                    if firstError == nil { firstError = error }
                }
            }
            throw firstError ?? KMSError(.notFound, "Key '\(key)' does not exist.")
        }
    }
}

/// `envseal keys list FILE`: the slots of a sealed file's header, read offline.
enum KeySlotsList {
    /// The parsed header of a sealed file, or a clear error naming the file.
    static func header(of file: DotenvFile, file name: String) throws -> SealedFileHeader {
        guard let text = file.value(of: SealedFileHeader.variableName) else {
            throw ErrorReport.cliError(SealedFileError(.notSealed), file: name)
        }
        do {
            return try SealedFileHeader(parsing: text)
        } catch {
            throw ErrorReport.cliError(error, file: name)
        }
    }

    /// Prints every slot: number, kind, key (ARN, or the key ID its envseal ciphertext names)
    /// or recipient, and context.
    static func print(_ path: String, output: OutputFormat) throws {
        let header = try header(of: try FileIO.readDotenv(path), file: path)
        let slots = header.slots.map(FileInspection.Slot.init)
        switch output {
        case .json:
            struct Listing: Encodable { let file: String; let version: Int; let slots: [FileInspection.Slot] }
            try JSONOutput.print(Listing(file: path, version: Int(header.version), slots: slots))
        case .text:
            for (index, slot) in header.slots.enumerated() {
                switch slot {
                case .kms(let kms):
                    let key = kms.keyARN ?? SealedFile.describe(slot).replacingOccurrences(of: "key ", with: "")
                    let context = kms.context.isEmpty ? "{}" : kms.context.dictionary.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
                    Swift.print("\(index + 1)\tkms\t\(key)\t\(context)")
                case .recipient:
                    Swift.print("\(index + 1)\trecipient\t\(slots[index].recipient ?? "")\t-")
                }
            }
        }
    }
}
