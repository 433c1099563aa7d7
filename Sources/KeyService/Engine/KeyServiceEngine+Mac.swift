import Foundation
package import KMSWire
import SodiumKit

extension KeyServiceEngine {
    /// GenerateMac: the HMAC (RFC 2104) of up to 4,096 bytes under an HMAC key.
    /// - Throws: `InvalidKeyUsageException` for a key that is not an HMAC key, or an algorithm
    ///   that is not the key's; `DisabledException`/`KMSInvalidStateException` for a key that is
    ///   not enabled.
    package func generateMac(_ request: KMS.GenerateMacRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.GenerateMacResponse {
        try await withKey(
            .generateMac, keyID: request.keyId, by: principal, requestID: requestID, validate: request.validate,
            grantTokens: request.grantTokens, conditionKeys: Self.macConditionKeys(request.keyId, request.macAlgorithm), state: .enabled
        ) { (key, _) async throws(KMSError) in
            let hash = try Self.macHash(key, request.macAlgorithm, operation: .generateMac)
            try Self.dryRun(request.dryRun)
            let mac = hash.authenticate(Array(request.message), key: try await hmacMaterial(key))
            return KMS.GenerateMacResponse(mac: Data(mac), macAlgorithm: request.macAlgorithm, keyId: key.arn)
        }
    }

    /// VerifyMac: checks, in constant time, that a MAC is the HMAC of the message under the key.
    /// - Throws: `KMSInvalidMacException` when it is not (AWS never answers `MacValid: false`),
    ///   and the errors of ``generateMac(_:by:requestID:)``.
    package func verifyMac(_ request: KMS.VerifyMacRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.VerifyMacResponse {
        try await withKey(
            .verifyMac, keyID: request.keyId, by: principal, requestID: requestID, validate: request.validate,
            grantTokens: request.grantTokens, conditionKeys: Self.macConditionKeys(request.keyId, request.macAlgorithm), state: .enabled
        ) { (key, _) async throws(KMSError) in
            let hash = try Self.macHash(key, request.macAlgorithm, operation: .verifyMac)
            try Self.dryRun(request.dryRun)
            guard hash.verify(Array(request.mac), of: Array(request.message), key: try await hmacMaterial(key)) else {
                throw KMSError(.kmsInvalidMac, "the MAC is not the \(request.macAlgorithm.rawValue) of the message under \(key.arn)")
            }
            return KMS.VerifyMacResponse(keyId: key.arn, macValid: true, macAlgorithm: request.macAlgorithm)
        }
    }

    // MARK: - Key specs

    /// The domain of an HMAC key's material when wrapped under the root key, apart from the
    /// encryption keys' `key-material`, so neither ever opens as the other.
    static let hmacMaterialPurpose = "hmac-key-material"

    /// The key spec CreateKey asks for, with its key usage checked.
    /// - Throws: `UnsupportedOperationException` for a spec or usage envseal does not make
    ///   (HMAC_224, ECC_SECG_P256K1, SM2, ML-DSA, Ed25519, RSA for ENCRYPT_DECRYPT, KEY_AGREEMENT);
    ///   `ValidationException` for an HMAC or asymmetric spec without KeyUsage, or with one its
    ///   spec never takes, as AWS.
    static func requestedKeySpec(_ request: KMS.CreateKeyRequest) throws(KMSError) -> KeySpecKind {
        let spec = request.keySpec ?? request.customerMasterKeySpec.map { KMS.KeySpec(rawValue: $0.rawValue) } ?? .symmetricDefault
        guard let kind = KeySpecKind(rawValue: spec.rawValue) else {
            switch spec {
            case .hmac224:
                throw KMSError(.unsupportedOperation,
                    "envseal does not support KeySpec \(spec.rawValue): neither of its crypto libraries (libsodium, swift-crypto) has SHA-224; use HMAC_256, HMAC_384 or HMAC_512")
            default:
                throw KMSError(.unsupportedOperation,
                    "envseal does not support KeySpec \(spec.rawValue); it makes SYMMETRIC_DEFAULT, HMAC_256, HMAC_384, HMAC_512, ECC_NIST_P256, ECC_NIST_P384, ECC_NIST_P521, RSA_2048, RSA_3072 and RSA_4096 keys")
            }
        }
        guard !kind.isSymmetric else {
            if let usage = request.keyUsage, usage != .encryptDecrypt {
                throw KMSError(.unsupportedOperation, "envseal supports ENCRYPT_DECRYPT keys only for KeySpec SYMMETRIC_DEFAULT, not \(usage.rawValue)")
            }
            return kind
        }
        guard let usage = request.keyUsage else {
            throw KMSError(.validation, "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.")
        }
        if kind.isHMAC {
            guard usage == .generateVerifyMac else {
                throw KMSError(.validation, "KeyUsage \(usage.rawValue) is not valid for KeySpec \(kind.rawValue): HMAC keys take GENERATE_VERIFY_MAC")
            }
            return kind
        }
        // A signing spec: the usages AWS would take but envseal does not serve are unsupported;
        // the ones AWS never takes for the spec are invalid.
        let isRSA = kind == .rsa2048 || kind == .rsa3072 || kind == .rsa4096
        switch usage {
        case .signVerify: return kind
        case .encryptDecrypt where isRSA:
            throw KMSError(.unsupportedOperation, "envseal does not support RSA keys for ENCRYPT_DECRYPT (asymmetric encryption); \(kind.rawValue) keys here are SIGN_VERIFY")
        case .keyAgreement where !isRSA:
            throw KMSError(.unsupportedOperation, "envseal does not support KEY_AGREEMENT keys (DeriveSharedSecret); \(kind.rawValue) keys here are SIGN_VERIFY")
        default:
            throw KMSError(.validation, "KeyUsage \(usage.rawValue) is not valid for KeySpec \(kind.rawValue)")
        }
    }

    /// Refuses an HMAC or signing key to an encryption operation, as AWS: `InvalidKeyUsageException`.
    static func requireEncryptionKey(_ key: KeyRecord, _ operation: KMSOperation) throws(KMSError) {
        guard key.keySpec.isSymmetric else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keySpec.keyUsage) which is not valid for \(operation.rawValue).")
        }
    }

