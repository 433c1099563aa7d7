import Foundation
import KMSWire
import TestSupport
import Testing

/// The fast request decoders against JSONDecoder: for every body, the fast path answers `nil` or
/// exactly JSONDecoder's value, and `decodeRequest` answers exactly what the Foundation-only path
/// (decode, then validate) answers, value or error.
@Suite("KMS JSON fast request decoding")
struct KMSJSONDecodeTests {
    /// What one body did: whether the fast path read it.
    @discardableResult
    static func compare(_ operation: KMSOperation, _ body: Data) -> Bool {
        compare(operation.requestType, body)
    }

    @discardableResult
    static func compare<Request: KMSRequest>(_ type: Request.Type, _ body: Data) -> Bool {
        let fast = KMSJSON.fastDecodeRequest(type, from: body)
        let foundation = Result { () throws(KMSError) in try KMSJSON.foundationDecodeRequest(type, from: body) }
        if let fast {
            guard case .success(let slow) = foundation else {
                Issue.record("\(Request.operation): fast path read a body JSONDecoder refuses: \(printable(body))")
                return true
            }
            #expect(fast == slow, "\(Request.operation): \(printable(body))")
            // `==` on strings is canonical equivalence; the encoded bytes tell the code units apart.
            let fastBytes = try? KMSJSON.encoder().encode(fast), slowBytes = try? KMSJSON.encoder().encode(slow)
            #expect(fastBytes != nil && fastBytes == slowBytes, "\(printable(body))")
        }
        let old = foundation.flatMap { request in
            Result { () throws(KMSError) in try request.validate(); return request }
        }
        let new = Result { () throws(KMSError) in try KMSJSON.decodeRequest(type, from: body) }
        #expect(new == old, "\(Request.operation): \(printable(body))")
        return fast != nil
    }

    static func printable(_ body: Data) -> String {
        String(decoding: body, as: UTF8.self).debugDescription
    }

    // MARK: Bodies as real clients send them

