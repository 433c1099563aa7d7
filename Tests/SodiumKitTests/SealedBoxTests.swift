import Testing
import TestSupport
@testable import SodiumKit

@Suite("SealedBox")
struct SealedBoxTests {
    static func message() throws -> SecureBytes { try SecureBytes(copying: [UInt8](repeating: 0x5a, count: 32)) }

    @Test("a sealed message opens with the recipient's key pair, 48 bytes longer")
    func roundTrip() throws {
        let recipient = try SealedBox.keyPair()
        let sealed = try SealedBox.seal(try Self.message(), to: recipient.publicKey)
        #expect(sealed.count == 32 + 48)
        let opened = try SealedBox.open(sealed, publicKey: recipient.publicKey, secretKey: recipient.secretKey)
        #expect(opened == (try Self.message()))
        #expect(try SealedBox.publicKey(of: recipient.secretKey) == recipient.publicKey)
    }

    @Test("two seals of one message differ (fresh ephemeral key)")
    func sealsDiffer() throws {
        let recipient = try SealedBox.keyPair()
        #expect(try SealedBox.seal(try Self.message(), to: recipient.publicKey) != SealedBox.seal(try Self.message(), to: recipient.publicKey))
    }

    @Test("another recipient's secret key, or any changed byte, fails authentication")
    func wrongKeyAndTamper() throws {
        let recipient = try SealedBox.keyPair()
        let other = try SealedBox.keyPair()
        let sealed = try SealedBox.seal(try Self.message(), to: recipient.publicKey)
        let wrong = try #require(throws: SodiumError.self) {
            _ = try SealedBox.open(sealed, publicKey: other.publicKey, secretKey: other.secretKey)
        }
        #expect(wrong.isAuthenticationFailure)
        for index in [0, 31, 32, sealed.count - 1] {
            var tampered = sealed
            tampered[index] ^= 1
            let error = try #require(throws: SodiumError.self) {
                _ = try SealedBox.open(tampered, publicKey: recipient.publicKey, secretKey: recipient.secretKey)
            }
            #expect(error.isAuthenticationFailure)
        }
    }

    @Test("bad lengths are refused before C")
    func lengths() throws {
        let recipient = try SealedBox.keyPair()
        #expect(throws: SodiumError.self) { _ = try SealedBox.seal(try Self.message(), to: [1, 2, 3]) }
        let short = try #require(throws: SodiumError.self) {
            _ = try SealedBox.open([UInt8](repeating: 0, count: 47), publicKey: recipient.publicKey, secretKey: recipient.secretKey)
        }
        #expect(short.isInvalidLength)
        let badSecret = try #require(throws: SodiumError.self) {
            _ = try SealedBox.open([UInt8](repeating: 0, count: 80), publicKey: recipient.publicKey, secretKey: try SecureBytes(copying: [1]))
        }
        #expect(badSecret.isInvalidLength)
    }
}
