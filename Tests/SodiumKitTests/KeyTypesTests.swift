import Testing
@testable import SodiumKit

@Suite("key, nonce and MAC types")
struct KeyTypesTests {
    @Test("keys, nonces, salts and MACs refuse wrong lengths with a length error", arguments: [0, 1, 16, 31, 33, 64])
    func lengthsChecked(length: Int) throws {
        let bytes = try SecureBytes(copying: [UInt8](repeating: 7, count: length))
        for make in [{ _ = try KeyMaterial(secureBytes: bytes) }, { _ = try DataKey(secureBytes: bytes) }, { _ = try SubKey(secureBytes: bytes) }] as [() throws -> Void] {
            let error = try #require(throws: SodiumError.self, performing: make)
            #expect(error.isInvalidLength)
        }
        if length != 24 {
            #expect(throws: SodiumError.self) { _ = try Nonce(bytes: [UInt8](repeating: 0, count: length)) }
        }
        if length != 16 {
            #expect(throws: SodiumError.self) { _ = try Argon2id.Salt(bytes: [UInt8](repeating: 0, count: length)) }
        }
        if !(16...64).contains(length) {
            #expect(throws: SodiumError.self) { _ = try MAC(bytes: [UInt8](repeating: 0, count: length)) }
        }
    }

    @Test("buffers made in one batch hold their own bytes, outlive each other, and a failing writer gives none")
    func secureBytesBatch() throws {
        let words = ["alpha", "", "gamma delta", String(repeating: "z", count: 9000)]
        var batch = try SecureBytes.batch(counts: words.map(\.utf8.count)) { index, buffer in
            #expect(buffer.allSatisfy { $0 == 0 })
            buffer.copyBytes(from: Array(words[index].utf8))
        }
        #expect(batch.map { $0.utf8String() } == words)
        #expect(batch.map(\.count) == words.map(\.utf8.count))
        #expect(batch[0] == (try SecureBytes(utf8: "alpha")))
        let kept = batch[2]
        batch.removeAll()
        #expect(kept.utf8String() == "gamma delta")
        #expect("\(kept)" == "SecureBytes(11 bytes, redacted)")

        var written: [Int] = []
        #expect(throws: SodiumError.authenticationFailed) {
            _ = try SecureBytes.batch(counts: [1, 2, 3]) { (index, _) throws(SodiumError) in
                written.append(index)
                if index == 1 { throw SodiumError.authenticationFailed }
            }
        }
        #expect(written == [0, 1])
        #expect(throws: SodiumError.self) { _ = try SecureBytes.batch(counts: [1, -1]) { _, _ in } }
        #expect(try SecureBytes.batch(counts: []) { _, _ in }.isEmpty)
    }

    @Test("secure bytes compare by content, never print their bytes, and keep their contents")
    func secureBytes() throws {
        let a = try SecureBytes(copying: Array("correct horse".utf8))
        let b = try SecureBytes(utf8: "correct horse")
        let c = try SecureBytes(utf8: "correct horsf")
        #expect(a == b)
        #expect(a != c)
        #expect(a != (try SecureBytes(utf8: "correct hors")))
        #expect(try SecureBytes(count: 0) { _ in } == (try SecureBytes(copying: [UInt8]())))
        #expect(a.utf8String() == "correct horse")
        for text in [String(describing: a), String(reflecting: a), "\(a)", dumped(a), String(describing: DataKey.random())] {
            #expect(!text.contains("correct"))
            #expect(!text.contains("99"), "no byte values in \(text)")
        }
    }

    @Test("random keys differ and random bytes are not constant")
    func randomness() throws {
        #expect(DataKey.random().secureBytes != DataKey.random().secureBytes)
        #expect(Nonce.random() != Nonce.random())
        #expect(Set((0..<64).map { _ in SecureRandom.bytes(count: 8) }).count == 64)
    }

    @Test("sodium initialises once when many tasks start at the same time")
    func concurrentInit() async {
        await withTaskGroup(of: Int.self) { group in
            for _ in 0..<32 { group.addTask { SecureRandom.bytes(count: 4).count } }
            for await count in group { #expect(count == 4) }
        }
    }
}

func dumped(_ value: some Any) -> String {
    var out = ""
    dump(value, to: &out)
    return out
}
