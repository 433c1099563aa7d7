package import Foundation

package struct KeyStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    package enum Kind: Sendable, Equatable {
        /// The record does not exist.
        case notFound
        /// A record with that identity exists already.
        case alreadyExists
        /// The store could not be read or written.
        case unavailable
    }

    /// What went wrong.
    package let kind: Kind
    /// Details, never holding secrets.
    package let message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// What went wrong.
    package var description: String { message }
}

/// Where the key service keeps its state.
///
/// Every method is atomic: a read-modify-write (``updateKey(id:_:)``, ``addVersion(keyID:_:)``,
/// ``appendAudit(_:)``) runs its closure inside one transaction, so concurrent callers never lose
/// an update. A method that returns has made its change durable: it survives the process being
/// killed right after. Implementations: ``InMemoryKeyStore`` (tests), SQLite (the embedded
/// default) and PostgreSQL (shared by several servers); one conformance suite checks them all.
package protocol KeyStore: Sendable {
    /// Closes the store's connections or files; later calls throw `.unavailable`. Optional: they
    /// close when the store is released.
    func close() throws

    /// A named metadata value (the root-key check, the passphrase salt, the schema), or `nil`.
    func metadata(_ name: String) async throws -> [UInt8]?
    /// Stores `value` under `name` unless a value is there already; returns the stored value.
    func setMetadataIfAbsent(_ name: String, _ value: [UInt8]) async throws -> [UInt8]

    /// Adds a key with its first version. Throws `.alreadyExists` for a used id.
    func insertKey(_ key: KeyRecord, firstVersion: KeyVersionRecord) async throws
    /// The key with this id, whatever its state.
    func key(id: UUID) async throws -> KeyRecord?
    /// Keys in id order, after `marker` when given, at most `limit`.
    func keys(after marker: UUID?, limit: Int) async throws -> [KeyRecord]
    /// Keys whose automatic rotation or deletion is due at `date`, or whose imported material
    /// expires by then (Enabled or Disabled keys with a `validTo` at or before `date`).
    func keysDue(at date: Date) async throws -> [KeyRecord]
    /// Reads a key, lets `body` change it, writes it back, in one transaction.
    /// Throws `.notFound` when there is no such key, and whatever `body` throws (nothing written).
    func updateKey<T: Sendable>(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> T) async throws -> T

    /// Adds the next version of a key: `body` gets the key and the new version's number and
    /// returns the version to insert, having updated the key (its `currentVersion` at least).
    /// One transaction: two concurrent callers get two distinct versions.
    func addVersion(keyID: UUID, _ body: @Sendable (inout KeyRecord, UInt32) throws -> KeyVersionRecord) async throws -> KeyVersionRecord
    func version(keyID: UUID, number: UInt32) async throws -> KeyVersionRecord?
    /// Every version of a key, oldest first.
    func versions(keyID: UUID) async throws -> [KeyVersionRecord]
    /// Destroys every version's material and marks the key deleted, in one transaction, provided
    /// `body` agrees (it sees the key and may refuse by throwing).
    func destroyKey(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> Void) async throws

    /// Reads a key and its current version, lets `body` change both (the version's material,
    /// KeyMaterialId and date only), writes both back, in one transaction: what importing and
    /// deleting imported material do. Throws `.notFound` when there is no such key or version.
    func updateMaterial(keyID: UUID, _ body: @Sendable (inout KeyRecord, inout KeyVersionRecord) throws -> Void) async throws -> KeyRecord

    /// Adds a wrapping key of GetParametersForImport, and removes those whose `validTo` is
    /// before `expiredBefore`, in one transaction.
    func insertWrappingKey(_ record: WrappingKeyRecord, removingExpiredBefore expiredBefore: Date) async throws
    /// The wrapping key with this id, or `nil`.
    func wrappingKey(id: UUID) async throws -> WrappingKeyRecord?

    /// Adds an alias. Throws `.alreadyExists` for a used name.
    func insertAlias(_ alias: AliasRecord) async throws
    func alias(named name: String) async throws -> AliasRecord?
    /// Points an alias at another key. Throws `.notFound` for an unknown name.
    func updateAlias(named name: String, keyID: UUID, at date: Date) async throws
    /// Removes an alias; `false` when there was none.
    func deleteAlias(named name: String) async throws -> Bool
    /// Aliases in name order, for one key or all, after `marker`, at most `limit`.
    func aliases(keyID: UUID?, after marker: String?, limit: Int) async throws -> [AliasRecord]

    func insertGrant(_ grant: GrantRecord) async throws
    /// The grants of a key, oldest first.
    func grants(keyID: UUID) async throws -> [GrantRecord]
    /// The grants a principal may retire.
    func grants(retiringPrincipal: String) async throws -> [GrantRecord]
    /// Removes a grant; `false` when there was none.
    func deleteGrant(id: String) async throws -> Bool

    /// Adds a principal. Throws `.alreadyExists` for a used access key id, name or unique id.
    func insertPrincipal(_ principal: PrincipalRecord) async throws
    func principal(accessKeyID: String) async throws -> PrincipalRecord?
    /// Every principal, by name.
    func principals() async throws -> [PrincipalRecord]
    /// Enables or disables a principal. Throws `.notFound` for an unknown access key id.
    func setPrincipalEnabled(accessKeyID: String, _ enabled: Bool) async throws
    /// Sets or (with `nil`) removes a principal's identity policy. Throws `.notFound` for an
    /// unknown access key id.
    func setPrincipalPolicy(accessKeyID: String, _ policy: String?) async throws
    /// Removes a principal and, in the same transaction, every grant whose grantee it is (by
    /// unique id); in grants it may only retire, its unique id replaces its ARN as the retiring
    /// principal (as AWS shows a deleted principal). `false` when there was none.
    func deletePrincipal(accessKeyID: String) async throws -> Bool

    /// Appends audit records: `body` gets the chain's head (the last record's sequence and hash,
    /// or `nil` for an empty log) and returns the next records, in order, in one transaction, so
    /// the chain has no fork even with several writers, and a busy server commits many records
    /// at once. The store locks the log against other appenders before it reads the head, and
    /// refuses with `.alreadyExists`, writing nothing, a batch whose sequences do not continue it.
    func appendAudit(batch body: @Sendable (AuditChainHead?) throws -> [AuditRecord]) async throws -> [AuditRecord]
    /// Audit records in sequence order, after `sequence`, at most `limit`.
    func auditRecords(after sequence: Int64, limit: Int) async throws -> [AuditRecord]
}

extension KeyStore {
    /// Appends one audit record: `body` gets the chain's head (or `nil`) and returns the next.
    package func appendAudit(_ body: @Sendable (AuditChainHead?) throws -> AuditRecord) async throws -> AuditRecord {
        let records = try await appendAudit(batch: { [try body($0)] })
        return records[0]
    }
}

extension KeyStore {
    /// A store that holds no connections or files (in memory) has nothing to close.
    package func close() throws {}
}
