package import Foundation

/// A ``KeyStore`` in memory, for tests and throwaway servers. Nothing survives the process.
package actor InMemoryKeyStore: KeyStore {
    private var meta: [String: [UInt8]] = [:]
    private var keyRecords: [UUID: KeyRecord] = [:]
    private var versionRecords: [UUID: [KeyVersionRecord]] = [:]
    private var aliasRecords: [String: AliasRecord] = [:]
    private var grantRecords: [GrantRecord] = []
    private var principalRecords: [String: PrincipalRecord] = [:]
    private var audit = AuditLog()
    private var wrappingKeys: [UUID: WrappingKeyRecord] = [:]

    /// Creates an empty store.
    package init() {}

    package func metadata(_ name: String) -> [UInt8]? { meta[name] }

    package func setMetadataIfAbsent(_ name: String, _ value: [UInt8]) -> [UInt8] {
        if let existing = meta[name] { return existing }
        meta[name] = value
        return value
    }

    package func insertKey(_ key: KeyRecord, firstVersion: KeyVersionRecord) throws {
        guard keyRecords[key.id] == nil else { throw KeyStoreError(.alreadyExists, "key \(key.id) exists") }
        keyRecords[key.id] = key
        versionRecords[key.id] = [firstVersion]
    }

    package func key(id: UUID) -> KeyRecord? { keyRecords[id] }

    package func keys(after marker: UUID?, limit: Int) -> [KeyRecord] {
        let sorted = keyRecords.values.sorted { $0.id.uuidString < $1.id.uuidString }
        let start = marker.map { m in sorted.firstIndex { $0.id.uuidString > m.uuidString } ?? sorted.count } ?? 0
        return Array(sorted[start...].prefix(limit))
    }

    package func keysDue(at date: Date) -> [KeyRecord] {
        keyRecords.values.filter { key in
            (key.state == .pendingDeletion && (key.deletionDate ?? .distantFuture) <= date)
                || (key.state == .enabled && key.rotationEnabled && (key.nextRotationDate ?? .distantFuture) <= date)
                || ((key.state == .enabled || key.state == .disabled) && (key.validTo ?? .distantFuture) <= date)
        }.sorted { $0.id.uuidString < $1.id.uuidString }
    }

    package func updateKey<T: Sendable>(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> T) throws -> T {
        guard var key = keyRecords[id] else { throw KeyStoreError(.notFound, "key \(id) not found") }
        let result = try body(&key)
        keyRecords[id] = key
        return result
    }

    package func addVersion(keyID: UUID, _ body: @Sendable (inout KeyRecord, UInt32) throws -> KeyVersionRecord) throws -> KeyVersionRecord {
        guard var key = keyRecords[keyID] else { throw KeyStoreError(.notFound, "key \(keyID) not found") }
        let next = (versionRecords[keyID]?.map(\.version).max() ?? 0) + 1
        let version = try body(&key, next)
        guard version.version == next, version.keyID == keyID else {
            throw KeyStoreError(.alreadyExists, "version \(version.version) of key \(keyID) is not the next one")
        }
        keyRecords[keyID] = key
        versionRecords[keyID, default: []].append(version)
        return version
    }

    package func updateMaterial(keyID: UUID, _ body: @Sendable (inout KeyRecord, inout KeyVersionRecord) throws -> Void) throws -> KeyRecord {
        guard var key = keyRecords[keyID] else { throw KeyStoreError(.notFound, "key \(keyID) not found") }
        guard let index = versionRecords[keyID]?.firstIndex(where: { $0.version == key.currentVersion }),
              var version = versionRecords[keyID]?[index] else {
            throw KeyStoreError(.notFound, "version \(key.currentVersion) of key \(keyID) not found")
        }
        try body(&key, &version)
        keyRecords[keyID] = key
        versionRecords[keyID]?[index].wrappedMaterial = version.wrappedMaterial
        versionRecords[keyID]?[index].materialID = version.materialID
        versionRecords[keyID]?[index].createdAt = version.createdAt
        return key
    }

    package func insertWrappingKey(_ record: WrappingKeyRecord, removingExpiredBefore expiredBefore: Date) throws {
        wrappingKeys = wrappingKeys.filter { $0.value.validTo >= expiredBefore }
        guard wrappingKeys[record.id] == nil else { throw KeyStoreError(.alreadyExists, "wrapping key \(record.id) exists") }
        wrappingKeys[record.id] = record
    }

    package func wrappingKey(id: UUID) -> WrappingKeyRecord? { wrappingKeys[id] }

    package func version(keyID: UUID, number: UInt32) -> KeyVersionRecord? {
        versionRecords[keyID]?.first { $0.version == number }
    }

    package func versions(keyID: UUID) -> [KeyVersionRecord] { versionRecords[keyID] ?? [] }

    package func destroyKey(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> Void) throws {
        guard var key = keyRecords[id] else { throw KeyStoreError(.notFound, "key \(id) not found") }
        try body(&key)
        keyRecords[id] = key
        versionRecords[id] = versionRecords[id]?.map { version in
            var shredded = version
            shredded.wrappedMaterial = []
            return shredded
        }
    }

    package func insertAlias(_ alias: AliasRecord) throws {
        guard aliasRecords[alias.name] == nil else { throw KeyStoreError(.alreadyExists, "alias \(alias.name) exists") }
        aliasRecords[alias.name] = alias
    }

    package func alias(named name: String) -> AliasRecord? { aliasRecords[name] }

    package func updateAlias(named name: String, keyID: UUID, at date: Date) throws {
        guard var alias = aliasRecords[name] else { throw KeyStoreError(.notFound, "alias \(name) not found") }
        alias.keyID = keyID
        alias.updatedAt = date
        aliasRecords[name] = alias
    }

    package func deleteAlias(named name: String) -> Bool { aliasRecords.removeValue(forKey: name) != nil }

    package func aliases(keyID: UUID?, after marker: String?, limit: Int) -> [AliasRecord] {
        Array(aliasRecords.values
            .filter { keyID == nil || $0.keyID == keyID }
            .filter { marker == nil || $0.name > marker! }
            .sorted { $0.name < $1.name }
            .prefix(limit))
    }

    package func insertGrant(_ grant: GrantRecord) throws {
        guard !grantRecords.contains(where: { $0.id == grant.id }) else { throw KeyStoreError(.alreadyExists, "grant exists") }
        grantRecords.append(grant)
    }

    package func grants(keyID: UUID) -> [GrantRecord] { grantRecords.filter { $0.keyID == keyID } }

    package func grants(retiringPrincipal: String) -> [GrantRecord] {
        grantRecords.filter { $0.retiringPrincipal == retiringPrincipal }
    }

    package func deleteGrant(id: String) -> Bool {
        guard let index = grantRecords.firstIndex(where: { $0.id == id }) else { return false }
        grantRecords.remove(at: index)
        return true
    }

    package func insertPrincipal(_ principal: PrincipalRecord) throws {
        guard principalRecords[principal.accessKeyID] == nil,
              !principalRecords.values.contains(where: { $0.name == principal.name || $0.uniqueID == principal.uniqueID }) else {
            throw KeyStoreError(.alreadyExists, "principal \(principal.name) exists")
        }
        principalRecords[principal.accessKeyID] = principal
    }

    package func principal(accessKeyID: String) -> PrincipalRecord? { principalRecords[accessKeyID] }

    package func principals() -> [PrincipalRecord] { principalRecords.values.sorted { $0.name < $1.name } }

    package func setPrincipalEnabled(accessKeyID: String, _ enabled: Bool) throws {
        guard principalRecords[accessKeyID] != nil else { throw KeyStoreError(.notFound, "principal \(accessKeyID) not found") }
        principalRecords[accessKeyID]?.isEnabled = enabled
    }

    package func setPrincipalPolicy(accessKeyID: String, _ policy: String?) throws {
        guard principalRecords[accessKeyID] != nil else { throw KeyStoreError(.notFound, "principal \(accessKeyID) not found") }
        principalRecords[accessKeyID]?.identityPolicy = policy
    }

    package func deletePrincipal(accessKeyID: String) -> Bool {
        guard let removed = principalRecords.removeValue(forKey: accessKeyID) else { return false }
        grantRecords.removeAll { $0.granteePrincipalID == removed.uniqueID }
        for index in grantRecords.indices where grantRecords[index].retiringPrincipalID == removed.uniqueID {
            grantRecords[index].retiringPrincipal = removed.uniqueID
        }
        return true
    }

    package func appendAudit(batch body: @Sendable (AuditChainHead?) throws -> [AuditRecord]) throws -> [AuditRecord] {
        let last = audit.last
        let records = try body(last?.head)
        var expected = (last?.sequence ?? 0) + 1
        for record in records {
            guard record.sequence == expected else {
                throw KeyStoreError(.alreadyExists, "audit record \(record.sequence) is not the next one")
            }
            expected += 1
        }
        for record in records { audit.append(record) }
        return records
    }

    package func auditRecords(after sequence: Int64, limit: Int) -> [AuditRecord] {
        audit.records(after: sequence, limit: limit)
    }
}

/// The in-memory audit log, in fixed-size chunks: appending never moves the records already
/// held (one growing array copied the whole log, and touched fresh pages for it, each time it
/// doubled). Sequence numbers run from 1 without a gap, so record `n` is at index `n - 1`.
private struct AuditLog {
    static let chunkSize = 4096
    private var chunks: [[AuditRecord]] = []
    private(set) var count = 0

    var last: AuditRecord? { chunks.last?.last }

    mutating func append(_ record: AuditRecord) {
        if count % Self.chunkSize == 0 {
            var chunk: [AuditRecord] = []
            chunk.reserveCapacity(Self.chunkSize)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(record)
        count += 1
    }

    func records(after sequence: Int64, limit: Int) -> [AuditRecord] {
        var out: [AuditRecord] = []
        var index = Int(clamping: max(sequence, 0))
        while out.count < max(limit, 0), index < count {
            out.append(chunks[index / Self.chunkSize][index % Self.chunkSize])
            index += 1
        }
        return out
    }
}
