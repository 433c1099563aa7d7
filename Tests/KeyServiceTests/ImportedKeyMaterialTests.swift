import _CryptoExtras
import Foundation
import KMSWire
import SodiumKit
import Testing
@testable import KeyService

/// Keys of origin EXTERNAL: CreateKey, GetParametersForImport, ImportKeyMaterial,
/// DeleteImportedKeyMaterial and expiry, with AWS's states and errors.
@Suite("Imported key material")
struct ImportedKeyMaterialTests {
    private func newExternalKey(_ f: Fixture, spec: KMS.KeySpec? = nil, policy: String? = nil) async throws -> String {
        let usage: KMS.KeyUsageType? = spec.map { $0 == .symmetricDefault ? .encryptDecrypt : .generateVerifyMac }
        let response = try await f.kms.createKey(.init(policy: policy, keyUsage: usage, keySpec: spec, origin: .external), by: f.admin)
        return try #require(response.keyMetadata?.arn)
    }

    private func parameters(_ f: Fixture, _ key: String, _ algorithm: KMS.AlgorithmSpec = .rsaesOaepSha256,
                            as principal: Principal? = nil) async throws -> (token: Data, publicKey: _RSA.Encryption.PublicKey) {
        let response = try await f.kms.getParametersForImport(
            .init(keyId: key, wrappingAlgorithm: algorithm, wrappingKeySpec: .rsa2048), by: principal ?? f.admin)
        #expect(response.keyId == key)
        #expect(response.parametersValidTo == f.clock.now.addingTimeInterval(86_400))
        let der = try #require(response.publicKey)
        return (try #require(response.importToken), try _RSA.Encryption.PublicKey(derRepresentation: der))
    }

    private func wrap(_ material: [UInt8], _ publicKey: _RSA.Encryption.PublicKey, sha1: Bool = false) throws -> Data {
        try publicKey.encrypt(Data(material), padding: sha1 ? .PKCS1_OAEP : .PKCS1_OAEP_SHA256)
    }

    private func importMaterial(_ f: Fixture, _ key: String, _ material: [UInt8], validTo: Date? = nil) async throws -> KMS.ImportKeyMaterialResponse {
        let (token, publicKey) = try await parameters(f, key)
        return try await f.kms.importKeyMaterial(
            .init(keyId: key, importToken: token, encryptedKeyMaterial: try wrap(material, publicKey), validTo: validTo,
                  expirationModel: validTo == nil ? .keyMaterialDoesNotExpire : .keyMaterialExpires), by: f.admin)
    }

    private func state(_ f: Fixture, _ key: String) async throws -> KMS.KeyMetadata {
        try #require(try await f.kms.describeKey(.init(keyId: key), by: f.admin).keyMetadata)
    }

    private static func material(_ count: Int = 32) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255) } }

    @Test("an EXTERNAL key is PendingImport with no material, and refuses cryptography and state changes")
    func pendingImport() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newExternalKey(f)
        let metadata = try await state(f, key)
        #expect(metadata.keyState == .pendingImport)
        #expect(metadata.origin == .external)
        #expect(metadata.enabled == false)
        #expect(metadata.currentKeyMaterialId == nil)
        #expect(metadata.expirationModel == nil)
        for refused in [
            { _ = try await f.encrypt("x", key: key) },
            { _ = try await f.kms.generateDataKey(.init(keyId: key, keySpec: .aes256), by: f.admin) },
            { try await f.kms.enableKey(.init(keyId: key), by: f.admin) },
            { try await f.kms.disableKey(.init(keyId: key), by: f.admin) },
        ] as [() async throws -> Void] {
            #expect(await kmsError(refused) == .kmsInvalidState)
        }
        #expect(await kmsError { try await f.kms.enableKeyRotation(.init(keyId: key), by: f.admin) } == .unsupportedOperation)
        // Only AWS_KMS and EXTERNAL keys are made.
        #expect(await kmsError { _ = try await f.kms.createKey(.init(origin: .awsCloudhsm), by: f.admin) } == .unsupportedOperation)
        // Import operations are for EXTERNAL keys only.
        let aws = try await f.newKey()
        #expect(await kmsError { _ = try await parameters(f, aws) } == .unsupportedOperation)
        #expect(await kmsError { _ = try await f.kms.deleteImportedKeyMaterial(.init(keyId: aws), by: f.admin) } == .unsupportedOperation)
    }

    @Test("imported material encrypts; deleted, the key is PendingImport; the same material imported again opens old ciphertexts")
    func importDeleteReimport() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newExternalKey(f)
        let material = Self.material()
        let imported = try await importMaterial(f, key, material)
        #expect(imported.keyId == key)
        #expect(imported.keyMaterialId?.count == 64)
        var metadata = try await state(f, key)
        #expect(metadata.keyState == .enabled)
        #expect(metadata.expirationModel == .keyMaterialDoesNotExpire)
        #expect(metadata.currentKeyMaterialId == imported.keyMaterialId)
        let blob = try await f.encrypt("imported", key: key)
        #expect(try await f.decrypt(blob) == "imported")
        // The material the engine holds is the one imported.
        let record = try await f.kms.resolveKey(key)
        #expect(try await f.kms.material(record, version: 1).material.secureBytes == SecureBytes(copying: material))

        let deleted = try await f.kms.deleteImportedKeyMaterial(.init(keyId: key), by: f.admin)
        #expect(deleted.keyMaterialId == imported.keyMaterialId)
        #expect(f.kms.materials.get(record.id, 1) == nil)
        metadata = try await state(f, key)
        #expect(metadata.keyState == .pendingImport)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .kmsInvalidState)
        #expect(try await f.store.version(keyID: record.id, number: 1)?.wrappedMaterial.isEmpty == true)
        // Deleting again changes nothing.
        _ = try await f.kms.deleteImportedKeyMaterial(.init(keyId: key), by: f.admin)

        // Other material is refused; the same material (RSAES_OAEP_SHA_1 this time) restores the key.
        #expect(await kmsError { _ = try await importMaterial(f, key, Self.material()) } == .incorrectKeyMaterial)
        let (token, publicKey) = try await parameters(f, key, .rsaesOaepSha1)
        _ = try await f.kms.importKeyMaterial(
            .init(keyId: key, importToken: token, encryptedKeyMaterial: try wrap(material, publicKey, sha1: true),
                  expirationModel: .keyMaterialDoesNotExpire), by: f.admin)
        #expect(try await state(f, key).keyState == .enabled)
        #expect(try await f.decrypt(blob) == "imported")
        // Disabled and enabled as any key.
        try await f.kms.disableKey(.init(keyId: key), by: f.admin)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .disabled)
        try await f.kms.enableKey(.init(keyId: key), by: f.admin)
        #expect(try await f.decrypt(blob) == "imported")
    }

    @Test("a token tampered with, for another key, expired, or material wrapped otherwise or of the wrong length is refused")
    func tokenAndMaterialErrors() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newExternalKey(f)
        let other = try await newExternalKey(f)
        let material = Self.material()
        let (token, publicKey) = try await parameters(f, key)
        let wrapped = try wrap(material, publicKey)
        func attempt(_ token: Data, _ wrapped: Data, key: String = key, model: KMS.ExpirationModelType = .keyMaterialDoesNotExpire,
                     validTo: Date? = nil) async -> KMSErrorType? {
            await kmsError {
                _ = try await f.kms.importKeyMaterial(
                    .init(keyId: key, importToken: token, encryptedKeyMaterial: wrapped, validTo: validTo, expirationModel: model), by: f.admin)
            }
        }
        for index in [0, 5, 20, 33, 40, token.count - 1] {
            var tampered = token
            tampered[index] ^= 0x01
            #expect(await attempt(tampered, wrapped) == .invalidImportToken)
        }
        #expect(await attempt(token.dropLast(), wrapped) == .invalidImportToken)
        #expect(await attempt(token, wrapped, key: other) == .invalidImportToken)
        let (_, otherPublicKey) = try await parameters(f, key)
        #expect(await attempt(token, try wrap(material, otherPublicKey)) == .invalidCiphertext)
        #expect(await attempt(token, try wrap(material, publicKey, sha1: true)) == .invalidCiphertext)
        #expect(await attempt(token, try wrap(Self.material(16), publicKey)) == .incorrectKeyMaterial)
        #expect(await attempt(token, try wrap(Self.material(64), publicKey)) == .incorrectKeyMaterial)
        // ValidTo must fit the expiration model.
        #expect(await attempt(token, wrapped, model: .keyMaterialExpires) == .validation)
        #expect(await attempt(token, wrapped, validTo: f.clock.now.addingTimeInterval(3600)) == .validation)
        #expect(await attempt(token, wrapped, model: .keyMaterialExpires, validTo: f.clock.now.addingTimeInterval(-1)) == .validation)
        #expect(try await state(f, key).keyState == .pendingImport)
        // Other wrapping algorithms and key specs are refused with a clear message.
        for (algorithm, spec) in [(KMS.AlgorithmSpec.rsaAesKeyWrapSha256, KMS.WrappingKeySpec.rsa2048), (.rsaesOaepSha256, .sm2)] {
            do {
                _ = try await f.kms.getParametersForImport(.init(keyId: key, wrappingAlgorithm: algorithm, wrappingKeySpec: spec), by: f.admin)
                Issue.record("\(algorithm) \(spec) accepted")
            } catch {
                #expect(error.type == .unsupportedOperation)
                #expect(error.message.contains(algorithm == .rsaesOaepSha256 ? spec.rawValue : algorithm.rawValue))
            }
        }
        // 24 hours later the token has expired.
        f.clock.advance(days: 1.01)
        #expect(await attempt(token, wrapped) == .expiredImportToken)
        #expect(await attempt(token, wrapped) == .expiredImportToken)
    }

    @Test("another engine on the store (a restart, or a second server) finishes an import begun on the first")
    func importOnAnotherEngine() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newExternalKey(f)
        let (token, publicKey) = try await parameters(f, key)
        let root = try await RootKey.open(.file(f.directory.appendingPathComponent("root.key").path), store: f.store)
        let clock = f.clock
        let second = KeyServiceEngine(store: f.store, root: root, configuration: .init(now: { clock.now }))
        _ = try await second.importKeyMaterial(
            .init(keyId: key, importToken: token, encryptedKeyMaterial: try wrap(Self.material(), publicKey),
                  expirationModel: .keyMaterialDoesNotExpire), by: f.admin)
        let blob = try #require(try await second.encrypt(.init(keyId: key, plaintext: Data("across".utf8)), by: f.admin).ciphertextBlob)
        // The first engine sees the change once its cached key record (1 s) is read again.
        try await Task.sleep(for: .seconds(1.1))
        #expect(try await f.decrypt(blob) == "across")
    }

    @Test("material past its ValidTo is deleted when the key is next used: the key is PendingImport")
    func expiry() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newExternalKey(f)
        let material = Self.material()
        let validTo = f.clock.now.addingTimeInterval(2 * 86_400)
        _ = try await importMaterial(f, key, material, validTo: validTo)
        let metadata = try await state(f, key)
        #expect(metadata.expirationModel == .keyMaterialExpires)
        #expect(metadata.validTo == validTo)
        let blob = try await f.encrypt("expiring", key: key)
        f.clock.advance(days: 3)
        // The record the engine cached is read again past its lifetime.
        try await Task.sleep(for: .seconds(1.1))
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .kmsInvalidState)
        #expect(try await state(f, key).keyState == .pendingImport)
        let record = try await f.kms.resolveKey(key)
        #expect(record.validTo == nil && record.expirationModel == nil)
        #expect(try await f.store.version(keyID: record.id, number: 1)?.wrappedMaterial.isEmpty == true)
        _ = try await importMaterial(f, key, material)
        #expect(try await f.decrypt(blob) == "expiring")
    }

    @Test("the background sweep deletes expired material of keys nobody uses")
    func expiryBySweep() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newExternalKey(f)
        _ = try await importMaterial(f, key, Self.material(), validTo: f.clock.now.addingTimeInterval(86_400))
        let id = try await f.kms.resolveKey(key).id
        _ = try await f.kms.performDueWork()
        #expect(try await f.store.key(id: id)?.state == .enabled)
        f.clock.advance(days: 2)
        _ = try await f.kms.performDueWork()
        #expect(try await f.store.key(id: id)?.state == .pendingImport)
        #expect(try await f.store.version(keyID: id, number: 1)?.wrappedMaterial.isEmpty == true)
        #expect(f.kms.materials.get(id, 1) == nil)
    }

    @Test("an EXTERNAL HMAC key takes material of its spec's length and MACs with it")
    func hmacImport() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newExternalKey(f, spec: .hmac256)
        let material = Self.material(32)
        _ = try await importMaterial(f, key, material)
        let message = Data("imported hmac".utf8)
        let mac = try #require(try await f.kms.generateMac(.init(message: message, keyId: key, macAlgorithm: .hmacSha256), by: f.admin).mac)
        #expect(Array(mac) == HMAC.authenticate(Array(message), key: try SecureBytes(copying: material), hash: .sha256))
        // Cached, and dropped with the material.
        let record = try await f.kms.resolveKey(key)
        #expect(f.kms.materials.getHMAC(record.id, 1) != nil)
        _ = try await f.kms.deleteImportedKeyMaterial(.init(keyId: key), by: f.admin)
        #expect(f.kms.materials.getHMAC(record.id, 1) == nil)
        #expect(await kmsError { _ = try await f.kms.generateMac(.init(message: message, keyId: key, macAlgorithm: .hmacSha256), by: f.admin) } == .kmsInvalidState)
    }

    @Test("the key policy decides, with kms:WrappingAlgorithm and kms:ExpirationModel; every call is audited")
    func authorization() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let policy = """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "\(f.admin.arn)"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Allow", "Principal": {"AWS": "\(f.function.arn)"}, "Action": "kms:GetParametersForImport", "Resource": "*",
               "Condition": {"StringEquals": {"kms:WrappingAlgorithm": "RSAES_OAEP_SHA_256"}}},
              {"Effect": "Allow", "Principal": {"AWS": "\(f.function.arn)"}, "Action": "kms:ImportKeyMaterial", "Resource": "*",
               "Condition": {"StringEquals": {"kms:ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}}}
            ]}
            """
        let key = try await newExternalKey(f, policy: policy)
        let (token, publicKey) = try await parameters(f, key, as: f.function)
        #expect(await kmsError { _ = try await parameters(f, key, .rsaesOaepSha1, as: f.function) } == .accessDenied)
        let wrapped = try wrap(Self.material(), publicKey)
        #expect(await kmsError {
            _ = try await f.kms.importKeyMaterial(.init(keyId: key, importToken: token, encryptedKeyMaterial: wrapped,
                                                        validTo: f.clock.now.addingTimeInterval(3600), expirationModel: .keyMaterialExpires), by: f.function)
        } == .accessDenied)
        _ = try await f.kms.importKeyMaterial(.init(keyId: key, importToken: token, encryptedKeyMaterial: wrapped,
                                                    expirationModel: .keyMaterialDoesNotExpire), by: f.function)
        #expect(await kmsError { _ = try await f.kms.deleteImportedKeyMaterial(.init(keyId: key), by: f.function) } == .accessDenied)
        // CreateKey with Origin EXTERNAL needs what CreateKey needs.
        #expect(await kmsError { _ = try await f.kms.createKey(.init(origin: .external), by: f.function) } == .accessDenied)

        let audit = try await f.store.auditRecords(after: 0, limit: 1000)
        let records = audit.filter { ["GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial"].contains($0.operation) }
        #expect(records.map(\.operation) == ["GetParametersForImport", "GetParametersForImport", "ImportKeyMaterial", "ImportKeyMaterial", "DeleteImportedKeyMaterial"])
        #expect(records.map(\.outcome) == ["Allowed", "AccessDeniedException", "AccessDeniedException", "Allowed", "AccessDeniedException"])
        #expect(records.allSatisfy { $0.keyARN == key })
    }

    @Test("HMAC-SHA-384 is RFC 4231's (test case 1), through swift-crypto")
    func hmacSHA384Vector() throws {
        let key = try SecureBytes(copying: [UInt8](repeating: 0x0b, count: 20))
        let expected = "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6"
        let mac = MacHash.sha384.authenticate(Array("Hi There".utf8), key: key)
        #expect(mac.map { String(format: "%02x", $0) }.joined() == expected)
        #expect(MacHash.sha384.verify(mac, of: Array("Hi There".utf8), key: key))
        #expect(!MacHash.sha384.verify(Array(mac.dropLast()), of: Array("Hi There".utf8), key: key))
    }
}
