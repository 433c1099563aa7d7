import Foundation
import KeyService
import Logging
import PostgresNIO

// How each record maps to its row: the same columns and stored forms as the SQLite store, so
// the two schemas read alike and a store can be copied from one to the other.

extension Date {
    /// The stored form: seconds since 2001-01-01, the `Double` the `Date` holds, so it is exact.
    var storedValue: Double { timeIntervalSinceReferenceDate }
}

/// A stored value outside its type's range (an id that is no UUID, an unknown enum case).
private struct InvalidStoredValue: Error {}

/// The cells of one row, by column name.
struct StoredRow {
    private let cells: PostgresRandomAccessRow

    init(_ row: PostgresRow) { cells = row.makeRandomAccess() }

    /// Decodes a record from `row`; any failure becomes an ``UnreadableRecord`` of `table`, so no
    /// error message ever carries a stored value.
    static func decode<Record>(_ row: PostgresRow, table: String, _ decode: (StoredRow) throws -> Record) throws -> Record {
        do {
            return try decode(StoredRow(row))
        } catch {
            throw UnreadableRecord(table: table)
        }
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

/// The JSON text of the columns holding lists and maps: sorted keys, so equal values give equal
/// text.
enum StoredJSON {
    static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<Value: Decodable>(_ type: Value.Type, from text: String) throws -> Value {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func encodeIfPresent(_ value: (some Encodable)?) throws -> String? {
        guard let value else { return nil }
        return try encode(value)
    }

    static func decodeIfPresent<Value: Decodable>(_ type: Value.Type, from text: String?) throws -> Value? {
        try text.map { try decode(type, from: $0) }
    }
}

extension KeyRecord {
    static let columns = """
        id, state, deletion_date, rotation_enabled, next_rotation_date, arn, account, description, \
        created_at, created_by, deletion_scheduled_by, deleted_at, deleted_by, rotation_period_days, \
        on_demand_rotation_count, current_version, tags, policy
        """

    /// The tags' stored JSON.
    func storedTags() throws -> String {
        do {
            return try StoredJSON.encode(tags)
        } catch {
            throw KeyStoreError(.unavailable, "the tags of key \(id) cannot be encoded")
        }
    }

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
            let tags = try row.string("tags")
            key.tags = tags == "[]" ? [] : try StoredJSON.decode([KeyTag].self, from: tags)
            return key
        }
    }
}

extension KeyVersionRecord {
    static let columns = "key_id, version, wrapped_material, material_id, created_at, rotation_type"

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
    static let columns = "name, key_id, created_at, updated_at"

    init(row: PostgresRow) throws {
        self = try StoredRow.decode(row, table: "aliases") { row in
            AliasRecord(
                name: try row.string("name"), keyID: try row.uuid("key_id"), createdAt: try row.date("created_at"),
                updatedAt: try row.date("updated_at"))
        }
    }
}

extension GrantRecord {
    /// Every column but `position`, which the database numbers.
    static let columns = """
        id, token, key_id, name, grantee_principal, retiring_principal, operations, \
        encryption_context_subset, encryption_context_equals, issuing_account, created_at, created_by, \
        grantee_principal_id, retiring_principal_id
        """

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
    static let columns = "access_key_id, name, arn, account, wrapped_secret, created_at, is_admin, enabled, unique_id, identity_policy"

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
    static let columns = """
        sequence, time, principal, operation, key_arn, encryption_context, outcome, request_id, \
        previous_hash, hash
        """

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
