import EnvSealFormat
import Foundation
package import KMSWire
import SodiumKit

extension KeyServiceEngine {
    /// CreateKey: a new symmetric key (or HMAC_256/384/512 key, or ECC_NIST_P256/P384/P521 or
    /// RSA_2048/3072/4096 signing key), enabled, with the default policy unless one is given; with
    /// `Origin=EXTERNAL` (symmetric and HMAC keys), a key without material, PendingImport until
    /// ImportKeyMaterial.
    /// - Throws: `UnsupportedOperationException` for anything but a SYMMETRIC_DEFAULT
    ///   ENCRYPT_DECRYPT, HMAC GENERATE_VERIFY_MAC or ECC/RSA SIGN_VERIFY key of origin AWS_KMS,
    ///   or a symmetric or HMAC key of origin EXTERNAL; `MalformedPolicyDocumentException` for a policy
    ///   that does not parse or would lock the caller out; `TagException` for reserved tag keys.
    package func createKey(_ request: KMS.CreateKeyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.CreateKeyResponse {
        try await audited(.createKey, principal, requestID: requestID) { (note) async throws(KMSError) in
            try request.validate()
            try requireAdmin(principal, .createKey)
            let spec = try Self.requestedKeySpec(request)
            let origin = try Self.requestedOrigin(request)
            if origin == .external, spec.isSigning {
                throw KMSError(.unsupportedOperation,
                    "envseal does not import material for signing keys; Origin EXTERNAL takes SYMMETRIC_DEFAULT and HMAC keys")
            }
            if request.multiRegion == true {
                throw KMSError(.unsupportedOperation, "envseal does not support multi-Region keys")
            }
            if request.customKeyStoreId != nil || request.xksKeyId != nil {
                throw KMSError(.unsupportedOperation, "envseal does not support custom key stores")
            }
            let tags = try Self.checkedTags(request.tags ?? [])
            let id = UUID()
            let arn = keyARN(id)
            let policy: String
            if let json = request.policy {
                policy = try await checkNewPolicy(json, keyARN: arn, keyID: nil, keySpec: spec, principal: principal, bypass: request.bypassPolicyLockoutSafetyCheck ?? false)
            } else {
                policy = KeyPolicy.defaultPolicy(account: configuration.account, partition: configuration.partition, admins: [principal.arn] + configuration.administrators).json
            }
            let version: KeyVersionRecord
            var material: KeyMaterial?
            if origin == .external {
                version = newPendingImportVersion(keyID: id)
            } else if spec.isHMAC {
                version = try newHMACVersion(keyID: id, spec: spec)
            } else if spec.isSigning {
                version = try await newSigningVersion(keyID: id, spec: spec)
            } else {
                let made = try newVersion(keyID: id, version: 1, type: .initial)
                (version, material) = (made.0, made.1)
            }
            var record = KeyRecord(id: id, arn: arn, account: configuration.account, description: request.description ?? "",
                                   createdAt: version.createdAt, createdBy: principal.arn, policy: policy, tags: tags)
            record.keySpec = spec
            record.origin = origin
            if origin == .external { record.state = .pendingImport }
            note.keyARN = arn
            try await storeCall { try await store.insertKey(record, firstVersion: version) }
            if let material { materials.put(id, 1, .init(material: material, materialID: version.materialID)) }
            return KMS.CreateKeyResponse(keyMetadata: metadata(record, materialID: origin == .external ? nil : version.materialID))
        }
    }

    /// DescribeKey: the key's metadata. Takes aliases.
    package func describeKey(_ request: KMS.DescribeKeyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.DescribeKeyResponse {
        try await withKey(
            .describeKey, keyID: request.keyId, by: principal, requestID: requestID, validate: request.validate,
            grantTokens: request.grantTokens, conditionKeys: Self.requestAlias(request.keyId)
        ) { (key, _) async throws(KMSError) in
            let current = await currentMaterialID(key)
            return KMS.DescribeKeyResponse(keyMetadata: metadata(key, materialID: current))
        }
    }

    /// ListKeys: the account's keys (not deleted ones), paginated by marker.
    package func listKeys(_ request: KMS.ListKeysRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ListKeysResponse {
        try await audited(.listKeys, principal, requestID: requestID) { (_) async throws(KMSError) in
            try request.validate()
            let limit = Self.limit(request.limit)
            var marker: UUID?
            if let text = request.marker {
                guard let id = UUID(uuidString: try openMarker(text, operation: .listKeys)) else {
                    throw KMSError(.invalidMarker, "the marker is not one ListKeys returned")
                }
                marker = id
            }
            var found: [KeyRecord] = []
            var truncated = false
            // Deleted keys are skipped, so read ahead until a page is full.
            while found.count <= limit {
                let page = try await storeCall { try await store.keys(after: marker, limit: limit + 1) }
                found += page.filter { $0.state != .deleted }
                guard page.count == limit + 1, let last = page.last else { break }
                marker = last.id
            }
            if found.count > limit {
                truncated = true
                found = Array(found.prefix(limit))
            }
            return KMS.ListKeysResponse(
                keys: found.map { KMS.KeyListEntry(keyId: $0.id.uuidString.lowercased(), keyArn: $0.arn) },
                nextMarker: truncated ? found.last.map { makeMarker($0.id.uuidString, operation: .listKeys) } : nil, truncated: truncated)
        }
    }

    /// UpdateKeyDescription.
    package func updateKeyDescription(_ request: KMS.UpdateKeyDescriptionRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await mutateKey(.updateKeyDescription, request.keyId, principal, requestID: requestID, validate: request.validate) { key throws(KMSError) in
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
            key.description = request.description
        }
    }

    /// EnableKey. A key pending deletion must have its deletion cancelled first.
    package func enableKey(_ request: KMS.EnableKeyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await mutateKey(.enableKey, request.keyId, principal, requestID: requestID, validate: request.validate) { key throws(KMSError) in
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
            guard key.state != .pendingImport else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.") }
            key.state = .enabled
        }
    }

    /// DisableKey: the key refuses cryptography until enabled again.
    package func disableKey(_ request: KMS.DisableKeyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await mutateKey(.disableKey, request.keyId, principal, requestID: requestID, validate: request.validate) { key throws(KMSError) in
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
            guard key.state != .pendingImport else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.") }
            key.state = .disabled
        }
    }

    /// ScheduleKeyDeletion: 7 to 30 days (default 30), after which the material is destroyed.
    package func scheduleKeyDeletion(_ request: KMS.ScheduleKeyDeletionRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ScheduleKeyDeletionResponse {
        let days = request.pendingWindowInDays ?? 30
        let when = now.addingTimeInterval(TimeInterval(days) * 86_400)
        let key = try await mutateKey(
            .scheduleKeyDeletion, request.keyId, principal, requestID: requestID, validate: request.validate,
            conditionKeys: ["kms:ScheduleKeyDeletionPendingWindowInDays": [String(days)]]
        ) { key throws(KMSError) in
            guard (7...30).contains(days) else {
                throw KMSError(.validation, "1 validation error detected: Value at 'pendingWindowInDays' failed to satisfy constraint: Member must be between 7 and 30")
            }
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
            key.state = .pendingDeletion
            key.deletionDate = when
            key.deletionScheduledBy = principal.arn
        }
        return KMS.ScheduleKeyDeletionResponse(keyId: key.arn, deletionDate: when, keyState: .pendingDeletion, pendingWindowInDays: days)
    }

    /// CancelKeyDeletion: the key comes back Disabled, as in AWS.
    package func cancelKeyDeletion(_ request: KMS.CancelKeyDeletionRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.CancelKeyDeletionResponse {
        let key = try await mutateKey(.cancelKeyDeletion, request.keyId, principal, requestID: requestID, validate: request.validate) { key throws(KMSError) in
            guard key.state == .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is not pending deletion.") }
            // An EXTERNAL key whose material was deleted or expired meanwhile has none to enable.
            key.state = key.origin == .external && key.expirationModel == nil ? .pendingImport : .disabled
            key.deletionDate = nil
            key.deletionScheduledBy = nil
        }
        return KMS.CancelKeyDeletionResponse(keyId: key.arn)
    }

    /// TagResource: adds or replaces tags.
    package func tagResource(_ request: KMS.TagResourceRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        let tags = try Self.checkedTags(request.tags)
        var tagKeys: [String: [String]] = ["aws:TagKeys": tags.map(\.key)]
        for tag in tags { tagKeys["aws:RequestTag/" + tag.key, default: []].append(tag.value) }
        try await mutateKey(.tagResource, request.keyId, principal, requestID: requestID, validate: request.validate, conditionKeys: tagKeys) { key throws(KMSError) in
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
            for tag in tags {
                if let index = key.tags.firstIndex(where: { $0.key == tag.key }) { key.tags[index] = tag } else { key.tags.append(tag) }
            }
            guard key.tags.count <= 50 else { throw KMSError(.tag, "a key may have at most 50 tags") }
        }
    }

    /// UntagResource.
    package func untagResource(_ request: KMS.UntagResourceRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await mutateKey(.untagResource, request.keyId, principal, requestID: requestID, validate: request.validate,
                            conditionKeys: ["aws:TagKeys": request.tagKeys]) { key throws(KMSError) in
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
            key.tags.removeAll { request.tagKeys.contains($0.key) }
        }
    }

    /// ListResourceTags, paginated.
    package func listResourceTags(_ request: KMS.ListResourceTagsRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ListResourceTagsResponse {
        try await withKey(.listResourceTags, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate) { (key, _) async throws(KMSError) in
            let (page, next) = try page(key.tags, marker: request.marker, limit: Self.limit(request.limit, default: 50), operation: .listResourceTags)
            return KMS.ListResourceTagsResponse(tags: page.map { KMS.Tag(tagKey: $0.key, tagValue: $0.value) }, nextMarker: next, truncated: next != nil)
        }
    }

    // MARK: - Helpers

    /// Resolves a key (id or ARN only), authorizes `operation`, and changes the record atomically.
    @discardableResult
    func mutateKey(
        _ operation: KMSOperation, _ reference: String, _ principal: Principal, requestID: String?,
        validate: () throws(KMSError) -> Void, conditionKeys: [String: [String]] = [:],
        _ change: @escaping @Sendable (inout KeyRecord) throws(KMSError) -> Void
    ) async throws(KMSError) -> KeyRecord {
        try await withKey(operation, keyID: reference, allowAlias: false, by: principal, requestID: requestID,
                          validate: validate, conditionKeys: conditionKeys) { (key, _) async throws(KMSError) in
            defer { forgetKey(key.id) }
            return try await storeCall {
                try await store.updateKey(id: key.id) { record in
                    guard record.state != .deleted else { throw KMSError(.notFound, "Key '\(record.arn)' was deleted") }
                    try change(&record)
                    return record
                }
            }
        }
    }

    func metadata(_ key: KeyRecord, materialID: String?) -> KMS.KeyMetadata {
        KMS.KeyMetadata(
            awsAccountId: key.account, keyId: key.id.uuidString.lowercased(), arn: key.arn, creationDate: key.createdAt,
            enabled: key.state == .enabled, description: key.description, keyUsage: KMS.KeyUsageType(rawValue: key.keySpec.keyUsage),
            keyState: KMS.KeyState(rawValue: key.state.rawValue), deletionDate: key.state == .pendingDeletion ? key.deletionDate : nil,
            validTo: key.validTo, origin: KMS.OriginType(rawValue: key.origin.rawValue),
            expirationModel: key.expirationModel.map { KMS.ExpirationModelType(rawValue: $0) }, keyManager: .customer, customerMasterKeySpec: KMS.CustomerMasterKeySpec(rawValue: key.keySpec.rawValue),
            keySpec: KMS.KeySpec(rawValue: key.keySpec.rawValue),
            encryptionAlgorithms: key.keySpec.isSymmetric ? [.symmetricDefault] : nil, signingAlgorithms: Self.signingAlgorithms(key.keySpec), multiRegion: false,
            pendingDeletionWindowInDays: key.state == .pendingDeletion ? key.deletionDate.map { deletionWindow(key, $0) } : nil,
            macAlgorithms: Self.macAlgorithms(key.keySpec), currentKeyMaterialId: materialID)
    }

    private func deletionWindow(_ key: KeyRecord, _ date: Date) -> Int {
        Int((date.timeIntervalSince(now) / 86_400).rounded(.up))
    }

    static func checkedTags(_ tags: [KMS.Tag]) throws(KMSError) -> [KeyTag] {
        var seen = Set<String>()
        var result: [KeyTag] = []
        for tag in tags {
            guard !tag.tagKey.hasPrefix("aws:") else { throw KMSError(.tag, "tag keys beginning with aws: are reserved") }
            guard seen.insert(tag.tagKey).inserted else { throw KMSError(.tag, "tag key \(tag.tagKey) appears twice") }
            result.append(KeyTag(key: tag.tagKey, value: tag.tagValue))
        }
        return result
    }

    /// A page of `items` after a marker this operation returned.
    func page<T>(_ items: [T], marker: String?, limit: Int, operation: KMSOperation) throws(KMSError) -> ([T], String?) {
        var start = 0
        if let marker {
            guard let index = Int(try openMarker(marker, operation: operation)), index >= 0, index <= items.count else {
                throw KMSError(.invalidMarker, "the marker is not one \(operation.rawValue) returned")
            }
            start = index
        }
        let end = min(start + limit, items.count)
        return (Array(items[start..<end]), end < items.count ? makeMarker(String(end), operation: operation) : nil)
    }

    /// An opaque marker: the position, and a MAC that binds it to the operation, so that a marker
    /// the service did not hand out (or handed out for another listing) is `InvalidMarkerException`.
    func makeMarker(_ position: String, operation: KMSOperation) -> String {
        let mac = (try? BLAKE2b.mac(key: markerKey, outputByteCount: 16, parts: [.bytes(Array(operation.rawValue.utf8)), .bytes(Array(position.utf8))]))?.bytes ?? []
        return Base64URL.encode(Array(position.utf8) + mac)
    }

    /// The position inside a marker ``makeMarker(_:operation:)`` made.
    func openMarker(_ marker: String, operation: KMSOperation) throws(KMSError) -> String {
        let invalid = KMSError(.invalidMarker, "the marker is not one \(operation.rawValue) returned")
        guard let bytes = try? Base64URL.decode(marker, field: "marker"), bytes.count > 16,
              let position = String(validating: bytes.dropLast(16), as: UTF8.self),
              let mac = try? BLAKE2b.mac(key: markerKey, outputByteCount: 16, parts: [.bytes(Array(operation.rawValue.utf8)), .bytes(Array(position.utf8))]),
              ConstantTime.equal(mac.bytes, bytes.suffix(16)) else { throw invalid }
        return position
    }
}
