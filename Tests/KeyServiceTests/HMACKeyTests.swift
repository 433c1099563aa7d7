import Foundation
import KMSWire
import SodiumKit
import Testing
@testable import KeyService

/// HMAC keys: CreateKey with HMAC_256/HMAC_512, GenerateMac and VerifyMac, and everything an
/// HMAC key is refused, through the same policy, grant, state and audit machinery.
@Suite("HMAC keys")
struct HMACKeyTests {
    static let message = Data("amount=42&currency=EUR".utf8)

    private func newHMACKey(_ f: Fixture, _ spec: KMS.KeySpec = .hmac256, policy: String? = nil) async throws -> String {
        let response = try await f.kms.createKey(.init(policy: policy, keyUsage: .generateVerifyMac, keySpec: spec), by: f.admin)
        return try #require(response.keyMetadata?.arn)
    }

    private func mac(_ f: Fixture, _ key: String, _ algorithm: KMS.MacAlgorithmSpec, _ message: Data = message, as principal: Principal? = nil) async throws -> Data {
        try #require(try await f.kms.generateMac(.init(message: message, keyId: key, macAlgorithm: algorithm), by: principal ?? f.admin).mac)
    }

    @Test("DescribeKey shows the spec, the usage and the MAC algorithm, and no encryption algorithm",
          arguments: [(KMS.KeySpec.hmac256, KMS.MacAlgorithmSpec.hmacSha256), (.hmac384, .hmacSha384), (.hmac512, .hmacSha512)])
    func metadata(spec: KMS.KeySpec, algorithm: KMS.MacAlgorithmSpec) async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newHMACKey(f, spec)
        let metadata = try #require(try await f.kms.describeKey(.init(keyId: key), by: f.admin).keyMetadata)
        #expect(metadata.keySpec == spec)
        #expect(metadata.customerMasterKeySpec?.rawValue == spec.rawValue)
        #expect(metadata.keyUsage == .generateVerifyMac)
        #expect(metadata.macAlgorithms == [algorithm])
        #expect(metadata.encryptionAlgorithms == nil)
        #expect(metadata.currentKeyMaterialId?.count == 64)
        let symmetric = try #require(try await f.kms.describeKey(.init(keyId: try await f.newKey()), by: f.admin).keyMetadata)
        #expect(symmetric.macAlgorithms == nil)
        #expect(symmetric.keySpec == .symmetricDefault)
    }

    @Test("GenerateMac is the HMAC of the message under the key's material; VerifyMac accepts it and nothing else",
          arguments: [(KMS.KeySpec.hmac256, KMS.MacAlgorithmSpec.hmacSha256, HMAC.Hash.sha256), (.hmac512, .hmacSha512, .sha512)])
    func generateAndVerify(spec: KMS.KeySpec, algorithm: KMS.MacAlgorithmSpec, hash: HMAC.Hash) async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newHMACKey(f, spec)
        let mac = try await mac(f, key, algorithm)
        #expect(mac.count == hash.byteCount)
        #expect(try await self.mac(f, key, algorithm) == mac)
        // The material is never exported; inside the engine it is, and the MAC is its HMAC.
        let record = try await f.kms.resolveKey(key)
        let material = try await f.kms.hmacMaterial(record)
        #expect(material.count == (spec == .hmac256 ? 32 : 64))
        #expect(HMAC.authenticate(Array(Self.message), key: material, hash: hash) == Array(mac))
        // Another key of the same spec gives another MAC.
        #expect(try await self.mac(f, try await newHMACKey(f, spec), algorithm) != mac)

        let verified = try await f.kms.verifyMac(.init(message: Self.message, keyId: key, macAlgorithm: algorithm, mac: mac), by: f.admin)
        #expect(verified.macValid == true)
        #expect(verified.keyId == key)
        #expect(verified.macAlgorithm == algorithm)
        var tampered = mac
        tampered[0] ^= 0x01
        for (message, candidate) in [(Self.message, tampered), (Data("amount=43&currency=EUR".utf8), mac), (Self.message, mac.dropLast())] {
            #expect(await kmsError {
                _ = try await f.kms.verifyMac(.init(message: message, keyId: key, macAlgorithm: algorithm, mac: candidate), by: f.admin)
            } == .kmsInvalidMac)
        }
    }

    @Test("HMAC_224 is refused naming the spec; an HMAC spec needs GENERATE_VERIFY_MAC")
    func createKeyRefusals() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        for spec in [KMS.KeySpec.hmac224] {
            do {
                _ = try await f.kms.createKey(.init(keyUsage: .generateVerifyMac, keySpec: spec), by: f.admin)
                Issue.record("\(spec) was accepted")
            } catch {
                #expect(error.type == .unsupportedOperation)
                #expect(error.message.contains(spec.rawValue))
            }
        }
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keySpec: .hmac256), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keyUsage: .encryptDecrypt, keySpec: .hmac512), by: f.admin) } == .validation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keyUsage: .generateVerifyMac), by: f.admin) } == .unsupportedOperation)
        #expect(await kmsError { _ = try await f.kms.createKey(.init(keyUsage: .signVerify, keySpec: .eccSecgP256k1), by: f.admin) } == .unsupportedOperation)
        // The deprecated CustomerMasterKeySpec is read as KeySpec.
        let old = try await f.kms.createKey(.init(keyUsage: .generateVerifyMac, customerMasterKeySpec: .hmac512), by: f.admin)
        #expect(old.keyMetadata?.keySpec == .hmac512)
    }

    @Test("an HMAC key refuses encryption, and an encryption key or the other algorithm refuses MACs: InvalidKeyUsageException")
    func wrongUsage() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let hmacKey = try await newHMACKey(f)
        let aesKey = try await f.newKey()
        #expect(await kmsError { _ = try await f.encrypt("x", key: hmacKey) } == .invalidKeyUsage)
        #expect(await kmsError { _ = try await f.kms.generateDataKey(.init(keyId: hmacKey, keySpec: .aes256), by: f.admin) } == .invalidKeyUsage)
        #expect(await kmsError { _ = try await f.kms.generateDataKeyWithoutPlaintext(.init(keyId: hmacKey, keySpec: .aes256), by: f.admin) } == .invalidKeyUsage)
        let blob = try await f.encrypt("x", key: aesKey)
        #expect(await kmsError { _ = try await f.kms.reEncrypt(.init(ciphertextBlob: blob, destinationKeyId: hmacKey), by: f.admin) } == .invalidKeyUsage)
        do {
            _ = try await mac(f, aesKey, .hmacSha256)
            Issue.record("GenerateMac on an encryption key succeeded")
        } catch let error as KMSError {
            #expect(error.type == .invalidKeyUsage)
            #expect(error.message == "\(aesKey) key usage is ENCRYPT_DECRYPT which is not valid for GenerateMac.")
        }
        #expect(await kmsError { _ = try await mac(f, hmacKey, .hmacSha512) } == .invalidKeyUsage)
        #expect(await kmsError { _ = try await mac(f, hmacKey, KMS.MacAlgorithmSpec(rawValue: "HMAC_MD5")) } == .validation)
        #expect(await kmsError { _ = try await mac(f, hmacKey, .hmacSha256, Data()) } == .validation)
        #expect(await kmsError { _ = try await mac(f, hmacKey, .hmacSha256, Data(count: 4097)) } == .validation)
        for rotation in [
            { _ = try await f.kms.enableKeyRotation(.init(keyId: hmacKey), by: f.admin) },
            { _ = try await f.kms.rotateKeyOnDemand(.init(keyId: hmacKey), by: f.admin) },
            { _ = try await f.kms.getKeyRotationStatus(.init(keyId: hmacKey), by: f.admin) },
        ] as [() async throws -> Void] {
            #expect(await kmsError(rotation) == .unsupportedOperation)
        }
    }

    @Test("key state and DryRun apply to GenerateMac and VerifyMac")
    func stateAndDryRun() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let key = try await newHMACKey(f)
        let mac = try await mac(f, key, .hmacSha256)
        #expect(await kmsError {
            _ = try await f.kms.generateMac(.init(message: Self.message, keyId: key, macAlgorithm: .hmacSha256, dryRun: true), by: f.admin)
        } == .dryRunOperation)
        try await f.kms.disableKey(.init(keyId: key), by: f.admin)
        #expect(await kmsError { _ = try await self.mac(f, key, .hmacSha256) } == .disabled)
        #expect(await kmsError { _ = try await f.kms.verifyMac(.init(message: Self.message, keyId: key, macAlgorithm: .hmacSha256, mac: mac), by: f.admin) } == .disabled)
        try await f.kms.enableKey(.init(keyId: key), by: f.admin)
        _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 7), by: f.admin)
        #expect(await kmsError { _ = try await self.mac(f, key, .hmacSha256) } == .kmsInvalidState)
    }

    @Test("the key policy decides, with kms:MacAlgorithm and kms:KeySpec; grants allow; every call is audited")
    func authorization() async throws {
        let f = try await Fixture()
        defer { f.cleanUp() }
        let policy = """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "\(f.admin.arn)"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Allow", "Principal": {"AWS": "\(f.function.arn)"}, "Action": ["kms:GenerateMac", "kms:VerifyMac"], "Resource": "*",
               "Condition": {"StringEquals": {"kms:MacAlgorithm": "HMAC_SHA_512", "kms:KeySpec": "HMAC_512", "kms:KeyUsage": "GENERATE_VERIFY_MAC"}}}
            ]}
            """
        let allowed = try await newHMACKey(f, .hmac512, policy: policy)
        let mac = try await mac(f, allowed, .hmacSha512, as: f.function)
        _ = try await f.kms.verifyMac(.init(message: Self.message, keyId: allowed, macAlgorithm: .hmacSha512, mac: mac), by: f.function)
        // The same statement does not match an HMAC_256 key.
        let other = try await newHMACKey(f, .hmac256, policy: policy)
        #expect(await kmsError { _ = try await self.mac(f, other, .hmacSha256, as: f.function) } == .accessDenied)
        // An unauthorized caller learns nothing about the algorithm: denied before it is checked.
        let plain = try await newHMACKey(f)
        #expect(await kmsError { _ = try await self.mac(f, plain, .hmacSha512, as: f.function) } == .accessDenied)
        _ = try await f.kms.createGrant(.init(keyId: plain, granteePrincipal: f.function.arn, operations: [.generateMac]), by: f.admin)
        _ = try await self.mac(f, plain, .hmacSha256, as: f.function)
        #expect(await kmsError {
            _ = try await f.kms.verifyMac(.init(message: Self.message, keyId: plain, macAlgorithm: .hmacSha256, mac: mac), by: f.function)
        } == .accessDenied)

        // A grant may allow only what the key supports, and has no context constraint on an HMAC key.
        let aesKey = try await f.newKey()
        for (key, operations, constraints) in [
            (plain, [KMS.GrantOperation.encrypt], nil), (plain, [.generateMac, .decrypt], nil), (aesKey, [.verifyMac], nil),
            (plain, [.generateMac], KMS.GrantConstraints(encryptionContextSubset: ["k": "v"])),
        ] as [(String, [KMS.GrantOperation], KMS.GrantConstraints?)] {
            #expect(await kmsError {
                _ = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: f.function.arn, operations: operations, constraints: constraints), by: f.admin)
            } == .validation)
        }

        let audit = try await f.store.auditRecords(after: 0, limit: 1000)
        let macRecords = audit.filter { $0.operation == "GenerateMac" || $0.operation == "VerifyMac" }
        #expect(macRecords.map(\.outcome) == ["Allowed", "Allowed", "AccessDeniedException", "AccessDeniedException", "Allowed", "AccessDeniedException"])
        #expect(macRecords.first?.keyARN == allowed)
    }
}
