import Foundation
import KeyService
import KeyStorePostgres

/// The PostgreSQL database the tests use: `ENVSEAL_TEST_POSTGRES_URL` (CI starts one with
/// `scripts/postgres-test-cluster.sh`). Each test gets a schema of its own, dropped afterwards.
enum PostgresTestDatabase {
    /// The database's URL, or `nil` when this run does not test PostgreSQL.
    static let url: String? = {
        guard let url = ProcessInfo.processInfo.environment["ENVSEAL_TEST_POSTGRES_URL"], !url.isEmpty else { return nil }
        return url
    }()

    /// Why PostgreSQL is not tested in this run.
    static let skipReason = """
        ENVSEAL_TEST_POSTGRES_URL is not set: the PostgreSQL key store is NOT tested in this run \
        (eval "$(bash scripts/postgres-test-cluster.sh start)" starts a throwaway database)
        """

    /// The configuration of a new, unique schema.
    static func freshConfiguration() throws -> PostgresKeyStore.Configuration {
        guard let url else { throw KeyStoreError(.unavailable, skipReason) }
        var configuration = try PostgresKeyStore.Configuration(url: url)
        configuration.schema = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        // Tests run in parallel, each with its own pool: keep every pool small.
        configuration.maximumConnections = 6
        return configuration
    }

    /// Runs `body` with a store on a fresh schema, then drops the schema.
    static func withStore(_ body: (any KeyStore) async throws -> Void) async throws {
        try await withStores(1) { try await body($0[0]) }
    }

    /// Runs `body` with `count` stores on one fresh schema (as several servers on one database
    /// would have), then drops the schema.
    static func withStores(_ count: Int, _ body: ([PostgresKeyStore]) async throws -> Void) async throws {
        let configuration = try freshConfiguration()
        var stores: [PostgresKeyStore] = []
        defer { stores.forEach { $0.close() } }
        for _ in 0..<count {
            stores.append(try await PostgresKeyStore.open(configuration))
        }
        do {
            try await body(stores)
        } catch {
            try? await drop(configuration.schema, using: stores[0])
            throw error
        }
        try await drop(configuration.schema, using: stores[0])
    }

    private static func drop(_ schema: String?, using store: PostgresKeyStore) async throws {
        guard let schema else { return }
        try await store.execute("DROP SCHEMA \"\(schema)\" CASCADE")
    }
}
