import Foundation
import SodiumKit
import TestSupport
import Testing
@testable import EnvSealFormat

/// Random and mutated inputs to every binary and text parser: errors only, never a crash.
@Suite("format parsers never trap")
struct FormatPropertyTests {
    static let iterations = 100_000

    @Test("ciphertext blob parser and open path")
    func blobs() throws {
        var rng = SplitMix64(seed: 0xB10B)
        let material = KeyMaterial.random()
        let ctx = try EncryptionContext(["a": "b"])
        let valid = try CiphertextBlob.seal(SecureBytes(utf8: "data key bytes"), key: material, keyID: UUID(), keyVersion: 1, context: ctx).bytes
        var opened = 0
        for i in 0..<Self.iterations {
            let input = i % 2 == 0 ? rng.mutate(valid) : rng.bytes(rng.int(0...120 - 1))
            if let blob = try? CiphertextBlob(parsing: input), (try? blob.open(key: material, context: ctx)) != nil {
                opened += 1
                #expect(input == valid, "only the original opens")
            }
        }
        #expect(opened < Self.iterations / 4)
    }

    @Test("canonical context decoder")
    func contexts() throws {
        var rng = SplitMix64(seed: 0xC0DE)
        let valid = try EncryptionContext(["LambdaFunctionName": "billing", "stage": "prod", "a": ""]).canonicalBytes
        for i in 0..<Self.iterations {
            let input = i % 2 == 0 ? rng.mutate(valid) : rng.bytes(rng.int(0...64 - 1))
            if let ctx = try? EncryptionContext(canonicalBytes: input) {
                #expect(ctx.canonicalBytes == input, "a decoded context re-encodes to the same bytes")
            }
        }
    }

    @Test("sealed value and base64url decoders")
    func sealedValues() throws {
        var rng = SplitMix64(seed: 0x5EA1)
        let keys = try SealedFileKeys(dataKey: .random())
        let valid = Array(try SealedValue.seal(SecureBytes(utf8: "postgres://u:p@h/db"), name: "DB", keys: keys).utf8)
        for i in 0..<Self.iterations {
            let input = i % 2 == 0 ? rng.mutate(valid) : rng.bytes(rng.int(0...60 - 1))
            let text = String(decoding: input, as: UTF8.self)
            if let value = try? SealedValue.open(text, name: "DB", keys: keys) {
                #expect(value.utf8String() == "postgres://u:p@h/db")
                #expect(text == String(decoding: valid, as: UTF8.self), "only the original text opens")
            }
        }
    }

    @Test("sealed-file header parser and verifier")
    func headers() throws {
        var rng = SplitMix64(seed: 0x4EAD)
        let keys = try SealedFileKeys(dataKey: .random())
        let sealed = ["A": try SealedValue.seal(SecureBytes(utf8: "1"), name: "A", keys: keys)]
        let header = try SealedFileHeader.make(
            keyARN: "arn:aws:kms:us-east-1:111122223333:key/k", context: try EncryptionContext(["f": "x"]),
            wrappedDataKey: [1, 2, 3], variables: .init(sealed: sealed, covered: ["B": "2"]), keys: keys)
        let raw = try Base64URL.decode(header.text, field: "h")
        for i in 0..<Self.iterations {
            let input = i % 2 == 0 ? rng.mutate(raw) : rng.bytes(rng.int(0...80 - 1))
            if let parsed = try? SealedFileHeader(parsing: Base64URL.encode(input)) {
                #expect(parsed.text == Base64URL.encode(input), "a parsed header re-encodes to the same text")
                if (try? parsed.verify(.init(sealed: sealed, covered: ["B": "2"]), keys: keys)) != nil {
                    #expect(input == raw, "only the original header verifies")
                }
            }
            if i % 10 == 0 {
                _ = try? SealedFileHeader(parsing: String(decoding: rng.bytes(rng.int(0...40 - 1)), as: UTF8.self))
            }
        }
    }
}
