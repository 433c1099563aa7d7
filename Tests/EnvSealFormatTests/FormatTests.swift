import Foundation
import SodiumKit
import Testing
import TestSupport
@testable import EnvSealFormat

@Suite("formats")
struct FormatTests {
    @Test("contexts that concatenate alike encode differently, and limits are enforced")
    func contextAmbiguity() throws {
        let a = try EncryptionContext(["ab": "c"]), b = try EncryptionContext(["a": "bc"])
        #expect(a.canonicalBytes != b.canonicalBytes)
        #expect(a != b)
        #expect(EncryptionContext.empty.canonicalBytes.isEmpty)
        #expect(try EncryptionContext([:]) == .empty)
        #expect(try #require(throws: FormatError.self) { _ = try EncryptionContext(["": "x"]) }.reason == .invalidContext(reason: "a key is empty"))
        #expect(throws: FormatError.self) { _ = try EncryptionContext(["k": String(repeating: "v", count: 8192)]) }
        #expect(try EncryptionContext(["k": String(repeating: "v", count: 8192 - 7)]).canonicalBytes.count == 8192)
    }

    @Test("a blob round-trips, binds its context, key and version, and is 93 bytes for a data key")
    func blobRoundTrip() throws {
        let material = KeyMaterial.random()
        let id = UUID()
        let ctx = try EncryptionContext(["LambdaFunctionName": "billing"])
        let dataKey = try SecureRandom.secureBytes(count: 32)
        let blob = try CiphertextBlob.seal(dataKey, key: material, keyID: id, keyVersion: 3, context: ctx)
        #expect(blob.bytes.count == 93)
        let parsed = try CiphertextBlob(parsing: blob.bytes)
        #expect(parsed == blob && parsed.keyID == id && parsed.keyVersion == 3)
        #expect(try parsed.open(key: material, context: ctx) == dataKey)
        for wrong in [try EncryptionContext(["LambdaFunctionName": "Billing"]), .empty, try EncryptionContext(["LambdaFunctionName": "billing", "x": "y"])] {
            #expect(try #require(throws: FormatError.self) { _ = try parsed.open(key: material, context: wrong) }.isTampering)
        }
        #expect(throws: FormatError.self) { _ = try parsed.open(key: KeyMaterial.random(), context: ctx) }
        // A blob whose header is edited to name another version does not open under the same material.
        var edited = blob.bytes
        edited[20] ^= 1
        #expect(throws: FormatError.self) { _ = try CiphertextBlob(parsing: edited).open(key: material, context: ctx) }
        #expect(throws: FormatError.self) {
            _ = try CiphertextBlob.seal(SecureBytes(count: 4097) { _ in }, key: material, keyID: id, keyVersion: 1, context: ctx)
        }
    }

    @Test("a blob cut short names the field it ends in, from an array or from Data")
    func blobTruncation() throws {
        let material = KeyMaterial.random()
        let ctx = try EncryptionContext(["b": "2", "a": "1"])
        let blob = try CiphertextBlob.seal(SecureBytes(count: 32) { _ in }, key: material, keyID: UUID(), keyVersion: 7, context: ctx)
        let bytes = blob.bytes
        for length in 0..<(CiphertextBlob.headerByteCount + 16) {
            let field = switch length {
            case 0: "version"
            case 1..<17: "key id"
            case 17..<21: "key version"
            case 21..<45: "nonce"
            default: "ciphertext"
            }
            for input in [Data(bytes.prefix(length)), Data(bytes.prefix(length)).dropFirst(0)] {
                #expect(try #require(throws: FormatError.self) { _ = try CiphertextBlob(parsing: input) }.reason == .truncated(field: field))
            }
        }
        // Parsed from Data or a slice of a larger buffer, it is the same blob and opens to the same bytes.
        let padded = Data([0xFF] + bytes).dropFirst()
        for input in [Data(bytes), padded] {
            let parsed = try CiphertextBlob(parsing: input)
            #expect(parsed == blob && parsed.keyVersion == 7)
            #expect(try parsed.openForTransfer(key: material, context: ctx) == Data(count: 32))
            #expect(throws: FormatError.self) { _ = try parsed.openForTransfer(key: material, context: try EncryptionContext(["a": "1"])) }
        }
        // The canonical context sorts its keys by their UTF-8 bytes and prefixes each length.
        #expect(ctx.canonicalBytes == [0, 2, 0, 1, 0x61, 0, 1, 0x31, 0, 1, 0x62, 0, 1, 0x32])
    }

    @Test("sealed values are deterministic, bound to the name and file, and within the size budget")
    func sealedValues() throws {
        let keys = try SealedFileKeys(dataKey: .random())
        let apiKey = "sk_live_51H8x2KJf9sQ0aZpL3mN7vB4cD6eF8gH"
        let sealed = try SealedValue.seal(SecureBytes(utf8: apiKey), name: "STRIPE_KEY", keys: keys)
        #expect(sealed.hasPrefix("es1:"))
        #expect(try SealedValue.seal(SecureBytes(utf8: apiKey), name: "STRIPE_KEY", keys: keys) == sealed)
        #expect(try SealedValue.seal(SecureBytes(utf8: apiKey), name: "OTHER_KEY", keys: keys) != sealed)
        #expect(try SealedValue.open(sealed, name: "STRIPE_KEY", keys: keys).utf8String() == apiKey)
        #expect(sealed.count - apiKey.count <= 40)
        let moved = try #require(throws: FormatError.self) { _ = try SealedValue.open(sealed, name: "OTHER_KEY", keys: keys) }
        #expect(moved.reason == .valueNotAuthentic(name: "OTHER_KEY"))
        #expect(!moved.description.contains(apiKey))
        let otherFile = try SealedFileKeys(dataKey: .random())
        #expect(throws: FormatError.self) { _ = try SealedValue.open(sealed, name: "STRIPE_KEY", keys: otherFile) }
    }

    @Test("a header verifies its file, names the variable that was removed, added or changed, and round-trips")
    func headerTamperCases() throws {
        let keys = try SealedFileKeys(dataKey: .random())
        func seal(_ v: String, _ n: String) throws -> String { try SealedValue.seal(SecureBytes(utf8: v), name: n, keys: keys) }
        let sealed = ["DB_PASSWORD": try seal("hunter2hunter2", "DB_PASSWORD"), "API_KEY": try seal("abc123abc123", "API_KEY")]
        let covered = ["LOG_LEVEL": "info"]
        let header = try SealedFileHeader.make(
            keyARN: nil, context: try EncryptionContext(["envseal:file": "app.env"]), wrappedDataKey: [UInt8](repeating: 7, count: 93),
            variables: .init(sealed: sealed, covered: covered), keys: keys)
        let parsed = try SealedFileHeader(parsing: header.text)
        #expect(parsed == header)
        #expect(parsed.sealedNames == ["API_KEY", "DB_PASSWORD"])
        #expect(parsed.coveredNames == ["LOG_LEVEL"])
        try parsed.verify(.init(sealed: sealed, covered: covered), keys: keys)

        func failure(_ s: [String: String], _ c: [String: String]) throws -> FormatError.Reason {
            try #require(throws: FormatError.self) { try parsed.verify(.init(sealed: s, covered: c), keys: keys) }.reason
        }
        var removed = sealed; removed["API_KEY"] = nil
        #expect(try failure(removed, covered) == .missingVariable(name: "API_KEY"))
        var added = sealed; added["NEW"] = try seal("x", "NEW")
        #expect(try failure(added, covered) == .unlistedVariable(name: "NEW"))
        var older = sealed; older["API_KEY"] = try seal("old-value-1234", "API_KEY")
        #expect(try failure(older, covered) == .changedVariable(name: "API_KEY"))
        #expect(try failure(sealed, ["LOG_LEVEL": "debug"]) == .changedVariable(name: "LOG_LEVEL"))
        #expect(try failure(sealed, [:]) == .missingVariable(name: "LOG_LEVEL"))
        let otherKeys = try SealedFileKeys(dataKey: .random())
        #expect(throws: FormatError.self) { try parsed.verify(.init(sealed: sealed, covered: covered), keys: otherKeys) }
    }

    @Test("a header opens every value of its file; a value sealed under another name is named even when the header covers it")
    func headerOpensAll() throws {
        let keys = try SealedFileKeys(dataKey: .random())
        let plain = (0..<60).map { ("VAR_\($0)", "value number \($0) " + String(repeating: "s", count: $0)) }
        let sealed = Dictionary(uniqueKeysWithValues: try plain.map { ($0.0, try SealedValue.seal(SecureBytes(utf8: $0.1), name: $0.0, keys: keys)) })
        let context = try EncryptionContext(["envseal:file": "app.env"])
        let header = try SealedFileHeader.make(
            keyARN: nil, context: context, wrappedDataKey: [UInt8](repeating: 7, count: 93),
            variables: .init(sealed: sealed, covered: [:]), keys: keys)
        let opened = try header.open(.init(sealed: sealed, covered: [:]), keys: keys)
        #expect(opened.count == plain.count)
        for (name, value) in plain { #expect(opened[name]?.utf8String() == value) }

        // Whoever holds the data key can make a header over any texts; a value moved to another
        // name still does not open, and the error names where it was found.
        var moved = sealed
        moved["VAR_41"] = sealed["VAR_7"]
        let forged = try SealedFileHeader.make(
            keyARN: nil, context: context, wrappedDataKey: [UInt8](repeating: 7, count: 93),
            variables: .init(sealed: moved, covered: [:]), keys: keys)
        let error = try #require(throws: FormatError.self) { _ = try forged.open(.init(sealed: moved, covered: [:]), keys: keys) }
        #expect(error.reason == .valueNotAuthentic(name: "VAR_41"))
    }

    @Test("base64url decoding accepts only the canonical form")
    func base64url() throws {
        for length in 0..<40 {
            let bytes = Array(UInt8(0)..<UInt8(length))
            let text = Base64URL.encode(bytes)
            #expect(!text.contains("=") && !text.contains("+") && !text.contains("/"))
            #expect(try Base64URL.decode(text, field: "t") == bytes)
        }
        for bad in ["A", "AB=", "AB+/", "AB C", "AAB", "AQ=", "AR"] where bad != "AAB" {
            #expect(throws: FormatError.self, "\(bad)") { _ = try Base64URL.decode(bad, field: "t") }
        }
        #expect(try Base64URL.decode("AAA", field: "t") == [0, 0])
        #expect(throws: FormatError.self) { _ = try Base64URL.decode("AAB", field: "t") }
        // A sealed value FuzzSealedFile found with U+FFFD inside, once decoded to bytes of another spelling.
        #expect(throws: FormatError.self) {
            _ = try SealedValue.decode("es1:A3X6nh8LTv8a_t5\u{FFFD}EW63SGnFW_x18jxx4JBEkfAgf3n9zw", name: "STRIPE_KEY")
        }
    }

    @Test("sizes quoted in docs/FORMAT.md")
    func sizes() throws {
        let keys = try SealedFileKeys(dataKey: .random())
        var sealed: [String: String] = [:]
        for i in 0..<10 {
            let name = "SECRET_NAME\(i)"
            sealed[name] = try SealedValue.seal(SecureBytes(utf8: "value\(i)"), name: name, keys: keys)
        }
        let header = try SealedFileHeader.make(
            keyARN: nil, context: try EncryptionContext(["envseal:file": "app.env"]), wrappedDataKey: [UInt8](repeating: 1, count: 93),
            variables: .init(sealed: sealed), keys: keys)
        let bytes = try Base64URL.decode(header.text, field: "h")
        // Version 2, one key slot: version, flags, slot count, slot kind, slot flags.
        #expect(bytes.count == 1 + 1 + 1 + 1 + 1 + 2 + 25 + 2 + 93 + 2 + 10 * (6 + 12) + 16)
        #expect(bytes.count == 325)
        #expect(header.text.count == (bytes.count * 4 + 2) / 3)
        // Each further key slot with an ARN: kind, flags, the ARN and the same context and blob.
        let arn = "arn:aws:kms:us-east-1:111122223333:key/5b7c2a90-3e1f-4d6a-8b2c-9f0e1d2c3b4a"
        let context = try EncryptionContext(["envseal:file": "app.env"])
        let two = try SealedFileHeader.make(slots: [
            .kms(.init(keyARN: arn, context: context, wrappedDataKey: [UInt8](repeating: 1, count: 93))),
            .kms(.init(keyARN: arn + "0", context: context, wrappedDataKey: [UInt8](repeating: 2, count: 93))),
        ], variables: .init(sealed: sealed), keys: keys)
        #expect(try Base64URL.decode(two.text, field: "h").count == 325 + 2 + 2 * (2 + arn.utf8.count) + 1 + 2 + 25 + 2 + 93)
        // A recipient slot: kind, public key, sealed data key.
        let recipient = try SealedBox.keyPair().publicKey
        let withRecipient = try SealedFileHeader.make(slots: [
            .kms(.init(keyARN: nil, context: context, wrappedDataKey: [UInt8](repeating: 1, count: 93))),
            .recipient(try .init(sealing: .random(), to: recipient)),
        ], variables: .init(sealed: sealed), keys: keys)
        #expect(try Base64URL.decode(withRecipient.text, field: "h").count == 325 + 1 + 32 + 80)
        let password = try SealedValue.seal(SecureBytes(utf8: String(repeating: "p", count: 16)), name: "P", keys: keys)
        #expect(password.count == 47)
        let apiKey = try SealedValue.seal(SecureBytes(utf8: String(repeating: "k", count: 40)), name: "K", keys: keys)
        #expect(apiKey.count == 79)
    }
}
