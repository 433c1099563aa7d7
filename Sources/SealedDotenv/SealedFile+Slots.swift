package import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
package import SodiumKit

/// A recovery key pair: a recipient slot sealed to ``publicKey`` opens with ``secretKey``, with
/// no key service at all.
package struct RecoveryIdentity: Sendable {
    /// The 32-byte X25519 public key (the recipient).
    package let publicKey: [UInt8]
    /// The 32-byte X25519 secret key, in guarded memory.
    package let secretKey: SecureBytes

    /// Pairs a public key with its secret key.
    package init(publicKey: [UInt8], secretKey: SecureBytes) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}

extension SealedFile {
    /// Whom a file is sealed for: one header slot each.
    package enum SlotTarget: Sendable, Equatable {
        /// A master key of a key service (key ID, ARN, alias name or alias ARN) and the
        /// encryption context its wrapped copy is bound to.
        case kms(keyID: String, context: EncryptionContext)
        /// A recovery recipient's 32-byte X25519 public key.
        case recipient(publicKey: [UInt8])
    }

    /// Which slots ``removeSlots(from:matching:)`` removes.
    package enum SlotSelector: Sendable, Equatable {
        /// Key-service slots of the master key with this ARN.
        case keyARN(String)
        /// The recipient slot of this 32-byte public key.
        case recipient(publicKey: [UInt8])
    }

    /// Seals a plain dotenv file for master keys and recovery recipients: one slot each, the
    /// keys first, in the order given (see ``seal(_:for:selection:)``).
    /// - Parameters:
    ///   - file: The plain file.
    ///   - keyIDs: Master keys (key ID, ARN, alias name or alias ARN); may be empty when there are
    ///     recipients, and the data key is then made here.
    ///   - recipients: Recovery recipients' 32-byte X25519 public keys.
    ///   - context: The encryption context of every key slot.
    ///   - selection: Which variables to seal.
    /// - Returns: The sealed file.
    /// - Throws: As ``seal(_:for:selection:)``; ``FormatError`` for a public key that is not 32 bytes.
    package func seal(
        _ file: DotenvFile, keyIDs: [String], recipients: [[UInt8]], context: EncryptionContext, selection: VariableSelection
    ) async throws -> DotenvFile {
        try await seal(file, for: keyIDs.map { .kms(keyID: $0, context: context) } + recipients.map { .recipient(publicKey: $0) },
                       selection: selection)
    }

    /// Adds slots to a sealed file: the data key, unwrapped through an existing slot, is wrapped
    /// under each new key (Encrypt) or sealed to each new recipient. Only the `ENVSEAL` line
    /// changes; every value line stays byte for byte.
    /// - Parameters:
    ///   - file: The sealed file.
    ///   - targets: The keys and recipients to add.
    /// - Returns: The file with the new header.
    /// - Throws: As ``open(_:expecting:)``; ``FormatError`` for a slot the header has already or
    ///   more than 255 slots; the key service's error for a key no endpoint knows.
    package func addSlots(to file: DotenvFile, for targets: [SlotTarget]) async throws -> DotenvFile {
        let opened = try await open(file)
        var slots = Self.recordingOpenedARN(opened)
        for target in targets {
            slots.append(try await slot(for: target, dataKey: opened.dataKey))
        }
        return try Self.write(into: file, slots: slots, variables: opened.variables, keys: opened.keys)
    }

    /// Removes the slots a selector matches. Whoever held such a slot may have kept the data key:
    /// only ``rotate(_:keyID:)`` takes the file away from them.
    /// - Parameters:
    ///   - file: The sealed file.
    ///   - selector: The key ARN (a slot without a recorded ARN matches when its envseal
    ///     ciphertext names that key's ID) or the recipient.
    /// - Returns: The file with the new header, and how many slots were removed.
    /// - Throws: As ``open(_:expecting:)``; ``SealedFileError`` `.noSuchSlot` when nothing
    ///   matches, `.lastSlot` when nothing would be left.
    package func removeSlots(from file: DotenvFile, matching selector: SlotSelector) async throws -> (file: DotenvFile, removed: Int) {
        let opened = try await open(file)
        let slots = Self.recordingOpenedARN(opened)
        let kept = slots.filter { !Self.slot($0, matches: selector) }
        guard kept.count < slots.count else { throw SealedFileError(.noSuchSlot) }
        guard !kept.isEmpty else { throw SealedFileError(.lastSlot) }
        return (try Self.write(into: file, slots: kept, variables: opened.variables, keys: opened.keys), slots.count - kept.count)
    }

    static func slot(_ slot: SealedFileHeader.Slot, matches selector: SlotSelector) -> Bool {
        switch (slot, selector) {
        case (.kms(let kms), .keyARN(let arn)):
            if let recorded = kms.keyARN { return recorded == arn }
            guard let blob = try? CiphertextBlob(parsing: kms.wrappedDataKey) else { return false }
            return arn.hasSuffix(":key/" + blob.keyID.uuidString.lowercased())
        case (.recipient(let recipient), .recipient(let publicKey)):
            return ConstantTime.equal(recipient.publicKey, publicKey)
        default:
            return false
        }
    }

