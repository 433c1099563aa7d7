import Foundation
package import KMSWire
import SodiumKit

extension KeyServiceEngine {
    /// How long GetParametersForImport's public key and import token are accepted: 24 hours, as AWS.
    static let importParametersLifetime: TimeInterval = 86_400
    /// The furthest ValidTo an import may give: 365 days, as AWS.
    static let longestValidity: TimeInterval = 365 * 86_400
    /// The root-key purpose under which wrapping private keys are stored.
    static let wrappingKeyPurpose = "import-wrapping-key"

    /// GetParametersForImport: a fresh RSA wrapping key pair for an `EXTERNAL` key; returns its
    /// public key (DER SubjectPublicKeyInfo) and an import token naming its private key, which the
    /// store keeps, wrapped under the root key, so that any server on the store finishes the import.
    /// - Throws: `UnsupportedOperationException` for a key not of origin `EXTERNAL` or a wrapping
    ///   algorithm or key spec envseal does not make; `KMSInvalidStateException` when pending deletion.
    package func getParametersForImport(
        _ request: KMS.GetParametersForImportRequest, by principal: Principal, requestID: String? = nil
    ) async throws(KMSError) -> KMS.GetParametersForImportResponse {
        let conditionKeys = ["kms:WrappingAlgorithm": [request.wrappingAlgorithm.rawValue], "kms:WrappingKeySpec": [request.wrappingKeySpec.rawValue]]
        return try await withKey(
            .getParametersForImport, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
            validate: request.validate, conditionKeys: conditionKeys, state: .notPendingDeletion
        ) { (key, _) async throws(KMSError) in
            try Self.requireExternal(key, .getParametersForImport)
            let algorithm = try ImportWrapping.Algorithm(request.wrappingAlgorithm)
            let size = try ImportWrapping.keySize(request.wrappingKeySpec)
            let pair = try await ImportWrapping.newKeyPair(size)
            let when = now
            let record: WrappingKeyRecord
            do {
                let id = UUID()
                let wrapped = try root.wrap(pair.privateKey, id: id, version: 1, purpose: Self.wrappingKeyPurpose(key.id, algorithm))
                record = WrappingKeyRecord(id: id, keyID: key.id, algorithm: algorithm.rawValue, spec: request.wrappingKeySpec.rawValue,
                                           wrappedPrivateKey: wrapped, createdAt: when, validTo: when.addingTimeInterval(Self.importParametersLifetime))
            } catch {
                throw KMSError(.kmsInternal, "cannot wrap the wrapping key under the root key")
            }
            try await storeCall { try await store.insertWrappingKey(record, removingExpiredBefore: when) }
            let token = try importToken(for: record, algorithm: algorithm)
            return KMS.GetParametersForImportResponse(keyId: key.arn, importToken: Data(token), publicKey: pair.publicKey, parametersValidTo: record.validTo)
        }
    }

