import Foundation
import KMSWire
import SodiumKit
import Testing
@testable import KeyService

@Suite("audit chain and root of trust")
struct AuditAndRootTests {
    @Test("every operation, allowed or denied, is audited with principal, key, context and outcome; the chain verifies")
    func audited() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: functionPolicy)
        let blob = try await f.encrypt("x", key: key, context: ["LambdaFunctionName": "billing"])
        _ = try await f.decrypt(blob, context: ["LambdaFunctionName": "billing"], as: f.function)
        _ = await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) }
        let records = try await f.store.auditRecords(after: 0, limit: 100)
        #expect(records.map(\.operation) == ["CreateKey", "Encrypt", "Decrypt", "Encrypt"])
        #expect(records.map(\.outcome) == ["Allowed", "Allowed", "Allowed", "AccessDeniedException"])
        #expect(records[2].principal == f.function.arn && records[2].keyARN == key)
        #expect(records[2].encryptionContext == ["LambdaFunctionName": "billing"])
        #expect(records.map(\.sequence) == [1, 2, 3, 4])
        let verification = try await f.kms.verifyAudit()
        #expect(verification.checked == 4 && verification.problem == nil)
    }

    @Test("each root subkey keeps its id in the esroot01 context, and each purpose has its own key")
    func rootSubkeyIDsArePinned() throws {
        // Stores hold MACs under these keys: renumbering one would orphan every chain and marker.
        let root = RootKey(material: KeyMaterial.random())
        let pinned: [(RootSubkey, UInt64)] = [(.auditChain, 1), (.keyMaterialID, 2), (.paginationMarker, 3)]
        for (purpose, id) in pinned {
            let expected = try KeyDerivation.derive(from: root.material, id: id, context: KeyDerivation.Context("esroot01"))
            #expect(root.subkey(purpose) == expected, "\(purpose)")
            #expect(root.subkey(purpose) == root.subkey(purpose), "\(purpose) is deterministic")
        }
        #expect(root.subkey(.auditChain) != root.subkey(.keyMaterialID))
        #expect(root.subkey(.auditChain) != root.subkey(.paginationMarker))
        #expect(root.subkey(.keyMaterialID) != root.subkey(.paginationMarker))
    }

    @Test("a record's hash is the keyed BLAKE2b of its length-prefixed fields, context pairs in key byte order")
    func auditHashEncodingIsPinned() throws {
        let root = RootKey(material: KeyMaterial.random())
        let chain = AuditChain(root: root)
        let record = AuditRecord(
            sequence: 42, time: Date(timeIntervalSince1970: 1_800_000_123.456), principal: "arn:aws:iam::111122223333:user/fn",
            operation: "Decrypt", keyARN: nil, encryptionContext: ["b": "2", "a": "1", "Z": "ü"], outcome: "Allowed",
            requestID: "r-1", previousHash: Array(repeating: 7, count: 32), hash: [])
        // The encoding as the chain has always written it: stored logs verify only if it holds.
        let fields = [record.previousHash] + ["42", "1800000123.456", record.principal, "Decrypt", "", "Allowed", "r-1", "3",
                                              "Z", "ü", "a", "1", "b", "2"].map { Array($0.utf8) }
        let expected = try BLAKE2b.mac(key: root.subkey(.auditChain), outputByteCount: 32, parts: fields.map { .bytes($0) })
        #expect(try chain.hash(of: record) == expected.bytes)
    }

    @Test("fixed records keep the hashes the chain has always given them", arguments: [
        (nil, "1dfab772a04a1d6f3e7f8fee762c1927b7bee3ca5611ed652cb86c7cb749f386"),
        (["LambdaFunctionName": "billing"], "35804c8d68eca4f2eb85f9145836cedc134276211e20ab58facd5c6cfc6c55ab"),
        (["b": "2", "a": "1", "Z": "ü", "k10": "/\"\\\n"], "7922ade27198ac604b6ff616fe6e52dc57de495d7d4a162d6317bb69fec904a9"),
    ] as [([String: String]?, String)])
    func auditHashVectors(context: [String: String]?, expected: String) throws {
        // Computed by the chain before its hashing was reworked: stored logs verify only if these hold.
        let root = RootKey(material: try KeyMaterial(secureBytes: SecureBytes(copying: (0..<32).map { UInt8($0) })))
        let record = AuditRecord(
            sequence: 1_234_567, time: Date(timeIntervalSince1970: 1_765_161_234.567), principal: "arn:aws:iam::111122223333:user/fn",
            operation: "Decrypt", keyARN: context == nil ? nil : "arn:aws:kms:us-east-1:111122223333:key/k", encryptionContext: context,
            outcome: "Allowed", requestID: "6f1c2a4e-0d3b-4c5a-9e7f-1a2b3c4d5e6f", previousHash: (0..<32).map { UInt8(255 - $0) }, hash: [])
        let hash = try AuditChain(root: root).hash(of: record)
        #expect(hash.map { String(format: "%02x", $0) }.joined() == expected)
    }

    @Test("verify names an edited, a deleted and a reordered record")
    func tamperDetected() async throws {
        let inner = InMemoryKeyStore()
        let f = try await Fixture(store: inner); defer { f.cleanUp() }
        let key = try await f.newKey()
        for _ in 0..<4 { _ = try await f.encrypt("x", key: key) }
        let records = try await inner.auditRecords(after: 0, limit: 100)
        #expect(records.count == 5)
        let chain = f.kms.audit

        var edited = records
        edited[2].principal = "arn:aws:iam::111122223333:user/mallory"
        #expect(try await chain.verify(ReplayStore(records: edited)).problem == .edited(sequence: 3))

        var deleted = records
        deleted.remove(at: 2)
        #expect(try await chain.verify(ReplayStore(records: deleted)).problem == .missing(expected: 3, found: 4))

        var reordered = records
        reordered.swapAt(1, 2)
        reordered[1].sequence = 2
        reordered[2].sequence = 3
        let problem = try await chain.verify(ReplayStore(records: reordered)).problem
        #expect(problem == .edited(sequence: 2), "renumbering a moved record changes its hash")

        var relinked = records
        relinked[3].previousHash = relinked[1].hash
        #expect(try await chain.verify(ReplayStore(records: relinked)).problem == .edited(sequence: 4))
        #expect(try await chain.verify(ReplayStore(records: records)).problem == nil)
    }

    @Test("the root key file is created 0600, refused when wider, refused when it is another store's")
    func rootKeyFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-root-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("KeyStore/root.key").path
        let store = InMemoryKeyStore()
        _ = try await RootKey.open(.file(path), store: store)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect((attributes[.size] as? Int) == 32)
        _ = try await RootKey.open(.file(path), store: store)

        chmod(path, 0o644)
        let wide = try await #require(throws: RootKey.Error.self) { _ = try await RootKey.open(.file(path), store: store) }
        #expect(wide.description.contains("chmod 600"))
        chmod(path, 0o600)

        let otherPath = directory.appendingPathComponent("other.key").path
        let mismatch = try await #require(throws: RootKey.Error.self) { _ = try await RootKey.open(.file(otherPath), store: store) }
        #expect(mismatch.description.contains("does not match"))
    }

    @Test("a passphrase root key opens its store; a wrong passphrase is refused before anything is written")
    func passphrase() async throws {
        let store = InMemoryKeyStore()
        let cheap = Argon2id.Parameters.minimum
        _ = try await RootKey.open(.passphrase(SecureBytes(utf8: "correct horse battery staple"), cheap), store: store)
        let check = try await store.metadata("root.check")
        let kdf = try await store.metadata("root.passphrase-kdf")
        #expect(check != nil && kdf != nil)
        _ = try await RootKey.open(.passphrase(SecureBytes(utf8: "correct horse battery staple"), cheap), store: store)
        let wrong = try await #require(throws: RootKey.Error.self) {
            _ = try await RootKey.open(.passphrase(SecureBytes(utf8: "Correct horse battery staple"), cheap), store: store)
        }
        #expect(wrong.description.contains("wrong passphrase"))
        #expect(try await store.metadata("root.check") == check)
        #expect(try await store.auditRecords(after: 0, limit: 10).isEmpty)
    }
}

