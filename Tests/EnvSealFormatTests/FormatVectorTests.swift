import Foundation
import SodiumKit
import Testing
import TestSupport
@testable import EnvSealFormat

/// Runs every vector of docs/FORMAT.md through every parser and open path.
@Suite("format vectors")
struct FormatVectorTests {
    struct ContextCase: Decodable, CustomTestStringConvertible {
        let name: String
        let direction: String
        let pairs: [[String]]?
        let canonical_hex: String?
        let expect: String
        var testDescription: String { name }
    }

    @Test("canonical context vectors", arguments: try loadVectors("context", as: [ContextCase].self))
    func contextVector(_ v: ContextCase) throws {
        switch (v.direction, v.expect) {
        case ("encode", "success"):
            let ctx = try context(try #require(v.pairs))
            #expect(ctx.canonicalBytes.hex == v.canonical_hex)
            #expect(try EncryptionContext(canonicalBytes: ctx.canonicalBytes) == ctx)
        case ("encode", _):
            let error = try #require(throws: FormatError.self) { _ = try context(try #require(v.pairs)) }
            #expect(outcome(of: error) == v.expect)
        case ("decode", "success"):
            let ctx = try EncryptionContext(canonicalBytes: [UInt8](hex: try #require(v.canonical_hex)))
            #expect(ctx.pairs.map { [$0.key, $0.value] } == v.pairs)
            #expect(ctx.canonicalBytes.hex == v.canonical_hex)
        default:
            let error = try #require(throws: FormatError.self) {
                _ = try EncryptionContext(canonicalBytes: [UInt8](hex: try #require(v.canonical_hex)))
            }
            #expect(outcome(of: error) == v.expect)
        }
    }

    struct BlobCase: Decodable, CustomTestStringConvertible {
        let name: String
        let key_hex: String
        let key_id: String?
        let key_version: UInt32?
        let nonce_hex: String?
        let context_pairs: [[String]]
        let plaintext_hex: String?
        let blob_hex: String
        let expect: String
        var testDescription: String { name }
    }

    @Test("ciphertext blob vectors", arguments: try loadVectors("blob", as: [BlobCase].self))
    func blobVector(_ v: BlobCase) throws {
        let material: KeyMaterial = try key(v.key_hex)
        let ctx = try context(v.context_pairs)
        let bytes = [UInt8](hex: v.blob_hex)
        if v.expect == "success" {
            let blob = try CiphertextBlob(parsing: bytes)
            #expect(blob.keyID == UUID(uuidString: v.key_id ?? ""))
            #expect(blob.keyVersion == v.key_version)
            #expect(blob.nonce.bytes.hex == v.nonce_hex)
            #expect(blob.bytes == bytes)
            let opened = try blob.open(key: material, context: ctx)
            #expect(opened.withUnsafeBytes { Array($0) }.hex == v.plaintext_hex)
            let plaintextHex = try #require(v.plaintext_hex), keyIDText = try #require(v.key_id)
            let keyID = try #require(UUID(uuidString: keyIDText))
            let resealed = try CiphertextBlob.seal(
                SecureBytes(copying: [UInt8](hex: plaintextHex)), key: material,
                keyID: keyID, keyVersion: try #require(v.key_version),
                context: ctx, nonce: Nonce(bytes: [UInt8](hex: try #require(v.nonce_hex))))
            #expect(resealed.bytes == bytes)
            return
        }
        let error = try #require(throws: FormatError.self) {
            _ = try CiphertextBlob(parsing: bytes).open(key: material, context: ctx)
        }
        if authenticationOutcomes.contains(v.expect) {
            #expect(outcome(of: error) == "authentication failure")
        } else {
            #expect(outcome(of: error) == v.expect)
        }
    }

    struct SealedValueCase: Decodable, CustomTestStringConvertible {
        let name: String
        let data_key_hex: String
        let variable: String
        let value: String?
        /// The value is a spelling (`es2:`), which decodes to `decoded`.
        let spelling: Bool?
        let decoded: String?
        let sealed: String
        let expect: String
        var testDescription: String { name }
    }

    @Test("sealed value vectors", arguments: try loadVectors("sealed-value", as: [SealedValueCase].self))
    func sealedValueVector(_ v: SealedValueCase) throws {
        let keys = try SealedFileKeys(dataKey: key(v.data_key_hex))
        if v.expect == "success" {
            let value = try #require(v.value)
            if v.spelling == true {
                #expect(try SealedValue.sealSpelling(SecureBytes(utf8: value), name: v.variable, keys: keys) == v.sealed)
                let decoded = try #require(DotenvFile.value(ofSpelling: value.utf8)?.value)
                #expect(Array(decoded.utf8) == Array(try #require(v.decoded).utf8))
            } else {
                #expect(try SealedValue.seal(SecureBytes(utf8: value), name: v.variable, keys: keys) == v.sealed)
            }
            #expect(try SealedValue.open(v.sealed, name: v.variable, keys: keys).utf8String() == value)
            return
        }
        let error = try #require(throws: FormatError.self) { _ = try SealedValue.open(v.sealed, name: v.variable, keys: keys) }
        #expect(outcome(of: error) == v.expect)
    }

    struct HeaderCase: Decodable, CustomTestStringConvertible {
        let name: String
        let data_key_hex: String?
        let key_arn: String?
        let context_pairs: [[String]]?
        let wrapped_data_key_hex: String?
        let sealed: [String: String]?
        let covered: [String: String]?
        let file_sealed: [String: String]?
        let file_covered: [String: String]?
        let header: String
        let expect: String
        let variable: String?
        var testDescription: String { name }
    }

    @Test("sealed-file header vectors", arguments: try loadVectors("header", as: [HeaderCase].self))
    func headerVector(_ v: HeaderCase) throws {
        guard let dataKeyHex = v.data_key_hex else {
            // A parse failure.
            let error = try #require(throws: FormatError.self) { _ = try SealedFileHeader(parsing: v.header) }
            #expect(outcome(of: error) == v.expect)
            return
        }
        let keys = try SealedFileKeys(dataKey: key(dataKeyHex))
        let header = try SealedFileHeader(parsing: v.header)
        #expect(header.text == v.header)
        if v.expect == "success" {
            let sealed = try #require(v.sealed), covered = v.covered ?? [:]
            let ctx = try context(try #require(v.context_pairs))
            #expect(header.version == 1)
            let slot = SealedFileHeader.KMSSlot(keyARN: v.key_arn, context: ctx, wrappedDataKey: [UInt8](hex: try #require(v.wrapped_data_key_hex)))
            #expect(header.slots == [.kms(slot)])
            #expect(header.sealedNames == sealed.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
            let made = try SealedFileHeader.make(slots: [.kms(slot)], variables: .init(sealed: sealed, covered: covered), keys: keys, version: 1)
            #expect(made.text == v.header)
            // What a writer makes of it: the same slot and variables in version 2, which opens too.
            let rewritten = try SealedFileHeader(parsing: SealedFileHeader.make(
                slots: [.kms(slot)], variables: .init(sealed: sealed, covered: covered), keys: keys).text)
            #expect(rewritten.version == 2 && rewritten.slots == header.slots)
            _ = try rewritten.open(.init(sealed: sealed, covered: covered), keys: keys)
            let opened = try header.open(.init(sealed: sealed, covered: covered), keys: keys)
            #expect(Set(opened.keys) == Set(sealed.keys))
            return
        }
        let error = try #require(throws: FormatError.self) {
            _ = try header.open(.init(sealed: v.file_sealed ?? [:], covered: v.file_covered ?? [:]), keys: keys)
        }
        #expect(outcome(of: error) == v.expect)
        #expect(variable(of: error) == v.variable)
    }

    struct SlotCase: Decodable {
        let kind: String
        let key_arn: String?
        let context_pairs: [[String]]?
        let wrapped_data_key_hex: String?
        let public_key_hex: String?
        let sealed_data_key_hex: String?
        let secret_key_hex: String?
    }

    struct HeaderV2Case: Decodable, CustomTestStringConvertible {
        let name: String
        let data_key_hex: String?
        let slots: [SlotCase]?
        let sealed: [String: String]?
        let covered: [String: String]?
        let file_sealed: [String: String]?
        let file_covered: [String: String]?
        let header: String
        let expect: String
        let variable: String?
        var testDescription: String { name }
    }

    @Test("sealed-file header version 2 vectors", arguments: try loadVectors("header-v2", as: [HeaderV2Case].self))
    func headerV2Vector(_ v: HeaderV2Case) throws {
        guard let dataKeyHex = v.data_key_hex else {
            let error = try #require(throws: FormatError.self) { _ = try SealedFileHeader(parsing: v.header) }
            #expect(outcome(of: error) == v.expect)
            return
        }
        let keys = try SealedFileKeys(dataKey: key(dataKeyHex))
        let header = try SealedFileHeader(parsing: v.header)
        #expect(header.version == 2)
        #expect(header.text == v.header)
        guard v.expect == "success" else {
            let error = try #require(throws: FormatError.self) {
                _ = try header.open(.init(sealed: v.file_sealed ?? [:], covered: v.file_covered ?? [:]), keys: keys)
            }
            #expect(outcome(of: error) == v.expect)
            #expect(variable(of: error) == v.variable)
            return
        }
        var slots: [SealedFileHeader.Slot] = []
        for slot in try #require(v.slots) {
            if slot.kind == "kms" {
                slots.append(.kms(.init(keyARN: slot.key_arn, context: try context(try #require(slot.context_pairs)),
                                        wrappedDataKey: [UInt8](hex: try #require(slot.wrapped_data_key_hex)))))
                continue
            }
            let publicKey = [UInt8](hex: try #require(slot.public_key_hex))
            let sealedKey = [UInt8](hex: try #require(slot.sealed_data_key_hex))
            slots.append(.recipient(try .init(publicKey: publicKey, sealedDataKey: sealedKey)))
            // The data key sealed by the other implementation opens with libsodium.
            let secret = try SecureBytes(copying: [UInt8](hex: try #require(slot.secret_key_hex)))
            #expect(try SealedBox.publicKey(of: secret) == publicKey)
            #expect(try SealedBox.open(sealedKey, publicKey: publicKey, secretKey: secret).withUnsafeBytes { Array($0) }.hex == dataKeyHex)
        }
        #expect(header.slots == slots)
        let sealed = try #require(v.sealed), covered = v.covered ?? [:]
        let made = try SealedFileHeader.make(slots: slots, variables: .init(sealed: sealed, covered: covered), keys: keys)
        #expect(made.text == v.header)
        let opened = try header.open(.init(sealed: sealed, covered: covered), keys: keys)
        #expect(Set(opened.keys) == Set(sealed.keys))
    }
}
