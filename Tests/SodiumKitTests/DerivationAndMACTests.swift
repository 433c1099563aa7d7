import Testing
import TestSupport
@testable import SodiumKit

@Suite("subkeys, BLAKE2b MACs, SIV and Argon2id")
struct DerivationAndMACTests {
    static let master = try! KeyMaterial(secureBytes: SecureBytes(copying: [UInt8](0..<32)))

    @Test("subkey derivation is deterministic, separates ids and contexts, and matches libsodium's KDF vector")
    func derivation() throws {
        let context = try KeyDerivation.Context("KDF test")
        let a = try KeyDerivation.derive(from: Self.master, id: 0, context: context)
        let again = try KeyDerivation.derive(from: Self.master, id: 0, context: context)
        let other = try KeyDerivation.derive(from: Self.master, id: 1, context: context)
        let otherContext = try KeyDerivation.derive(from: Self.master, id: 0, context: KeyDerivation.Context("KDF tesu"))
        #expect(a == again)
        #expect(a != other)
        #expect(a != otherContext)
        // crypto_kdf is BLAKE2b(key, salt: LE64(id) ‖ 0×8, personal: context ‖ 0×8); this value
        // comes from Python's independent hashlib.blake2b with those parameters.
        #expect(a.secureBytes.withUnsafeBytes { Array($0) }.hex == "c13fcc2e6cd0cd0f82d93b163a5696c5105378f8c629d36baf3ae0239de9c280")
        #expect(throws: SodiumError.self) { _ = try KeyDerivation.Context("short") }
        #expect(throws: SodiumError.self) { _ = try KeyDerivation.Context("nine char") }
    }

    @Test("BLAKE2b MACs separate parts by length and depend on the key")
    func macs() throws {
        let key = DataKey.random()
        let ab_c = try BLAKE2b.mac(key: key, parts: [.bytes(Array("ab".utf8)), .bytes(Array("c".utf8))])
        let a_bc = try BLAKE2b.mac(key: key, parts: [.bytes(Array("a".utf8)), .bytes(Array("bc".utf8))])
        let secret = try BLAKE2b.mac(key: key, parts: [.bytes(Array("ab".utf8)), .secret(SecureBytes(utf8: "c"))])
        #expect(ab_c != a_bc)
        #expect(ab_c == secret)
        #expect(ab_c.bytes.count == 32)
        #expect(try BLAKE2b.mac(key: DataKey.random(), parts: [.bytes(Array("ab".utf8)), .bytes(Array("c".utf8))]) != ab_c)
        #expect(try BLAKE2b.mac(key: key, outputByteCount: 16, parts: []).bytes.count == 16)
        #expect(throws: SodiumError.self) { _ = try BLAKE2b.mac(key: key, outputByteCount: 15, parts: []) }
        #expect(throws: SodiumError.self) { _ = try BLAKE2b.mac(key: key, outputByteCount: 65, parts: []) }
    }

    @Test("a MAC over parts fed in place is the MAC over the same list of parts")
    func fedMacs() throws {
        let key = DataKey.random()
        let parts: [[UInt8]] = [[], Array("ab".utf8), Array(repeating: 0x5A, count: 300), Array("é✓".utf8)]
        let listed = try BLAKE2b.mac(key: key, parts: parts.map { .bytes($0) })
        let fed = try BLAKE2b.mac(key: key) { feed in
            for part in parts { part.withUnsafeBytes { feed.part($0) } }
        }
        #expect(fed == listed)
        let strings = try BLAKE2b.mac(key: key, outputByteCount: 16) { feed in
            feed.part("")
            feed.part("ab")
            feed.part(String(repeating: "Z", count: 300))
            feed.part("é✓")
        }
        #expect(strings == (try BLAKE2b.mac(key: key, outputByteCount: 16, parts: parts.map { .bytes($0) })))
        // The boundaries between parts still count.
        #expect(try BLAKE2b.mac(key: key) { $0.part("ab"); $0.part("c") } != (try BLAKE2b.mac(key: key) { $0.part("a"); $0.part("bc") }))
        #expect(throws: SodiumError.self) { _ = try BLAKE2b.mac(key: key, outputByteCount: 15) { $0.part("x") } }
    }

