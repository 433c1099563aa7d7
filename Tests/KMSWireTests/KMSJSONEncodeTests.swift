import Foundation
import KMSWire
import TestSupport
import Testing

/// The fast response encoders write exactly the bytes of the shared JSONEncoder
/// (`.sortedKeys`, `.withoutEscapingSlashes`, base64 blobs).
@Suite("KMS JSON fast response encoding")
struct KMSJSONEncodeTests {
    /// A JSON value of a response member, to build bodies that JSONDecoder turns into responses.
    enum Value: Encodable {
        case string(String)
        case blob(Data)
        case bool(Bool)
        case strings([String])

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .string(let value): try container.encode(value)
            case .blob(let value): try container.encode(value)
            case .bool(let value): try container.encode(value)
            case .strings(let value): try container.encode(value)
            }
        }
    }

    enum Kind { case string, blob, bool, strings }

    /// Every member of the response shapes the fast encoders write, by kind.
    static let members: [String: Kind] = [
        "KeyId": .string, "Plaintext": .blob, "CiphertextBlob": .blob, "EncryptionAlgorithm": .string,
        "CiphertextForRecipient": .blob, "KeyMaterialId": .string, "SourceKeyId": .string,
        "SourceEncryptionAlgorithm": .string, "DestinationEncryptionAlgorithm": .string,
        "SourceKeyMaterialId": .string, "DestinationKeyMaterialId": .string, "Mac": .blob,
        "MacAlgorithm": .string, "MacValid": .bool, "Signature": .blob, "SigningAlgorithm": .string,
        "SignatureValid": .bool, "PublicKey": .blob, "CustomerMasterKeySpec": .string, "KeySpec": .string,
        "KeyUsage": .string, "EncryptionAlgorithms": .strings, "SigningAlgorithms": .strings,
        "KeyAgreementAlgorithms": .strings, "Policy": .string, "PolicyName": .string, "PolicyNames": .strings,
        "NextMarker": .string, "Truncated": .bool, "GrantToken": .string, "GrantId": .string,
    ]

    /// Every ASCII character (controls, quotes, backslash, slash, DEL) and non-ASCII ones the
    /// writer could get wrong: line and paragraph separators, a BOM, a combining accent, C1 controls.
    static let characters: [String] = (0..<0x80).map { String(UnicodeScalar(UInt8($0))) }
        + ["é", "日", "😀", "\u{2028}", "\u{2029}", "\u{FEFF}", "e\u{301}", "\u{80}", "\u{9F}", "\u{FFFD}"]

    /// The characters that JSONEncoder writes without a `\u` escape.
    static let plainCharacters = characters.filter { character in
        character.unicodeScalars.allSatisfy { $0.value >= 0x20 || [0x08, 0x09, 0x0A, 0x0C, 0x0D].contains($0.value) }
    }

    static func randomString(_ random: inout SplitMix64, plain: Bool = false) -> String {
        (0..<random.int(0...12)).map { _ in random.pick(plain ? plainCharacters : characters) }.joined()
    }

    static func randomBlob(_ random: inout SplitMix64) -> Data {
        let count = random.chance(0.02) ? random.int(60_000...70_000) : random.int(0...70)
        return Data(random.bytes(count))
    }

    /// A random body of response members; `plain` keeps out the characters JSONEncoder writes
    /// as `\u` escapes. Members in sorted order, so that a seed gives the same bodies every run.
    static func randomBody(_ random: inout SplitMix64, plain: Bool = false) throws -> Data {
        var object: [String: Value] = [:]
        for (name, kind) in members.sorted(by: { $0.key < $1.key }) where random.chance(0.7) {
            switch kind {
            case .string: object[name] = .string(randomString(&random, plain: plain))
            case .blob: object[name] = .blob(randomBlob(&random))
            case .bool: object[name] = .bool(random.chance(0.5))
            case .strings: object[name] = .strings((0..<random.int(0...4)).map { _ in randomString(&random, plain: plain) })
            }
        }
        return try KMSJSON.encoder().encode(object)
    }

    /// `response` through `encodeResponse`, which must equal the encoder's bytes; whether the fast
    /// encoder wrote it.
    @discardableResult
    static func compare<Response: KMSResponse>(_ response: Response) throws -> Bool {
        let expected = try KMSJSON.foundationEncodeResponse(response)
        let fast = response.fastEncoded()
        if let fast {
            #expect(fast == expected, "\(String(decoding: fast, as: UTF8.self)) != \(String(decoding: expected, as: UTF8.self))")
        }
        #expect(try KMSJSON.encodeResponse(response) == expected)
        return fast != nil
    }

    static func compare<Response: KMSResponse>(_ type: Response.Type, body: Data) throws -> Bool {
        try compare(KMSJSON.decodeResponse(type, from: body))
    }

    static let fastResponses: Set<KMSOperation> = [
        .cancelKeyDeletion, .createGrant, .decrypt, .deleteImportedKeyMaterial, .encrypt, .generateDataKey,
        .generateDataKeyWithoutPlaintext, .generateMac, .generateRandom, .getKeyPolicy, .getPublicKey,
        .importKeyMaterial, .listKeyPolicies, .reEncrypt, .rotateKeyOnDemand, .sign, .verifyMac, .verify,
    ]

    @Test(arguments: KMSOperation.allCases)
    func randomResponsesAreByteIdentical(_ operation: KMSOperation) throws {
        var random = SplitMix64(seed: 0xE4C0DE &+ UInt64(KMSOperation.allCases.firstIndex(of: operation)!))
        let expected = Self.fastResponses.contains(operation) || operation.responseType == KMSEmptyResponse.self
        #expect(try Self.compare(operation.responseType, body: Data("{}".utf8)) == expected, "\(operation)")
        for _ in 0..<150 {
            let body = try Self.randomBody(&random)
            #expect(try Self.compare(operation.responseType, body: body) == expected, "\(operation)")
        }
    }

    @Test func everyCharacterIsEscapedAsJSONEncoderDoes() throws {
        for character in Self.characters {
            let response = KMS.DecryptResponse(keyId: "a\(character)b/\(character)", plaintext: Data())
            #expect(try Self.compare(response))
        }
        let all = Self.characters.joined()
        #expect(try Self.compare(KMS.GetPublicKeyResponse(keyId: all, encryptionAlgorithms: [.init(rawValue: all), .symmetricDefault])))
    }

    @Test func blobsOfEveryShortLengthAndALargeOne() throws {
        for count in [0, 1, 2, 3, 4, 5, 6, 7, 31, 32, 33, 4096, 1 << 20] {
            let bytes = Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
            #expect(try Self.compare(KMS.GenerateDataKeyResponse(ciphertextBlob: bytes, plaintext: Data(bytes.reversed()), keyId: "k")))
        }
    }

    @Test func theWriterMatchesJSONEncoderForIntegers() throws {
        for (a, b) in [(0, -1), (Int.max, Int.min), (42, -42)] {
            var writer = KMSJSONWriter()
            writer.member("A", a)
            writer.member("B", b)
            writer.member("C", [String]())
            writer.member("D", false)
            let fast = writer.finish()
            struct Mixed: Encodable { let A: Int; let B: Int; let C: [String]; let D: Bool }
            #expect(fast == (try KMSJSON.encoder().encode(Mixed(A: a, B: b, C: [], D: false))))
        }
    }

    @Test func base64RoundTripsThroughTheReader() {
        var random = SplitMix64(seed: 0xB64_0015)
        for _ in 0..<500 {
            let data = Data(random.bytes(random.int(0...40)))
            var encoded: [UInt8] = []
            KMSBase64.encode(data, into: &encoded)
            #expect(String(decoding: encoded, as: UTF8.self) == data.base64EncodedString())
            #expect(encoded.withUnsafeBytes { KMSBase64.decode($0) } == data)
        }
    }
}
