import Foundation
package import KeyService
import PostgresNIO

extension PostgresKeyStore {
    /// Appends the records `body` makes from the chain's head, in one transaction that first
    /// locks the audit table against other appenders.
    ///
    /// `SHARE ROW EXCLUSIVE` conflicts with itself and with writes, not with `SELECT`: appenders
    /// on every server wait for this one, each then reads the head the previous one left (only
    /// the last row's sequence and hash), and the chain never forks; readers are not held up.
    /// Records whose sequence does not continue the head's are refused with `.alreadyExists`.
    package func appendAudit(batch body: @Sendable (AuditChainHead?) throws -> [AuditRecord]) async throws -> [AuditRecord] {
        try await transaction(conflict: "audit record exists") { connection, logger in
            try await connection.query("LOCK TABLE audit IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            let head = try await connection.rows(
                "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1", logger: logger
            ).first.map(AuditChainHead.init(row:))
            let records = try body(head)
            var expected = (head?.sequence ?? 0) + 1
            for record in records {
                guard record.sequence == expected else {
                    throw KeyStoreError(.alreadyExists, "audit record \(record.sequence) is not the next one")
                }
                let context = try record.storedContext()
                try await connection.query(
                    """
                    INSERT INTO audit (\(unescaped: AuditRecord.columns)) VALUES (
                        \(record.sequence), \(record.time.storedValue), \(record.principal), \(record.operation), \(record.keyARN),
                        \(context), \(record.outcome), \(record.requestID), \(Data(record.previousHash)), \(Data(record.hash)))
                    """, logger: logger)
                expected += 1
            }
            return records
        }
    }

    package func auditRecords(after sequence: Int64, limit: Int) async throws -> [AuditRecord] {
        try await read { connection, logger in
            try await connection.rows(
                """
                SELECT \(unescaped: AuditRecord.columns) FROM audit WHERE sequence > \(sequence) ORDER BY sequence LIMIT \(max(limit, 0))
                """, logger: logger
            ).map(AuditRecord.init(row:))
        }
    }
}
