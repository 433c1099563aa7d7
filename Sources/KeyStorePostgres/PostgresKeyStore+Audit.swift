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
    /// Records whose sequence does not continue the head's are refused with `.alreadyExists`
    /// before anything is sent. The batch goes in one multi-row `INSERT`, so the lock that every
    /// node waits on is held for three round trips after `BEGIN`, whatever the batch's size.
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
                expected += 1
            }
            var start = records.startIndex
            while start < records.endIndex {
                let end = min(start + Self.auditRowsPerInsert, records.endIndex)
                try await connection.query(try Self.auditInsert(records[start..<end]), logger: logger)
                start = end
            }
            return records
        }
    }

    /// The most rows one `INSERT` carries: ten parameters a row, and the protocol numbers them
    /// in 16 bits (at most 65,535 a statement). A batch that large would take thousands of
    /// requests in flight; it is split, still inside the one locked transaction.
    static let auditRowsPerInsert = 6_000

    /// One `INSERT … VALUES ($1, …), ($11, …), …` for `records`, every value a bound parameter.
    static func auditInsert(_ records: ArraySlice<AuditRecord>) throws -> PostgresQuery {
        var binds = PostgresBindings(capacity: records.count * 10)
        var sql = "INSERT INTO audit (\(AuditRecord.columns)) VALUES "
        sql.reserveCapacity(sql.utf8.count + records.count * 64)
        for (row, record) in records.enumerated() {
            let first = row * 10 + 1
            sql += row == 0 ? "(" : ", ("
            for parameter in first..<(first + 10) {
                sql += parameter == first ? "$" : ", $"
                sql += String(parameter)
            }
            sql += ")"
            binds.append(record.sequence)
            binds.append(record.time.storedValue)
            binds.append(record.principal)
            binds.append(record.operation)
            binds.append(record.keyARN)
            binds.append(try record.storedContext())
            binds.append(record.outcome)
            binds.append(record.requestID)
            try binds.append(Data(record.previousHash))
            try binds.append(Data(record.hash))
        }
        // The text holds only the column list and numbered placeholders; every value is bound.
        return PostgresQuery(unsafeSQL: sql, binds: binds)
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
