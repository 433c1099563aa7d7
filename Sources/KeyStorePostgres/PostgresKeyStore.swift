import Foundation
import KeyService
package import Logging
import PostgresNIO
import Synchronization

/// A ``KeyService/KeyStore`` in a PostgreSQL database, shared by several key servers.
///
/// This module is for servers only: it brings postgres-nio, and nothing below the key service
/// (the `EnvSeal` library above all) may depend on it.
///
/// Every method is one transaction on a connection of a `PostgresClient` pool, at PostgreSQL's
/// default isolation (`READ COMMITTED`). Read-modify-write methods take their lock before they
/// read, so that servers sharing the database never lose an update:
///
/// - ``updateKey(id:_:)``, ``addVersion(keyID:_:)`` and ``destroyKey(id:_:)`` read the key with
///   `SELECT … FOR UPDATE`: a second caller, on this server or another, waits for the first to
///   commit and then reads what it wrote. Two concurrent rotations get two distinct versions and
///   one newest version; the primary key `(key_id, version)` refuses a duplicate besides.
/// - ``appendAudit(batch:)`` takes `LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE` before reading
///   the chain's head. That mode conflicts with itself and not with readers, so appends from every
///   server are serialized and the hash chain never forks, while `envseal audit verify` reads on.
///   The batch is written by one multi-row `INSERT`, to keep the lock's hold short.
/// - Key versions are never updated once written, except by ``destroyKey(id:_:)``, which empties
///   their material.
///
/// A method that returns has committed; with PostgreSQL's defaults (`synchronous_commit = on`,
/// `fsync = on`) the commit is on the primary's disk, and with synchronous replication on a
/// standby's too.
///
/// ## Schema
///
/// Tables `metadata`, `keys`, `key_versions`, `aliases`, `grants`, `principals` and `audit` in
/// the configured schema (`public` by default), created by versioned migrations recorded in
/// `envseal_migrations`. Migrations run under a transaction-level advisory lock, so servers
/// starting together migrate once. A database migrated by a newer envseal is refused. Dates are
/// `double precision` seconds since 2001-01-01, as in the SQLite store, so they round-trip
/// exactly; ids and names that are ordered on are `COLLATE "C"`, so the order is the protocol's
/// whatever the database's locale.
package final class PostgresKeyStore: KeyStore {
    /// How long ``open(_:logger:)`` waits for the database: a first connection, and the schema's
    /// migration (another node may hold its lock).
    package static let openTimeout: Duration = .seconds(15)

    /// While ``open(_:logger:)`` migrates, a call may wait for a connection up to ``openTimeout``
    /// rather than ``Configuration/connectionWait``: a database that is still starting gets that
    /// long, and the first connection of a pool under load more than a request would be given.
    @TaskLocal static var openingWait: Duration?

    /// Where the database is and how to log in.
    package let configuration: Configuration
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>

    /// Connects to the database and migrates its schema to the current version.
    ///
    /// - Parameters:
    ///   - configuration: The server, the login, the database and the schema.
    ///   - logger: Where postgres-nio logs (connection trouble); queries are not logged.
    /// - Throws: ``KeyService/KeyStoreError`` `.unavailable` when the database cannot be reached,
    ///   the login is refused, or a newer envseal migrated the schema. The message names the
    ///   server and database, never the password.
    package static func open(_ configuration: Configuration, logger: Logger = Logger(label: "envseal.PostgresKeyStore")) async throws
        -> PostgresKeyStore
    {
        let store = PostgresKeyStore(configuration: configuration, client: try configuration.clientConfiguration, logger: logger)
        do {
            // postgres-nio keeps retrying a server it cannot reach; a server starting against a
            // wrong URL or a database that is down should say so soon.
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await $openingWait.withValue(openTimeout) { try await store.migrate() } }
                group.addTask {
                    try await Task.sleep(for: openTimeout)
                    throw KeyStoreError(.unavailable, "key store \(configuration.displayName): no answer within \(openTimeout)")
                }
                defer { group.cancelAll() }
                try await group.next()
            }
        } catch {
            store.close()
            throw error
        }
        return store
    }

    private init(configuration: Configuration, client: PostgresClient.Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.client = PostgresClient(configuration: client, backgroundLogger: logger)
        let running = self.client
        // Started at once, so that the pool runs before the first query asks it for a connection.
        runner = Task.immediate { await running.run() }
    }

    deinit { runner.cancel() }

    /// Closes the connections. Later calls throw `.unavailable`.
    package func close() {
        runner.cancel()
    }

    /// Runs `body` in a transaction on one connection: committed when it returns, rolled back when
    /// it throws. Errors are translated; a UNIQUE or PRIMARY KEY violation becomes `.alreadyExists`
    /// with `conflict` as its message.
    func transaction<T: Sendable>(
        conflict: String? = nil, _ body: @Sendable (PostgresConnection, Logger) async throws -> T
    ) async throws -> T {
        let logger = logger
        do {
            return try await withConnection { connection in
                try await connection.query("BEGIN", logger: logger)
                do {
                    let result = try await body(connection, logger)
                    try await connection.query("COMMIT", logger: logger)
                    return result
                } catch {
                    // A broken connection rolls back by itself; the original error says more.
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw StatementFailure(error: error)
                }
            }
        } catch {
            throw translate(error, conflict: conflict)
        }
    }

    /// Runs one read-only statement outside an explicit transaction (a statement is its own).
    func read<T: Sendable>(_ body: @Sendable (PostgresConnection, Logger) async throws -> T) async throws -> T {
        let logger = logger
        do {
            return try await withConnection { connection in
                do {
                    return try await body(connection, logger)
                } catch {
                    throw StatementFailure(error: error)
                }
            }
        } catch {
            throw translate(error)
        }
    }

    /// Runs `body` on a connection of the pool, or fails with `.unavailable` when none is handed
    /// out within ``Configuration/connectionWait``: postgres-nio would wait for as long as the
    /// database stays unreachable (over a minute was seen), holding the caller's request open.
    /// Exactly one of the two happens: a connection handed out after the wait ended is given back
    /// unused, and once `body` has started it runs to its end, however long it takes.
    func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let lease = ConnectionLease()
        let (client, wait, name) = (client, Self.openingWait ?? configuration.connectionWait, configuration.displayName)
        // The group ends before this function returns, so `body` does not outlive the call.
        return try await withoutActuallyEscaping(body) { body in
            try await withThrowingTaskGroup(of: LeaseOutcome<T>.self) { group in
                group.addTask {
                    .done(try await client.withConnection { connection in
                        guard lease.settle(.leased) else { throw CancellationError() }
                        return try await body(connection)
                    })
                }
                group.addTask {
                    try await Task.sleep(for: wait)
                    guard lease.settle(.abandoned) else { return .stillRunning }
                    throw KeyStoreError(.unavailable, "key store \(name): no connection within \(wait) (all busy, or the database unreachable)")
                }
                defer { group.cancelAll() }
                while let outcome = try await group.next() {
                    if case .done(let result) = outcome { return result }
                }
                throw CancellationError()  // unreachable: the first task returns or throws
            }
        }
    }

    /// Turns postgres-nio's errors into ``KeyService/KeyStoreError``, passing anything else that
    /// a transaction's body threw (a caller's closure, a ``KeyService/KeyStoreError`` already)
    /// through unchanged.
    ///
    /// Messages carry the server's message (which names constraints and columns, never values:
    /// PostgreSQL puts values in the error's detail, which is left out) and where the database is.
    func translate(_ error: any Error, conflict: String? = nil) -> any Error {
        let where_ = configuration.displayName
        switch error {
        case let failure as StatementFailure:
            return translate(failure.error, conflict: conflict, where: where_) ?? failure.error
        case is KeyStoreError, is CancellationError:
            return error
        default:
            // Outside the body: BEGIN or COMMIT failed, or the pool found no connection
            // (postgres-nio's pool errors are not public types).
            return translate(error, conflict: conflict, where: where_)
                ?? KeyStoreError(.unavailable, "key store \(where_): cannot connect (\(type(of: error)))")
        }
    }

    /// The ``KeyService/KeyStoreError`` for a postgres-nio error, or `nil` for any other error.
    private func translate(_ error: any Error, conflict: String?, where where_: String) -> KeyStoreError? {
        switch error {
        case let error as PSQLError:
            if let state = error.serverInfo?[.sqlState] {
                if state == "23505" {
                    return KeyStoreError(.alreadyExists, conflict ?? "a record with that identity exists in \(where_)")
                }
                let message = error.serverInfo?[.message] ?? "error \(state)"
                return KeyStoreError(.unavailable, "key store \(where_): \(message) (SQLSTATE \(state))")
            }
            return KeyStoreError(.unavailable, "key store \(where_): \(Self.describe(error.code))")
        case let error as PostgresDecodingError:
            return KeyStoreError(.unavailable, "key store \(where_): unreadable value in column \(error.columnName)")
        case let error as UnreadableRecord:
            return KeyStoreError(.unavailable, "key store \(where_): unreadable row in table \(error.table)")
        default:
            return nil
        }
    }

    /// A short reason for a client-side failure.
    private static func describe(_ code: PSQLError.Code) -> String {
        switch code {
        case .connectionError: "cannot connect"
        case .serverClosedConnection: "the server closed the connection"
        case .poolClosed, .clientClosedConnection: "the store is closed"
        case .authMechanismRequiresPassword: "the server asks for a password and none was given (PGPASSWORD, PGPASSFILE or the URL)"
        case .sslUnsupported: "the server does not support TLS (sslmode=require)"
        default: "\(code)"
        }
    }
}

/// What a transaction's statements or its caller's closure threw, told apart from the pool's
/// own failures; ``PostgresKeyStore/translate(_:conflict:)`` unwraps it.
struct StatementFailure: Error {
    let error: any Error
}

/// Whether a store call's wait for a connection ended with the connection or with giving up: the
/// first to settle it wins (see `PostgresKeyStore.withConnection`).
private final class ConnectionLease: Sendable {
    enum State { case waiting, leased, abandoned }
    private let state = Mutex(State.waiting)

    /// Moves from waiting to `outcome`; `false` when the other outcome came first.
    func settle(_ outcome: State) -> Bool {
        state.withLock { state in
            guard state == .waiting else { return false }
            state = outcome
            return true
        }
    }
}

/// What a task of `PostgresKeyStore.withConnection` ends with: the call's result, or (the waiting
/// task) that the call got its connection in time and is still running.
private enum LeaseOutcome<T: Sendable>: Sendable {
    case done(T)
    case stillRunning
}
