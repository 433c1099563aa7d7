package import Foundation

/// A master key's state, as AWS KMS names it (plus `Deleted`, which AWS never shows).
package enum KeyState: String, Sendable, Codable, CaseIterable {
    /// Usable for cryptography.
    case enabled = "Enabled"
    /// Refuses cryptography until enabled.
    case disabled = "Disabled"
    /// Scheduled for deletion; refuses cryptography; can be cancelled.
    case pendingDeletion = "PendingDeletion"
    /// Its material is destroyed; only the record remains.
    case deleted = "Deleted"
    /// An `EXTERNAL` key without material: created so, or its imported material deleted or
    /// expired. Refuses cryptography until ImportKeyMaterial.
    case pendingImport = "PendingImport"
}

/// Where a key's material comes from: AWS's `Origin`.
package enum KeyOrigin: String, Sendable, Codable, CaseIterable {
    /// Made by the key service.
    case awsKMS = "AWS_KMS"
    /// Imported by the caller (ImportKeyMaterial).
    case external = "EXTERNAL"
}

/// How a key version came to be.
package enum RotationType: String, Sendable, Codable {
    /// The key's first material.
    case initial = "INITIAL"
    /// Made by scheduled rotation.
    case automatic = "AUTOMATIC"
    /// Made by RotateKeyOnDemand.
    case onDemand = "ON_DEMAND"
}

