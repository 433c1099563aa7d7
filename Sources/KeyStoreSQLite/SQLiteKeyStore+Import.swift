package import Foundation
import GRDB
package import KeyService

extension SQLiteKeyStore {
    package func updateMaterial(
        keyID: UUID, _ body: @Sendable (inout KeyRecord, inout KeyVersionRecord) throws -> Void
    ) async throws -> KeyRecord {
        try await write { db in
            var key = try Self.existingKey(db, id: keyID)
            guard var version = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(KeyVersionRecord.columns) FROM key_versions WHERE key_id = ? AND version = ?"),
                arguments: [keyID.uuidString, key.currentVersion]
            ).map(KeyVersionRecord.init(row:)) else {
                throw KeyStoreError(.notFound, "version \(key.currentVersion) of key \(keyID) not found")
            }
            try body(&key, &version)
            try Self.storeKey(db, key, as: keyID)
            try db.cachedStatement(sql: """
                UPDATE key_versions SET wrapped_material = ?, material_id = ?, created_at = ? WHERE key_id = ? AND version = ?
                """).execute(arguments: [Data(version.wrappedMaterial), version.materialID, version.createdAt.storedValue,
                                         keyID.uuidString, key.currentVersion])
            return key
        }
    }

    package func insertWrappingKey(_ record: WrappingKeyRecord, removingExpiredBefore expiredBefore: Date) async throws {
        try await write(conflict: "wrapping key \(record.id) exists") { db in
            try db.cachedStatement(sql: "DELETE FROM wrapping_keys WHERE valid_to < ?").execute(arguments: [expiredBefore.storedValue])
            try db.cachedStatement(sql: "INSERT INTO wrapping_keys (\(WrappingKeyRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .execute(arguments: [
                    record.id.uuidString, record.keyID.uuidString, record.algorithm, record.spec, Data(record.wrappedPrivateKey),
                    record.createdAt.storedValue, record.validTo.storedValue,
                ])
        }
    }

    package func wrappingKey(id: UUID) async throws -> WrappingKeyRecord? {
        try await read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(WrappingKeyRecord.columns) FROM wrapping_keys WHERE id = ?"), arguments: [id.uuidString]
            ).map { row in
                try row.decodeRecord(table: "wrapping_keys") { row in
                    guard let id = UUID(uuidString: try row.decode(String.self, forColumn: "id")),
                          let keyID = UUID(uuidString: try row.decode(String.self, forColumn: "key_id")) else { throw InvalidStoredValue() }
                    return WrappingKeyRecord(
                        id: id, keyID: keyID, algorithm: try row.decode(String.self, forColumn: "algorithm"),
                        spec: try row.decode(String.self, forColumn: "spec"),
                        wrappedPrivateKey: [UInt8](try row.decode(Data.self, forColumn: "wrapped_private_key")),
                        createdAt: Date(timeIntervalSinceReferenceDate: try row.decode(Double.self, forColumn: "created_at")),
                        validTo: Date(timeIntervalSinceReferenceDate: try row.decode(Double.self, forColumn: "valid_to")))
                }
            }
        }
    }

    /// v5: keys of origin `EXTERNAL`, their imported material's expiration, and the wrapping
    /// keys of GetParametersForImport (each private key wrapped under the root key). Existing
    /// keys are `AWS_KMS`.
    ///
    /// The keys table is rebuilt, as in v4, so that the policy stays the last column.
    static func addImportedMaterial(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE keys_v5 (
                id TEXT NOT NULL PRIMARY KEY,
                state TEXT NOT NULL,
                deletion_date REAL,
                rotation_enabled INTEGER NOT NULL,
                next_rotation_date REAL,
                arn TEXT NOT NULL,
                account TEXT NOT NULL,
                description TEXT NOT NULL,
                created_at REAL NOT NULL,
                created_by TEXT NOT NULL,
                deletion_scheduled_by TEXT,
                deleted_at REAL,
                deleted_by TEXT,
                rotation_period_days INTEGER,
                on_demand_rotation_count INTEGER NOT NULL,
                current_version INTEGER NOT NULL,
                key_spec TEXT NOT NULL,
                origin TEXT NOT NULL,
                expiration_model TEXT,
                valid_to REAL,
                tags TEXT NOT NULL,
                policy TEXT NOT NULL
            ) STRICT;
            INSERT INTO keys_v5 (\(KeyRecord.columns))
                SELECT id, state, deletion_date, rotation_enabled, next_rotation_date, arn, account, description,
                    created_at, created_by, deletion_scheduled_by, deleted_at, deleted_by, rotation_period_days,
                    on_demand_rotation_count, current_version, key_spec, 'AWS_KMS', NULL, NULL, tags, policy
                FROM keys;
            DROP TABLE keys;
            ALTER TABLE keys_v5 RENAME TO keys;
            CREATE INDEX keys_by_state ON keys (state);

            CREATE TABLE wrapping_keys (
                id TEXT NOT NULL PRIMARY KEY,
                key_id TEXT NOT NULL,
                algorithm TEXT NOT NULL,
                spec TEXT NOT NULL,
                wrapped_private_key BLOB NOT NULL,
                created_at REAL NOT NULL,
                valid_to REAL NOT NULL
            ) STRICT;
            CREATE INDEX wrapping_keys_by_valid_to ON wrapping_keys (valid_to);
            """)
    }
}
