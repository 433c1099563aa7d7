package import Foundation
package import KeyService
import Logging
import PostgresNIO

extension PostgresKeyStore {
    package func insertKey(_ key: KeyRecord, firstVersion: KeyVersionRecord) async throws {
        let tags = try key.storedTags()
        try await transaction(conflict: "key \(key.id) exists") { connection, logger in
            try await connection.query(
                """
                INSERT INTO keys (\(unescaped: KeyRecord.columns)) VALUES (
                    \(key.id.uuidString), \(key.state.rawValue), \(key.deletionDate?.storedValue), \(key.rotationEnabled),
                    \(key.nextRotationDate?.storedValue), \(key.arn), \(key.account), \(key.description),
                    \(key.createdAt.storedValue), \(key.createdBy), \(key.deletionScheduledBy), \(key.deletedAt?.storedValue),
                    \(key.deletedBy), \(key.rotationPeriodDays), \(key.onDemandRotationCount), \(Int64(key.currentVersion)),
                    \(key.keySpec.rawValue), \(key.origin.rawValue), \(key.expirationModel), \(key.validTo?.storedValue),
                    \(tags), \(key.policy))
                """, logger: logger)
            try await Self.insertVersion(connection, firstVersion, logger: logger)
        }
    }

    package func key(id: UUID) async throws -> KeyRecord? {
        try await read { connection, logger in try await Self.fetchKey(connection, id: id, lock: false, logger: logger) }
    }

    package func keys(after marker: UUID?, limit: Int) async throws -> [KeyRecord] {
        try await read { connection, logger in
            // Every uuidString sorts after "", so no marker is the empty string.
            try await connection.rows(
                """
                SELECT \(unescaped: KeyRecord.columns) FROM keys WHERE id > \(marker?.uuidString ?? "")
                ORDER BY id LIMIT \(max(limit, 0))
                """, logger: logger
            ).map(KeyRecord.init(row:))
        }
    }

    package func keysDue(at date: Date) async throws -> [KeyRecord] {
        try await read { connection, logger in
            // A missing date counts as `Date.distantFuture`, as the reference store compares it.
            let never = Date.distantFuture.storedValue
            return try await connection.rows(
                """
                SELECT \(unescaped: KeyRecord.columns) FROM keys
                WHERE (state = \(KeyState.pendingDeletion.rawValue) AND coalesce(deletion_date, \(never)) <= \(date.storedValue))
                   OR (state = \(KeyState.enabled.rawValue) AND rotation_enabled
                       AND coalesce(next_rotation_date, \(never)) <= \(date.storedValue))
                   OR (state IN (\(KeyState.enabled.rawValue), \(KeyState.disabled.rawValue))
                       AND coalesce(valid_to, \(never)) <= \(date.storedValue))
                ORDER BY id
                """, logger: logger
            ).map(KeyRecord.init(row:))
        }
    }

    package func updateKey<T: Sendable>(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> T) async throws -> T {
        try await transaction { connection, logger in
            var key = try await Self.existingKey(connection, id: id, logger: logger)
            let result = try body(&key)
            try await Self.storeKey(connection, key, as: id, logger: logger)
            return result
        }
    }

    package func addVersion(
        keyID: UUID, _ body: @Sendable (inout KeyRecord, UInt32) throws -> KeyVersionRecord
    ) async throws -> KeyVersionRecord {
        try await transaction(conflict: "that version of key \(keyID) exists") { connection, logger in
            // The key's row lock serializes rotations: the next caller reads the version this one adds.
            var key = try await Self.existingKey(connection, id: keyID, logger: logger)
            let newest = try await connection.rows(
                "SELECT max(version) FROM key_versions WHERE key_id = \(keyID.uuidString)", logger: logger
            ).first?.makeRandomAccess()[0].decode(Int64?.self)
            let next = UInt32(truncatingIfNeeded: (newest ?? nil) ?? 0) + 1
            let version = try body(&key, next)
            guard version.version == next, version.keyID == keyID else {
                throw KeyStoreError(.alreadyExists, "version \(version.version) of key \(keyID) is not the next one")
            }
            try await Self.storeKey(connection, key, as: keyID, logger: logger)
            try await Self.insertVersion(connection, version, logger: logger)
            return version
        }
    }

