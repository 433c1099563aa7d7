package import SodiumKit

extension SealedFileHeader {
    /// Most slots a version 2 header holds (its count is one byte).
    package static let maxSlotCount = 255

    /// One wrapped copy of the file's data key: any one slot opens the file.
    package enum Slot: Sendable, Equatable {
        /// The data key wrapped by a key service (KMS `GenerateDataKey` or `Encrypt`).
        case kms(KMSSlot)
        /// The data key sealed to an X25519 recipient with `crypto_box_seal`.
        case recipient(RecipientSlot)

        /// The slot kind byte of a version 2 header.
        var kindByte: UInt8 {
            switch self {
            case .kms: 0
            case .recipient: 1
            }
        }
    }

    /// A data key wrapped under a master key of a key service.
    package struct KMSSlot: Sendable, Equatable {
        /// The master key's ARN, when the file records it (the wrapped data key names its key anyway).
        package var keyARN: String?
        /// The encryption context the data key was wrapped with.
        package var context: EncryptionContext
        /// The wrapped data key, as the key service returned it (1 to 65,535 bytes).
        package var wrappedDataKey: [UInt8]

        /// Creates a slot.
        /// - Parameters:
        ///   - keyARN: The master key's ARN to record, or `nil`.
        ///   - context: The context the data key was wrapped with.
        ///   - wrappedDataKey: The key service's ciphertext of the data key.
        package init(keyARN: String?, context: EncryptionContext, wrappedDataKey: [UInt8]) {
            self.keyARN = keyARN
            self.context = context
            self.wrappedDataKey = wrappedDataKey
        }
    }

    /// A data key sealed to a recovery recipient's X25519 public key.
    package struct RecipientSlot: Sendable, Equatable {
        /// Bytes of the sealed data key: the 32-byte key and `crypto_box_SEALBYTES`.
        package static let sealedDataKeyByteCount = SymmetricKeyLength.bytes + SealedBox.overheadByteCount
        /// The recipient's 32-byte X25519 public key.
        package let publicKey: [UInt8]
        /// `crypto_box_seal(dataKey, publicKey)`: 80 bytes.
        package let sealedDataKey: [UInt8]

        /// Creates a slot, checking both lengths.
        /// - Throws: ``FormatError`` `.invalidField` for a key or sealed key of the wrong length.
        package init(publicKey: [UInt8], sealedDataKey: [UInt8]) throws(FormatError) {
            guard publicKey.count == SealedBox.publicKeyByteCount else {
                throw FormatError(.invalidField(field: "recipient public key", reason: "\(publicKey.count) bytes is not \(SealedBox.publicKeyByteCount)"))
            }
            guard sealedDataKey.count == Self.sealedDataKeyByteCount else {
                throw FormatError(.invalidField(field: "sealed data key", reason: "\(sealedDataKey.count) bytes is not \(Self.sealedDataKeyByteCount)"))
            }
            self.publicKey = publicKey
            self.sealedDataKey = sealedDataKey
        }

        /// Seals a data key to a recipient.
        /// - Parameters:
        ///   - dataKey: The file's data key.
        ///   - publicKey: The recipient's 32-byte X25519 public key.
        /// - Throws: ``FormatError`` for a public key that is not 32 bytes or not usable.
        package init(sealing dataKey: DataKey, to publicKey: [UInt8]) throws(FormatError) {
            let sealed: [UInt8]
            do {
                sealed = try SealedBox.seal(dataKey.secureBytes, to: publicKey)
            } catch {
                throw FormatError(.invalidField(field: "recipient public key", reason: error.description))
            }
            try self.init(publicKey: publicKey, sealedDataKey: sealed)
        }
    }

    /// The key service slots, in header order.
    package var kmsSlots: [KMSSlot] {
        slots.compactMap { if case .kms(let slot) = $0 { slot } else { nil } }
    }

    /// The recipient slots, in header order.
    package var recipientSlots: [RecipientSlot] {
        slots.compactMap { if case .recipient(let slot) = $0 { slot } else { nil } }
    }