    /// Bodies in the shape botocore (boto3, the aws CLI, sops's Go SDK and the AWS Encryption SDK
    /// send the same members) writes: `json.dumps` with ", " and ": " separators.
    static let clientBodies: [(KMSOperation, String)] = [
        (.decrypt, #"{"CiphertextBlob": "AQICAHh4eXo=", "EncryptionContext": {"envseal:app": "billing", "aws-crypto-public-key": "A0x/+w=="}}"#),
        (.decrypt, #"{"CiphertextBlob": "AQIDBA==", "KeyId": "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT", "GrantTokens": ["token-a", "token-b"]}"#),
        (.decrypt, #"{"CiphertextBlob":"AQIDBA==","EncryptionContext":{}}"#),
        (.encrypt, #"{"KeyId": "alias/envseal-prod", "Plaintext": "REFUQUJBU0VfVVJM", "EncryptionContext": {"envseal:app": "billing"}, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}"#),
        (.encrypt, #"{"KeyId":"alias/x","Plaintext":"","DryRun":true}"#),
        (.generateDataKey, #"{"KeyId": "alias/sops", "NumberOfBytes": 32, "EncryptionContext": {"a": "b"}}"#),
        (.generateDataKey, #"{"KeyId": "alias/sops", "KeySpec": "AES_256"}"#),
        (.generateDataKeyWithoutPlaintext, #"{"KeyId": "alias/sops", "KeySpec": "AES_128", "GrantTokens": []}"#),
        (.reEncrypt, #"{"CiphertextBlob": "AQID", "DestinationKeyId": "alias/new", "SourceEncryptionContext": {"k": "v"}, "DestinationEncryptionContext": {"k": "v"}}"#),
        (.generateRandom, #"{"NumberOfBytes": 1024}"#),
        (.generateMac, #"{"Message": "aGVsbG8=", "KeyId": "alias/mac", "MacAlgorithm": "HMAC_SHA_256"}"#),
        (.verifyMac, #"{"Message": "aGVsbG8=", "KeyId": "alias/mac", "MacAlgorithm": "HMAC_SHA_256", "Mac": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}"#),
        (.sign, #"{"KeyId": "alias/sign", "Message": "aGVsbG8=", "MessageType": "RAW", "SigningAlgorithm": "ECDSA_SHA_256"}"#),
        (.verify, #"{"KeyId": "alias/sign", "Message": "aGVsbG8=", "Signature": "MEUCIQ==", "SigningAlgorithm": "ECDSA_SHA_256"}"#),
        (.describeKey, #"{"KeyId": "alias/envseal-prod"}"#),
        (.listKeys, #"{"Limit": 100, "Marker": "abc"}"#),
        (.listAliases, #"{}"#),
        (.enableKey, #"{"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}"#),
        (.scheduleKeyDeletion, #"{"KeyId": "k", "PendingWindowInDays": 7}"#),
        (.createAlias, #"{"AliasName": "alias/a", "TargetKeyId": "k"}"#),
        (.getKeyPolicy, #"{"KeyId": "k", "PolicyName": "default"}"#),
        (.putKeyPolicy, #"{"KeyId": "k", "PolicyName": "default", "Policy": "{\"Version\": \"2012-10-17\", \"Statement\": []}"}"#),
        (.createKey, #"{"Description": "envseal key", "KeyUsage": "ENCRYPT_DECRYPT", "KeySpec": "SYMMETRIC_DEFAULT", "MultiRegion": false}"#),
    ]

    @Test func clientBodiesTakeTheFastPathAndAgree() {
        for (operation, body) in Self.clientBodies {
            #expect(Self.compare(operation, Data(body.utf8)), "\(operation) did not take the fast path: \(body)")
        }
    }

    /// Bodies with the required members of every request shape (at least one fits each).
    static let requiredMembers: [String] = [
        "{}", #"{"KeyId": "alias/a"}"#,
        #"{"KeyId": "a", "Message": "AA==", "MacAlgorithm": "HMAC_SHA_256", "Mac": "AA=="}"#,
        #"{"KeyId": "a", "Message": "AA==", "SigningAlgorithm": "ECDSA_SHA_256", "Signature": "AA=="}"#,
        #"{"KeyId": "a", "Message": "AA==", "MacAlgorithm": "HMAC_SHA_256"}"#,
        #"{"KeyId": "a", "Message": "AA==", "SigningAlgorithm": "ECDSA_SHA_256"}"#,
        #"{"KeyId": "a", "WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}"#,
        #"{"KeyId": "a", "ImportToken": "AA==", "EncryptedKeyMaterial": "AA=="}"#,
        #"{"KeyId": "a", "GranteePrincipal": "arn:aws:iam::111122223333:role/r", "Operations": ["Decrypt"]}"#,
        #"{"RetiringPrincipal": "arn:aws:iam::111122223333:role/r"}"#,
        #"{"KeyId": "a", "GrantId": "g"}"#,
        #"{"KeyId": "a", "TagKeys": ["t"]}"#,
        #"{"KeyId": "a", "Description": "d"}"#,
        #"{"AliasName": "alias/a"}"#,
    ] + clientBodies.map(\.1)

    @Test func everyRequestShapeHasAFastPath() {
        // TagResource requires Tags, a list of structures: JSONDecoder always reads it.
        for operation in KMSOperation.allCases where operation != .tagResource {
            let fast = Self.requiredMembers.map { Self.compare(operation, Data($0.utf8)) }
            #expect(fast.contains(true), "\(operation) never takes the fast path")
        }
        #expect(!Self.compare(.tagResource, Data(#"{"KeyId": "a", "Tags": [{"TagKey": "k", "TagValue": "v"}]}"#.utf8)))
    }

    // MARK: Edge cases, against every operation

    static let edgeBodies: [String] = [
        "", " ", " \t\r\n", "{}", " { } ", "{ \t\r\n}", "[]", "null", "\"x\"", "1", "{", "}", "{}}", "{} {}", "{}x", "{},",
        "\u{FEFF}{}", "{\"KeyId\": \"a\"}\u{0}",
        #"{"KeyId": null}"#, #"{"KeyId": "a", "KeyId": "b"}"#, #"{"KeyId": "a", "KeyId": "a"}"#,
        #"{"KeyId": 1}"#, #"{"KeyId": true}"#, #"{"KeyId": ["a"]}"#, #"{"KeyId": {}}"#,
        #"{"KeyId": "a",}"#, #"{,"KeyId": "a"}"#, #"{"KeyId" "a"}"#, #"{"KeyId": "a" "Limit": 1}"#,
        #"{"KeyId": "a\"b\\c\/d\b\f\n\r\t"}"#, #"{"KeyId": "\u0041"}"#, #"{"KeyId": "\ud83d\ude00"}"#,
        #"{"KeyId": "\ud83d"}"#, #"{"KeyId": "\x"}"#, #"{"KeyId": "\"}"#, #"{"KeyId": "a"#,
        "{\"KeyId\": \"tab\there\"}", "{\"KeyId\": \"nl\nhere\"}", "{\"KeyId\": \"\u{7F}\"}",
        "{\"KeyId\": \"é, 日本, 😀, \u{2028}\"}", "{\"KeyId\": \"e\u{301}\"}", "{\"KeyId\": \"\u{E9}\"}",
        #"{"K\u0065yId": "a"}"#, "{\"\u{212A}eyId\": \"a\"}", #"{"keyid": "a"}"#, #"{"Unknown": 1}"#,
        #"{"KeyId": "a", "Unknown": {"x": [1, 2.5, null]}}"#,
        #"{"Limit": 0}"#, #"{"Limit": -0}"#, #"{"Limit": -1}"#, #"{"Limit": 01}"#, #"{"Limit": +1}"#,
        #"{"Limit": 1.0}"#, #"{"Limit": 1e3}"#, #"{"Limit": 1E3}"#, #"{"Limit": 1.5}"#, #"{"Limit": 100}"#,
        #"{"Limit": 999999999999999999}"#, #"{"Limit": 9223372036854775807}"#, #"{"Limit": 9223372036854775808}"#,
        #"{"Limit": -9223372036854775808}"#, #"{"Limit": 123456789012345678901234567890}"#, #"{"Limit": "1"}"#,
        #"{"NumberOfBytes": 32}"#, #"{"NumberOfBytes": 0}"#, #"{"NumberOfBytes": 1025}"#, #"{"NumberOfBytes": 32.0}"#,
        #"{"Plaintext": "", "KeyId": "a"}"#, #"{"Plaintext": "AA==", "KeyId": "a"}"#, #"{"Plaintext": "AA=", "KeyId": "a"}"#,
        #"{"Plaintext": "AA", "KeyId": "a"}"#, #"{"Plaintext": "AB==", "KeyId": "a"}"#, #"{"Plaintext": "A===", "KeyId": "a"}"#,
        #"{"Plaintext": "AAA=", "KeyId": "a"}"#, #"{"Plaintext": "AAB=", "KeyId": "a"}"#, #"{"Plaintext": "=AAA", "KeyId": "a"}"#,
        #"{"Plaintext": "AA==AA==", "KeyId": "a"}"#, #"{"Plaintext": "A A=", "KeyId": "a"}"#, #"{"Plaintext": "AA\/A", "KeyId": "a"}"#,
        #"{"Plaintext": "-_-_", "KeyId": "a"}"#, #"{"Plaintext": "++//", "KeyId": "a"}"#, #"{"Plaintext": 1, "KeyId": "a"}"#,
        #"{"CiphertextBlob": "AQIDBA==", "CiphertextBlob": "AQIDBA=="}"#, #"{"CiphertextBlob": null}"#,
        #"{"EncryptionContext": {}}"#, #"{"EncryptionContext": null}"#, #"{"EncryptionContext": {"a": null}}"#,
        #"{"EncryptionContext": {"a": "1", "a": "2"}}"#, #"{"EncryptionContext": {"a": 1}}"#, #"{"EncryptionContext": []}"#,
        "{\"EncryptionContext\": {\"e\u{301}\": \"1\", \"\u{E9}\": \"2\"}}", #"{"EncryptionContext": {"": ""}}"#,
        #"{"EncryptionContext": {"a\n": "b\t", "c\"": "\\"}}"#, #"{"EncryptionContext": {"a": "b",}}"#,
        #"{"EncryptionContext": {"a" "b"}}"#, #"{"EncryptionContext": {"a": {"b": "c"}}}"#,
        #"{"GrantTokens": []}"#, #"{"GrantTokens": ["a", "b"]}"#, #"{"GrantTokens": [null]}"#, #"{"GrantTokens": ["a",]}"#,
        #"{"GrantTokens": [,]}"#, #"{"GrantTokens": ["a" "b"]}"#, #"{"GrantTokens": "a"}"#, #"{"GrantTokens": [["a"]]}"#,
        #"{"DryRun": true}"#, #"{"DryRun": false}"#, #"{"DryRun": null}"#, #"{"DryRun": 1}"#, #"{"DryRun": "true"}"#,
        #"{"DryRun": tru}"#, #"{"DryRun": truee}"#, #"{"DryRun": True}"#,
        #"{"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}"#, #"{"EncryptionAlgorithm": "NOPE"}"#, #"{"EncryptionAlgorithm": ""}"#,
        #"{"DryRunModifiers": ["IGNORE_CIPHERTEXT"]}"#, #"{"DryRunModifiers": ["X"]}"#,
        #"{"Recipient": {"KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}}"#, #"{"Tags": [{"TagKey": "a", "TagValue": "b"}]}"#,
        String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        "{\"KeyId\": " + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}",
    ]

    static let badUTF8: [[UInt8]] = [
        Array(#"{"KeyId": ""#.utf8) + [0xFF] + Array(#""}"#.utf8),
        Array(#"{"KeyId": ""#.utf8) + [0xC3] + Array(#""}"#.utf8),
        Array(#"{"KeyId": ""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8),
        Array(#"{"KeyId": ""#.utf8) + [0xC0, 0xAF] + Array(#""}"#.utf8),
        Array(#"{"KeyId": "\n"#.utf8) + [0xFF] + Array(#""}"#.utf8),
        Array(#"{"EncryptionContext": {""#.utf8) + [0xF8] + Array(#"": "a"}}"#.utf8),
        [0xFF, 0xFE] + Array("{}".utf8),
        Array("{}".utf16.flatMap { [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)] }),
    ]

    @Test(arguments: KMSOperation.allCases)
    func edgeCasesAgreeWithJSONDecoder(_ operation: KMSOperation) {
        for body in Self.edgeBodies {
            Self.compare(operation, Data(body.utf8))
        }
        for body in Self.badUTF8 {
            #expect(!Self.compare(operation, Data(body)), "invalid UTF-8 taken fast")
        }
    }

    @Test func escapesAndUnicodeAreReadFast() throws {
        let body = Data(#"{"KeyId": "a\"b\\c\/d\b\f\n\r\t é日😀"}"#.utf8)
        let request = try #require(KMSJSON.fastDecodeRequest(KMS.DescribeKeyRequest.self, from: body))
        #expect(Array(request.keyId.utf8) == Array("a\"b\\c/d\u{8}\u{C}\n\r\t é日😀".utf8))
    }

    /// The reader scans strings eight bytes at a time: each special byte at each position of a
    /// long string, in a member and in a blob, so every lane of the word is tried.
    @Test func specialBytesAtEveryPositionAgree() {
        let specials: [[UInt8]] = [[0x5C, 0x22], [0x5C, 0x5C], [0x5C, 0x6E], [0x5C, 0x75], [0x01], [0x1F], [0x7F],
                                   [0x20], [0x2F], [0xC3, 0xA9], [0xFF], [0x3D], [0x2D], [0x22]]
        for special in specials {
            for position in 0...24 {
                var value = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh".utf8)
                value.insert(contentsOf: special, at: position)
                for name in ["KeyId", "CiphertextBlob"] {
                    Self.compare(.decrypt, Data(Array("{\"\(name)\": \"".utf8) + value + Array("\"}".utf8)))
                }
            }
        }
    }

    @Test func largeAndWhitespaceBodiesAgree() {
        let blob = Data((0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 31) }).base64EncodedString()
        #expect(Self.compare(.encrypt, Data(#"{"KeyId":"a","Plaintext":"\#(blob)"}"#.utf8)))
        let spaced = "\n\t{ \r\"KeyId\"\t:\n\"a\" ,\t\"GrantTokens\" : [ \"x\" , \"y\" ] , \"DryRun\" :true }\r\n "
        #expect(Self.compare(.describeKey, Data(#"{"KeyId": "a", "GrantTokens": ["x", "y"]}"#.utf8)))
        #expect(Self.compare(.encrypt, Data(spaced.utf8)) == false)  // Encrypt requires Plaintext
        #expect(Self.compare(.decrypt, Data(spaced.utf8)))
    }

    // MARK: Randomized

    /// Seeded mutations of the client bodies (byte flips, insertions, deletions, truncations,
    /// duplicated slices, and JSON tokens spliced in), each decoded both ways.
    @Test func randomMutationsAgree() {
        var random = SplitMix64(seed: 0x4A53_4F4E)
        let tokens = [#"""#, "\\", ",", ":", "{", "}", "[", "]", "null", "true", "1.0", "1e3", "-0", "=", "\\u0041", " ",
                      "\u{0}", "\u{1F}", "é", "\u{2028}", "\"KeyId\": \"a\",", "\"GrantTokens\": [],", "9999999999999999999"]
        var fast = 0
        for _ in 0..<3_000 {
            let (operation, body) = random.pick(Self.clientBodies)
            var bytes = Array(body.utf8)
            for _ in 0..<random.int(1...3) {
                if random.chance(0.4) {
                    bytes.insert(contentsOf: Array(random.pick(tokens).utf8), at: random.int(0...bytes.count))
                } else {
                    bytes = random.mutate(bytes)
                }
            }
            if Self.compare(operation, Data(bytes)) { fast += 1 }
        }
        // Some mutations stay inside the subset (a changed letter in a value, say), so both paths run.
        #expect(fast > 100)
    }
}
