package import Foundation
import GRDB
import KeyService

/// A ``KeyService/KeyStore`` in one SQLite file: the key service's embedded default.
///
/// Every method is one SQLite transaction. Read-modify-write methods
/// (``updateKey(id:_:)``, ``addVersion(keyID:_:)``, ``destroyKey(id:_:)``, ``appendAudit(_:)``)
/// run their closure inside an `IMMEDIATE` write transaction, which takes SQLite's write lock
/// before reading: concurrent callers — tasks of this process, other `SQLiteKeyStore` instances,
/// other processes on the same file — are serialized and never lose an update or fork the
/// audit chain. A writer waits up to ``busyTimeout`` for another process's write lock before
/// failing with `.unavailable`.
///
/// ## Durability
///
/// The database uses SQLite's write-ahead log (WAL): when a method returns, its transaction is
/// committed to the WAL file, and ``Durability-swift.enum`` says what that survives. A lost
/// transaction never corrupts the file, and a later one is never kept while an earlier is lost.
///
/// ## Crypto-shredding
///
/// `PRAGMA secure_delete = ON` makes SQLite zero deleted and overwritten content in the database
/// file, `PRAGMA temp_store = MEMORY` keeps statement journals off the disk, and
/// ``destroyKey(id:_:)`` truncates the WAL after its commit, so destroyed key material leaves no
/// file. The truncation needs a moment when no other connection reads an older snapshot; if
/// another process holds one past ``busyTimeout``, the old WAL frames stay until the next
/// `destroyKey`, or until the last connection to the file closes (SQLite then checkpoints and
/// deletes the WAL).
///
/// ## Files
///
/// The store is the file at ``path`` and, while it is open, SQLite's `-wal` and `-shm` files
/// beside it. A database file this initializer creates gets mode 0600 (and so do the `-wal` and
/// `-shm` files, which SQLite also creates with the database file's mode); a missing directory is
/// created with mode 0700. An existing file keeps the mode it has.
///
/// ## Schema
///
/// Tables `metadata`, `keys`, `key_versions`, `aliases`, `grants`, `principals` and `audit`,
/// created by versioned migrations (GRDB's `DatabaseMigrator`, which records the applied ones in
/// the file). An envseal that finds a migration it does not know refuses the file rather than
/// misread what a newer version wrote. Dates are `REAL` seconds since 2001-01-01 (Foundation's
/// reference date), so they round-trip exactly and compare in SQL as they do in Swift. Records
/// are stored one field per column; only lists and maps (tags, a grant's operations and
/// contexts, an audit record's context) are JSON text.
package final class SQLiteKeyStore: KeyStore {
    /// How much of a returned change survives a crash.
    package enum Durability: Sendable, Equatable {
        /// Survives the process being killed at any point; the last transactions may be lost on
        /// power loss or a kernel crash. `PRAGMA synchronous = NORMAL`.
        case normal
        /// Also survives power loss: every commit is flushed to the disk (one `fsync` per write).
        /// `PRAGMA synchronous = FULL`.
        case full
    }

    /// How long a write waits for another connection's write lock before failing.
    package static let busyTimeout: TimeInterval = 5

    /// The database file.
    package let path: String
    /// How much of a returned change survives a crash.
    package let durability: Durability
    /// The connections: one writer, several readers (WAL lets readers run beside the writer).
    let pool: DatabasePool

    /// Opens the store at `path`, creating the file and its directory when missing and migrating
    /// the schema to the current version.
    ///
    /// - Throws: ``KeyService/KeyStoreError`` `.unavailable` when the file cannot be created,
    ///   opened or migrated, or when a newer envseal has migrated it beyond what this version
    ///   knows. The message names the file.
    package init(path: String, durability: Durability = .normal) throws {
        self.path = path
        self.durability = durability
        let created = try Self.createFileIfMissing(at: path)
        do {
            pool = try DatabasePool(path: path, configuration: Self.configuration)
            // GRDB sets synchronous = NORMAL on the writer while opening the pool, after any
            // `prepareDatabase` hook, so FULL has to be set once the pool exists. Only the
            // writer connection ever commits, so it is the only one that needs it.
            if durability == .full {
                try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            }
        } catch {
            throw Self.translate(error, path: path)
        }
        if created {
            try Self.restrictSidecarFiles(of: path)
        }
        try Self.migrate(pool, path: path)
    }

    /// Closes the connections. Later calls throw `.unavailable`.
    ///
    /// Closing is optional: the connections close when the store is released.
    package func close() throws {
        do {
            try pool.close()
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// The configuration of every connection.
    static var configuration: Configuration {
        var configuration = Configuration()
        configuration.label = "envseal.SQLiteKeyStore"
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            // Per connection; only the writer deletes or overwrites, but setting it everywhere
            // keeps any connection that ever writes (a checkpoint at close) on the safe side.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // A multi-row UPDATE (destroying a key's versions) keeps a statement journal of the
            // pages it changes, material included, which SQLite spills to an unlinked temporary
            // file past 64 KiB unless temporary storage is memory.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        return configuration
    }
}
