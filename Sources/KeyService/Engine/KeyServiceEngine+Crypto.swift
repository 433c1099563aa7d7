import EnvSealFormat
import Foundation
package import KMSWire
import SodiumKit

extension KeyServiceEngine {
    /// Encrypt: up to 4,096 bytes under the key's newest version, bound to the encryption context.
    package func encrypt(_ request: KMS.EncryptRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.EncryptResponse {
        try await audited(.encrypt, principal, requestID: requestID, context: request.encryptionContext) { (note) async throws(KMSError) in
            try request.validate()
            try Self.requireSymmetric(request.encryptionAlgorithm)
            let context = try Self.context(request.encryptionContext)
            let key = try await openKey(
                KeyAction(.encrypt), request.keyId, by: principal, note: &note, context: request.encryptionContext, grantTokens: request.grantTokens,
                conditionKeys: Self.cryptoConditionKeys(keyReference: request.keyId), state: .enabled, dryRun: request.dryRun)
            try Self.requireEncryptionKey(key, .encrypt)
            // The plaintext arrived in a request body: sealing it from there adds no copy.
            let (blob, _) = try await seal(key: key, context: context) { material, id, version, context throws(FormatError) in
                try Self.withBytes(request.plaintext) { (bytes) throws(FormatError) in
                    try CiphertextBlob.seal(bytes, key: material, keyID: id, keyVersion: version, context: context)
                }
            }
            return KMS.EncryptResponse(ciphertextBlob: Data(blob.bytes), keyId: key.arn, encryptionAlgorithm: .symmetricDefault)
        }
    }

    /// Decrypt: opens a ciphertext of this service. The key comes from the blob; a KeyId, if
    /// given, must name the same key (else `IncorrectKeyException`).
    package func decrypt(_ request: KMS.DecryptRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.DecryptResponse {
        try await audited(.decrypt, principal, requestID: requestID, context: request.encryptionContext) { (note) async throws(KMSError) in
            try request.validate()
            try Self.requireSymmetric(request.encryptionAlgorithm)
            guard request.recipient == nil else { throw KMSError(.unsupportedOperation, "envseal does not support Nitro Enclave recipients") }
            guard let ciphertext = request.ciphertextBlob else {
                throw KMSError(.validation, "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
            }
            let opening = try await authorizeOpening(
                ciphertext, context: request.encryptionContext, keyId: request.keyId, action: .decrypt,
                principal: principal, grantTokens: request.grantTokens, dryRun: request.dryRun,
                conditionKeys: Self.cryptoConditionKeys(keyReference: request.keyId), note: &note)
            // The plaintext goes straight into the response: no guarded copy on the way.
            let plaintext = try opening.open { blob, material, context throws(FormatError) in
                try blob.openForTransfer(key: material, context: context)
            }
            return KMS.DecryptResponse(
                keyId: opening.key.arn, plaintext: plaintext, encryptionAlgorithm: .symmetricDefault,
                keyMaterialId: opening.material.materialID)
        }
    }

    /// ReEncrypt: opens under the source key and seals under the destination key without
    /// returning the plaintext. Needs kms:ReEncryptFrom on the source and kms:ReEncryptTo on
    /// the destination.
    package func reEncrypt(_ request: KMS.ReEncryptRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ReEncryptResponse {
        try await audited(.reEncrypt, principal, requestID: requestID, context: request.destinationEncryptionContext) { (note) async throws(KMSError) in
            try request.validate()
            try Self.requireSymmetric(request.sourceEncryptionAlgorithm)
            try Self.requireSymmetric(request.destinationEncryptionAlgorithm)
            guard let ciphertext = request.ciphertextBlob else {
                throw KMSError(.validation, "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null")
            }
            let destinationContext = try Self.context(request.destinationEncryptionContext)
            let destination = try await resolveKey(request.destinationKeyId)
            // kms:ReEncryptOnSameKey; a blob that does not parse is refused by authorizeOpening below.
            let sameKey = ["kms:ReEncryptOnSameKey": [(try? CiphertextBlob(parsing: ciphertext))?.keyID == destination.id ? "true" : "false"]]
            // Not openKey: the audit record names the destination only once the source is open.
            try await authorize(principal, .reEncryptTo, key: destination, context: request.destinationEncryptionContext, grantTokens: request.grantTokens,
                                conditionKeys: Self.cryptoConditionKeys(keyReference: request.destinationKeyId).merging(sameKey) { lhs, _ in lhs })
            try requireEnabled(destination)
            try Self.requireEncryptionKey(destination, .reEncrypt)
            let opening = try await authorizeOpening(
                ciphertext, context: request.sourceEncryptionContext, keyId: request.sourceKeyId, action: .reEncryptFrom,
                principal: principal, grantTokens: request.grantTokens, dryRun: request.dryRun,
                conditionKeys: Self.cryptoConditionKeys(keyReference: request.sourceKeyId).merging(sameKey) { lhs, _ in lhs }, note: &note)
            // This plaintext never leaves the service: it stays in guarded memory.
            let plaintext = try opening.open { blob, material, context throws(FormatError) in
                try blob.open(key: material, context: context)
            }
            note.keyARN = destination.arn
            let (blob, destinationMaterial) = try await seal(key: destination, context: destinationContext) { material, id, version, context throws(FormatError) in
                try CiphertextBlob.seal(plaintext, key: material, keyID: id, keyVersion: version, context: context)
            }
            return KMS.ReEncryptResponse(
                ciphertextBlob: Data(blob.bytes), sourceKeyId: opening.key.arn, keyId: destination.arn,
                sourceEncryptionAlgorithm: .symmetricDefault, destinationEncryptionAlgorithm: .symmetricDefault,
                sourceKeyMaterialId: opening.material.materialID, destinationKeyMaterialId: destinationMaterial)
        }
    }

    /// GenerateDataKey: a random data key, in plaintext and sealed. Exactly one of KeySpec
    /// (AES_256: 32 bytes, AES_128: 16) or NumberOfBytes (1 to 1,024).
    package func generateDataKey(_ request: KMS.GenerateDataKeyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.GenerateDataKeyResponse {
        try await audited(.generateDataKey, principal, requestID: requestID, context: request.encryptionContext) { (note) async throws(KMSError) in
            try request.validate()
            guard request.recipient == nil else { throw KMSError(.unsupportedOperation, "envseal does not support Nitro Enclave recipients") }
            let count = try Self.dataKeyLength(keySpec: request.keySpec, numberOfBytes: request.numberOfBytes)
            let context = try Self.context(request.encryptionContext)
            let key = try await openKey(
                KeyAction(.generateDataKey), request.keyId, by: principal, note: &note, context: request.encryptionContext,
                grantTokens: request.grantTokens, conditionKeys: Self.cryptoConditionKeys(keyReference: request.keyId),
                state: .enabled, dryRun: request.dryRun)
            try Self.requireEncryptionKey(key, .generateDataKey)
            // The data key's plaintext goes out in the response, so it is made where it is sent from.
            let plaintext = Data(SecureRandom.bytes(count: count))
            let (blob, materialID) = try await seal(key: key, context: context) { material, id, version, context throws(FormatError) in
                try Self.withBytes(plaintext) { (bytes) throws(FormatError) in
                    try CiphertextBlob.seal(bytes, key: material, keyID: id, keyVersion: version, context: context)
                }
            }
            return KMS.GenerateDataKeyResponse(ciphertextBlob: Data(blob.bytes), plaintext: plaintext, keyId: key.arn, keyMaterialId: materialID)
        }
    }

    /// GenerateDataKeyWithoutPlaintext: the same, returning only the sealed data key.
    package func generateDataKeyWithoutPlaintext(
        _ request: KMS.GenerateDataKeyWithoutPlaintextRequest, by principal: Principal, requestID: String? = nil
    ) async throws(KMSError) -> KMS.GenerateDataKeyWithoutPlaintextResponse {
        try await audited(.generateDataKeyWithoutPlaintext, principal, requestID: requestID, context: request.encryptionContext) { (note) async throws(KMSError) in
            try request.validate()
            let count = try Self.dataKeyLength(keySpec: request.keySpec, numberOfBytes: request.numberOfBytes)
            let context = try Self.context(request.encryptionContext)
            let key = try await openKey(
                KeyAction(.generateDataKeyWithoutPlaintext), request.keyId, by: principal, note: &note, context: request.encryptionContext,
                grantTokens: request.grantTokens, conditionKeys: Self.cryptoConditionKeys(keyReference: request.keyId),
                state: .enabled, dryRun: request.dryRun)
            try Self.requireEncryptionKey(key, .generateDataKeyWithoutPlaintext)
            let plaintext = try Self.random(count)
            let (blob, materialID) = try await seal(key: key, context: context) { material, id, version, context throws(FormatError) in
                try CiphertextBlob.seal(plaintext, key: material, keyID: id, keyVersion: version, context: context)
            }
            return KMS.GenerateDataKeyWithoutPlaintextResponse(ciphertextBlob: Data(blob.bytes), keyId: key.arn, keyMaterialId: materialID)
        }
    }

    /// GenerateRandom: 1 to 1,024 random bytes. Any principal of the account may call it.
    package func generateRandom(_ request: KMS.GenerateRandomRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.GenerateRandomResponse {
        try await audited(.generateRandom, principal, requestID: requestID) { (_) async throws(KMSError) in
            try request.validate()
            guard request.recipient == nil else { throw KMSError(.unsupportedOperation, "envseal does not support Nitro Enclave recipients") }
            guard request.customKeyStoreId == nil else { throw KMSError(.unsupportedOperation, "envseal does not support custom key stores") }
            guard principal.account == configuration.account else { throw KMSError(.accessDenied, "User: \(principal.arn) is not in account \(configuration.account)") }
            guard let count = request.numberOfBytes else {
                throw KMSError(.validation, "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null")
            }
            return KMS.GenerateRandomResponse(plaintext: Data(SecureRandom.bytes(count: count)))
        }
    }

    // MARK: - Shared steps

    /// Seals under the key's current version.
    /// - Returns: The blob and the version's KeyMaterialId.
    func seal(
        key: KeyRecord, context: EncryptionContext,
        _ body: (KeyMaterial, UUID, UInt32, EncryptionContext) throws(FormatError) -> CiphertextBlob
    ) async throws(KMSError) -> (CiphertextBlob, String) {
        let cached = try await material(key, version: key.currentVersion)
        do {
            return (try body(cached.material, key.id, key.currentVersion, context), cached.materialID)
        } catch {
            throw KMSError(.validation, "the plaintext cannot be sealed: \(error)")
        }
    }

    /// A ciphertext whose key has been found, whose caller has been authorized, and whose
    /// material is at hand: everything but the opening itself.
    struct Opening {
        let blob: CiphertextBlob
        let key: KeyRecord
        let material: MaterialCache.CachedMaterial
        let context: EncryptionContext

        func open<T>(_ body: (CiphertextBlob, KeyMaterial, EncryptionContext) throws(FormatError) -> T) throws(KMSError) -> T {
            do {
                return try body(blob, material.material, context)
            } catch {
                throw KMSError(.invalidCiphertext, "the ciphertext does not decrypt: the encryption context differs, or it was changed")
            }
        }
    }

    /// Parses a blob, finds and authorizes its key, and fetches the material; opening comes after.
    func authorizeOpening(
        _ ciphertext: Data, context: [String: String]?, keyId: String?, action: KeyAction, principal: Principal,
        grantTokens: [String]?, dryRun: Bool?, conditionKeys: [String: [String]], note: inout AuditNote
    ) async throws(KMSError) -> Opening {
        let encryptionContext = try Self.context(context)
        guard let blob = try? CiphertextBlob(parsing: ciphertext) else {
            throw KMSError(.invalidCiphertext, "the ciphertext is not one this key service produced, or it is damaged")
        }
        guard let stored = try await loadKey(blob.keyID) else {
            throw KMSError(.invalidCiphertext, "the ciphertext names no key of this service")
        }
        note.keyARN = stored.arn
        let key = try await checkNotDeleted(stored)
        if let keyId {
            let named = try await resolveKey(keyId)
            guard named.id == key.id else {
                throw KMSError(.incorrectKey, "the ciphertext was not encrypted under the KMS key \(named.arn)")
            }
        }
        try await authorize(principal, action, key: key, context: context, grantTokens: grantTokens, conditionKeys: conditionKeys)
        try requireEnabled(key)
        try Self.requireEncryptionKey(key, action == .decrypt ? .decrypt : .reEncrypt)
        try Self.dryRun(dryRun)
        guard blob.keyVersion <= key.currentVersion else {
            throw KMSError(.invalidCiphertext, "the ciphertext names a key version that does not exist")
        }
        return Opening(blob: blob, key: key, material: try await material(key, version: blob.keyVersion), context: encryptionContext)
    }

    static func context(_ pairs: [String: String]?) throws(KMSError) -> EncryptionContext {
        guard let pairs else { return .empty }
        do {
            return try EncryptionContext(pairs)
        } catch {
            throw KMSError(.validation, "1 validation error detected: Value at 'encryptionContext' failed to satisfy constraint: \(error)")
        }
    }

    static func requireSymmetric(_ algorithm: KMS.EncryptionAlgorithmSpec?) throws(KMSError) {
        if let algorithm, algorithm != .symmetricDefault {
            throw KMSError(.invalidKeyUsage, "envseal keys support SYMMETRIC_DEFAULT only, not \(algorithm.rawValue)")
        }
    }

    static func dataKeyLength(keySpec: KMS.DataKeySpec?, numberOfBytes: Int?) throws(KMSError) -> Int {
        switch (keySpec, numberOfBytes) {
        case (nil, nil):
            throw KMSError(.validation, "Please specify either number of bytes or key spec.")
        case (.some, .some):
            throw KMSError(.validation, "Please specify either number of bytes or key spec, not both.")
        case (.some(let spec), nil):
            switch spec {
            case .aes256: return 32
            case .aes128: return 16
            default: throw KMSError(.validation, "1 validation error detected: Value '\(spec.rawValue)' at 'keySpec' failed to satisfy constraint: Member must satisfy enum value set: [AES_256, AES_128]")
            }
        case (nil, .some(let count)):
            return count
        }
    }

    static func dryRun(_ flag: Bool?) throws(KMSError) {
        if flag == true { throw KMSError(.dryRunOperation, "The request would have succeeded, but the DryRun option is set.") }
    }

    /// `Data.withUnsafeBytes` with a typed error.
    static func withBytes<T>(_ data: Data, _ body: (UnsafeRawBufferPointer) throws(FormatError) -> T) throws(FormatError) -> T {
        let result: Result<T, FormatError> = data.withUnsafeBytes { bytes in Result { () throws(FormatError) in try body(bytes) } }
        return try result.get()
    }

    static func random(_ count: Int) throws(KMSError) -> SecureBytes {
        do {
            return try SecureRandom.secureBytes(count: count)
        } catch {
            throw KMSError(.kmsInternal, "out of guarded memory")
        }
    }
}

extension KeyAction {
    /// Decrypt's action, made once: a Decrypt compares against it on every call.
    static let decrypt = KeyAction(.decrypt)
}
