import Foundation
import KMSWire
import KeyStoreSQLite
import SodiumKit
import Testing
@testable import KeyService

/// The engine over the real SQLite store: what reaches the disk.
@Suite("engine on SQLite")
struct EngineOnSQLiteTests {
    /// The bytes of every file the store left in its directory.
    static func filesContent(_ directory: TemporaryDirectory) throws -> [(String, Data)] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.url.path)
        return try names.map { ($0, try Data(contentsOf: directory.url.appendingPathComponent($0))) }
    }

    @Test("a canary plaintext, the data keys and the key material never reach the database, the audit log or an error")
    func canaryNeverStored() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keystore.sqlite")
        let store = try SQLiteKeyStore(path: path)
        let root = try await RootKey.open(.file(directory.path("root.key")), store: store)
        let kms = KeyServiceEngine(store: store, root: root)
        let admin = Principal.user("admin", account: kms.configuration.account, isAdmin: true)
        let function = Principal.user("billing-fn", account: kms.configuration.account)
        let canary = "CANARY-77c2e1-never-on-disk"
        let key = try #require(try await kms.createKey(.init(description: "canary"), by: admin).keyMetadata?.arn)
        let context = ["LambdaFunctionName": "billing"]
        let blob = try #require(try await kms.encrypt(.init(keyId: key, plaintext: Data(canary.utf8), encryptionContext: context), by: admin).ciphertextBlob)
        let dataKey = try #require(try await kms.generateDataKey(.init(keyId: key, encryptionContext: context, keySpec: .aes256), by: admin).plaintext)
        _ = try await kms.rotateKeyOnDemand(.init(keyId: key), by: admin)
        _ = try await kms.reEncrypt(.init(ciphertextBlob: blob, sourceEncryptionContext: context, destinationKeyId: key), by: admin)
        var errors: [String] = []
        for attempt in [
            { _ = try await kms.decrypt(.init(ciphertextBlob: blob, encryptionContext: ["LambdaFunctionName": "x"]), by: admin) },
            { _ = try await kms.decrypt(.init(ciphertextBlob: blob, encryptionContext: context), by: function) },
            { _ = try await kms.encrypt(.init(keyId: key, plaintext: Data((canary + String(repeating: "!", count: 4100)).utf8)), by: admin) },
        ] as [() async throws -> Void] {
            do { try await attempt() } catch { errors.append("\(error)") }
        }
        #expect(errors.count == 3)
        // The material of both versions, as the engine holds it unwrapped.
        let id = try #require(UUID(uuidString: String(key.split(separator: "/").last!)))
        let record = try #require(try await store.key(id: id))
        var materials: [Data] = []
        for version in UInt32(1)...2 {
            let material = try await kms.material(record, version: version)
            materials.append(material.material.secureBytes.withUnsafeBytes { Data($0) })
        }
        let needles = [Data(canary.utf8), dataKey] + materials
        let beforeCheckpoint = try Self.filesContent(directory)
        _ = try await store.inspect("PRAGMA wal_checkpoint(TRUNCATE)")
        let files = beforeCheckpoint + (try Self.filesContent(directory))
        #expect(files.contains { $0.0 == "keystore.sqlite" } && files.contains { $0.0 == "keystore.sqlite-wal" })
        for (name, content) in files where name != "root.key" {
            for (index, needle) in needles.enumerated() {
                #expect(content.range(of: needle) == nil, "secret \(index) found in \(name)")
            }
        }
        for text in errors + (try await store.auditRecords(after: 0, limit: 100)).map({ "\($0)" }) {
            #expect(!text.contains(canary))
        }
        #expect(try await kms.verifyAudit().problem == nil)
    }

    @Test("keys, versions and aliases made through the engine survive reopening, and old ciphertexts still open")
    func reopen() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keystore.sqlite")
        var blob = Data()
        var key = ""
        do {
            let store = try SQLiteKeyStore(path: path)
            let kms = KeyServiceEngine(store: store, root: try await RootKey.open(.file(directory.path("root.key")), store: store))
            let admin = Principal.user("admin", account: kms.configuration.account, isAdmin: true)
            key = try #require(try await kms.createKey(.init(), by: admin).keyMetadata?.arn)
            blob = try #require(try await kms.encrypt(.init(keyId: key, plaintext: Data("kept".utf8)), by: admin).ciphertextBlob)
            _ = try await kms.rotateKeyOnDemand(.init(keyId: key), by: admin)
            try await kms.createAlias(.init(aliasName: "alias/kept", targetKeyId: key), by: admin)
            try store.close()
        }
        let store = try SQLiteKeyStore(path: path)
        let kms = KeyServiceEngine(store: store, root: try await RootKey.open(.file(directory.path("root.key")), store: store))
        let admin = Principal.user("admin", account: kms.configuration.account, isAdmin: true)
        #expect(try await kms.decrypt(.init(ciphertextBlob: blob), by: admin).plaintext == Data("kept".utf8))
        let fresh = try #require(try await kms.encrypt(.init(keyId: "alias/kept", plaintext: Data("new".utf8)), by: admin).ciphertextBlob)
        #expect(fresh[20] == 2)
        #expect(try await kms.verifyAudit().checked == 6)
    }

    @Test("a signing key's private key never reaches the disk, and its signatures still verify after reopening",
          arguments: [KMS.KeySpec.eccNistP256, .rsa2048])
    func signingKeyOnDisk(spec: KMS.KeySpec) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keystore.sqlite")
        let message = Data("signed before the restart".utf8)
        let algorithm: KMS.SigningAlgorithmSpec = spec == .rsa2048 ? .rsassaPssSha256 : .ecdsaSha256
        var signature = Data()
        var publicKey = Data()
        var key = ""
        do {
            let store = try SQLiteKeyStore(path: path)
            let root = try await RootKey.open(.file(directory.path("root.key")), store: store)
            let kms = KeyServiceEngine(store: store, root: root)
            let admin = Principal.user("admin", account: kms.configuration.account, isAdmin: true)
            key = try #require(try await kms.createKey(.init(keyUsage: .signVerify, keySpec: spec), by: admin).keyMetadata?.arn)
            signature = try #require(try await kms.sign(.init(keyId: key, message: message, signingAlgorithm: algorithm), by: admin).signature)
            publicKey = try #require(try await kms.getPublicKey(.init(keyId: key), by: admin).publicKey)
            // The private key as the engine unwraps it.
            let id = try #require(UUID(uuidString: String(key.split(separator: "/").last!)))
            let record = try #require(try await store.key(id: id))
            let wrapped = try #require(try await store.version(keyID: record.id, number: 1)).wrappedMaterial
            let privateKey = try root.unwrap(wrapped, id: record.id, version: 1, purpose: KeyServiceEngine.signingMaterialPurpose)
            #expect(spec == .rsa2048 ? privateKey.count > 1000 : privateKey.count == 32)
            let needle = privateKey.withUnsafeBytes { Data($0) }
            _ = try await store.inspect("PRAGMA wal_checkpoint(TRUNCATE)")
            for (name, content) in try Self.filesContent(directory) where name != "root.key" {
                #expect(content.range(of: needle) == nil, "the private key found in \(name)")
                #expect(content.range(of: message) == nil, "the message found in \(name)")
            }
            try store.close()
        }
        let store = try SQLiteKeyStore(path: path)
        let kms = KeyServiceEngine(store: store, root: try await RootKey.open(.file(directory.path("root.key")), store: store))
        let admin = Principal.user("admin", account: kms.configuration.account, isAdmin: true)
        #expect(try await kms.verify(.init(keyId: key, message: message, signature: signature, signingAlgorithm: algorithm), by: admin).signatureValid == true)
        #expect(try await kms.getPublicKey(.init(keyId: key), by: admin).publicKey == publicKey)
    }
}