    /// The hash of `algorithm` on an HMAC key of the matching spec, or `InvalidKeyUsageException`.
    static func macHash(_ key: KeyRecord, _ algorithm: KMS.MacAlgorithmSpec, operation: KMSOperation) throws(KMSError) -> MacHash {
        guard key.keySpec.isHMAC else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keySpec.keyUsage) which is not valid for \(operation.rawValue).")
        }
        switch (key.keySpec, algorithm) {
        case (.hmac256, .hmacSha256): return .sha256
        case (.hmac384, .hmacSha384): return .sha384
        case (.hmac512, .hmacSha512): return .sha512
        default: throw KMSError(.invalidKeyUsage, "Algorithm \(algorithm.rawValue) is incompatible with key spec \(key.keySpec.rawValue).")
        }
    }

    /// The MacAlgorithms of a key's metadata (`nil` for an encryption key).
    static func macAlgorithms(_ spec: KeySpecKind) -> [KMS.MacAlgorithmSpec]? {
        switch spec {
        case .hmac256: [.hmacSha256]
        case .hmac384: [.hmacSha384]
        case .hmac512: [.hmacSha512]
        default: nil
        }
    }

    /// Refuses a grant for operations the key does not support, as AWS: a grant on an encryption
    /// key may not allow GenerateMac or Sign, nor one on an HMAC key Encrypt; and
    /// encryption-context constraints are for encryption keys only. `ValidationException`.
    static func requireGrantable(_ operations: [String], constrained: Bool, key: KeyRecord) throws(KMSError) {
        let common: Set<String> = ["CreateGrant", "RetireGrant", "DescribeKey"]
        let own: Set<String>
        if key.keySpec.isHMAC {
            own = ["GenerateMac", "VerifyMac"]
        } else if key.keySpec.isSigning {
            own = ["Sign", "Verify", "GetPublicKey"]
        } else {
            own = [
                "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
                "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
            ]
        }
        let supported = common.union(own)
        if let operation = operations.first(where: { !supported.contains($0) }) {
            throw KMSError(.validation, "a grant on \(key.arn), a \(key.keySpec.rawValue) key, cannot allow \(operation): the key does not support it")
        }
        if constrained, !key.keySpec.isSymmetric {
            throw KMSError(.validation, "encryption context constraints are allowed only in grants on symmetric encryption keys, not on \(key.arn)")
        }
    }

    /// `kms:MacAlgorithm` and `kms:RequestAlias`.
    static func macConditionKeys(_ keyReference: String, _ algorithm: KMS.MacAlgorithmSpec) -> [String: [String]] {
        requestAlias(keyReference).merging(["kms:MacAlgorithm": [algorithm.rawValue]]) { lhs, _ in lhs }
    }

    /// New random material for an HMAC key (32 or 64 bytes by its spec), wrapped under the root
    /// key, as its only version: HMAC keys do not rotate.
    func newHMACVersion(keyID: UUID, spec: KeySpecKind) throws(KMSError) -> KeyVersionRecord {
        do {
            let material = try SecureRandom.secureBytes(count: spec.materialByteCount)
            let wrapped = try root.wrap(material, id: keyID, version: 1, purpose: Self.hmacMaterialPurpose)
            return KeyVersionRecord(keyID: keyID, version: 1, wrappedMaterial: wrapped, materialID: try Self.materialID(root: root, keyID: keyID, version: 1),
                                    createdAt: now, rotationType: .initial)
        } catch {
            throw KMSError(.kmsInternal, "cannot wrap new key material")
        }
    }

    /// An HMAC key's material, from the material cache (which holds it beside the encryption
    /// keys', under the same eviction) or unwrapped from the store.
    func hmacMaterial(_ key: KeyRecord) async throws(KMSError) -> SecureBytes {
        if let cached = materials.getHMAC(key.id, key.currentVersion) { return cached }
        let bytes = try await unwrapHMACMaterial(key)
        materials.putHMAC(key.id, key.currentVersion, bytes)
        return bytes
    }

    /// Reads an HMAC key's material from the store and unwraps it under the root key.
    func unwrapHMACMaterial(_ key: KeyRecord) async throws(KMSError) -> SecureBytes {
        guard let record = try await storeCall({ try await store.version(keyID: key.id, number: key.currentVersion) }),
              !record.wrappedMaterial.isEmpty else {
            throw KMSError(.notFound, "Key '\(key.arn)' has no material: it was deleted")
        }
        do {
            return try root.unwrap(record.wrappedMaterial, id: key.id, version: key.currentVersion, purpose: Self.hmacMaterialPurpose)
        } catch {
            throw KMSError(.kmsInternal, "the material of \(key.arn) does not open under the root key")
        }
    }

    /// The KeyMaterialId of a key's current version, for its metadata; `nil` when it cannot be read.
    func currentMaterialID(_ key: KeyRecord) async -> String? {
        if key.state == .pendingImport { return nil }
        if !key.keySpec.isSymmetric {
            return try? await storeCall { try await store.version(keyID: key.id, number: key.currentVersion) }?.materialID
        }
        return try? await material(key, version: key.currentVersion).materialID
    }
}
