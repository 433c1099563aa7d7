import Testing
import TestSupport
@testable import SodiumKit

@Suite("X25519 key pairs and unkeyed BLAKE2b")
struct BoxKeyPairTests {
    @Test("a secret key gives back its pair's public key; another key gives another")
    func publicKeyFromSecret() throws {
        let pair = try BoxKeyPair.generate()
        #expect(pair.publicKey.count == 32 && pair.secretKey.count == 32)
        #expect(try BoxKeyPair(secretKey: pair.secretKey).publicKey == pair.publicKey)
        #expect(try BoxKeyPair.generate().publicKey != pair.publicKey)
    }

    @Test("RFC 7748 section 6.1: Alice's public key from her secret key")
    func rfc7748() throws {
        let secret = try SecureBytes(copying: [UInt8](hex: "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
        #expect(try BoxKeyPair(secretKey: secret).publicKey.hex == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a")
    }

    @Test("a secret key of another length is refused")
    func wrongLength() throws {
        let error = try #require(throws: SodiumError.self) { _ = try BoxKeyPair(secretKey: SecureBytes(copying: [UInt8](repeating: 1, count: 31))) }
        #expect(error.isInvalidLength)
    }

    @Test("unkeyed BLAKE2b over parts prefixes each with its length")
    func unkeyedHash() throws {
        // BLAKE2b-512 of the empty input (RFC 7693 reference), then a part's length prefix changes the hash.
        #expect(try BLAKE2b.hash(outputByteCount: 64, parts: []).hex.hasPrefix("786a02f742015903c6c6fd852552d272"))
        #expect(try BLAKE2b.hash(outputByteCount: 16, parts: [[0x61, 0x62], [0x63]]) != BLAKE2b.hash(outputByteCount: 16, parts: [[0x61], [0x62, 0x63]]))
        #expect(throws: SodiumError.self) { _ = try BLAKE2b.hash(outputByteCount: 8, parts: []) }
    }
}
