import Foundation
import GRDB
import KeyService

// How each record maps to its row. Conversions are spelled out rather than left to GRDB's
// defaults, which would store a `UUID` as a 16-byte blob (breaking the protocol's uuidString
// order) and a `Date` as millisecond text (breaking `==` after a round trip).

extension Row {
    /// Decodes a record from this row; any failure becomes an ``UnreadableRecord`` of `table`,
    /// so no error message ever carries a stored value.
    func decodeRecord<Record>(table: String, _ decode: (Row) throws -> Record) throws -> Record {
        try UnreadableRecord.reading(table: table) { try decode(self) }
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

extension KeyRecord {
    /// The row, in ``columns`` order, under `storedID` (the row's id, normally `id`).
    func rowArguments(storedAs storedID: UUID) throws -> StatementArguments {
        let tags = try storedTags()
        return [
            storedID.uuidString, state.rawValue, deletionDate?.storedValue, rotationEnabled, nextRotationDate?.storedValue,
            arn, account, description, createdAt.storedValue, createdBy, deletionScheduledBy, deletedAt?.storedValue,
            deletedBy, rotationPeriodDays, onDemandRotationCount, currentVersion, keySpec.rawValue, origin.rawValue, expirationModel,
            validTo?.storedValue, tags, policy,
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
            key.keySpec = try row.value(KeySpecKind.self, "key_spec")
            key.origin = try row.value(KeyOrigin.self, "origin")
            key.expirationModel = try row.decode(String?.self, forColumn: "expiration_model")
            key.validTo = try row.optionalDate("valid_to")
            key.tags = try StoredJSON.tags(from: try row.decode(String.self, forColumn: "tags"))
            return key
        }
    }
}

extension KeyVersionRecord {
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
    func rowArguments() throws -> StatementArguments {
        let (operations, subset, equals) = try storedJSON()
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
    func rowArguments() throws -> StatementArguments {
        let context = try storedContext()
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

extension AuditChainHead {
    /// Decodes the head from a row of `sequence, hash`.
    init(row: Row) throws {
        self = try row.decodeRecord(table: "audit") { row in
            AuditChainHead(sequence: try row.decode(Int64.self, forColumn: "sequence"), hash: try row.bytes("hash"))
        }
    }
}
