package import Foundation
import GRDB
package import KeyService

// Metadata, aliases, grants and principals: plain rows, one statement or two per transaction.

extension SQLiteKeyStore {
    package func metadata(_ name: String) async throws -> [UInt8]? {
        try await read { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM metadata WHERE name = ?"), arguments: [name])
                .map { [UInt8]($0) }
        }
    }

    package func setMetadataIfAbsent(_ name: String, _ value: [UInt8]) async throws -> [UInt8] {
        try await write { db in
            try db.cachedStatement(sql: "INSERT INTO metadata (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
                .execute(arguments: [name, Data(value)])
            let stored = try Data.fetchOne(db.cachedStatement(sql: "SELECT value FROM metadata WHERE name = ?"), arguments: [name])
            return stored.map { [UInt8]($0) } ?? value
        }
    }

    // MARK: - Aliases

    package func insertAlias(_ alias: AliasRecord) async throws {
        try await write(conflict: "alias \(alias.name) exists") { db in
            try db.cachedStatement(sql: "INSERT INTO aliases (\(AliasRecord.columns)) VALUES (?, ?, ?, ?)")
                .execute(arguments: alias.rowArguments)
        }
    }

    package func alias(named name: String) async throws -> AliasRecord? {
        try await read { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT \(AliasRecord.columns) FROM aliases WHERE name = ?"), arguments: [name])
                .map(AliasRecord.init(row:))
        }
    }

    package func updateAlias(named name: String, keyID: UUID, at date: Date) async throws {
        try await write { db in
            try db.cachedStatement(sql: "UPDATE aliases SET key_id = ?, updated_at = ? WHERE name = ?")
                .execute(arguments: [keyID.uuidString, date.storedValue, name])
            guard db.changesCount > 0 else { throw KeyStoreError(.notFound, "alias \(name) not found") }
        }
    }

    package func deleteAlias(named name: String) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(sql: "DELETE FROM aliases WHERE name = ?").execute(arguments: [name])
            return db.changesCount > 0
        }
    }

    package func aliases(keyID: UUID?, after marker: String?, limit: Int) async throws -> [AliasRecord] {
        try await read { db in
            // Two statements rather than `key_id = ? OR ? IS NULL`, so each can use its index.
            // Every name sorts after "", so no marker is the empty string.
            let rows: [Row]
            if let keyID {
                rows = try Row.fetchAll(
                    db.cachedStatement(sql: """
                        SELECT \(AliasRecord.columns) FROM aliases WHERE key_id = ? AND name > ? ORDER BY name LIMIT ?
                        """),
                    arguments: [keyID.uuidString, marker ?? "", max(limit, 0)])
            } else {
                rows = try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT \(AliasRecord.columns) FROM aliases WHERE name > ? ORDER BY name LIMIT ?"),
                    arguments: [marker ?? "", max(limit, 0)])
            }
            return try rows.map(AliasRecord.init(row:))
        }
    }

    // MARK: - Grants

    package func insertGrant(_ grant: GrantRecord) async throws {
        try await write(conflict: "grant exists") { db in
            // `position` is one more than the largest, so ordering by it is insertion order.
            try db.cachedStatement(sql: """
                INSERT INTO grants (position, \(GrantRecord.columns))
                VALUES ((SELECT coalesce(max(position), 0) + 1 FROM grants), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: try grant.rowArguments())
        }
    }

    package func grants(keyID: UUID) async throws -> [GrantRecord] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(GrantRecord.columns) FROM grants WHERE key_id = ? ORDER BY position"),
                arguments: [keyID.uuidString]
            ).map(GrantRecord.init(row:))
        }
    }

    package func grants(retiringPrincipal: String) async throws -> [GrantRecord] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(GrantRecord.columns) FROM grants WHERE retiring_principal = ? ORDER BY position"),
                arguments: [retiringPrincipal]
            ).map(GrantRecord.init(row:))
        }
    }

    package func deleteGrant(id: String) async throws -> Bool {
        try await write { db in
            try db.cachedStatement(sql: "DELETE FROM grants WHERE id = ?").execute(arguments: [id])
            return db.changesCount > 0
        }
    }

    // MARK: - Principals

    package func insertPrincipal(_ principal: PrincipalRecord) async throws {
        try await write(conflict: "principal \(principal.name) exists") { db in
            try db.cachedStatement(sql: "INSERT INTO principals (\(PrincipalRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                .execute(arguments: principal.rowArguments)
        }
    }

    package func principal(accessKeyID: String) async throws -> PrincipalRecord? {
        try await read { db in
            try Row.fetchOne(
                db.cachedStatement(sql: "SELECT \(PrincipalRecord.columns) FROM principals WHERE access_key_id = ?"),
                arguments: [accessKeyID]
            ).map(PrincipalRecord.init(row:))
        }
    }

    package func principals() async throws -> [PrincipalRecord] {
        try await read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(PrincipalRecord.columns) FROM principals ORDER BY name"))
                .map(PrincipalRecord.init(row:))
        }
    }

    package func setPrincipalEnabled(accessKeyID: String, _ enabled: Bool) async throws {
        try await write { db in
            try db.cachedStatement(sql: "UPDATE principals SET enabled = ? WHERE access_key_id = ?").execute(arguments: [enabled, accessKeyID])
            guard db.changesCount == 1 else { throw KeyStoreError(.notFound, "principal \(accessKeyID) not found") }
        }
    }

    package func setPrincipalPolicy(accessKeyID: String, _ policy: String?) async throws {
        try await write { db in
            try db.cachedStatement(sql: "UPDATE principals SET identity_policy = ? WHERE access_key_id = ?").execute(arguments: [policy, accessKeyID])
            guard db.changesCount == 1 else { throw KeyStoreError(.notFound, "principal \(accessKeyID) not found") }
        }
    }

    package func deletePrincipal(accessKeyID: String) async throws -> Bool {
        try await write { db in
            guard let uniqueID = try String.fetchOne(
                db.cachedStatement(sql: "SELECT unique_id FROM principals WHERE access_key_id = ?"), arguments: [accessKeyID])
            else { return false }
            try db.cachedStatement(sql: "DELETE FROM grants WHERE grantee_principal_id = ?").execute(arguments: [uniqueID])
            try db.cachedStatement(sql: "UPDATE grants SET retiring_principal = retiring_principal_id WHERE retiring_principal_id = ?")
                .execute(arguments: [uniqueID])
            try db.cachedStatement(sql: "DELETE FROM principals WHERE access_key_id = ?").execute(arguments: [accessKeyID])
            return db.changesCount == 1
        }
    }
}
