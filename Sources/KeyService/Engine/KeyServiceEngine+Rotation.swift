import Foundation
package import KMSWire
import SodiumKit

extension KeyServiceEngine {
    /// The most on-demand rotations AWS allows per key.
    package static let onDemandRotationLimit = 25

    /// EnableKeyRotation: rotate automatically every RotationPeriodInDays (90 to 2,560, default 365).
    package func enableKeyRotation(_ request: KMS.EnableKeyRotationRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        let days = request.rotationPeriodInDays ?? 365
        let next = now.addingTimeInterval(TimeInterval(days) * 86_400)
        try await mutateKey(
            .enableKeyRotation, request.keyId, principal, requestID: requestID, validate: request.validate,
            conditionKeys: ["kms:RotationPeriodInDays": [String(days)]]
        ) { key throws(KMSError) in
            guard (90...2560).contains(days) else {
                throw KMSError(.validation, "1 validation error detected: Value at 'rotationPeriodInDays' failed to satisfy constraint: Member must be between 90 and 2560")
            }
            try Self.requireRotatable(key)
            key.rotationEnabled = true
            key.rotationPeriodDays = days
            key.nextRotationDate = next
        }
    }

    /// DisableKeyRotation.
    package func disableKeyRotation(_ request: KMS.DisableKeyRotationRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await mutateKey(.disableKeyRotation, request.keyId, principal, requestID: requestID, validate: request.validate) { key throws(KMSError) in
            try Self.requireRotatable(key)
            key.rotationEnabled = false
            key.nextRotationDate = nil
        }
    }