    /// ImportKeyMaterial: opens the RSA-OAEP-wrapped material with the import token's wrapping
    /// key and makes it the key's material; a key PendingImport becomes Enabled. A key that had
    /// material before takes only that same material again.
    /// - Throws: `InvalidImportTokenException` for a token this service did not make or made for
    ///   another key; `ExpiredImportTokenException` past its 24 hours; `InvalidCiphertextException`
    ///   when the material does not decrypt; `IncorrectKeyMaterialException` for material of the
    ///   wrong length, or other than the key had; `ValidationException` for a ValidTo that does not
    ///   fit the ExpirationModel.
    package func importKeyMaterial(
        _ request: KMS.ImportKeyMaterialRequest, by principal: Principal, requestID: String? = nil
    ) async throws(KMSError) -> KMS.ImportKeyMaterialResponse {
        let model = request.expirationModel ?? .keyMaterialExpires
        var conditionKeys = ["kms:ExpirationModel": [model.rawValue]]
        if let validTo = request.validTo { conditionKeys["kms:ValidTo"] = [String(Int64(validTo.timeIntervalSince1970))] }
        return try await withKey(
            .importKeyMaterial, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
            validate: request.validate, conditionKeys: conditionKeys, state: .notPendingDeletion
        ) { (key, _) async throws(KMSError) in
            try Self.requireExternal(key, .importKeyMaterial)
            let when = now
            let validTo = try Self.checkedValidTo(model, request.validTo, now: when)
            if request.importType == .newKeyMaterial {
                throw KMSError(.unsupportedOperation, "envseal keeps one imported material per key: ImportType NEW_KEY_MATERIAL is not supported")
            }
            let wrapping = try await openImportToken(Array(request.importToken), for: key, now: when)
            let privateKey: SecureBytes
            do {
                privateKey = try root.unwrap(wrapping.record.wrappedPrivateKey, id: wrapping.record.id, version: 1,
                                             purpose: Self.wrappingKeyPurpose(key.id, wrapping.algorithm))
            } catch {
                throw KMSError(.kmsInternal, "the wrapping key of this import token does not open under the root key")
            }
            let material = try ImportWrapping.unwrap(request.encryptedKeyMaterial, privateKey: privateKey, algorithm: wrapping.algorithm)
            guard material.count == key.keySpec.materialByteCount else {
                throw KMSError(.incorrectKeyMaterial,
                    "the imported material is \(material.count) bytes; a \(key.keySpec.rawValue) key takes \(key.keySpec.materialByteCount)")
            }
            let materialID = try importedMaterialID(material, keyID: key.id)
            if let expected = request.keyMaterialId, expected != materialID {
                throw KMSError(.incorrectKeyMaterial, "the imported material is not the material KeyMaterialId \(expected) names")
            }
            let wrapped: [UInt8]
            do {
                wrapped = try root.wrap(material, id: key.id, version: key.currentVersion,
                                        purpose: Self.materialPurpose(key.keySpec))
            } catch {
                throw KMSError(.kmsInternal, "cannot wrap the imported material under the root key")
            }
            let modelName = model.rawValue
            defer {
                materials.evict(keyID: key.id)
                forgetKey(key.id)
            }
            try await storeCall {
                _ = try await store.updateMaterial(keyID: key.id) { record, version in
                    guard record.state != .deleted, record.state != .pendingDeletion else {
                        throw KMSError(.kmsInvalidState, "\(record.arn) is \(record.state == .deleted ? "deleted" : "pending deletion").")
                    }
                    // A key's material is its ciphertexts' only key: it never changes to other material.
                    guard version.materialID.isEmpty || version.materialID == materialID else {
                        throw KMSError(.incorrectKeyMaterial,
                            "\(record.arn) had other key material before: import the material it was created with (KeyMaterialId \(version.materialID))")
                    }
                    version.wrappedMaterial = wrapped
                    version.materialID = materialID
                    version.createdAt = when
                    record.expirationModel = modelName
                    record.validTo = validTo
                    if record.state == .pendingImport { record.state = .enabled }
                }
            }
            return KMS.ImportKeyMaterialResponse(keyId: key.arn, keyMaterialId: materialID)
        }
    }

    /// DeleteImportedKeyMaterial: the key's material is destroyed and the key is PendingImport
    /// until the same material is imported again. Deleting from a key without material succeeds.
    /// - Throws: `UnsupportedOperationException` for a key not of origin `EXTERNAL`;
    ///   `KMSInvalidStateException` when pending deletion.
    package func deleteImportedKeyMaterial(
        _ request: KMS.DeleteImportedKeyMaterialRequest, by principal: Principal, requestID: String? = nil
    ) async throws(KMSError) -> KMS.DeleteImportedKeyMaterialResponse {
        try await withKey(
            .deleteImportedKeyMaterial, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
            validate: request.validate, state: .notPendingDeletion
        ) { (key, _) async throws(KMSError) in
            try Self.requireExternal(key, .deleteImportedKeyMaterial)
            let version = try await clearImportedMaterial(key) { _ in true }
            return KMS.DeleteImportedKeyMaterialResponse(keyId: key.arn, keyMaterialId: version.isEmpty ? nil : version)
        }
    }

    // MARK: - Helpers

