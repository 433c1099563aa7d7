import EnvSeal
import EnvSealFormat
import Foundation
import SealedDotenv
import SodiumKit
import Testing

/// `SealedEnvironment` with a recovery key file: opened from the recipient slot, with no call to
/// any key service (the provider given counts calls, and must count none).
@Suite struct RecoveryKeyLoadingTests {
    /// The sealed variables of a file sealed for a KMS key and for `recipient`.
    static func sealed(for recipient: [UInt8], service: FakeKeyService) async throws -> [String: String] {
        let file = try await SealedFile(provider: service).seal(
            try DotenvFile.parse(Array(SealedEnvironmentTests.plain.utf8)),
            for: [.kms(keyID: "alias/app", context: .empty), .recipient(publicKey: recipient)], selection: .all)
        return Dictionary(file.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    /// Writes a recovery key file for `pair` in a new temporary folder; returns its path.
    static func keyFile(_ pair: BoxKeyPair, protection: RecoveryKeyFile.Protection? = nil, text: ((String) -> String)? = nil) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-recovery-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("recovery.key").path
        var rendered = String(decoding: try RecoveryKeyFile.render(pair, protection: protection, created: nil), as: UTF8.self)
        if let text { rendered = text(rendered) }
        try Data(rendered.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func opensWithTheRecoveryKeyAndNoKeyService() async throws {
        let service = FakeKeyService()
        let pair = try BoxKeyPair.generate()
        let variables = try await Self.sealed(for: pair.publicKey, service: service)
        let path = try Self.keyFile(pair)
        let before = service.calls
        let environment = try await SealedEnvironment.load(
            from: .variables(variables), provider: service, options: .init(maxAge: .zero, recoveryKeyFile: path))
        #expect(service.calls == before)
        #expect(environment["DB_PASSWORD"]?.revealed() == "correct-horse-battery")
        #expect(environment["API_KEY"]?.revealed() == "ak_live_0123456789abcdef")
        // Without the recovery key, the same file opens through the key service, with one call.
        _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero))
        #expect(service.calls == before + 1)
    }

    @Test func aKeyWithoutASlotIsRefusedNamingItsRecipient() async throws {
        let service = FakeKeyService()
        let variables = try await Self.sealed(for: try BoxKeyPair.generate().publicKey, service: service)
        let other = try BoxKeyPair.generate()
        let error = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service,
                                                 options: .init(maxAge: .zero, recoveryKeyFile: try Self.keyFile(other)))
        }
        #expect(error?.cause == .recoveryKey)
        #expect(error?.message.contains(try RecoveryRecipient(publicKey: other.publicKey).text) == true)
        #expect(service.calls == 0)
    }

    @Test func aDamagedOrProtectedKeyFileIsRefusedBeforeAnythingIsOpened() async throws {
        let service = FakeKeyService()
        let pair = try BoxKeyPair.generate()
        let variables = try await Self.sealed(for: pair.publicKey, service: service)
        let damaged = try Self.keyFile(pair) { text in
            var lines = text.split(separator: "\n").map(String.init)
            var key = Array(lines[lines.count - 1].utf8)
            key[10] = key[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            lines[lines.count - 1] = String(decoding: key, as: UTF8.self)
            return lines.joined(separator: "\n") + "\n"
        }
        let malformed = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero, recoveryKeyFile: damaged))
        }
        #expect(malformed?.cause == .malformed)
        // Protected, and this test's environment has no ENVSEAL_RECOVERY_PASSPHRASE.
        let protected = try Self.keyFile(pair, protection: .init(passphrase: try SecureBytes(utf8: "pw"), parameters: .minimum))
        let notConfigured = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero, recoveryKeyFile: protected))
        }
        #expect(notConfigured?.cause == .notConfigured)
        #expect(notConfigured?.message.contains("ENVSEAL_RECOVERY_PASSPHRASE") == true)
        let missing = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service,
                                                 options: .init(maxAge: .zero, recoveryKeyFile: "/nonexistent/recovery.key"))
        }
        #expect(missing?.cause == .unreadable)
        #expect(service.calls == 0)
    }
}
