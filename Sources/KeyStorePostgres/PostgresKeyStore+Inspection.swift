import Foundation
import KeyService
import PostgresNIO

// Raw access for this package's tests, which check what no protocol method shows (the migration
// table) and drop the schemas they made, without importing postgres-nio themselves. `package`,
// so not part of the API.

extension PostgresKeyStore {
    /// The first column of every row `sql` returns, as text.
    package func inspect(_ sql: String) async throws -> [String] {
        try await read { connection, logger in
            try await connection.rows(PostgresQuery(unsafeSQL: sql), logger: logger).map {
                try $0.makeRandomAccess()[0].decode(String.self)
            }
        }
    }

    /// Runs `sql`, one statement, in its own transaction.
    package func execute(_ sql: String) async throws {
        try await transaction { connection, logger in
            _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
    }
}