    /// The origin CreateKey asks for: `AWS_KMS` or `EXTERNAL`, else `UnsupportedOperationException`.
    static func requestedOrigin(_ request: KMS.CreateKeyRequest) throws(KMSError) -> KeyOrigin {
        guard let origin = request.origin else { return .awsKMS }
        guard let kind = KeyOrigin(rawValue: origin.rawValue) else {
            throw KMSError(.unsupportedOperation, "envseal supports origin AWS_KMS and EXTERNAL only, not \(origin.rawValue)")
        }
        return kind
    }

    /// The first version of an `EXTERNAL` key: no material, and no KeyMaterialId until material
    /// is imported.
    func newPendingImportVersion(keyID: UUID) -> KeyVersionRecord {
        KeyVersionRecord(keyID: keyID, version: 1, wrappedMaterial: [], materialID: "", createdAt: now, rotationType: .initial)
    }

    static func requireExternal(_ key: KeyRecord, _ operation: KMSOperation) throws(KMSError) {
        guard key.origin == .external else {
            throw KMSError(.unsupportedOperation, "\(key.arn) has origin \(key.origin.rawValue): \(operation.rawValue) is for keys created with Origin EXTERNAL")
        }
    }

    /// The ValidTo an import stores, checked against its ExpirationModel.
    static func checkedValidTo(_ model: KMS.ExpirationModelType, _ validTo: Date?, now: Date) throws(KMSError) -> Date? {
        switch model {
        case .keyMaterialDoesNotExpire:
            guard validTo == nil else {
                throw KMSError(.validation, "ValidTo must be omitted when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE")
            }
            return nil
        case .keyMaterialExpires:
            guard let validTo else {
                throw KMSError(.validation, "ValidTo is required when ExpirationModel is KEY_MATERIAL_EXPIRES (the default)")
            }
            guard validTo > now, validTo <= now.addingTimeInterval(longestValidity) else {
                throw KMSError(.validation, "ValidTo must be in the future and at most 365 days away")
            }
            return validTo
        default:
            throw KMSError(.validation, "ExpirationModel \(model.rawValue) is not KEY_MATERIAL_EXPIRES or KEY_MATERIAL_DOES_NOT_EXPIRE")
        }
    }

    /// The root-key purpose of one key's wrapping private key for one algorithm, so a stored
    /// private key opens only for the key and algorithm it was made for.
    static func wrappingKeyPurpose(_ keyID: UUID, _ algorithm: ImportWrapping.Algorithm) -> String {
        "\(wrappingKeyPurpose):\(keyID.uuidString.lowercased()):\(algorithm.rawValue)"
    }

    /// The KeyMaterialId of imported material: a MAC of it under a root subkey, bound to the
    /// key, so that importing other material into the key is detected without keeping the old.
    func importedMaterialID(_ material: SecureBytes, keyID: UUID) throws(KMSError) -> String {
        do {
            return try BLAKE2b.mac(key: root.subkey(.importToken), parts: [
                .bytes(Array("imported-material".utf8)), .bytes(Array(keyID.uuidString.utf8)), .secret(material),
            ]).description
        } catch {
            throw KMSError(.kmsInternal, "cannot compute the KeyMaterialId")
        }
    }

    // MARK: - Import tokens

    /// The token's layout: version (1), wrapping key id (16), key id (16), algorithm (1), the end of
    /// its validity in seconds since 1970 (8, big-endian), then a 32-byte BLAKE2b MAC of those
    /// under a root subkey. Opaque to callers; forging or altering one fails the MAC.
    static let importTokenVersion: UInt8 = 1
    static let importTokenBodyCount = 42

    func importToken(for record: WrappingKeyRecord, algorithm: ImportWrapping.Algorithm) throws(KMSError) -> [UInt8] {
        var body: [UInt8] = [Self.importTokenVersion]
        body += Self.uuidBytes(record.id) + Self.uuidBytes(record.keyID)
        body.append(algorithm == .oaepSHA256 ? 1 : 2)
        let seconds = UInt64(bitPattern: Int64(record.validTo.timeIntervalSince1970.rounded(.down)))
        body += (0..<8).map { UInt8(truncatingIfNeeded: seconds >> (56 - 8 * UInt64($0))) }
        return body + (try importTokenMAC(body))
    }