package struct KeyTag: Sendable, Codable, Equatable {
    package var key: String
    package var value: String
    package init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// Everything the store keeps about a master key, except its material.
package struct KeyRecord: Sendable, Codable, Equatable {
    package var id: UUID
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    package var arn: String
    /// The account that owns it.
    package var account: String
    /// The description given at creation or since.
    package var description: String
    package var createdAt: Date
    /// The principal that created it.
    package var createdBy: String
    package var state: KeyState
    /// When it is to be deleted (PendingDeletion only).
    package var deletionDate: Date?
    package var deletionScheduledBy: String?
    /// When its material was destroyed (Deleted only).
    package var deletedAt: Date?
    /// Who had scheduled the deletion that destroyed it.
    package var deletedBy: String?
    /// Its key policy document (JSON).
    package var policy: String
    /// Its tags, in the order they were set.
    package var tags: [KeyTag]
    /// Whether automatic rotation is on.
    package var rotationEnabled: Bool
    /// Days between automatic rotations (90 to 2560), when rotation is on.
    package var rotationPeriodDays: Int?
    /// When automatic rotation is next due, when rotation is on.
    package var nextRotationDate: Date?
    /// How many on-demand rotations it has had (AWS limits them to 25 per key).
    package var onDemandRotationCount: Int
    /// The newest version: the one Encrypt uses.
    package var currentVersion: UInt32
    /// What the key is (symmetric or HMAC); fixed at creation.
    package var keySpec: KeySpecKind
    /// Where its material comes from; fixed at creation.
    package var origin: KeyOrigin
    /// For an `EXTERNAL` key holding imported material, its ExpirationModel
    /// (`KEY_MATERIAL_EXPIRES` or `KEY_MATERIAL_DOES_NOT_EXPIRE`); `nil` when it holds none.
    package var expirationModel: String?
    /// When imported material expires (with `KEY_MATERIAL_EXPIRES`): it is deleted then.
    package var validTo: Date?

    package init(
        id: UUID, arn: String, account: String, description: String, createdAt: Date, createdBy: String,
        state: KeyState = .enabled, policy: String, tags: [KeyTag] = [], currentVersion: UInt32 = 1
    ) {
        self.id = id
        self.arn = arn
        self.account = account
        self.description = description
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.state = state
        self.policy = policy
        self.tags = tags
        self.rotationEnabled = false
        self.onDemandRotationCount = 0
        self.currentVersion = currentVersion
        self.keySpec = .symmetricDefault
        self.origin = .awsKMS
    }
}

/// One version of a key's material, wrapped under the root key.
package struct KeyVersionRecord: Sendable, Codable, Equatable {
    package var keyID: UUID
    /// The version number, 1 for the first.
    package var version: UInt32
    /// The material wrapped under the root key (a ``CiphertextBlob``); empty once destroyed.
    package var wrappedMaterial: [UInt8]
    /// AWS's KeyMaterialId: 64 hex characters identifying the material without revealing it.
    package var materialID: String
    /// When it was made.
    package var createdAt: Date
    /// How it was made.
    package var rotationType: RotationType

    package init(keyID: UUID, version: UInt32, wrappedMaterial: [UInt8], materialID: String, createdAt: Date, rotationType: RotationType) {
        self.keyID = keyID
        self.version = version
        self.wrappedMaterial = wrappedMaterial
        self.materialID = materialID
        self.createdAt = createdAt
        self.rotationType = rotationType
    }
}

/// An alias: a friendly name for a key.
package struct AliasRecord: Sendable, Codable, Equatable {
    /// `alias/…`.
    package var name: String
    package var keyID: UUID
    package var createdAt: Date
    /// When it was last pointed at a key.
    package var updatedAt: Date

    package init(name: String, keyID: UUID, createdAt: Date, updatedAt: Date) {
        self.name = name
        self.keyID = keyID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A grant: permission for a principal to use a key for some operations, perhaps only with some
/// encryption context.
package struct GrantRecord: Sendable, Codable, Equatable {
    package var id: String
    /// The grant token (usable before the grant is visible everywhere, as AWS's).
    package var token: String
    package var keyID: UUID
    /// An optional name (CreateGrant with the same name and parameters returns the same grant).
    package var name: String?
    package var granteePrincipal: String
    /// The principal that may retire it, if any.
    package var retiringPrincipal: String?
    /// The operations it allows (`Decrypt`, `Encrypt`, `GenerateDataKey`, …).
    package var operations: [String]
    /// The context must contain these pairs.
    package var encryptionContextSubset: [String: String]?
    /// The context must be exactly these pairs.
    package var encryptionContextEquals: [String: String]?
    /// The account that created it.
    package var issuingAccount: String
    package var createdAt: Date
    package var createdBy: String
    /// The unique id (`AIDA…`) of the principal ``granteePrincipal`` named when the grant was made,
    /// or `nil` when it named none the store holds. Only a caller with this id (and that ARN) may use it.
    package var granteePrincipalID: String?
    /// The unique id of the principal ``retiringPrincipal`` named when the grant was made, or `nil`.
    package var retiringPrincipalID: String?

    package init(
        id: String, token: String, keyID: UUID, name: String?, granteePrincipal: String, retiringPrincipal: String?,
        operations: [String], encryptionContextSubset: [String: String]?, encryptionContextEquals: [String: String]?,
        issuingAccount: String, createdAt: Date, createdBy: String, granteePrincipalID: String? = nil,
        retiringPrincipalID: String? = nil
    ) {
        self.id = id
        self.token = token
        self.keyID = keyID
        self.name = name
        self.granteePrincipal = granteePrincipal
        self.retiringPrincipal = retiringPrincipal
        self.operations = operations
        self.encryptionContextSubset = encryptionContextSubset
        self.encryptionContextEquals = encryptionContextEquals
        self.issuingAccount = issuingAccount
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.granteePrincipalID = granteePrincipalID
        self.retiringPrincipalID = retiringPrincipalID
    }
}

/// A principal that can call the key service: an access key pair.
package struct PrincipalRecord: Sendable, Codable, Equatable {
    /// The access key id (`AKIA…`-shaped).
    package var accessKeyID: String
    /// A short name (`admin`, `billing-fn`).
    package var name: String
    /// `arn:aws:iam::<account>:user/<name>`.
    package var arn: String
    package var account: String
    /// The secret access key, wrapped under the root key.
    package var wrappedSecret: [UInt8]
    package var createdAt: Date
    /// Whether it administers the service (creates keys; is named in default key policies).
    package var isAdmin: Bool
    /// Whether its requests are accepted; a disabled principal is refused as an unknown one.
    package var isEnabled: Bool
    /// Its unique id, AWS's user-id form: `AIDA` and 16 characters of `A`–`Z` and `2`–`7`. Never
    /// reused, so grants bound to it do not pass to a later principal of the same name.
    package var uniqueID: String
    /// Its identity policy (an IAM policy document without `Principal`), or `nil` for none.
    package var identityPolicy: String?

    /// Creates a record; a fresh ``uniqueID`` unless one is given.
    package init(
        accessKeyID: String, name: String, arn: String, account: String, wrappedSecret: [UInt8], createdAt: Date,
        isAdmin: Bool = false, isEnabled: Bool = true, uniqueID: String = PrincipalDirectory.newUniqueID(),
        identityPolicy: String? = nil
    ) {
        self.accessKeyID = accessKeyID
        self.name = name
        self.arn = arn
        self.account = account
        self.wrappedSecret = wrappedSecret
        self.createdAt = createdAt
        self.isAdmin = isAdmin
        self.isEnabled = isEnabled
        self.uniqueID = uniqueID
        self.identityPolicy = identityPolicy
    }
}

/// One entry of the audit log. Never holds plaintext or key material.
package struct AuditRecord: Sendable, Codable, Equatable {
    /// Position in the log, from 1.
    package var sequence: Int64
    /// When the request was handled.
    package var time: Date
    /// The calling principal's ARN.
    package var principal: String
    /// The operation (`Decrypt`, …).
    package var operation: String
    /// The key concerned, if any (its ARN).
    package var keyARN: String?
    /// The encryption context given, if any (never secret).
    package var encryptionContext: [String: String]?
    /// `Allowed`, or the error type returned (`AccessDeniedException`, …).
    package var outcome: String
    package var requestID: String
    /// The previous record's hash (32 zero bytes for the first).
    package var previousHash: [UInt8]
    /// This record's hash: keyed BLAKE2b over the previous hash and every field above.
    package var hash: [UInt8]

    package init(
        sequence: Int64, time: Date, principal: String, operation: String, keyARN: String?,
        encryptionContext: [String: String]?, outcome: String, requestID: String, previousHash: [UInt8], hash: [UInt8]
    ) {
        self.sequence = sequence
        self.time = time
        self.principal = principal
        self.operation = operation
        self.keyARN = keyARN
        self.encryptionContext = encryptionContext
        self.outcome = outcome
        self.requestID = requestID
        self.previousHash = previousHash
        self.hash = hash
    }
}

/// The end of the audit chain: all the next record needs from the last one.
///
/// A store reads only these two columns of its last row before an append, never the whole
/// record (its encryption context would have to be decoded for nothing).
package struct AuditChainHead: Sendable, Equatable {
    /// The last record's sequence.
    package var sequence: Int64
    /// The last record's hash, which the next record links to.
    package var hash: [UInt8]

    package init(sequence: Int64, hash: [UInt8]) {
        self.sequence = sequence
        self.hash = hash
    }
}

extension AuditRecord {
    /// The chain's head once this record is the last one.
    package var head: AuditChainHead { AuditChainHead(sequence: sequence, hash: hash) }
}
