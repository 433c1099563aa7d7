import EnvSeal
import Foundation
import Synchronization
import Testing

/// A key service with named keys, any of which can be disabled; Decrypt calls are counted.
final class SlotKeyService: DataKeyProvider {
    private let state = Mutex<(keys: [[UInt8]: (key: DataKey, keyID: String, context: EncryptionContext)], disabled: Set<String>, calls: Int)>(([:], [], 0))

    var calls: Int { state.withLock { $0.calls } }
    func disable(_ keyID: String) { state.withLock { _ = $0.disabled.insert(keyID) } }

    static func arn(_ keyID: String) -> String { "arn:aws:kms:us-east-1:111122223333:key/\(keyID)" }

    private func store(_ key: DataKey, keyID: String, context: EncryptionContext) -> [UInt8] {
        let handle = Array(UUID().uuidString.utf8)
        state.withLock { $0.keys[handle] = (key, keyID, context) }
        return handle
    }

    func generateDataKey(keyID: String, context: EncryptionContext) async throws -> GeneratedDataKey {
        let key = DataKey.random()
        return GeneratedDataKey(dataKey: key, wrapped: store(key, keyID: keyID, context: context), keyARN: Self.arn(keyID))
    }

    func wrapDataKey(_ dataKey: DataKey, keyID: String, context: EncryptionContext) async throws -> (wrapped: [UInt8], keyARN: String) {
        (store(dataKey, keyID: keyID, context: context), Self.arn(keyID))
    }

    func unwrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, keyID: String?) async throws -> UnwrappedDataKey {
        let found = state.withLock { state -> (DataKey, String, EncryptionContext, Bool)? in
            state.calls += 1
            return state.keys[wrapped].map { ($0.key, $0.keyID, $0.context, state.disabled.contains($0.keyID)) }
        }
        guard let (key, owner, bound, disabled) = found, bound == context else { throw KMSError(.invalidCiphertext, "no") }
        if disabled { throw KMSError(.disabled, "\(Self.arn(owner)) is disabled.") }
        return UnwrappedDataKey(dataKey: key, keyARN: Self.arn(owner))
    }

    func rewrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, destinationKeyID: String) async throws -> [UInt8] { wrapped }
    func encrypt(_ plaintext: SecureBytes, keyID: String, context: EncryptionContext) async throws -> [UInt8] { [] }
    func decrypt(_ ciphertext: [UInt8], context: EncryptionContext) async throws -> SecureBytes { throw KMSError(.invalidCiphertext, "no") }
}

/// The library opens version 2 headers with the same slot rules as the CLI: one provider, key
/// slots tried in order, one Decrypt when the first opens.
@Suite struct KeySlotLoadingTests {
    static func variables(_ service: SlotKeyService) async throws -> [String: String] {
        let file = try await SealedFile(provider: service).seal(
            try DotenvFile.parse(Array("DB_PASSWORD=correct-horse-battery\nREGION=eu-west-1\n".utf8)),
            for: [.kms(keyID: "primary", context: .empty), .kms(keyID: "standby", context: .empty)], selection: .all)
        return Dictionary(file.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    @Test func firstSlotOpensWithOneDecrypt() async throws {
        let service = SlotKeyService()
        let variables = try await Self.variables(service)
        let environment = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero))
        #expect(service.calls == 1)
        #expect(environment.keyARN == SlotKeyService.arn("primary"))
        #expect(environment["DB_PASSWORD"]?.revealed() == "correct-horse-battery")
    }

    @Test func secondSlotOpensWhenTheFirstKeyIsDisabled() async throws {
        let service = SlotKeyService()
        let variables = try await Self.variables(service)
        service.disable("primary")
        let environment = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero))
        #expect(service.calls == 2)
        #expect(environment.keyARN == SlotKeyService.arn("standby"))
        service.disable("standby")
        let error = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero))
        }
        #expect(error?.cause == .keyService)
        #expect(!(error?.description.contains("correct-horse") ?? true))
    }
}
