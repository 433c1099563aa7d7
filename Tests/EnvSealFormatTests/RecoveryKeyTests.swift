import Foundation
import SodiumKit
import Testing
import TestSupport
@testable import EnvSealFormat

/// The recovery key formats (docs/FORMAT.md, section 6): every vector, then properties.
@Suite("recovery keys")
struct RecoveryKeyTests {
    struct Case: Decodable, CustomTestStringConvertible {
        let name: String
        let kind: String
        let expect: String
        let text: String?
        let file: String?
        let passphrase: String?
        let public_key_hex: String?
        let secret_key_hex: String?
        let recipient: String?
        let created: String?
        let salt_hex: String?
        let nonce_hex: String?
        let opslimit: UInt64?
        let memlimit_kib: Int?
        var testDescription: String { name }
    }

    /// The vector outcome of an error.
    static func outcome(_ error: RecoveryKeyError) -> String {
        switch error.reason {
        case .invalidRecipient: "invalid recipient"
        case .recipientChecksumMismatch: "checksum mismatch"
        case .malformedKeyFile: "malformed"
        case .damagedKeyFile: "damaged"
        case .passphraseRequired: "passphrase required"
        case .wrongPassphrase: "wrong passphrase"
        case .noSlotForRecipient: "no slot"
        }
    }

    @Test("recovery vectors", arguments: try loadVectors("recovery", as: [Case].self))
    func vector(_ v: Case) throws {
        switch v.kind {
        case "recipient":
            let text = try #require(v.text)
            if v.expect == "success" {
                let recipient = try RecoveryRecipient(parsing: text)
                #expect(recipient.publicKey.hex == v.public_key_hex)
                #expect(recipient.text == text.trimmingCharacters(in: .whitespacesAndNewlines))
            } else {
                let error = try #require(throws: RecoveryKeyError.self) { _ = try RecoveryRecipient(parsing: text) }
                #expect(Self.outcome(error) == v.expect)
            }
        default:
            let file = Array(try #require(v.file).utf8)
            let passphrase = try v.passphrase.map { try SecureBytes(utf8: $0) }
            if v.expect == "success" {
                let parsed = try RecoveryKeyFile(parsing: file)
                #expect(parsed.recipient.text == v.recipient)
                let keyPair = try parsed.unlock(passphrase: passphrase)
                #expect(keyPair.publicKey.hex == v.public_key_hex)
                #expect(keyPair.secretKey.withUnsafeBytes { Array($0) }.hex == v.secret_key_hex)
                // The writer makes the same bytes from the same inputs.
                var protection: RecoveryKeyFile.Protection?
                if let salt = v.salt_hex, let nonce = v.nonce_hex, let ops = v.opslimit, let mem = v.memlimit_kib {
                    protection = .init(passphrase: try #require(passphrase), salt: try Argon2id.Salt(bytes: [UInt8](hex: salt)),
                                       parameters: .init(opsLimit: ops, memLimit: mem * 1024), nonce: try Nonce(bytes: [UInt8](hex: nonce)))
                }
                #expect(try RecoveryKeyFile.render(keyPair, protection: protection, created: v.created) == file)
            } else {
                let error = try #require(throws: RecoveryKeyError.self) {
                    _ = try RecoveryKeyFile(parsing: file).unlock(passphrase: passphrase)
                }
                #expect(Self.outcome(error) == v.expect)
            }
        }
    }

    @Test("a new key pair round-trips through both file forms and its recipient")
    func roundTrip() throws {
        let keyPair = try BoxKeyPair.generate()
        let recipient = try RecoveryRecipient(publicKey: keyPair.publicKey)
        #expect(recipient.text.count == 53)
        #expect(try RecoveryRecipient(parsing: recipient.text) == recipient)

        let plain = try RecoveryKeyFile(parsing: RecoveryKeyFile.render(keyPair, protection: nil, created: nil))
        #expect(!plain.isPassphraseProtected)
        #expect(plain.recipient == recipient)
        #expect(try plain.unlock(passphrase: nil).secretKey == keyPair.secretKey)

        let passphrase = try SecureBytes(utf8: "a long passphrase")
        let text = try RecoveryKeyFile.render(keyPair, protection: .init(passphrase: passphrase, parameters: .minimum), created: "now")
        let protected = try RecoveryKeyFile(parsing: text)
        #expect(protected.isPassphraseProtected)
        #expect(protected.recipient == recipient)
        #expect(try protected.unlock(passphrase: passphrase).secretKey == keyPair.secretKey)
        #expect(throws: RecoveryKeyError(.wrongPassphrase)) { try protected.unlock(passphrase: SecureBytes(utf8: "a long passphrasE")) }
        #expect(throws: RecoveryKeyError(.passphraseRequired)) { try protected.unlock(passphrase: nil) }
    }

    @Test("every single-bit change of a key line is refused, never a different key")
    func everyFlipRefused() throws {
        let keyPair = try BoxKeyPair.generate()
        let passphrase = try SecureBytes(utf8: "pw")
        for protection in [nil, RecoveryKeyFile.Protection(passphrase: passphrase, parameters: .minimum)] {
            let text = try RecoveryKeyFile.render(keyPair, protection: protection, created: nil)
            let lines = String(decoding: text, as: UTF8.self).split(separator: "\n")
            let keyLine = String(lines.last!)
            let prefix = protection == nil ? RecoveryKeyFile.plainPrefix : RecoveryKeyFile.protectedPrefix
            let payload = try Base64URL.decode(keyLine.dropFirst(prefix.count), field: "key")
            for index in stride(from: 0, to: payload.count, by: 3) {
                var changed = payload
                changed[index] ^= 0x20
                let file = Array((prefix + Base64URL.encode(changed) + "\n").utf8)
                #expect(throws: RecoveryKeyError.self) { _ = try RecoveryKeyFile(parsing: file).unlock(passphrase: passphrase) }
            }
        }
    }

    @Test("errors never show key bytes")
    func errorsHideKeys() throws {
        let keyPair = try BoxKeyPair.generate()
        let text = String(decoding: try RecoveryKeyFile.render(keyPair, protection: nil, created: nil), as: UTF8.self)
        let keyLine = String(text.split(separator: "\n").last!)
        let error = try #require(throws: RecoveryKeyError.self) {
            _ = try RecoveryKeyFile(parsing: Array((text + keyLine + "\n").utf8))
        }
        #expect(!error.description.contains(String(keyLine.dropFirst(5).prefix(12))))
        #expect(error.description.contains("lines 3 and 4"))
    }
}
