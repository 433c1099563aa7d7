import Foundation
import GRDB
import KeyService

// How each record maps to its row. Conversions are spelled out rather than left to GRDB's
// defaults, which would store a `UUID` as a 16-byte blob (breaking the protocol's uuidString
// order) and a `Date` as millisecond text (breaking `==` after a round trip).

extension Date {
    /// The stored form: seconds since 2001-01-01, the `Double` the `Date` holds, so it is exact.
    var storedValue: Double { timeIntervalSinceReferenceDate }
}

/// A stored value outside its type's range (an id that is no UUID, an unknown enum case).
private struct InvalidStoredValue: Error {}

extension Row {
    /// Decodes a record from this row; any failure becomes an ``UnreadableRecord`` of `table`,
    /// so no error message ever carries a stored value.
    func decodeRecord<Record>(table: String, _ decode: (Row) throws -> Record) throws -> Record {
        do {
            return try decode(self)
        } catch {
            throw UnreadableRecord(table: table)
        }
    }

    fileprivate func uuid(_ column: String) throws -> UUID {
        guard let uuid = UUID(uuidString: try decode(String.self, forColumn: column)) else {
            throw InvalidStoredValue()
        }
        return uuid
    }

    fileprivate func date(_ column: String) throws -> Date {
        Date(timeIntervalSinceReferenceDate: try decode(Double.self, forColumn: column))
    }

    fileprivate func optionalDate(_ column: String) throws -> Date? {
        try decode(Double?.self, forColumn: column).map(Date.init(timeIntervalSinceReferenceDate:))
    }

    fileprivate func bytes(_ column: String) throws -> [UInt8] {
        [UInt8](try decode(Data.self, forColumn: column))
    }

    fileprivate func value<Value: RawRepresentable>(_ type: Value.Type, _ column: String) throws -> Value
    where Value.RawValue == String {
        guard let value = Value(rawValue: try decode(String.self, forColumn: column)) else {
            throw InvalidStoredValue()
        }
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

    /// The row, in ``columns`` order, under `storedID` (the row's id, normally `id`).
    func rowArguments(storedAs storedID: UUID) throws -> StatementArguments {
        let tags: String
        do {
            tags = try StoredJSON.encode(self.tags)
        } catch {
            throw KeyStoreError(.unavailable, "the tags of key \(id) cannot be encoded")
        }
        return [
            storedID.uuidString, state.rawValue, deletionDate?.storedValue, rotationEnabled, nextRotationDate?.storedValue,
            arn, account, description, createdAt.storedValue, createdBy, deletionScheduledBy, deletedAt?.storedValue,
            deletedBy, rotationPeriodDays, onDemandRotationCount, currentVersion, tags, policy,
        ]
    }

    init(row: Row) throws {
        self = try row.decodeRecord(table: "keys") { row in
            var key = KeyRecord(
                id: try row.uuid("id"),
                arn: try row.decode(String.self, forColumn: "arn"),
                account: try row.decode(String.self, forColumn: "account"),
                description: try row.decode(String.self, forColumn: "description"),
                createdAt: try row.date("created_at"),
                createdBy: try row.decode(String.self, forColumn: "created_by"),
                state: try row.value(KeyState.self, "state"),
                policy: try row.decode(String.self, forColumn: "policy"),
                currentVersion: try row.decode(UInt32.self, forColumn: "current_version"))
            key.deletionDate = try row.optionalDate("deletion_date")
            key.deletionScheduledBy = try row.decode(String?.self, forColumn: "deletion_scheduled_by")
            key.deletedAt = try row.optionalDate("deleted_at")
            key.deletedBy = try row.decode(String?.self, forColumn: "deleted_by")
            key.rotationEnabled = try row.decode(Bool.self, forColumn: "rotation_enabled")
            key.rotationPeriodDays = try row.decode(Int?.self, forColumn: "rotation_period_days")
            key.nextRotationDate = try row.optionalDate("next_rotation_date")
            key.onDemandRotationCount = try row.decode(Int.self, forColumn: "on_demand_rotation_count")
            let tags = try row.decode(String.self, forColumn: "tags")
            // Most keys have no tags: skip the decoder for them.
            key.tags = tags == "[]" ? [] : try StoredJSON.decode([KeyTag].self, from: tags)
            return key
        }
    }
}

extension KeyVersionRecord {
    static let columns = "key_id, version, wrapped_material, material_id, created_at, rotation_type"

    var rowArguments: StatementArguments {
        [keyID.uuidString, version, Data(wrappedMaterial), materialID, createdAt.storedValue, rotationType.rawValue]
    }

    init(row: Row) throws {
        self = try row.decodeRecord(table: "key_versions") { row in
            KeyVersionRecord(
                keyID: try row.uuid("key_id"),
                version: try row.decode(UInt32.self, forColumn: "version"),
                wrappedMaterial: try row.bytes("wrapped_material"),
                materialID: try row.decode(String.self, forColumn: "material_id"),
                createdAt: try row.date("created_at"),
                rotationType: try row.value(RotationType.self, "rotation_type"))
        }
    }
}

extension AliasRecord {
    static let columns = "name, key_id, created_at, updated_at"

    var rowArguments: StatementArguments {
        [name, keyID.uuidString, createdAt.storedValue, updatedAt.storedValue]
    }

