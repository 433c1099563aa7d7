import Testing
import TestSupport
@testable import SodiumKit

@Suite("XChaCha20-Poly1305")
struct XChaCha20Poly1305Tests {
    // draft-irtf-cfrg-xchacha-03, appendix A.3.1.
    static let plaintext = Array("Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.".utf8)
    static let aad = [UInt8](hex: "50515253c0c1c2c3c4c5c6c7")
    static let keyBytes = [UInt8](hex: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f")
    static let nonceBytes = [UInt8](hex: "404142434445464748494a4b4c4d4e4f5051525354555657")
    static let ciphertext = [UInt8](hex:
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e")
    static let tag = [UInt8](hex: "c0875924c1c7987947deafd8780acf49")

    static func key() throws -> KeyMaterial { try KeyMaterial(secureBytes: SecureBytes(copying: keyBytes)) }

    @Test("the draft's A.3.1 vector seals and opens")
    func publishedVector() throws {
        let sealed = try Self.plaintext.withUnsafeBytes {
            try XChaCha20Poly1305.seal($0, key: Self.key(), nonce: Nonce(bytes: Self.nonceBytes), associatedData: Self.aad)
        }
        #expect(sealed == Self.ciphertext + Self.tag)
        let opened = try XChaCha20Poly1305.open(sealed, key: Self.key(), nonce: Nonce(bytes: Self.nonceBytes), associatedData: Self.aad)
        #expect(opened.withUnsafeBytes { Array($0) } == Self.plaintext)
    }

    @Test("round trip for lengths 0 to 300 with random keys and nonces", arguments: [0, 1, 15, 16, 17, 63, 64, 65, 255, 300])
    func roundTrip(length: Int) throws {
        let key = DataKey.random()
        let nonce = Nonce.random()
        let message = try SecureRandom.secureBytes(count: length)
        let sealed = try XChaCha20Poly1305.seal(message, key: key, nonce: nonce, associatedData: [1, 2, 3])
        #expect(sealed.count == length + XChaCha20Poly1305.tagByteCount)
        let opened = try XChaCha20Poly1305.open(sealed, key: key, nonce: nonce, associatedData: [1, 2, 3])
        #expect(opened == message)
    }

    @Test("every single-bit flip of ciphertext, tag, nonce or associated data is rejected")
    func everyBitFlipRejected() throws {
        let key = try Self.key()
        let sealed = Self.ciphertext + Self.tag
        var rejected = 0
        func expectRejected(_ c: [UInt8], _ n: [UInt8], _ a: [UInt8]) throws {
            #expect(throws: SodiumError.authenticationFailed) {
                _ = try XChaCha20Poly1305.open(c, key: key, nonce: Nonce(bytes: n), associatedData: a)
            }
            rejected += 1
        }
        for bit in 0..<(sealed.count * 8) {
            var c = sealed; c[bit / 8] ^= 1 << (bit % 8)
            try expectRejected(c, Self.nonceBytes, Self.aad)
        }
        for bit in 0..<(Self.nonceBytes.count * 8) {
            var n = Self.nonceBytes; n[bit / 8] ^= 1 << (bit % 8)
            try expectRejected(sealed, n, Self.aad)
        }
        for bit in 0..<(Self.aad.count * 8) {
            var a = Self.aad; a[bit / 8] ^= 1 << (bit % 8)
            try expectRejected(sealed, Self.nonceBytes, a)
        }
        #expect(rejected == (sealed.count + 24 + Self.aad.count) * 8)
    }

    @Test("a wrong key, a truncated ciphertext and extra or missing associated data are rejected")
    func wrongInputs() throws {
        let sealed = Self.ciphertext + Self.tag
        let nonce = try Nonce(bytes: Self.nonceBytes)
        #expect(throws: SodiumError.authenticationFailed) {
            _ = try XChaCha20Poly1305.open(sealed, key: KeyMaterial.random(), nonce: nonce, associatedData: Self.aad)
        }
        #expect(throws: SodiumError.authenticationFailed) {
            _ = try XChaCha20Poly1305.open(sealed.dropLast(), key: Self.key(), nonce: nonce, associatedData: Self.aad)
        }
        #expect(throws: SodiumError.authenticationFailed) {
            _ = try XChaCha20Poly1305.open(sealed, key: Self.key(), nonce: nonce, associatedData: Self.aad + [0])
        }
        #expect(throws: SodiumError.authenticationFailed) {
            _ = try XChaCha20Poly1305.open(sealed, key: Self.key(), nonce: nonce, associatedData: [])
        }
        let tooShort = try #require(throws: SodiumError.self) {
            _ = try XChaCha20Poly1305.open(Self.tag.dropLast(), key: Self.key(), nonce: nonce)
        }
        #expect(tooShort.isInvalidLength && !tooShort.isAuthenticationFailure)
    }
}
