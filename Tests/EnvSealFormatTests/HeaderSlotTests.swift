import SodiumKit
import Testing
import TestSupport
@testable import EnvSealFormat

/// What ``SealedFileHeader/make(slots:variables:keys:version:)`` refuses to write, and what a
/// version 2 header keeps of its slots.
@Suite("header slots")
struct HeaderSlotTests {
    static let context = try! EncryptionContext(["envseal:file": "app.env"])
    static func kms(_ arn: String?, _ byte: UInt8 = 1) -> SealedFileHeader.Slot {
        .kms(.init(keyARN: arn, context: context, wrappedDataKey: [UInt8](repeating: byte, count: 93)))
    }

    static func make(_ slots: [SealedFileHeader.Slot], version: UInt8 = 2) throws -> SealedFileHeader {
        try SealedFileHeader.make(slots: slots, variables: .init(sealed: [:], covered: ["A": "1"]),
                                  keys: try SealedFileKeys(dataKey: .random()), version: version)
    }

    static func refusal(_ body: () throws -> Void) -> FormatError.Kind? {
        do { try body(); return nil } catch let error as FormatError { return error.kind } catch { return nil }
    }

    @Test("zero slots, 256 slots, a repeated key or recipient, and bad lengths are refused")
    func refusals() throws {
        #expect(Self.refusal { _ = try Self.make([]) } == .invalidField)
        #expect(Self.refusal { _ = try Self.make((0..<256).map { Self.kms("arn:k/\($0)") }) } == .invalidField)
        #expect(Self.refusal { _ = try Self.make([Self.kms("arn:k/1"), Self.kms("arn:k/1", 2)]) } == .invalidField)
        let recipient = try SealedBox.keyPair().publicKey
        let slot = SealedFileHeader.Slot.recipient(try .init(sealing: .random(), to: recipient))
        #expect(Self.refusal { _ = try Self.make([slot, Self.kms(nil), slot]) } == .invalidField)
        #expect(Self.refusal { _ = try SealedFileHeader.RecipientSlot(publicKey: [1, 2], sealedDataKey: [UInt8](repeating: 0, count: 80)) } == .invalidField)
        #expect(Self.refusal { _ = try SealedFileHeader.RecipientSlot(publicKey: recipient, sealedDataKey: [0]) } == .invalidField)
        #expect(Self.refusal { _ = try Self.make([.kms(.init(keyARN: nil, context: Self.context, wrappedDataKey: []))]) } == .invalidField)
        // Version 1 holds exactly one key slot.
        #expect(Self.refusal { _ = try Self.make([Self.kms(nil), Self.kms(nil, 2)], version: 1) } == .invalidField)
        #expect(Self.refusal { _ = try Self.make([slot], version: 1) } == .invalidField)
        #expect(Self.refusal { _ = try Self.make([Self.kms(nil)], version: 3) } == .unknownVersion)
    }

    @Test("slots without an ARN may repeat their key (it cannot be told offline); 255 slots round-trip in order")
    func roundTrip() throws {
        _ = try Self.make([Self.kms(nil), Self.kms(nil, 2)])
        let slots = (0..<255).map { Self.kms("arn:aws:kms:us-east-1:111122223333:key/\($0)", UInt8($0)) }
        let header = try Self.make(slots)
        let parsed = try SealedFileHeader(parsing: header.text)
        #expect(parsed.version == 2 && parsed.slots == slots)
        #expect(parsed.kmsSlots.count == 255 && parsed.recipientSlots.isEmpty)
    }
}
