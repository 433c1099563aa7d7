import Foundation
package import KMSWire
import SodiumKit

extension KeyServiceEngine {
    /// Sign: signs up to 4,096 bytes (`MessageType` RAW, hashed here) or a digest (DIGEST, whose
    /// length must be the algorithm's) under an asymmetric signing key.
    /// - Throws: `InvalidKeyUsageException` for a key that is not a signing key, or an algorithm
    ///   its spec does not sign with; `ValidationException` for a digest of the wrong length;
    ///   `DisabledException`/`KMSInvalidStateException` for a key that is not enabled.
    package func sign(_ request: KMS.SignRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.SignResponse {
        try await withKey(
            .sign, keyID: request.keyId, by: principal, requestID: requestID, validate: request.validate, grantTokens: request.grantTokens,
            conditionKeys: Self.signingConditionKeys(request.keyId, request.signingAlgorithm, request.messageType), state: .enabled
        ) { (key, _) async throws(KMSError) in
            let input = try Self.signingInput(key, request.signingAlgorithm, request.message, request.messageType, operation: .sign)
            try Self.dryRun(request.dryRun)
            let signature = try await signingKey(key).sign(input)
            return KMS.SignResponse(keyId: key.arn, signature: signature, signingAlgorithm: request.signingAlgorithm)
        }
    }

    /// Verify: checks a signature of a message or digest under a signing key's public half. The
    /// message type need not be the one it was signed with.
    /// - Throws: `KMSInvalidSignatureException` when it is not valid (AWS never answers
    ///   `SignatureValid: false`), and the errors of ``sign(_:by:requestID:)``.
    package func verify(_ request: KMS.VerifyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.VerifyResponse {
        try await withKey(
            .verify, keyID: request.keyId, by: principal, requestID: requestID, validate: request.validate, grantTokens: request.grantTokens,
            conditionKeys: Self.signingConditionKeys(request.keyId, request.signingAlgorithm, request.messageType), state: .enabled
        ) { (key, _) async throws(KMSError) in
            let input = try Self.signingInput(key, request.signingAlgorithm, request.message, request.messageType, operation: .verify)
            try Self.dryRun(request.dryRun)
            guard try await signingKey(key).isValidSignature(request.signature, for: input) else {
                throw KMSError(.kmsInvalidSignature, "the signature is not a valid \(request.signingAlgorithm.rawValue) signature of the message under \(key.arn)")
            }
            return KMS.VerifyResponse(keyId: key.arn, signatureValid: true, signingAlgorithm: request.signingAlgorithm)
        }
    }

    /// GetPublicKey: a signing key's public key, DER SubjectPublicKeyInfo, with its spec, usage
    /// and signing algorithms.
    /// - Throws: `UnsupportedOperationException` for a symmetric or HMAC key (they have no public
    ///   half); `DisabledException`/`KMSInvalidStateException` for a key that is not enabled.
    package func getPublicKey(_ request: KMS.GetPublicKeyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.GetPublicKeyResponse {
        try await withKey(
            .getPublicKey, keyID: request.keyId, by: principal, requestID: requestID, validate: request.validate,
            grantTokens: request.grantTokens, conditionKeys: Self.requestAlias(request.keyId), state: .enabled
        ) { (key, _) async throws(KMSError) in
            guard key.keySpec.isSigning else {
                throw KMSError(.unsupportedOperation, "\(key.arn) is a \(key.keySpec.rawValue) key, which has no public key: GetPublicKey is for asymmetric keys")
            }
            let publicKey = try await signingKey(key).publicKeyDER
            return KMS.GetPublicKeyResponse(
                keyId: key.arn, publicKey: publicKey, customerMasterKeySpec: KMS.CustomerMasterKeySpec(rawValue: key.keySpec.rawValue),
                keySpec: KMS.KeySpec(rawValue: key.keySpec.rawValue), keyUsage: .signVerify, signingAlgorithms: Self.signingAlgorithms(key.keySpec))
        }
    }

    // MARK: - Signing keys

    /// The domain of a signing key's private key when wrapped under the root key, apart from the
    /// encryption and HMAC keys' material, so none ever opens as another.
    static let signingMaterialPurpose = "signing-key-material"

    /// The root-key wrapping domain of a key spec's material.
    static func materialPurpose(_ spec: KeySpecKind) -> String {
        spec.isHMAC ? hmacMaterialPurpose : spec.isSigning ? signingMaterialPurpose : "key-material"
    }

    /// The SigningAlgorithms of a key's metadata (`nil` for a key that does not sign).
    static func signingAlgorithms(_ spec: KeySpecKind) -> [KMS.SigningAlgorithmSpec]? {
        spec.isSigning ? SigningAlgorithm.supported(by: spec).map { KMS.SigningAlgorithmSpec(rawValue: $0.rawValue) } : nil
    }

    /// Checks the key, the algorithm and the message type of a Sign or Verify request.
    static func signingInput(
        _ key: KeyRecord, _ requested: KMS.SigningAlgorithmSpec, _ message: Data, _ messageType: KMS.MessageType?, operation: KMSOperation
    ) throws(KMSError) -> SigningInput {
        guard key.keySpec.isSigning else {
            throw KMSError(.invalidKeyUsage, "\(key.arn) key usage is \(key.keySpec.keyUsage) which is not valid for \(operation.rawValue).")
        }
        guard let algorithm = SigningAlgorithm(rawValue: requested.rawValue), SigningAlgorithm.supported(by: key.keySpec).contains(algorithm) else {
            throw KMSError(.invalidKeyUsage, "Algorithm \(requested.rawValue) is incompatible with key spec \(key.keySpec.rawValue).")
        }
        switch messageType ?? .raw {
        case .raw:
            return SigningInput(algorithm: algorithm, message: message, isDigest: false)
        case .digest:
            guard message.count == algorithm.digestByteCount else {
                throw KMSError(.validation, "Digest is invalid length for algorithm \(algorithm.rawValue).")
            }
            return SigningInput(algorithm: algorithm, message: message, isDigest: true)
        default:
            throw KMSError(.validation, "MessageType \(messageType?.rawValue ?? "") is valid only for ML_DSA keys, which envseal does not make; use RAW or DIGEST")
        }
    }

    /// `kms:SigningAlgorithm`, `kms:MessageType` (RAW when not given, as AWS) and `kms:RequestAlias`.
    static func signingConditionKeys(_ keyReference: String, _ algorithm: KMS.SigningAlgorithmSpec, _ messageType: KMS.MessageType?) -> [String: [String]] {
        requestAlias(keyReference).merging([
            "kms:SigningAlgorithm": [algorithm.rawValue], "kms:MessageType": [(messageType ?? .raw).rawValue],
        ]) { lhs, _ in lhs }
    }

    /// A new private key for a signing key, made by swift-crypto and wrapped under the root key,
    /// as its only version: asymmetric keys do not rotate.
    func newSigningVersion(keyID: UUID, spec: KeySpecKind) async throws(KMSError) -> KeyVersionRecord {
        let material = try await SigningKey.generate(spec)
        do {
            let wrapped = try root.wrap(material, id: keyID, version: 1, purpose: Self.signingMaterialPurpose)
            return KeyVersionRecord(keyID: keyID, version: 1, wrappedMaterial: wrapped, materialID: try Self.materialID(root: root, keyID: keyID, version: 1),
                                    createdAt: now, rotationType: .initial)
        } catch {
            throw KMSError(.kmsInternal, "cannot wrap new key material")
        }
    }

    /// A signing key's private key, unwrapped and parsed for one call (not cached, as HMAC keys'
    /// material is not).
    func signingKey(_ key: KeyRecord) async throws(KMSError) -> SigningKey {
        guard let record = try await storeCall({ try await store.version(keyID: key.id, number: key.currentVersion) }),
              !record.wrappedMaterial.isEmpty else {
            throw KMSError(.notFound, "Key '\(key.arn)' has no material: it was deleted")
        }
        let material: SecureBytes
        do {
            material = try root.unwrap(record.wrappedMaterial, id: key.id, version: key.currentVersion, purpose: Self.signingMaterialPurpose)
        } catch {
            throw KMSError(.kmsInternal, "the material of \(key.arn) does not open under the root key")
        }
        return try SigningKey(material: material, spec: key.keySpec)
    }
}
