import Foundation
import GRDB
package import KeyService

extension SQLiteKeyStore {
    /// Appends the records `body` makes from the chain's head, in one `IMMEDIATE` transaction.
    ///
    /// The write lock is taken before the head is read, so writers in other tasks, instances or
    /// processes wait for this one: each sees the record the previous one appended and the chain
    /// never forks. Only the last row's sequence and hash are read. Records whose sequence does
    /// not continue the head's are refused with `.alreadyExists`, as by the reference store.
    package func appendAudit(batch body: @Sendable (AuditChainHead?) throws -> [AuditRecord]) async throws -> [AuditRecord] {
        try await write(conflict: "audit record exists") { db in
            let head = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1")
            ).map(AuditChainHead.init(row:))
            let records = try body(head)
            var expected = (head?.sequence ?? 0) + 1
            let insert = try db.cachedStatement(sql: "INSERT INTO audit (\(AuditRecord.columns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            for record in records {
                guard record.sequence == expected else {
                    throw KeyStoreError(.alreadyExists, "audit record \(record.sequence) is not the next one")
                }
                // GRDB binds up to 20 arguments of execute(arguments:) in place (SQLITE_STATIC),
                // copying no text or blob: cheaper, measured, than setUncheckedArguments (which
                // has SQLite copy each) or a prebuilt [DatabaseValue].
                try insert.execute(arguments: try record.rowArguments())
                expected += 1
            }
            return records
        }
    }

    package func auditRecords(after sequence: Int64, limit: Int) async throws -> [AuditRecord] {
        try await read { db in
            try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(AuditRecord.columns) FROM audit WHERE sequence > ? ORDER BY sequence LIMIT ?"),
                arguments: [sequence, max(limit, 0)]
            ).map(AuditRecord.init(row:))
        }
    }
}