    @Test("a MAC over parts fed in place matches BLAKE2b of the length-prefixed bytes, across buffer edges")
    func fedMacKnownAnswer() throws {
        // Parts shorter than, equal to and longer than the feed's 256-byte buffer, in an order
        // that fills it exactly, overflows it and skips it. The expected value is keyed BLAKE2b-256
        // (key 00 01 … 1f) over each part's 4-byte big-endian length and bytes, part byte j of
        // part i being (31 i + j) mod 251, as another BLAKE2b implementation computes it.
        let key = try KeyMaterial(secureBytes: SecureBytes(copying: (0..<32).map { UInt8($0) }))
        let sizes = [0, 3, 250, 300, 1000, 7, 255, 256, 1, 120]
        let parts = sizes.enumerated().map { i, n in (0..<n).map { UInt8((i * 31 + $0) % 251) } }
        let fed = try BLAKE2b.mac(key: key) { feed in
            for part in parts { part.withUnsafeBytes { feed.part($0) } }
        }
        #expect(fed.description == "89f92827df60dab9f44b339700f1635fafc3800409e39874ee09700e8d90e9b0")
        #expect(try BLAKE2b.mac(key: key, parts: parts.map { .bytes($0) }) == fed)
    }

    @Test("SIV is deterministic, binds the associated data, and rejects every bit flip")
    func siv() throws {
        let keys = try XChaCha20SIV.Keys(deriving: DataKey.random(), context: KeyDerivation.Context("siv test"))
        let value = try SecureBytes(utf8: "postgres://app:s3cret@db:5432/app")
        let sealed = try XChaCha20SIV.seal(value, keys: keys, associatedData: Array("DATABASE_URL".utf8))
        #expect(sealed.count == value.count + 16)
        #expect(try XChaCha20SIV.seal(value, keys: keys, associatedData: Array("DATABASE_URL".utf8)) == sealed)
        #expect(try XChaCha20SIV.open(sealed, keys: keys, associatedData: Array("DATABASE_URL".utf8)) == value)
        #expect(throws: SodiumError.authenticationFailed) {
            _ = try XChaCha20SIV.open(sealed, keys: keys, associatedData: Array("OTHER_URL".utf8))
        }
        for bit in 0..<(sealed.count * 8) {
            var c = sealed; c[bit / 8] ^= 1 << (bit % 8)
            #expect(throws: SodiumError.authenticationFailed) {
                _ = try XChaCha20SIV.open(c, keys: keys, associatedData: Array("DATABASE_URL".utf8))
            }
        }
        let otherKeys = try XChaCha20SIV.Keys(deriving: DataKey.random(), context: KeyDerivation.Context("siv test"))
        #expect(throws: SodiumError.authenticationFailed) {
            _ = try XChaCha20SIV.open(sealed, keys: otherKeys, associatedData: Array("DATABASE_URL".utf8))
        }
        #expect(throws: SodiumError.self) { _ = try XChaCha20SIV.open(sealed.prefix(15), keys: keys, associatedData: []) }
        let empty = try XChaCha20SIV.seal(SecureBytes(count: 0) { _ in }, keys: keys, associatedData: [])
        #expect(empty.count == 16)
        #expect(try XChaCha20SIV.open(empty, keys: keys, associatedData: []).count == 0)
    }

    @Test("opening many SIV values at once gives what opening each gives, and refuses the lot for one bad value")
    func sivBatch() throws {
        let keys = try XChaCha20SIV.Keys(deriving: DataKey.random(), context: KeyDerivation.Context("siv test"))
        let values = ["postgres://app:s3cret@db:5432/app", "", "sk_live_0123456789", String(repeating: "x", count: 5000)]
        let items = try values.enumerated().map { index, value in
            let ad = Array("VAR_\(index)".utf8)
            return (sealed: try XChaCha20SIV.seal(SecureBytes(utf8: value), keys: keys, associatedData: ad), associatedData: ad)
        }
        let opened = try XChaCha20SIV.open(all: items, keys: keys)
        #expect(opened.map { $0.utf8String() } == values)
        for (item, plaintext) in zip(items, opened) {
            #expect(try XChaCha20SIV.open(item.sealed, keys: keys, associatedData: item.associatedData) == plaintext)
        }
        #expect(try XChaCha20SIV.open(all: [], keys: keys).isEmpty)

        // A flipped byte in any one value, or a value under another name, refuses them all.
        for index in items.indices {
            var tampered = items
            tampered[index].sealed[tampered[index].sealed.count - 1] ^= 0x01
            #expect(throws: SodiumError.authenticationFailed) { _ = try XChaCha20SIV.open(all: tampered, keys: keys) }
        }
        var swapped = items
        (swapped[0].sealed, swapped[2].sealed) = (items[2].sealed, items[0].sealed)
        #expect(throws: SodiumError.authenticationFailed) { _ = try XChaCha20SIV.open(all: swapped, keys: keys) }
        var short = items
        short[1].sealed = Array(short[1].sealed.prefix(15))
        #expect(throws: SodiumError.self) { _ = try XChaCha20SIV.open(all: short, keys: keys) }
    }

    @Test("Argon2id is deterministic for one salt, differs by salt and passphrase, and checks its parameters")
    func argon2id() throws {
        let salt = try Argon2id.Salt(bytes: Array("ABCDEFGHIJKLMNOP".utf8))
        let params = Argon2id.Parameters(opsLimit: 2, memLimit: 8 * 1024 * 1024)
        let k1 = try Argon2id.deriveKey(passphrase: SecureBytes(utf8: "123"), salt: salt, parameters: params)
        let k2 = try Argon2id.deriveKey(passphrase: SecureBytes(utf8: "123"), salt: salt, parameters: params)
        // The reference argon2 CLI: echo -n 123 | argon2 ABCDEFGHIJKLMNOP -id -v 13 -k 8192 -t 2
        #expect(k1.key.secureBytes.withUnsafeBytes { Array($0) }.hex == "3ee950488d26ce691657b1d753f562139857b61a58f234d6cb0ce84c4cc27328")
        #expect(k1.key == k2.key)
        #expect(k1.salt == salt && k1.parameters == params)
        #expect(try Argon2id.deriveKey(passphrase: SecureBytes(utf8: "124"), salt: salt, parameters: params).key != k1.key)
        #expect(try Argon2id.deriveKey(passphrase: SecureBytes(utf8: "123"), salt: .random(), parameters: params).key != k1.key)
        #expect(throws: SodiumError.self) {
            _ = try Argon2id.deriveKey(passphrase: SecureBytes(utf8: "x"), salt: salt, parameters: .init(opsLimit: 0, memLimit: 8192))
        }
        #expect(throws: SodiumError.self) {
            _ = try Argon2id.deriveKey(passphrase: SecureBytes(utf8: "x"), salt: salt, parameters: .init(opsLimit: 1, memLimit: 100))
        }
    }
}

@Suite("SHA-256 and HMAC-SHA-256")
struct SHA256Tests {
    @Test("FIPS 180-2 and RFC 4231 test vectors")
    func vectors() throws {
        #expect(SHA256.hash(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash([UInt8]()).hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // RFC 4231, test case 2: key "Jefe".
        let mac = try SHA256.hmac(Array("what do ya want for nothing?".utf8), key: SecureBytes(utf8: "Jefe"))
        #expect(mac.withUnsafeBytes { Array($0) }.hex == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        // RFC 4231, test case 6: a 131-byte key, longer than the block.
        let long = try SecureBytes(copying: [UInt8](repeating: 0xaa, count: 131))
        #expect(SHA256.hmacPublic(Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8), key: long).hex
            == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }
}