    /// GetKeyRotationStatus.
    package func getKeyRotationStatus(_ request: KMS.GetKeyRotationStatusRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.GetKeyRotationStatusResponse {
        try await withKey(.getKeyRotationStatus, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate) { (key, _) async throws(KMSError) in
            guard key.keySpec.isSymmetric else {
                throw KMSError(.unsupportedOperation, "\(key.arn) is an \(key.keySpec.rawValue) key: only symmetric encryption keys rotate")
            }
            return KMS.GetKeyRotationStatusResponse(
                keyRotationEnabled: key.rotationEnabled, keyId: key.arn,
                rotationPeriodInDays: key.rotationEnabled ? key.rotationPeriodDays : nil,
                nextRotationDate: key.rotationEnabled ? key.nextRotationDate : nil)
        }
    }

    /// RotateKeyOnDemand: a new version now; at most 25 per key.
    package func rotateKeyOnDemand(_ request: KMS.RotateKeyOnDemandRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.RotateKeyOnDemandResponse {
        try await withKey(.rotateKeyOnDemand, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate) { (key, _) async throws(KMSError) in
            try await rotate(key, type: .onDemand)
            return KMS.RotateKeyOnDemandResponse(keyId: key.arn)
        }
    }

    /// ListKeyRotations: the versions made by rotation (or every version with ALL_KEY_MATERIAL).
    package func listKeyRotations(_ request: KMS.ListKeyRotationsRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ListKeyRotationsResponse {
        try await withKey(.listKeyRotations, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate) { (key, _) async throws(KMSError) in
            let all = try await storeCall { try await store.versions(keyID: key.id) }
            let shown = request.includeKeyMaterial == .allKeyMaterial ? all : all.filter { $0.rotationType != .initial }
            let (page, next) = try page(shown, marker: request.marker, limit: Self.limit(request.limit), operation: .listKeyRotations)
            return KMS.ListKeyRotationsResponse(
                rotations: page.map { version in
                    KMS.RotationsListEntry(
                        keyId: key.arn, keyMaterialId: version.materialID,
                        keyMaterialState: version.version == key.currentVersion ? .current : .nonCurrent,
                        rotationDate: version.rotationType == .initial ? nil : version.createdAt,
                        rotationType: version.rotationType == .initial ? nil : KMS.RotationType(rawValue: version.rotationType.rawValue))
                },
                nextMarker: next, truncated: next != nil)
        }
    }

    /// Performs every automatic rotation and deletion that has come due, and deletes imported
    /// material past its ValidTo (the key becomes PendingImport). A server calls this on a timer;
    /// tests call it after moving the injected clock.
    /// - Returns: How many keys were rotated and how many destroyed (expired imports not counted).
    @discardableResult
    package func performDueWork() async throws(KMSError) -> (rotated: Int, destroyed: Int) {
        let due = try await storeCall { try await store.keysDue(at: now) }
        var rotated = 0, destroyed = 0
        for key in due {
            if key.origin == .external, key.state != .pendingDeletion, let end = key.validTo, end <= now {
                _ = try await expireImportedMaterial(key)
            } else if key.state == .pendingDeletion {
                try await destroy(key)
                destroyed += 1
            } else if key.rotationEnabled {
                do throws(KMSError) {
                    try await rotate(key, type: .automatic)
                    rotated += 1
                } catch where error.type == .kmsInvalidState || error.type == .disabled {
                    continue // Changed state since it was listed.
                }
            }
        }
        return (rotated, destroyed)
    }

    /// Adds a version atomically; for automatic rotation, moves the next due date on.
    func rotate(_ key: KeyRecord, type: RotationType) async throws(KMSError) {
        let when = now
        let root = self.root
        let keyID = key.id
        // The new material is cached on its first use.
        defer { forgetKey(keyID) }
        _ = try await storeCall {
            try await store.addVersion(keyID: keyID) { record, next in
                try Self.requireRotatable(record)
                switch type {
                case .onDemand:
                    guard record.onDemandRotationCount < Self.onDemandRotationLimit else {
                        throw KMSError(.limitExceeded, "\(record.arn) has had \(Self.onDemandRotationLimit) on-demand rotations, the most allowed")
                    }
                    record.onDemandRotationCount += 1
                case .automatic:
                    guard record.rotationEnabled, let due = record.nextRotationDate, due <= when else {
                        throw KMSError(.kmsInvalidState, "rotation of \(record.arn) is not due")
                    }
                    record.nextRotationDate = due.addingTimeInterval(TimeInterval(record.rotationPeriodDays ?? 365) * 86_400)
                case .initial:
                    break
                }
                record.currentVersion = next
                return try Self.makeVersion(root: root, keyID: keyID, version: next, type: type, at: when).record
            }
        }
    }

    /// New random material for a version, wrapped under the root key, with AWS's
    /// 64-hex-character KeyMaterialId: a MAC of the key and version under a root subkey, which
    /// names the material without revealing anything about it.
    static func makeVersion(
        root: RootKey, keyID: UUID, version: UInt32, type: RotationType, at when: Date
    ) throws -> (record: KeyVersionRecord, material: KeyMaterial) {
        let material = KeyMaterial.random()
        let wrapped = try root.wrap(material.secureBytes, id: keyID, version: version, purpose: "key-material")
        let record = KeyVersionRecord(keyID: keyID, version: version, wrappedMaterial: wrapped,
                                      materialID: try materialID(root: root, keyID: keyID, version: version),
                                      createdAt: when, rotationType: type)
        return (record, material)
    }

    /// The KeyMaterialId of a key version.
    static func materialID(root: RootKey, keyID: UUID, version: UInt32) throws -> String {
        try BLAKE2b.mac(key: root.subkey(.keyMaterialID), parts: [.bytes(Array(keyID.uuidString.utf8)), .bytes([UInt8](bigEndianBytes: version))]).description
    }

    static func requireRotatable(_ key: KeyRecord) throws(KMSError) {
        guard key.keySpec.isSymmetric else {
            throw KMSError(.unsupportedOperation, "\(key.arn) is an \(key.keySpec.rawValue) key: only symmetric encryption keys rotate")
        }
        guard key.origin == .awsKMS else {
            throw KMSError(.unsupportedOperation, "\(key.arn) has imported key material (origin EXTERNAL): such keys do not rotate")
        }
        switch key.state {
        case .enabled: return
        case .disabled: throw KMSError(.disabled, "\(key.arn) is disabled.")
        case .pendingDeletion: throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.")
        case .deleted: throw KMSError(.notFound, "Key '\(key.arn)' was deleted")
        case .pendingImport: throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.")
        }
    }
}
