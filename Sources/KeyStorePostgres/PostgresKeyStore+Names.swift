package import Foundation
package import KeyService
import PostgresNIO

// Metadata, aliases, grants and principals: plain rows, one statement or two per transaction.

extension PostgresKeyStore {
    package func metadata(_ name: String) async throws -> [UInt8]? {
        try await read { connection, logger in
            try await connection.rows("SELECT value FROM metadata WHERE name = \(name)", logger: logger)
                .first.map { [UInt8](try $0.makeRandomAccess()[0].decode(Data.self)) }
        }
    }

    package func setMetadataIfAbsent(_ name: String, _ value: [UInt8]) async throws -> [UInt8] {
        try await transaction { connection, logger in
            // Under READ COMMITTED a concurrent insert of the same name makes this one wait, then
            // do nothing; the SELECT, a new snapshot, sees the winner's value.
            try await connection.query(
                "INSERT INTO metadata (name, value) VALUES (\(name), \(Data(value))) ON CONFLICT (name) DO NOTHING", logger: logger)
            let stored = try await connection.rows("SELECT value FROM metadata WHERE name = \(name)", logger: logger)
                .first.map { [UInt8](try $0.makeRandomAccess()[0].decode(Data.self)) }
            return stored ?? value
        }
    }

    // MARK: - Aliases

    package func insertAlias(_ alias: AliasRecord) async throws {
        try await transaction(conflict: "alias \(alias.name) exists") { connection, logger in
            _ = try await connection.query(
                """
                INSERT INTO aliases (\(unescaped: AliasRecord.columns)) VALUES (
                    \(alias.name), \(alias.keyID.uuidString), \(alias.createdAt.storedValue), \(alias.updatedAt.storedValue))
                """, logger: logger)
        }
    }

    package func alias(named name: String) async throws -> AliasRecord? {
        try await read { connection, logger in
            try await connection.rows("SELECT \(unescaped: AliasRecord.columns) FROM aliases WHERE name = \(name)", logger: logger)
                .first.map(AliasRecord.init(row:))
        }
    }

    package func updateAlias(named name: String, keyID: UUID, at date: Date) async throws {
        try await transaction { connection, logger in
            let changed = try await connection.changes(
                """
                UPDATE aliases SET key_id = \(keyID.uuidString), updated_at = \(date.storedValue) WHERE name = \(name) RETURNING 1
                """, logger: logger)
            guard changed > 0 else { throw KeyStoreError(.notFound, "alias \(name) not found") }
        }
    }

    package func deleteAlias(named name: String) async throws -> Bool {
        try await transaction { connection, logger in
            try await connection.changes("DELETE FROM aliases WHERE name = \(name) RETURNING 1", logger: logger) > 0
        }
    }

    package func aliases(keyID: UUID?, after marker: String?, limit: Int) async throws -> [AliasRecord] {
        try await read { connection, logger in
            // Every name sorts after "", so no marker is the empty string.
            let rows: [PostgresRow]
            if let keyID {
                rows = try await connection.rows(
                    """
                    SELECT \(unescaped: AliasRecord.columns) FROM aliases
                    WHERE key_id = \(keyID.uuidString) AND name > \(marker ?? "") ORDER BY name LIMIT \(max(limit, 0))
                    """, logger: logger)
            } else {
                rows = try await connection.rows(
                    """
                    SELECT \(unescaped: AliasRecord.columns) FROM aliases WHERE name > \(marker ?? "") ORDER BY name LIMIT \(max(limit, 0))
                    """, logger: logger)
            }
            return try rows.map(AliasRecord.init(row:))
        }
    }

    // MARK: - Grants

    package func insertGrant(_ grant: GrantRecord) async throws {
        let (operations, subset, equals) = try grant.storedJSON()
        try await transaction(conflict: "grant exists") { connection, logger in
            _ = try await connection.query(
                """
                INSERT INTO grants (\(unescaped: GrantRecord.columns)) VALUES (
                    \(grant.id), \(grant.token), \(grant.keyID.uuidString), \(grant.name), \(grant.granteePrincipal),
                    \(grant.retiringPrincipal), \(operations), \(subset), \(equals), \(grant.issuingAccount),
                    \(grant.createdAt.storedValue), \(grant.createdBy), \(grant.granteePrincipalID), \(grant.retiringPrincipalID))
                """, logger: logger)
        }
    }

