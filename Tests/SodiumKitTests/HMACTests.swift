import Testing
import TestSupport
@testable import SodiumKit

@Suite("HMAC-SHA-256 and HMAC-SHA-512")
struct HMACTests {
    // RFC 4231 test cases 2 (a short key) and 6 (a key longer than the block, hashed first).
    static let jefe = try! SecureBytes(utf8: "Jefe")
    static let message = Array("what do ya want for nothing?".utf8)
    static let longKey = try! SecureBytes(copying: [UInt8](repeating: 0xaa, count: 131))
    static let longMessage = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)

    @Test("the MACs are RFC 4231's")
    func vectors() {
        #expect(HMAC.authenticate(Self.message, key: Self.jefe, hash: .sha256).hex
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMAC.authenticate(Self.message, key: Self.jefe, hash: .sha512).hex
            == "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737")
        #expect(HMAC.authenticate(Self.longMessage, key: Self.longKey, hash: .sha256).hex
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
        #expect(HMAC.authenticate(Self.longMessage, key: Self.longKey, hash: .sha512).hex
            == "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598")
    }

    @Test("verify accepts the MAC and refuses a changed MAC, message, length or key")
    func verify() throws {
        for hash in [HMAC.Hash.sha256, .sha512] {
            let mac = HMAC.authenticate(Self.message, key: Self.jefe, hash: hash)
            #expect(mac.count == hash.byteCount)
            #expect(HMAC.verify(mac, of: Self.message, key: Self.jefe, hash: hash))
            var flipped = mac
            flipped[mac.count - 1] ^= 1
            #expect(!HMAC.verify(flipped, of: Self.message, key: Self.jefe, hash: hash))
            #expect(!HMAC.verify(Array(mac.dropLast()), of: Self.message, key: Self.jefe, hash: hash))
            #expect(!HMAC.verify(mac, of: Self.message + [0], key: Self.jefe, hash: hash))
            #expect(!HMAC.verify(mac, of: Self.message, key: try SecureBytes(utf8: "Jeff"), hash: hash))
            #expect(!HMAC.verify([], of: Self.message, key: Self.jefe, hash: hash))
        }
    }
}
