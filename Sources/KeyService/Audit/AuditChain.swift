import Foundation
package import KMSWire
import SodiumKit

/// The audit log's hash chain.
///
/// Each record's hash is a BLAKE2b-256 MAC, under a subkey of the root key, over the previous
/// record's hash and every field of the record (each length-prefixed). Editing a record breaks
/// its own hash; deleting or reordering records breaks the next record's link; and without the
/// root key no one can recompute a chain that verifies.
package struct AuditChain: Sendable {
    let key: SubKey
    let committer = AuditCommitter()

    init(root: RootKey) {
        key = root.subkey(.auditChain)
    }

    static let genesis = [UInt8](repeating: 0, count: 32)

    func hash(of record: AuditRecord) throws -> [UInt8] {
        // The parts are fed in place, none copied into an array of its own; the context's pairs
        // in the byte order of their keys.
        let context = record.encryptionContext ?? [:]
        return try BLAKE2b.mac(key: key, outputByteCount: 32) { feed in
            record.previousHash.withUnsafeBytes { feed.part($0) }
            feed.part(String(record.sequence))
            feed.part(String(record.time.timeIntervalSince1970))
            feed.part(record.principal)
            feed.part(record.operation)
            feed.part(record.keyARN ?? "")
            feed.part(record.outcome)
            feed.part(record.requestID)
            feed.part(String(context.count))
            if context.count < 2 {
                // No order to establish (a Decrypt's context usually has one pair): no sorted copy.
                for (key, value) in context {
                    feed.part(key)
                    feed.part(value)
                }
            } else {
                for (key, value) in context.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
                    feed.part(key)
                    feed.part(value)
                }
            }
        }.bytes
    }

    /// One record's fields before it is linked into the chain.
    struct Entry: Sendable {
        let time: Date
        let principal: String
        let operation: String
        let keyARN: String?
        let context: [String: String]?
        let outcome: String
        let requestID: String
    }

    /// Links entries after the chain's head `previous` (`nil` for an empty log), in order.
    func link(_ entries: [Entry], after previous: AuditChainHead?) throws -> [AuditRecord] {
        var last = previous
        var records: [AuditRecord] = []
        records.reserveCapacity(entries.count)
        for entry in entries {
            let record = try link(entry, after: last)
            last = record.head
            records.append(record)
        }
        return records
    }

    /// Links one entry after the chain's head `previous`: what an idle log's append does, with
    /// no array of entries made for it.
    func link(_ entry: Entry, after previous: AuditChainHead?) throws -> AuditRecord {
        var record = AuditRecord(
            sequence: (previous?.sequence ?? 0) + 1, time: entry.time, principal: entry.principal, operation: entry.operation,
            keyARN: entry.keyARN, encryptionContext: entry.context, outcome: entry.outcome, requestID: entry.requestID,
            previousHash: previous?.hash ?? Self.genesis, hash: [])
        record.hash = try hash(of: record)
        return record
    }

    /// Appends one record, linked to the last one, through the group-commit queue: it returns
    /// once the transaction holding it has committed.
    func append(
        to store: some KeyStore, time: Date, principal: String, operation: String, keyARN: String?,
        context: [String: String]?, outcome: String, requestID: String
    ) async throws {
        // Millisecond precision, so the time survives every store's encoding unchanged.
        let time = Date(timeIntervalSince1970: (time.timeIntervalSince1970 * 1000).rounded() / 1000)
        try await committer.submit(
            Entry(time: time, principal: principal, operation: operation, keyARN: keyARN, context: context, outcome: outcome, requestID: requestID),
            chain: self, store: store)
    }

    /// What ``verify(_:)`` found.
    package struct Verification: Sendable, Equatable {
        package var checked: Int
        /// The first problem, or `nil` when the chain is intact.
        package var problem: Problem?
    }

    /// A break in the chain.
    package enum Problem: Sendable, Equatable, CustomStringConvertible {
        /// The record's fields do not match its hash: it was edited.
        case edited(sequence: Int64)
        /// A sequence number is missing: records were deleted.
        case missing(expected: Int64, found: Int64)
        /// The record does not link to the one before it: records were reordered or replaced.
        case unlinked(sequence: Int64)

        /// What is wrong and where.
        package var description: String {
            switch self {
            case .edited(let s): return "audit record \(s) was edited: its hash does not match its contents"
            case .missing(let e, let f): return "audit records \(e)…\(f - 1) are missing: the log jumps from \(e - 1) to \(f)"
            case .unlinked(let s): return "audit record \(s) does not link to record \(s - 1): records were reordered or replaced"
            }
        }
    }

    /// Walks the whole log and reports the first break.
    func verify(_ store: some KeyStore) async throws -> Verification {
        var expected: Int64 = 1
        var previousHash = Self.genesis
        var checked = 0
        while true {
            let batch = try await store.auditRecords(after: expected - 1, limit: 1000)
            if batch.isEmpty { return Verification(checked: checked, problem: nil) }
            for record in batch {
                if record.sequence != expected {
                    return Verification(checked: checked, problem: .missing(expected: expected, found: record.sequence))
                }
                if try hash(of: record) != record.hash {
                    return Verification(checked: checked, problem: .edited(sequence: record.sequence))
                }
                if record.previousHash != previousHash {
                    return Verification(checked: checked, problem: .unlinked(sequence: record.sequence))
                }
                previousHash = record.hash
                expected += 1
                checked += 1
            }
        }
    }
}

/// Group commit for the audit log: requests that arrive while a transaction is being written
/// wait for the next one, which takes them all. Each caller still returns only after its own
/// record has committed, but a busy server pays one transaction for many records.
///
/// An idle log costs one actor hop: the first caller writes its own record directly. Whoever
/// finds records queued behind its own hands them to a new task, so no caller's latency grows
/// with the load of others.
actor AuditCommitter {
    private var pending: [(AuditChain.Entry, CheckedContinuation<Void, any Error>)] = []
    private var flushing = false

    func submit(_ entry: AuditChain.Entry, chain: AuditChain, store: some KeyStore) async throws {
        if flushing {
            try await withCheckedThrowingContinuation { pending.append((entry, $0)) }
            return
        }
        flushing = true
        let result: Result<Void, any Error>
        do {
            _ = try await store.appendAudit(batch: { previous in [try chain.link(entry, after: previous)] })
            result = .success(())
        } catch {
            result = .failure(error)
        }
        if pending.isEmpty {
            flushing = false
        } else {
            Task { await self.flushPending(chain: chain, store: store) }
        }
        try result.get()
    }

    private func flushPending(chain: AuditChain, store: some KeyStore) async {
        while !pending.isEmpty {
            let batch = pending
            pending = []
            let entries = batch.map(\.0)
            do {
                _ = try await store.appendAudit(batch: { previous in try chain.link(entries, after: previous) })
                for (_, continuation) in batch { continuation.resume() }
            } catch {
                for (_, continuation) in batch { continuation.resume(throwing: error) }
            }
        }
        flushing = false
    }
}

extension KeyServiceEngine {
    /// Walks the audit log and reports the first edited, missing or reordered record.
    /// - Throws: `KMSInternalException` when the store cannot be read.
    package func verifyAudit() async throws(KMSError) -> AuditChain.Verification {
        try await storeCall { try await audit.verify(store) }
    }
}