    /// The opened file's slots, with the ARN the key service reported recorded in the slot that
    /// opened (a single-slot file does not record it; a file that gains a slot must).
    static func recordingOpenedARN(_ opened: OpenedFile) -> [SealedFileHeader.Slot] {
        var slots = opened.header.slots
        if let arn = opened.keyARN, case .kms(var kms) = slots[opened.slotIndex], kms.keyARN == nil {
            kms.keyARN = arn
            slots[opened.slotIndex] = .kms(kms)
        }
        return slots
    }

    /// Slots as written: a single slot leaves its ARN out, to save the bytes (the wrapped key
    /// names its key anyway); two or more record theirs, so that `keys remove` and `keys list`
    /// can name them.
    static func recordingARNs(_ slots: [SealedFileHeader.Slot]) -> [SealedFileHeader.Slot] {
        guard slots.count == 1, case .kms(var kms) = slots[0] else { return slots }
        kms.keyARN = nil
        return [.kms(kms)]
    }

    /// A new data key and one slot per target, in the targets' order: made by the first
    /// key-service target (GenerateDataKey), wrapped under the others (Encrypt), sealed to the
    /// recipients; made here when there is no key-service target.
    func newDataKey(for targets: [SlotTarget]) async throws -> (dataKey: DataKey, slots: [SealedFileHeader.Slot]) {
        guard (1...SealedFileHeader.maxSlotCount).contains(targets.count) else {
            throw FormatError(.invalidField(field: "slot count", reason: "\(targets.count) is not 1 to \(SealedFileHeader.maxSlotCount)"))
        }
        var dataKey: DataKey?
        var first: (index: Int, slot: SealedFileHeader.Slot)?
        if let index = targets.firstIndex(where: { if case .kms = $0 { true } else { false } }),
           case .kms(let keyID, let context) = targets[index] {
            let generated = try await firstAnswer { try await $0.generateDataKey(keyID: keyID, context: context) }
            dataKey = generated.dataKey
            first = (index, .kms(.init(keyARN: generated.keyARN, context: context, wrappedDataKey: generated.wrapped)))
        }
        let key = dataKey ?? DataKey.random()
        var slots: [SealedFileHeader.Slot] = []
        for (index, target) in targets.enumerated() {
            if let first, first.index == index {
                slots.append(first.slot)
            } else {
                slots.append(try await slot(for: target, dataKey: key))
            }
        }
        return (key, slots)
    }

    /// One slot for an existing data key: wrapped by the first key service that knows the key,
    /// or sealed to a recipient.
    func slot(for target: SlotTarget, dataKey: DataKey) async throws -> SealedFileHeader.Slot {
        switch target {
        case .kms(let keyID, let context):
            let wrapped = try await firstAnswer { try await $0.wrapDataKey(dataKey, keyID: keyID, context: context) }
            return .kms(.init(keyARN: wrapped.keyARN, context: context, wrappedDataKey: wrapped.wrapped))
        case .recipient(let publicKey):
            return .recipient(try SealedFileHeader.RecipientSlot(sealing: dataKey, to: publicKey))
        }
    }

    /// What ``rotate(_:keyID:)`` seals for: the opened file's slots as targets, or a single-key
    /// file moved to `keyID`.
    func targets(of opened: OpenedFile, movingTo keyID: String?) throws -> [SlotTarget] {
        let slots = Self.recordingOpenedARN(opened)
        if keyID != nil, opened.header.kmsSlots.count > 1 { throw SealedFileError(.severalKeySlots) }
        return try slots.enumerated().map { index, slot in
            switch slot {
            case .recipient(let recipient):
                return .recipient(publicKey: recipient.publicKey)
            case .kms(let kms):
                if let keyID { return .kms(keyID: keyID, context: kms.context) }
                if let arn = kms.keyARN { return .kms(keyID: arn, context: kms.context) }
                // An envseal ciphertext names its key's ID, which envseal's key service accepts.
                guard let blob = try? CiphertextBlob(parsing: kms.wrappedDataKey) else { throw SealedFileError(.slotKeyUnknown(slot: index + 1)) }
                return .kms(keyID: blob.keyID.uuidString.lowercased(), context: kms.context)
            }
        }
    }

    /// Runs `call` against each key service in order until one answers; a key service that
    /// cannot be reached or does not know the key passes to the next. With a single key service,
    /// or when every one fails, the first error is thrown as it came.
    func firstAnswer<T>(_ call: (any DataKeyProvider) async throws -> T) async throws -> T {
        var firstError: (any Error)?
        for provider in providers {
            do {
                return try await call(provider)
            } catch where Self.passesToNextSlot(error) {
                if firstError == nil { firstError = error }
            }
        }
        throw firstError!
    }

    /// Whether a failure to unwrap through one slot or key service lets the next be tried: the
    /// key service is unreachable, refuses the caller, or does not have or will not use the key.
    /// Tampering and malformed input stop everything.
    package static func passesToNextSlot(_ error: any Error) -> Bool {
        if let error = error as? SealedFileError, case .unexpectedKey = error.kind { return true }
        switch ErrorClassification(error).kind {
        case .unreachable, .keyUnavailable, .accessDenied, .wrongKey: return true
        default: return false
        }
    }
}