    /// Refuses a slot list a header cannot hold: none, more than 255, a field too long, or the
    /// same slot twice (same ARN and context with an ARN; same recipient).
    static func checkSlots(_ slots: [Slot], version: UInt8) throws(FormatError) {
        guard (1...maxSlotCount).contains(slots.count) else {
            throw FormatError(.invalidField(field: "slot count", reason: "\(slots.count) is not 1 to \(maxSlotCount)"))
        }
        if version == 1 {
            guard slots.count == 1, case .kms = slots[0] else {
                throw FormatError(.invalidField(field: "header", reason: "version 1 holds exactly one key service slot"))
            }
        }
        var seenKMS = Set<[UInt8]>(), seenRecipients = Set<[UInt8]>()
        for (index, slot) in slots.enumerated() {
            switch slot {
            case .kms(let kms):
                guard (1...0xFFFF).contains(kms.wrappedDataKey.count) else {
                    throw FormatError(.invalidField(field: "wrapped data key of slot \(index + 1)",
                                                    reason: "\(kms.wrappedDataKey.count) bytes is not 1 to 65535"))
                }
                if let arn = kms.keyARN {
                    guard (1...0xFFFF).contains(arn.utf8.count) else {
                        throw FormatError(.invalidField(field: "key ARN of slot \(index + 1)", reason: "it is empty or longer than 65535 bytes"))
                    }
                    guard seenKMS.insert(Array(arn.utf8) + [0] + kms.context.canonicalBytes).inserted else {
                        throw FormatError(.invalidField(field: "slot \(index + 1)", reason: "it repeats the key and context of another slot"))
                    }
                }
            case .recipient(let recipient):
                guard seenRecipients.insert(recipient.publicKey).inserted else {
                    throw FormatError(.invalidField(field: "slot \(index + 1)", reason: "it repeats the recipient of another slot"))
                }
            }
        }
    }

    /// Writes the slots: version 1's single key-service fields, or version 2's slot list.
    static func encodeSlots(_ slots: [Slot], version: UInt8, into writer: inout ByteWriter) {
        if version == 1, case .kms(let kms) = slots[0] {
            writer.u8(kms.keyARN == nil ? 0 : 1)
            encodeKMSFields(kms, into: &writer)
            return
        }
        writer.u8(0)
        writer.u8(UInt8(slots.count))
        for slot in slots {
            writer.u8(slot.kindByte)
            switch slot {
            case .kms(let kms):
                writer.u8(kms.keyARN == nil ? 0 : 1)
                encodeKMSFields(kms, into: &writer)
            case .recipient(let recipient):
                writer.append(recipient.publicKey)
                writer.append(recipient.sealedDataKey)
            }
        }
    }

    private static func encodeKMSFields(_ kms: KMSSlot, into writer: inout ByteWriter) {
        if let keyARN = kms.keyARN {
            writer.u16(keyARN.utf8.count)
            writer.append(keyARN.utf8)
        }
        writer.u16(kms.context.canonicalBytes.count)
        writer.append(kms.context.canonicalBytes)
        writer.u16(kms.wrappedDataKey.count)
        writer.append(kms.wrappedDataKey)
    }

    /// Reads the slots of a header whose version byte has been read.
    static func parseSlots(version: UInt8, from reader: inout ByteReader) throws(FormatError) -> [Slot] {
        if version == 1 {
            return [.kms(try parseKMSSlot(&reader, flagsField: "header flags", slot: nil))]
        }
        guard try reader.u8("header flags") == 0 else {
            throw FormatError(.invalidField(field: "header flags", reason: "unknown flag bits are set"))
        }
        let count = Int(try reader.u8("slot count"))
        guard count >= 1 else { throw FormatError(.invalidField(field: "slot count", reason: "a header needs at least one slot")) }
        var slots: [Slot] = []
        slots.reserveCapacity(count)
        for index in 1...count {
            switch try reader.u8("kind of slot \(index)") {
            case 0:
                slots.append(.kms(try parseKMSSlot(&reader, flagsField: "flags of slot \(index)", slot: index)))
            case 1:
                let publicKey = try reader.take(SealedBox.publicKeyByteCount, "recipient of slot \(index)")
                let sealed = try reader.take(RecipientSlot.sealedDataKeyByteCount, "sealed data key of slot \(index)")
                slots.append(.recipient(try RecipientSlot(publicKey: publicKey, sealedDataKey: sealed)))
            default:
                throw FormatError(.invalidField(field: "kind of slot \(index)", reason: "not 0 or 1"))
            }
        }
        try checkSlots(slots, version: version)
        return slots
    }

    private static func parseKMSSlot(_ reader: inout ByteReader, flagsField: String, slot: Int?) throws(FormatError) -> KMSSlot {
        let of = slot.map { " of slot \($0)" } ?? ""
        let flags = try reader.u8(flagsField)
        guard flags & ~1 == 0 else { throw FormatError(.invalidField(field: flagsField, reason: "unknown flag bits are set")) }
        var keyARN: String?
        if flags & 1 == 1 {
            let arn = try reader.take(try reader.u16("key ARN length\(of)"), "key ARN\(of)")
            guard let text = String(validating: arn, as: UTF8.self), !text.isEmpty else {
                throw FormatError(.invalidField(field: "key ARN\(of)", reason: "it is empty or not UTF-8"))
            }
            keyARN = text
        }
        let context = try EncryptionContext(canonicalBytes: try reader.take(try reader.u16("context length\(of)"), "context\(of)"))
        let wrapped = try reader.take(try reader.u16("wrapped data key length\(of)"), "wrapped data key\(of)")
        guard !wrapped.isEmpty else { throw FormatError(.invalidField(field: "wrapped data key\(of)", reason: "it is empty")) }
        return KMSSlot(keyARN: keyARN, context: context, wrappedDataKey: wrapped)
    }
}
