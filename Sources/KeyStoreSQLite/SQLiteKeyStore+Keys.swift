package import Foundation
import GRDB
package import KeyService

extension SQLiteKeyStore {
    package func insertKey(_ key: KeyRecord, firstVersion: KeyVersionRecord) async throws {
        try await write(conflict: "key \(key.id) exists") { db in
            try db.cachedStatement(sql: """
                INSERT INTO keys (\(KeyRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: try key.rowArguments(storedAs: key.id))
            try Self.insertVersion(db, firstVersion)
        }
    }

    package func key(id: UUID) async throws -> KeyRecord? {
        try await read { db in try Self.fetchKey(db, id: id) }
    }

    package func keys(after marker: UUID?, limit: Int) async throws -> [KeyRecord] {
        try await read { db in
            // Every uuidString sorts after "", so no marker is the empty string.
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(KeyRecord.columns) FROM keys WHERE id > ? ORDER BY id LIMIT ?"),
                arguments: [marker?.uuidString ?? "", max(limit, 0)]
            ).map(KeyRecord.init(row:))
        }
    }

    package func keysDue(at date: Date) async throws -> [KeyRecord] {
        try await read { db in
            // A missing date counts as `Date.distantFuture`, as the protocol's reference store
            // compares it, rather than as SQL's NULL, which would never compare true.
            try Row.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(KeyRecord.columns) FROM keys
                    WHERE (state = ? AND coalesce(deletion_date, ?) <= ?)
                       OR (state = ? AND rotation_enabled AND coalesce(next_rotation_date, ?) <= ?)
                       OR (state IN (?, ?) AND coalesce(valid_to, ?) <= ?)
                    ORDER BY id
                    """),
                arguments: [
                    KeyState.pendingDeletion.rawValue, Date.distantFuture.storedValue, date.storedValue,
                    KeyState.enabled.rawValue, Date.distantFuture.storedValue, date.storedValue,
                    KeyState.enabled.rawValue, KeyState.disabled.rawValue, Date.distantFuture.storedValue, date.storedValue,
                ]
            ).map(KeyRecord.init(row:))
        }
    }

    package func updateKey<T: Sendable>(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> T) async throws -> T {
        try await write { db in
            var key = try Self.existingKey(db, id: id)
            let result = try body(&key)
            try Self.storeKey(db, key, as: id)
            return result
        }
    }

    package func addVersion(
        keyID: UUID, _ body: @Sendable (inout KeyRecord, UInt32) throws -> KeyVersionRecord
    ) async throws -> KeyVersionRecord {
        try await write(conflict: "that version of key \(keyID) exists") { db in
            var key = try Self.existingKey(db, id: keyID)
            let newest = try UInt32.fetchOne(
                db.cachedStatement(sql: "SELECT max(version) FROM key_versions WHERE key_id = ?"),
                arguments: [keyID.uuidString])
            let next = (newest ?? 0) + 1
            let version = try body(&key, next)
            guard version.version == next, version.keyID == keyID else {
                throw KeyStoreError(.alreadyExists, "version \(version.version) of key \(keyID) is not the next one")
            }
            try Self.storeKey(db, key, as: keyID)
            try Self.insertVersion(db, version)
            return version
        }
    }

    package func version(keyID: UUID, number: UInt32) async throws -> KeyVersionRecord? {
        try await read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(KeyVersionRecord.columns) FROM key_versions WHERE key_id = ? AND version = ?"),
                arguments: [keyID.uuidString, number]
            ).map(KeyVersionRecord.init(row:))
        }
    }

    package func versions(keyID: UUID) async throws -> [KeyVersionRecord] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(KeyVersionRecord.columns) FROM key_versions WHERE key_id = ? ORDER BY version"),
                arguments: [keyID.uuidString]
            ).map(KeyVersionRecord.init(row:))
        }
    }

    /// Destroys every version's material and applies `body`'s changes in one transaction, then
    /// truncates the WAL so that the overwritten material is gone from the disk too.
    ///
    /// The material column is set to an empty blob; `PRAGMA secure_delete` has SQLite zero the
    /// bytes it frees in the database file. The bytes also sit in WAL frames (the version's
    /// insert, earlier pages) until the WAL is truncated, which a `TRUNCATE` checkpoint does
    /// once it has copied the new pages into the database file. The checkpoint's failure (another
    /// process reading an older snapshot for longer than ``busyTimeout``) does not undo or fail
    /// the committed destruction; the next truncation completes the shredding.
    package func destroyKey(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> Void) async throws {
        do {
            try await pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    var key = try Self.existingKey(db, id: id)
                    try body(&key)
                    try Self.storeKey(db, key, as: id)
                    try db.cachedStatement(sql: "UPDATE key_versions SET wrapped_material = X'' WHERE key_id = ?")
                        .execute(arguments: [id.uuidString])
                    return .commit
                }
                _ = try? db.checkpoint(.truncate)
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    // MARK: - Rows

    static func fetchKey(_ db: Database, id: UUID) throws -> KeyRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(KeyRecord.columns) FROM keys WHERE id = ?"), arguments: [id.uuidString])
            .map(KeyRecord.init(row:))
    }

    static func existingKey(_ db: Database, id: UUID) throws -> KeyRecord {
        guard let key = try fetchKey(db, id: id) else { throw KeyStoreError(.notFound, "key \(id) not found") }
        return key
    }

    /// Writes `key` to the row of `id`, the id it was read under. A closure that changes the
    /// record's id does not move it: the row keeps its id (the reference store, too, keeps the
    /// record under the id it was looked up by, though with the changed id inside).
    static func storeKey(_ db: Database, _ key: KeyRecord, as id: UUID) throws {
        // `?1` is the id, `?2`… the other columns in `KeyRecord.columns` order.
        try db.cachedStatement(sql: """
            UPDATE keys SET state = ?2, deletion_date = ?3, rotation_enabled = ?4, next_rotation_date = ?5,
                arn = ?6, account = ?7, description = ?8, created_at = ?9, created_by = ?10,
                deletion_scheduled_by = ?11, deleted_at = ?12, deleted_by = ?13, rotation_period_days = ?14,
                on_demand_rotation_count = ?15, current_version = ?16, key_spec = ?17, origin = ?18, expiration_model = ?19,
                valid_to = ?20, tags = ?21, policy = ?22
            WHERE id = ?1
            """).execute(arguments: try key.rowArguments(storedAs: id))
    }

    private static func insertVersion(_ db: Database, _ version: KeyVersionRecord) throws {
        try db.cachedStatement(sql: "INSERT INTO key_versions (\(KeyVersionRecord.columns)) VALUES (?, ?, ?, ?, ?, ?)")
            .execute(arguments: version.rowArguments)
    }
}