    package func version(keyID: UUID, number: UInt32) async throws -> KeyVersionRecord? {
        try await read { connection, logger in
            try await connection.rows(
                """
                SELECT \(unescaped: KeyVersionRecord.columns) FROM key_versions
                WHERE key_id = \(keyID.uuidString) AND version = \(Int64(number))
                """, logger: logger
            ).first.map(KeyVersionRecord.init(row:))
        }
    }

    package func versions(keyID: UUID) async throws -> [KeyVersionRecord] {
        try await read { connection, logger in
            try await connection.rows(
                """
                SELECT \(unescaped: KeyVersionRecord.columns) FROM key_versions WHERE key_id = \(keyID.uuidString) ORDER BY version
                """, logger: logger
            ).map(KeyVersionRecord.init(row:))
        }
    }

    /// Destroys every version's material and applies `body`'s changes in one transaction.
    ///
    /// The material column is set to an empty `bytea`. PostgreSQL keeps the old row versions until
    /// `VACUUM` reclaims them (autovacuum does, soon after), and in its write-ahead log and base
    /// backups until they are recycled: see docs/OPERATIONS.md for what that means for
    /// crypto-shredding.
    package func destroyKey(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> Void) async throws {
        try await transaction { connection, logger in
            var key = try await Self.existingKey(connection, id: id, logger: logger)
            try body(&key)
            try await Self.storeKey(connection, key, as: id, logger: logger)
            try await connection.query(
                "UPDATE key_versions SET wrapped_material = '\\x'::bytea WHERE key_id = \(id.uuidString)", logger: logger)
        }
    }

    // MARK: - Rows

    static func fetchKey(_ connection: PostgresConnection, id: UUID, lock: Bool, logger: Logger) async throws -> KeyRecord? {
        try await connection.rows(
            """
            SELECT \(unescaped: KeyRecord.columns) FROM keys WHERE id = \(id.uuidString)\(unescaped: lock ? " FOR UPDATE" : "")
            """, logger: logger
        ).first.map(KeyRecord.init(row:))
    }

    /// The key, locked until the transaction ends, or `.notFound`.
    static func existingKey(_ connection: PostgresConnection, id: UUID, logger: Logger) async throws -> KeyRecord {
        guard let key = try await fetchKey(connection, id: id, lock: true, logger: logger) else {
            throw KeyStoreError(.notFound, "key \(id) not found")
        }
        return key
    }

    /// Writes `key` to the row of `id`, the id it was read under (a closure that changes the
    /// record's id does not move it, as in the other stores).
    static func storeKey(_ connection: PostgresConnection, _ key: KeyRecord, as id: UUID, logger: Logger) async throws {
        let tags = try key.storedTags()
        try await connection.query(
            """
            UPDATE keys SET state = \(key.state.rawValue), deletion_date = \(key.deletionDate?.storedValue),
                rotation_enabled = \(key.rotationEnabled), next_rotation_date = \(key.nextRotationDate?.storedValue),
                arn = \(key.arn), account = \(key.account), description = \(key.description),
                created_at = \(key.createdAt.storedValue), created_by = \(key.createdBy),
                deletion_scheduled_by = \(key.deletionScheduledBy), deleted_at = \(key.deletedAt?.storedValue),
                deleted_by = \(key.deletedBy), rotation_period_days = \(key.rotationPeriodDays),
                on_demand_rotation_count = \(key.onDemandRotationCount), current_version = \(Int64(key.currentVersion)),
                key_spec = \(key.keySpec.rawValue), origin = \(key.origin.rawValue),
                expiration_model = \(key.expirationModel), valid_to = \(key.validTo?.storedValue), tags = \(tags),
                policy = \(key.policy)
            WHERE id = \(id.uuidString)
            """, logger: logger)
    }

    /// Inserts a version; versions are never updated afterwards (but by ``destroyKey(id:_:)``).
    private static func insertVersion(_ connection: PostgresConnection, _ version: KeyVersionRecord, logger: Logger) async throws {
        try await connection.query(
            """
            INSERT INTO key_versions (\(unescaped: KeyVersionRecord.columns)) VALUES (
                \(version.keyID.uuidString), \(Int64(version.version)), \(Data(version.wrappedMaterial)), \(version.materialID),
                \(version.createdAt.storedValue), \(version.rotationType.rawValue))
            """, logger: logger)
    }
}
