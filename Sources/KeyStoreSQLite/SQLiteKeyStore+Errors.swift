import Foundation
import GRDB
import KeyService

extension SQLiteKeyStore {
    /// Runs `body` in a read transaction (a consistent snapshot), translating errors.
    ///
    /// Synchronously: a point query takes microseconds, far less than the hop to GRDB's async
    /// API and back (about a hundred microseconds here), and readers never wait for a writer in
    /// WAL mode, so the calling thread is held only for the query itself.
    func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try readNow(body)
        } catch {
            throw Self.translate(error, path: path)
        }
    }

    /// GRDB's blocking read, which it offers only outside async contexts.
    private func readNow<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    /// GRDB's blocking write. Writes are short (one transaction of a few statements), so holding
    /// the calling thread while SQLite's single writer is busy costs less than the async hop.
    private func writeNow<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    /// Runs `body` in an `IMMEDIATE` write transaction, translating errors; a UNIQUE or PRIMARY
    /// KEY violation becomes `.alreadyExists` with `conflict` as its message.
    func write<T: Sendable>(conflict: String? = nil, _ body: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try writeNow(body)
        } catch {
            throw Self.translate(error, path: path, conflict: conflict)
        }
    }

    /// Turns GRDB and SQLite errors into ``KeyService/KeyStoreError``; passes anything else
    /// (a ``KeyService/KeyStoreError`` already, what a caller's closure threw, cancellation)
    /// through unchanged.
    ///
    /// Messages name the file and SQLite's reason, never the statement's arguments: SQLite's own
    /// messages name tables and columns, not values.
    static func translate(_ error: any Error, path: String, conflict: String? = nil) -> any Error {
        switch error {
        case let error as DatabaseError:
            switch error.extendedResultCode {
            case .SQLITE_CONSTRAINT_PRIMARYKEY, .SQLITE_CONSTRAINT_UNIQUE:
                return KeyStoreError(.alreadyExists, conflict ?? "\(error.message ?? "a record with that identity exists") in \(path)")
            default:
                return KeyStoreError(.unavailable, "key store \(path): \(error.message ?? "SQLite error \(error.resultCode.rawValue)")")
            }
        case let error as UnreadableRecord:
            return KeyStoreError(.unavailable, "key store \(path): unreadable row in table \(error.table)")
        default:
            return error
        }
    }
}
