import Foundation
import KeyService
import KeyStorePostgres
import KeyStoreSQLite
import Testing


/// The ``KeyStore`` implementations the conformance suite checks. Each case makes a fresh,
/// empty store and disposes of it; the PostgreSQL store gets a fresh schema per test, dropped
/// afterwards.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory
    case sqlite
    case postgres

    /// The kinds this run can check: PostgreSQL only when `ENVSEAL_TEST_POSTGRES_URL` names a
    /// database (``PostgresKeyStoreTests/postgresIsTested()`` is then skipped, loudly, instead).
    static var allCases: [StoreKind] {
        PostgresTestDatabase.url == nil ? [.inMemory, .sqlite] : [.inMemory, .sqlite, .postgres]
    }

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty store of this kind.
    func withStore(_ body: (any KeyStore) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            try await body(InMemoryKeyStore())
        case .sqlite:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let store = try SQLiteKeyStore(path: directory.path("keys.sqlite"))
            defer { try? store.close() }
            try await body(store)
        case .postgres:
            try await PostgresTestDatabase.withStore(body)
        }
    }
}

/// One behaviour of ``KeyStore`` per test, checked against every ``StoreKind``: the in-memory
/// store is the reference, and every other store must agree with it. One nested suite per kind
/// of record, each in its own `KeyStoreConformance+Kind.swift` file.
@Suite("KeyStore conformance")
struct KeyStoreConformance {}

extension KeyStoreConformance {
    /// Named values a store keeps for the key service (the root key's KDF parameters and check).
    @Suite("Metadata")
    struct Metadata {
        @Test(arguments: StoreKind.allCases)
        func metadataIsSetOnlyWhenAbsent(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                #expect(try await store.metadata("salt") == nil)
                #expect(try await store.setMetadataIfAbsent("salt", [1, 2, 3]) == [1, 2, 3])
                #expect(try await store.setMetadataIfAbsent("salt", [9]) == [1, 2, 3])
                #expect(try await store.metadata("salt") == [1, 2, 3])
                #expect(try await store.setMetadataIfAbsent("empty", []) == [])
                #expect(try await store.metadata("empty") == [])
                #expect(try await store.metadata("other") == nil)
            }
        }
    }
}
