import Foundation
import SodiumKit
import Testing
import TestSupport
@testable import KMSWire

/// Mutations of a valid `Authorization` header: bytes flipped, inserted, deleted, duplicated;
/// separators and look-alikes (combining marks, NBSP, BOM, full-width letters, NUL, CR LF)
/// inserted; components swapped; case toggled; or a random string outright.
struct AuthorizationMutator {
    var random: SplitMix64
    static let palette: [String] = [
        ",", "=", "/", ";", " ", "\t", "\u{0301}", "\u{00A0}", "\u{FEFF}", "é", "Ｃ", "𝔸", "\0", "\r\n",
        "Credential=", "SignedHeaders=", "Signature=", "AWS4-HMAC-SHA256", "aws4_request", "host", "x-amz-date",
        "%", "%00", "\"", "'", "\\", "\u{10FFFF}", "\u{202E}",
    ]

    mutating func randomString(maxLength: Int) -> String {
        var text = ""
        for _ in 0..<Int.random(in: 0...maxLength, using: &random) {
            if Bool.random(using: &random) {
                text += Self.palette.randomElement(using: &random)!
            } else {
                text.unicodeScalars.append(Unicode.Scalar(UInt8.random(in: 0x20...0x7E, using: &random)))
            }
        }
        return text
    }

    mutating func mutate(_ header: String) -> String {
        var bytes = Array(header.utf8)
        switch Int.random(in: 0..<10, using: &random) {
        case 0 where !bytes.isEmpty:
            bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
        case 1:
            bytes.insert(UInt8.random(in: 0...255, using: &random), at: Int.random(in: 0...bytes.count, using: &random))
        case 2 where !bytes.isEmpty:
            let start = Int.random(in: 0..<bytes.count, using: &random)
            bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...12, using: &random)))
        case 3:
            bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &random)))
        case 4 where !bytes.isEmpty:
            let start = Int.random(in: 0..<bytes.count, using: &random)
            let slice = bytes[start..<min(bytes.count, start + Int.random(in: 1...40, using: &random))]
            bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &random))
        case 5:
            let insert = Array(Self.palette.randomElement(using: &random)!.utf8)
            bytes.insert(contentsOf: insert, at: Int.random(in: 0...bytes.count, using: &random))
        case 6:
            var parts = header.components(separatedBy: ", ")
            if parts.count > 1 {
                parts.swapAt(Int.random(in: 0..<parts.count, using: &random), Int.random(in: 0..<parts.count, using: &random))
            }
            bytes = Array(parts.joined(separator: Bool.random(using: &random) ? ", " : ",").utf8)
        case 7 where !bytes.isEmpty:
            let index = Int.random(in: 0..<bytes.count, using: &random)
            if bytes[index] &- UInt8(ascii: "A") < 26 || bytes[index] &- UInt8(ascii: "a") < 26 { bytes[index] ^= 0x20 }
        case 8:
            return randomString(maxLength: 200)
        default:
            let insert = Array(randomString(maxLength: 6).utf8)
            bytes.insert(contentsOf: insert, at: Int.random(in: 0...bytes.count, using: &random))
        }
        // Invalid UTF-8 is repaired with U+FFFD, as an HTTP server decoding the header would.
        return String(decoding: bytes, as: UTF8.self)
    }
}

@Suite("SigV4: properties")
struct SigV4PropertyTests {
    typealias F = SigV4Fixture

    /// 20,000 mutated or random `Authorization` headers (and, one time in ten, a mutated
    /// `X-Amz-Date` too): the verifier never traps, fails only with the authentication errors,
    /// and accepts only headers that still say exactly what the original said.
    @Test func mutatedAuthorizationHeadersNeverTrap() async throws {
        var mutator = AuthorizationMutator(random: SplitMix64(seed: 0x5167_0004))
        let original = try SigV4Authorization(parsing: F.authorization, hasDateHeader: true)
        let allowed: Set<KMSErrorType> = [.incompleteSignature, .invalidSignature, .unrecognizedClient]
        var accepted = 0
        var seen: [KMSErrorType: Int] = [:]
        for _ in 0..<20_000 {
            var header = F.authorization
            for _ in 0..<Int.random(in: 1...3, using: &mutator.random) { header = mutator.mutate(header) }
            var request = F.valid.setting("Authorization", header)
            if Int.random(in: 0..<10, using: &mutator.random) == 0 {
                request.setHeader("X-Amz-Date", mutator.mutate("20250101T000000Z"))
            }
            guard let error = await verificationError(F.verifier, request, now: F.signedAt, secret: F.lookup) else {
                accepted += 1
                let parsed = try SigV4Authorization(parsing: header, hasDateHeader: true)
                #expect(parsed.parts == original.parts, "accepted a different header: \(header)")
                continue
            }
            seen[error.type, default: 0] += 1
            #expect(allowed.contains(error.type), "\(error) for \(header)")
            #expect(!error.message.isEmpty)
        }
        // The mutations reach every stage: parsing, scope checks and the signature comparison.
        #expect(seen[.incompleteSignature, default: 0] > 1000)
        #expect(seen[.invalidSignature, default: 0] > 100)
        #expect(accepted < 2000)
    }

    /// No error message, for any way a request can fail, holds the secret access key, the
    /// signing key or an intermediate key of the chain, in hex or base64.
    @Test func errorMessagesNeverHoldSecrets() async throws {
        let secret = try SecureBytes(utf8: F.secret)
        let signingKey = try SigV4SigningKey.derive(secret: secret, date: "20250101", region: "us-east-1", service: "kms")
        var forbidden = [F.secret, "AWS4" + F.secret]
        let signingBytes = signingKey.withUnsafeBytes { Array($0) }
        forbidden += [signingBytes.sigV4Hex, signingBytes.sigV4Hex.uppercased(), Data(signingBytes).base64EncodedString()]
        let kSecret = try SecureBytes(utf8: "AWS4" + F.secret)
        var chain = try SHA256.hmac(Array("20250101".utf8), key: kSecret)
        for step in ["us-east-1", "kms"] {
            let bytes = chain.withUnsafeBytes { Array($0) }
            forbidden += [bytes.sigV4Hex, Data(bytes).base64EncodedString()]
            chain = try SHA256.hmac(Array(step.utf8), key: chain)
        }

        var messages: [String] = []
        for unhappy in SigV4Unhappy.all {
            let error = await verificationError(F.verifier, unhappy.request, now: unhappy.now, secret: unhappy.lookup)
            messages.append(try #require(error).message)
        }
        var mutator = AuthorizationMutator(random: SplitMix64(seed: 0x5EC2E7))
        for _ in 0..<2_000 {
            let request = F.valid.setting("Authorization", mutator.mutate(F.authorization))
            if let error = await verificationError(F.verifier, request, now: F.signedAt, secret: F.lookup) {
                messages.append(error.message)
            }
        }
        for message in messages {
            for secretText in forbidden {
                #expect(!message.contains(secretText), "a message holds key material: \(message)")
            }
            // Nor is the client's own header echoed back.
            #expect(!message.contains(F.signature))
            #expect(!message.contains(F.accessKeyID))
        }
    }
}