/// A store that only replays a fixed audit log, to show what `verify` makes of a tampered one.
actor ReplayStore: KeyStore {
    let records: [AuditRecord]
    init(records: [AuditRecord]) { self.records = records }
    func auditRecords(after sequence: Int64, limit: Int) -> [AuditRecord] {
        // Served in stored order, as a database would return what it holds.
        guard let start = records.firstIndex(where: { $0.sequence > sequence }) else { return [] }
        return Array(records[start...].prefix(limit))
    }
    func metadata(_ name: String) -> [UInt8]? { nil }
    func setMetadataIfAbsent(_ name: String, _ value: [UInt8]) -> [UInt8] { value }
    func insertKey(_ key: KeyRecord, firstVersion: KeyVersionRecord) {}
    func key(id: UUID) -> KeyRecord? { nil }
    func keys(after marker: UUID?, limit: Int) -> [KeyRecord] { [] }
    func keysDue(at date: Date) -> [KeyRecord] { [] }
    func updateKey<T: Sendable>(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> T) throws -> T { throw KeyStoreError(.notFound, "replay") }
    func addVersion(keyID: UUID, _ body: @Sendable (inout KeyRecord, UInt32) throws -> KeyVersionRecord) throws -> KeyVersionRecord { throw KeyStoreError(.notFound, "replay") }
    func version(keyID: UUID, number: UInt32) -> KeyVersionRecord? { nil }
    func versions(keyID: UUID) -> [KeyVersionRecord] { [] }
    func destroyKey(id: UUID, _ body: @Sendable (inout KeyRecord) throws -> Void) {}
    func updateMaterial(keyID: UUID, _ body: @Sendable (inout KeyRecord, inout KeyVersionRecord) throws -> Void) throws -> KeyRecord {
        throw KeyStoreError(.notFound, "replay")
    }
    func insertWrappingKey(_ record: WrappingKeyRecord, removingExpiredBefore expiredBefore: Date) {}
    func wrappingKey(id: UUID) -> WrappingKeyRecord? { nil }
    func insertAlias(_ alias: AliasRecord) {}
    func alias(named name: String) -> AliasRecord? { nil }
    func updateAlias(named name: String, keyID: UUID, at date: Date) {}
    func deleteAlias(named name: String) -> Bool { false }
    func aliases(keyID: UUID?, after marker: String?, limit: Int) -> [AliasRecord] { [] }
    func insertGrant(_ grant: GrantRecord) {}
    func grants(keyID: UUID) -> [GrantRecord] { [] }
    func grants(retiringPrincipal: String) -> [GrantRecord] { [] }
    func deleteGrant(id: String) -> Bool { false }
    func insertPrincipal(_ principal: PrincipalRecord) {}
    func principal(accessKeyID: String) -> PrincipalRecord? { nil }
    func principals() -> [PrincipalRecord] { [] }
    func setPrincipalEnabled(accessKeyID: String, _ enabled: Bool) {}
    func setPrincipalPolicy(accessKeyID: String, _ policy: String?) {}
    func deletePrincipal(accessKeyID: String) -> Bool { false }
    func appendAudit(batch body: @Sendable (AuditChainHead?) throws -> [AuditRecord]) throws -> [AuditRecord] { throw KeyStoreError(.notFound, "replay") }
}
