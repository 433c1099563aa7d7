import Foundation
import KeyService

/// An error a test's closure throws to refuse a change.
struct Refused: Error {}

/// A directory for one test, removed by ``remove()``.
struct TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-keystore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Records for the tests, and checks of what stores return.
enum Fixtures {
    static let account = "111122223333"

    static func key(_ id: UUID = UUID()) -> KeyRecord {
        KeyRecord(
            id: id, arn: "arn:aws:kms:us-east-1:\(account):key/\(id.uuidString.lowercased())", account: account,
            description: "test key", createdAt: Date(), createdBy: "arn:aws:iam::\(account):user/admin",
            policy: #"{"Version":"2012-10-17","Statement":[]}"#)
    }

    /// A key with every optional field set.
    static func fullKey() -> KeyRecord {
        var key = key()
        key.tags = [KeyTag(key: "b", value: "2"), KeyTag(key: "a", value: "1")]
        key.state = .pendingDeletion
        key.deletionDate = Date().addingTimeInterval(7 * 86_400)
        key.deletionScheduledBy = "arn:aws:iam::\(account):user/admin"
        key.deletedAt = Date()
        key.deletedBy = "arn:aws:iam::\(account):user/admin"
        key.rotationEnabled = true
        key.rotationPeriodDays = 365
        key.nextRotationDate = Date().addingTimeInterval(365 * 86_400)
        key.onDemandRotationCount = 3
        key.currentVersion = 1
        key.keySpec = .hmac512
        key.origin = .external
        key.expirationModel = "KEY_MATERIAL_EXPIRES"
        key.validTo = Date().addingTimeInterval(86_400)
        return key
    }

    static func version(of keyID: UUID, _ number: UInt32, rotationType: RotationType = .initial) -> KeyVersionRecord {
        KeyVersionRecord(
            keyID: keyID, version: number, wrappedMaterial: randomBytes(60),
            materialID: randomBytes(32).map { String(format: "%02x", $0) }.joined(), createdAt: Date(), rotationType: rotationType)
    }

    static func grant(id: String, keyID: UUID, retiringPrincipal: String? = nil) -> GrantRecord {
        GrantRecord(
            id: id, token: "token-\(id)", keyID: keyID, name: "name-\(id)", granteePrincipal: "arn:aws:iam::\(account):user/fn",
            retiringPrincipal: retiringPrincipal, operations: ["Decrypt", "GenerateDataKey"],
            encryptionContextSubset: ["app": "billing", "stage": "prod"], encryptionContextEquals: ["k": "v"],
            issuingAccount: account, createdAt: Date(), createdBy: "arn:aws:iam::\(account):user/admin")
    }

    static func principal(accessKeyID: String, name: String) -> PrincipalRecord {
        PrincipalRecord(
            accessKeyID: accessKeyID, name: name, arn: "arn:aws:iam::\(account):user/\(name)", account: account,
            wrappedSecret: randomBytes(48), createdAt: Date())
    }

    /// The record after the chain's head `last`, chained to it by ``chainHash(_:_:)``.
    static func nextAudit(after last: AuditChainHead?) -> AuditRecord {
        let sequence = (last?.sequence ?? 0) + 1
        let previous = last?.hash ?? [UInt8](repeating: 0, count: 32)
        return AuditRecord(
            sequence: sequence, time: Date(), principal: "arn:aws:iam::\(account):user/admin", operation: "Decrypt",
            keyARN: sequence.isMultiple(of: 2) ? nil : "arn:aws:kms:us-east-1:\(account):key/k",
            encryptionContext: sequence.isMultiple(of: 3) ? nil : ["purpose": "test", "n": "\(sequence)"],
            outcome: "Allowed", requestID: UUID().uuidString, previousHash: previous, hash: chainHash(previous, sequence))
    }

    /// A stand-in for the engine's keyed BLAKE2b: FNV-1a over the previous hash and the
    /// sequence, stretched to 32 bytes. Not cryptographic; it only has to make each record's
    /// hash depend on the one before, so that a fork or a gap shows.
    static func chainHash(_ previous: [UInt8], _ sequence: Int64) -> [UInt8] {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        previous.forEach(mix)
        withUnsafeBytes(of: sequence.littleEndian) { $0.forEach(mix) }
        var hash: [UInt8] = []
        for round in 0..<4 {
            mix(UInt8(round))
            withUnsafeBytes(of: state.littleEndian) { hash.append(contentsOf: $0) }
        }
        return hash
    }

    /// Whether `records` are 1…n, each chained to the one before.
    static func isChain(_ records: [AuditRecord]) -> Bool {
        var previous = [UInt8](repeating: 0, count: 32)
        for (index, record) in records.enumerated() {
            guard record.sequence == Int64(index + 1), record.previousHash == previous,
                record.hash == chainHash(previous, record.sequence)
            else { return false }
            previous = record.hash
        }
        return true
    }

    /// Every audit record, read a page at a time.
    static func allAudit(of store: any KeyStore) async throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        while true {
            let page = try await store.auditRecords(after: records.last?.sequence ?? 0, limit: 128)
            if page.isEmpty { return records }
            records += page
        }
    }

    /// Runs `operation` `each` times in each of `tasks` concurrent tasks; returns every result.
    static func concurrently<T: Sendable>(
        tasks: Int, each: Int, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> [T] {
        try await withThrowingTaskGroup(of: [T].self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var results: [T] = []
                    for _ in 0..<each { results.append(try await operation()) }
                    return results
                }
            }
            var all: [T] = []
            for try await results in group { all += results }
            return all
        }
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in generator.next() }
    }
}