    package func grants(keyID: UUID) async throws -> [GrantRecord] {
        try await read { connection, logger in
            try await connection.rows(
                "SELECT \(unescaped: GrantRecord.columns) FROM grants WHERE key_id = \(keyID.uuidString) ORDER BY position", logger: logger
            ).map(GrantRecord.init(row:))
        }
    }

    package func grants(retiringPrincipal: String) async throws -> [GrantRecord] {
        try await read { connection, logger in
            try await connection.rows(
                "SELECT \(unescaped: GrantRecord.columns) FROM grants WHERE retiring_principal = \(retiringPrincipal) ORDER BY position",
                logger: logger
            ).map(GrantRecord.init(row:))
        }
    }

    package func deleteGrant(id: String) async throws -> Bool {
        try await transaction { connection, logger in
            try await connection.changes("DELETE FROM grants WHERE id = \(id) RETURNING 1", logger: logger) > 0
        }
    }

    // MARK: - Principals

    package func insertPrincipal(_ principal: PrincipalRecord) async throws {
        try await transaction(conflict: "principal \(principal.name) exists") { connection, logger in
            _ = try await connection.query(
                """
                INSERT INTO principals (\(unescaped: PrincipalRecord.columns)) VALUES (
                    \(principal.accessKeyID), \(principal.name), \(principal.arn), \(principal.account),
                    \(Data(principal.wrappedSecret)), \(principal.createdAt.storedValue), \(principal.isAdmin), \(principal.isEnabled),
                    \(principal.uniqueID), \(principal.identityPolicy))
                """, logger: logger)
        }
    }

    package func principal(accessKeyID: String) async throws -> PrincipalRecord? {
        try await read { connection, logger in
            try await connection.rows(
                "SELECT \(unescaped: PrincipalRecord.columns) FROM principals WHERE access_key_id = \(accessKeyID)", logger: logger
            ).first.map(PrincipalRecord.init(row:))
        }
    }

    package func principals() async throws -> [PrincipalRecord] {
        try await read { connection, logger in
            try await connection.rows("SELECT \(unescaped: PrincipalRecord.columns) FROM principals ORDER BY name", logger: logger)
                .map(PrincipalRecord.init(row:))
        }
    }

    package func setPrincipalEnabled(accessKeyID: String, _ enabled: Bool) async throws {
        try await transaction { connection, logger in
            let changed = try await connection.changes(
                "UPDATE principals SET enabled = \(enabled) WHERE access_key_id = \(accessKeyID) RETURNING 1", logger: logger)
            guard changed == 1 else { throw KeyStoreError(.notFound, "principal \(accessKeyID) not found") }
        }
    }

    package func setPrincipalPolicy(accessKeyID: String, _ policy: String?) async throws {
        try await transaction { connection, logger in
            let changed = try await connection.changes(
                "UPDATE principals SET identity_policy = \(policy) WHERE access_key_id = \(accessKeyID) RETURNING 1", logger: logger)
            guard changed == 1 else { throw KeyStoreError(.notFound, "principal \(accessKeyID) not found") }
        }
    }

    package func deletePrincipal(accessKeyID: String) async throws -> Bool {
        try await transaction { connection, logger in
            // A grant bound to this id and inserted after this transaction can never be used: ids are not reused.
            guard let row = try await connection.rows(
                "DELETE FROM principals WHERE access_key_id = \(accessKeyID) RETURNING unique_id", logger: logger).first
            else { return false }
            let uniqueID = try row.decode(String.self)
            _ = try await connection.query("DELETE FROM grants WHERE grantee_principal_id = \(uniqueID)", logger: logger)
            _ = try await connection.query(
                "UPDATE grants SET retiring_principal = retiring_principal_id WHERE retiring_principal_id = \(uniqueID)", logger: logger)
            return true
        }
    }
}
