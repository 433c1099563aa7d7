import Foundation
import GRDB
import KeyService

// Raw access for this package's tests, which check what no protocol method shows (pragmas,
// the migration table) without importing GRDB themselves. `package`, so not part of the API.

extension SQLiteKeyStore {
    /// The first column of every row `sql` returns, as text, run on the writer connection (the
    /// one whose per-connection pragmas matter).
    package func inspect(_ sql: String) async throws -> [String] {
        do {
            return try await pool.writeWithoutTransaction { db in
                try String.fetchAll(db, sql: sql)
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// Runs `sql` on the writer connection, outside any transaction.
    package func execute(_ sql: String) async throws {
        do {
            try await pool.writeWithoutTransaction { db in
                try db.execute(sql: sql)
            }
        } catch {
            throw Self.translate(error, path: path)
        }
    }
}

extension SQLiteKeyStore {
    /// The identifiers of the schema's migrations, oldest first.
    package static var schemaMigrations: [String] { migrator.migrations }

    /// Creates a database at `path` with the schema of `migration` and the ones before it only,
    /// as an envseal of that schema would have left it, runs `statements` (rows of that
    /// schema), and closes it.
    package static func createDatabase(at path: String, upTo migration: String, then statements: String = "") throws {
        _ = try createFileIfMissing(at: path)
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try migrator.migrate(pool, upTo: migration)
            if !statements.isEmpty { try pool.write { try $0.execute(sql: statements) } }
            try pool.close()
        } catch {
            throw translate(error, path: path)
        }
    }
}