    private func importTokenMAC(_ body: [UInt8]) throws(KMSError) -> [UInt8] {
        do {
            return try BLAKE2b.mac(key: root.subkey(.importToken), parts: [.bytes(Array("import-token".utf8)), .bytes(body)]).bytes
        } catch {
            throw KMSError(.kmsInternal, "cannot compute the import token's MAC")
        }
    }

    /// The stored wrapping key an import token names, once the token is checked: made by this
    /// service (its MAC), for this key, not expired.
    func openImportToken(_ token: [UInt8], for key: KeyRecord, now when: Date) async throws(KMSError) -> (record: WrappingKeyRecord, algorithm: ImportWrapping.Algorithm) {
        let invalid = KMSError(.invalidImportToken, "the import token is not one GetParametersForImport returned for \(key.arn)")
        guard token.count == Self.importTokenBodyCount + 32, token[0] == Self.importTokenVersion else { throw invalid }
        let body = Array(token.prefix(Self.importTokenBodyCount))
        guard ConstantTime.equal(try importTokenMAC(body), token.suffix(32)) else { throw invalid }
        let wrappingID = Self.uuid(body[1..<17])
        guard Self.uuid(body[17..<33]) == key.id else {
            throw KMSError(.invalidImportToken, "the import token was made for another key, not \(key.arn)")
        }
        let algorithm: ImportWrapping.Algorithm = body[33] == 1 ? .oaepSHA256 : .oaepSHA1
        let seconds = body[34..<42].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let validTo = Date(timeIntervalSince1970: TimeInterval(Int64(bitPattern: seconds)))
        guard validTo > when else {
            throw KMSError(.expiredImportToken, "the import token expired at \(ISO8601DateFormatter().string(from: validTo)): call GetParametersForImport again")
        }
        guard let record = try await storeCall({ try await store.wrappingKey(id: wrappingID) }),
              record.keyID == key.id, record.algorithm == algorithm.rawValue else { throw invalid }
        return (record, algorithm)
    }

    static func uuidBytes(_ id: UUID) -> [UInt8] {
        withUnsafeBytes(of: id.uuid) { Array($0) }
    }

    static func uuid(_ bytes: ArraySlice<UInt8>) -> UUID {
        var value = UUID().uuid
        withUnsafeMutableBytes(of: &value) { $0.copyBytes(from: bytes) }
        return UUID(uuid: value)
    }

    // MARK: - Deleting and expiring material

    /// Destroys an `EXTERNAL` key's material, when `shouldClear` agrees on the record read inside
    /// the transaction; the key becomes PendingImport (but when pending deletion). Returns the
    /// KeyMaterialId the material had (kept, so only the same material is imported again).
    @discardableResult
    func clearImportedMaterial(_ key: KeyRecord, _ shouldClear: @escaping @Sendable (KeyRecord) -> Bool) async throws(KMSError) -> String {
        defer {
            materials.evict(keyID: key.id)
            forgetKey(key.id)
        }
        return try await storeCall {
            _ = try await store.updateMaterial(keyID: key.id) { record, version in
                guard record.state != .deleted, shouldClear(record) else { return }
                version.wrappedMaterial = []
                record.expirationModel = nil
                record.validTo = nil
                if record.state == .enabled || record.state == .disabled { record.state = .pendingImport }
            }
            // The KeyMaterialId stays, so that only the same material is imported again.
            return try await store.version(keyID: key.id, number: key.currentVersion)?.materialID ?? ""
        }
    }

    /// Deletes imported material whose ValidTo has passed, as AWS does when it expires; the key
    /// is PendingImport afterwards. Called when a key is resolved.
    func expireImportedMaterial(_ key: KeyRecord) async throws(KMSError) -> KeyRecord {
        let when = now
        try await clearImportedMaterial(key) { record in record.validTo.map { $0 <= when } ?? false }
        guard let fresh = try await storeCall({ try await store.key(id: key.id) }) else {
            throw KMSError(.notFound, "Key '\(key.arn)' does not exist")
        }
        return fresh
    }
}
