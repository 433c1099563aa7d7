import Foundation
import KeyService
import Logging
import PostgresNIO

// How each record maps to its row; the columns and stored forms are KeyService's (StoredColumns.swift),
// shared with the SQLite store.

/// The cells of one row, by column name.
struct StoredRow {
    private let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) { cells = row.makeRandomAccess() }

    /// Decodes a record from `row`; any failure becomes an ``UnreadableRecord`` of `table`, so no
    /// error message ever carries a stored value.
    static func decode<Record>(_ row: PostgresRow, table: String, _ decode: (StoredRow) throws -> Record) throws -> Record {
        try UnreadableRecord.reading(table: table) { try decode(StoredRow(row)) }
    }

    func string(_ column: String) throws -> String { try cells[column].decode(String.self) }
    func optionalString(_ column: String) throws -> String? { try cells[column].decode(String?.self) }
    func bool(_ column: String) throws -> Bool { try cells[column].decode(Bool.self) }
    func int64(_ column: String) throws -> Int64 { try cells[column].decode(Int64.self) }
    func optionalInt(_ column: String) throws -> Int? { try cells[column].decode(Int64?.self).map { Int($0) } }
    func bytes(_ column: String) throws -> [UInt8] { [UInt8](try cells[column].decode(Data.self)) }

    func uint32(_ column: String) throws -> UInt32 {
        guard let value = UInt32(exactly: try int64(column)) else { throw InvalidStoredValue() }
        return value
    }

    func date(_ column: String) throws -> Date {
        Date(timeIntervalSinceReferenceDate: try cells[column].decode(Double.self))
    }

    func optionalDate(_ column: String) throws -> Date? {
        try cells[column].decode(Double?.self).map(Date.init(timeIntervalSinceReferenceDate:))
    }

    func uuid(_ column: String) throws -> UUID {
        guard let uuid = UUID(uuidString: try string(column)) else { throw InvalidStoredValue() }
        return uuid
    }

    func value<Value: RawRepresentable>(_ type: Value.Type, _ column: String) throws -> Value where Value.RawValue == String {
        guard let value = Value(rawValue: try string(column)) else { throw InvalidStoredValue() }
        return value
    }
}

extension KeyRecord {
    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "keys") { row in
            var key = KeyRecord(
                id: try row.uuid("id"), arn: try row.string("arn"), account: try row.string("account"),
                description: try row.string("description"), createdAt: try row.date("created_at"),
                createdBy: try row.string("created_by"), state: try row.value(KeyState.self, "state"),
                policy: try row.string("policy"), currentVersion: try row.uint32("current_version"))
            key.deletionDate = try row.optionalDate("deletion_date")
            key.deletionScheduledBy = try row.optionalString("deletion_scheduled_by")
            key.deletedAt = try row.optionalDate("deleted_at")
            key.deletedBy = try row.optionalString("deleted_by")
            key.rotationEnabled = try row.bool("rotation_enabled")
            key.rotationPeriodDays = try row.optionalInt("rotation_period_days")
            key.nextRotationDate = try row.optionalDate("next_rotation_date")
            key.onDemandRotationCount = Int(try row.int64("on_demand_rotation_count"))
            key.keySpec = try row.value(KeySpecKind.self, "key_spec")
            key.origin = try row.value(KeyOrigin.self, "origin")
            key.expirationModel = try row.optionalString("expiration_model")
            key.validTo = try row.optionalDate("valid_to")
            key.tags = try StoredJSON.tags(from: try row.string("tags"))
            return key
        }
    }
}

extension KeyVersionRecord {
    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "key_versions") { row in
            KeyVersionRecord(
                keyID: try row.uuid("key_id"), version: try row.uint32("version"), wrappedMaterial: try row.bytes("wrapped_material"),
                materialID: try row.string("material_id"), createdAt: try row.date("created_at"),
                rotationType: try row.value(RotationType.self, "rotation_type"))
        }
    }
}

extension AliasRecord {
    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "aliases") { row in
            AliasRecord(
                name: try row.string("name"), keyID: try row.uuid("key_id"), createdAt: try row.date("created_at"),
                updatedAt: try row.date("updated_at"))
        }
    }
}

extension GrantRecord {
    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "grants") { row in
            GrantRecord(
                id: try row.string("id"), token: try row.string("token"), keyID: try row.uuid("key_id"),
                name: try row.optionalString("name"), granteePrincipal: try row.string("grantee_principal"),
                retiringPrincipal: try row.optionalString("retiring_principal"),
                operations: try StoredJSON.decode([String].self, from: try row.string("operations")),
                encryptionContextSubset: try StoredJSON.decodeIfPresent(
                    [String: String].self, from: try row.optionalString("encryption_context_subset")),
                encryptionContextEquals: try StoredJSON.decodeIfPresent(
                    [String: String].self, from: try row.optionalString("encryption_context_equals")),
                issuingAccount: try row.string("issuing_account"), createdAt: try row.date("created_at"),
                createdBy: try row.string("created_by"), granteePrincipalID: try row.optionalString("grantee_principal_id"),
                retiringPrincipalID: try row.optionalString("retiring_principal_id"))
        }
    }
}

extension PrincipalRecord {
    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "principals") { row in
            PrincipalRecord(
                accessKeyID: try row.string("access_key_id"), name: try row.string("name"), arn: try row.string("arn"),
                account: try row.string("account"), wrappedSecret: try row.bytes("wrapped_secret"),
                createdAt: try row.date("created_at"), isAdmin: try row.bool("is_admin"), isEnabled: try row.bool("enabled"),
                uniqueID: try row.string("unique_id"), identityPolicy: try row.optionalString("identity_policy"))
        }
    }
}

extension AuditRecord {
    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "audit") { row in
            AuditRecord(
                sequence: try row.int64("sequence"), time: try row.date("time"), principal: try row.string("principal"),
                operation: try row.string("operation"), keyARN: try row.optionalString("key_arn"),
                encryptionContext: try StoredJSON.decodeIfPresent([String: String].self, from: try row.optionalString("encryption_context")),
                outcome: try row.string("outcome"), requestID: try row.string("request_id"),
                previousHash: try row.bytes("previous_hash"), hash: try row.bytes("hash"))
        }
    }
}

extension AuditChainHead {
    /// Decodes the head from a row of `sequence, hash`.
    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "audit") { row in
            AuditChainHead(sequence: try row.int64("sequence"), hash: try row.bytes("hash"))
        }
    }
}

extension PostgresConnection {
    /// Every row of `query`, collected.
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await self.query(query, logger: logger).collect()
    }

    /// The number of rows an `UPDATE … RETURNING 1` or `DELETE … RETURNING 1` changed
    /// (postgres-nio's async API does not expose the command tag's count).
    func changes(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        try await rows(query, logger: logger).count
    }
}
