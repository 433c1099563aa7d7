package import Foundation
package import KeyService
import Logging
import PostgresNIO

extension PostgresKeyStore {
    package func updateMaterial(
        keyID: UUID, _ body: @Sendable (inout KeyRecord, inout KeyVersionRecord) throws -> Void
    ) async throws -> KeyRecord {
        try await transaction { connection, logger in
            // The key's row lock serializes imports and deletions of its material.
            var key = try await Self.existingKey(connection, id: keyID, logger: logger)
            guard var version = try await connection.rows(
                """
                SELECT \(unescaped: KeyVersionRecord.columns) FROM key_versions
                WHERE key_id = \(keyID.uuidString) AND version = \(Int64(key.currentVersion))
                """, logger: logger
            ).first.map(KeyVersionRecord.init(row:)) else {
                throw KeyStoreError(.notFound, "version \(key.currentVersion) of key \(keyID) not found")
            }
            try body(&key, &version)
            try await Self.storeKey(connection, key, as: keyID, logger: logger)
            try await connection.query(
                """
                UPDATE key_versions SET wrapped_material = \(Data(version.wrappedMaterial)), material_id = \(version.materialID),
                    created_at = \(version.createdAt.storedValue)
                WHERE key_id = \(keyID.uuidString) AND version = \(Int64(key.currentVersion))
                """, logger: logger)
            return key
        }
    }

    package func insertWrappingKey(_ record: WrappingKeyRecord, removingExpiredBefore expiredBefore: Date) async throws {
        try await transaction(conflict: "wrapping key \(record.id) exists") { connection, logger in
            try await connection.query("DELETE FROM wrapping_keys WHERE valid_to < \(expiredBefore.storedValue)", logger: logger)
            try await connection.query(
                """
                INSERT INTO wrapping_keys (\(unescaped: WrappingKeyRecord.columns)) VALUES (
                    \(record.id.uuidString), \(record.keyID.uuidString), \(record.algorithm), \(record.spec),
                    \(Data(record.wrappedPrivateKey)), \(record.createdAt.storedValue), \(record.validTo.storedValue))
                """, logger: logger)
        }
    }

    package func wrappingKey(id: UUID) async throws -> WrappingKeyRecord? {
        try await read { connection, logger in
            try await connection.rows(
                "SELECT \(unescaped: WrappingKeyRecord.columns) FROM wrapping_keys WHERE id = \(id.uuidString)", logger: logger
            ).first.map { row in
                try StoredRow.decode(row, table: "wrapping_keys") { row in
                    WrappingKeyRecord(
                        id: try row.uuid("id"), keyID: try row.uuid("key_id"), algorithm: try row.string("algorithm"),
                        spec: try row.string("spec"), wrappedPrivateKey: try row.bytes("wrapped_private_key"),
                        createdAt: try row.date("created_at"), validTo: try row.date("valid_to"))
                }
            }
        }
    }
}