    init(row: Row) throws {
        self = try row.decodeRecord(table: "aliases") { row in
            AliasRecord(
                name: try row.decode(String.self, forColumn: "name"),
                keyID: try row.uuid("key_id"),
                createdAt: try row.date("created_at"),
                updatedAt: try row.date("updated_at"))
        }
    }
}

extension GrantRecord {
    /// Every column but `position`, which the insert computes.
    static let columns = """
        id, token, key_id, name, grantee_principal, retiring_principal, operations, \
        encryption_context_subset, encryption_context_equals, issuing_account, created_at, created_by, \
        grantee_principal_id, retiring_principal_id
        """

    func rowArguments() throws -> StatementArguments {
        let operations: String
        let subset: String?
        let equals: String?
        do {
            operations = try StoredJSON.encode(self.operations)
            subset = try StoredJSON.encodeIfPresent(encryptionContextSubset)
            equals = try StoredJSON.encodeIfPresent(encryptionContextEquals)
        } catch {
            throw KeyStoreError(.unavailable, "grant \(id) cannot be encoded")
        }
        return [
            id, token, keyID.uuidString, name, granteePrincipal, retiringPrincipal, operations,
            subset, equals, issuingAccount, createdAt.storedValue, createdBy, granteePrincipalID, retiringPrincipalID,
        ]
    }

    init(row: Row) throws {
        self = try row.decodeRecord(table: "grants") { row in
            GrantRecord(
                id: try row.decode(String.self, forColumn: "id"),
                token: try row.decode(String.self, forColumn: "token"),
                keyID: try row.uuid("key_id"),
                name: try row.decode(String?.self, forColumn: "name"),
                granteePrincipal: try row.decode(String.self, forColumn: "grantee_principal"),
                retiringPrincipal: try row.decode(String?.self, forColumn: "retiring_principal"),
                operations: try StoredJSON.decode([String].self, from: try row.decode(String.self, forColumn: "operations")),
                encryptionContextSubset: try StoredJSON.decodeIfPresent(
                    [String: String].self, from: try row.decode(String?.self, forColumn: "encryption_context_subset")),
                encryptionContextEquals: try StoredJSON.decodeIfPresent(
                    [String: String].self, from: try row.decode(String?.self, forColumn: "encryption_context_equals")),
                issuingAccount: try row.decode(String.self, forColumn: "issuing_account"),
                createdAt: try row.date("created_at"),
                createdBy: try row.decode(String.self, forColumn: "created_by"),
                granteePrincipalID: try row.decode(String?.self, forColumn: "grantee_principal_id"),
                retiringPrincipalID: try row.decode(String?.self, forColumn: "retiring_principal_id"))
        }
    }
}

extension PrincipalRecord {
    static let columns = "access_key_id, name, arn, account, wrapped_secret, created_at, is_admin, enabled, unique_id, identity_policy"

    var rowArguments: StatementArguments {
        [accessKeyID, name, arn, account, Data(wrappedSecret), createdAt.storedValue, isAdmin, isEnabled, uniqueID, identityPolicy]
    }

    init(row: Row) throws {
        self = try row.decodeRecord(table: "principals") { row in
            PrincipalRecord(
                accessKeyID: try row.decode(String.self, forColumn: "access_key_id"),
                name: try row.decode(String.self, forColumn: "name"),
                arn: try row.decode(String.self, forColumn: "arn"),
                account: try row.decode(String.self, forColumn: "account"),
                wrappedSecret: try row.bytes("wrapped_secret"),
                createdAt: try row.date("created_at"),
                isAdmin: try row.decode(Bool.self, forColumn: "is_admin"),
                isEnabled: try row.decode(Bool.self, forColumn: "enabled"),
                uniqueID: try row.decode(String.self, forColumn: "unique_id"),
                identityPolicy: try row.decode(String?.self, forColumn: "identity_policy"))
        }
    }
}

extension AuditRecord {
    static let columns = """
        sequence, time, principal, operation, key_arn, encryption_context, outcome, request_id, \
        previous_hash, hash
        """

    func rowArguments() throws -> StatementArguments {
        let context: String?
        do {
            context = try StoredJSON.encodeIfPresent(encryptionContext)
        } catch {
            throw KeyStoreError(.unavailable, "audit record \(sequence) cannot be encoded")
        }
        return [
            sequence, time.storedValue, principal, operation, keyARN, context, outcome, requestID,
            Data(previousHash), Data(hash),
        ]
    }

    init(row: Row) throws {
        self = try row.decodeRecord(table: "audit") { row in
            AuditRecord(
                sequence: try row.decode(Int64.self, forColumn: "sequence"),
                time: try row.date("time"),
                principal: try row.decode(String.self, forColumn: "principal"),
                operation: try row.decode(String.self, forColumn: "operation"),
                keyARN: try row.decode(String?.self, forColumn: "key_arn"),
                encryptionContext: try StoredJSON.decodeIfPresent(
                    [String: String].self, from: try row.decode(String?.self, forColumn: "encryption_context")),
                outcome: try row.decode(String.self, forColumn: "outcome"),
                requestID: try row.decode(String.self, forColumn: "request_id"),
                previousHash: try row.bytes("previous_hash"),
                hash: try row.bytes("hash"))
        }
    }
}
