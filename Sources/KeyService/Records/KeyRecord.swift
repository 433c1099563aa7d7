import Foundation

/// A master key's state, as AWS KMS names it (plus `Deleted`, which AWS never shows).
public enum KeyState: String, Sendable, Codable, CaseIterable {
    /// Usable for cryptography.
    case enabled = "Enabled"
    /// Refuses cryptography until enabled.
    case disabled = "Disabled"
    /// Scheduled for deletion; refuses cryptography; can be cancelled.
    case pendingDeletion = "PendingDeletion"
    /// Its material is destroyed; only the record remains.
    case deleted = "Deleted"
}

/// How a key version came to be.
public enum RotationType: String, Sendable, Codable {
    /// The key's first material.
    case initial = "INITIAL"
    /// Made by scheduled rotation.
    case automatic = "AUTOMATIC"
    /// Made by RotateKeyOnDemand.
    case onDemand = "ON_DEMAND"
}

public struct KeyTag: Sendable, Codable, Equatable {
    public var key: String
    public var value: String
    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }
}

/// Everything the store keeps about a master key, except its material.
public struct KeyRecord: Sendable, Codable, Equatable {
    public var id: UUID
    /// `arn:aws:kms:<region>:<account>:key/<id>`.
    public var arn: String
    /// The account that owns it.
    public var account: String
    /// The description given at creation or since.
    public var description: String
    public var createdAt: Date
    /// The principal that created it.
    public var createdBy: String
    public var state: KeyState
    /// When it is to be deleted (PendingDeletion only).
    public var deletionDate: Date?
    public var deletionScheduledBy: String?
    /// When its material was destroyed (Deleted only).
    public var deletedAt: Date?
    /// Who had scheduled the deletion that destroyed it.
    public var deletedBy: String?
    /// Its key policy document (JSON).
    public var policy: String
    /// Its tags, in the order they were set.
    public var tags: [KeyTag]
    /// Whether automatic rotation is on.
    public var rotationEnabled: Bool
    /// Days between automatic rotations (90 to 2560), when rotation is on.
    public var rotationPeriodDays: Int?
    /// When automatic rotation is next due, when rotation is on.
    public var nextRotationDate: Date?
    /// How many on-demand rotations it has had (AWS limits them to 25 per key).
    public var onDemandRotationCount: Int
    /// The newest version: the one Encrypt uses.
    public var currentVersion: UInt32
    /// What the key is (symmetric or HMAC); fixed at creation.
    package var keySpec: KeySpecKind

    public init(
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
    }
}

/// One version of a key's material, wrapped under the root key.
public struct KeyVersionRecord: Sendable, Codable, Equatable {
    public var keyID: UUID
    /// The version number, 1 for the first.
    public var version: UInt32
    /// The material wrapped under the root key (a ``CiphertextBlob``); empty once destroyed.
    public var wrappedMaterial: [UInt8]
    /// AWS's KeyMaterialId: 64 hex characters identifying the material without revealing it.
    public var materialID: String
    /// When it was made.
    public var createdAt: Date
    /// How it was made.
    public var rotationType: RotationType

    public init(keyID: UUID, version: UInt32, wrappedMaterial: [UInt8], materialID: String, createdAt: Date, rotationType: RotationType) {
        self.keyID = keyID
        self.version = version
        self.wrappedMaterial = wrappedMaterial
        self.materialID = materialID
        self.createdAt = createdAt
        self.rotationType = rotationType
    }
}

/// An alias: a friendly name for a key.
public struct AliasRecord: Sendable, Codable, Equatable {
    /// `alias/…`.
    public var name: String
    public var keyID: UUID
    public var createdAt: Date
    /// When it was last pointed at a key.
    public var updatedAt: Date

    public init(name: String, keyID: UUID, createdAt: Date, updatedAt: Date) {
        self.name = name
        self.keyID = keyID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A grant: permission for a principal to use a key for some operations, perhaps only with some
/// encryption context.
public struct GrantRecord: Sendable, Codable, Equatable {
    public var id: String
    /// The grant token (usable before the grant is visible everywhere, as AWS's).
    public var token: String
    public var keyID: UUID
    /// An optional name (CreateGrant with the same name and parameters returns the same grant).
    public var name: String?
    public var granteePrincipal: String
    /// The principal that may retire it, if any.
    public var retiringPrincipal: String?
    /// The operations it allows (`Decrypt`, `Encrypt`, `GenerateDataKey`, …).
    public var operations: [String]
    /// The context must contain these pairs.
    public var encryptionContextSubset: [String: String]?
    /// The context must be exactly these pairs.
    public var encryptionContextEquals: [String: String]?
    /// The account that created it.
    public var issuingAccount: String
    public var createdAt: Date
    public var createdBy: String
    /// The unique id (`AIDA…`) of the principal ``granteePrincipal`` named when the grant was made,
    /// or `nil` when it named none the store holds. Only a caller with this id (and that ARN) may use it.
    public var granteePrincipalID: String?
    /// The unique id of the principal ``retiringPrincipal`` named when the grant was made, or `nil`.
    public var retiringPrincipalID: String?

    public init(
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
public struct PrincipalRecord: Sendable, Codable, Equatable {
    /// The access key id (`AKIA…`-shaped).
    public var accessKeyID: String
    /// A short name (`admin`, `billing-fn`).
    public var name: String
    /// `arn:aws:iam::<account>:user/<name>`.
    public var arn: String
    public var account: String
    /// The secret access key, wrapped under the root key.
    public var wrappedSecret: [UInt8]
    public var createdAt: Date
    /// Whether it administers the service (creates keys; is named in default key policies).
    public var isAdmin: Bool
    /// Whether its requests are accepted; a disabled principal is refused as an unknown one.
    public var isEnabled: Bool
    /// Its unique id, AWS's user-id form: `AIDA` and 16 characters of `A`–`Z` and `2`–`7`. Never
    /// reused, so grants bound to it do not pass to a later principal of the same name.
    public var uniqueID: String
    /// Its identity policy (an IAM policy document without `Principal`), or `nil` for none.
    public var identityPolicy: String?

    /// Creates a record; a fresh ``uniqueID`` unless one is given.
    public init(
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
public struct AuditRecord: Sendable, Codable, Equatable {
    /// Position in the log, from 1.
    public var sequence: Int64
    /// When the request was handled.
    public var time: Date
    /// The calling principal's ARN.
    public var principal: String
    /// The operation (`Decrypt`, …).
    public var operation: String
    /// The key concerned, if any (its ARN).
    public var keyARN: String?
    /// The encryption context given, if any (never secret).
    public var encryptionContext: [String: String]?
    /// `Allowed`, or the error type returned (`AccessDeniedException`, …).
    public var outcome: String
    public var requestID: String
    /// The previous record's hash (32 zero bytes for the first).
    public var previousHash: [UInt8]
    /// This record's hash: keyed BLAKE2b over the previous hash and every field above.
    public var hash: [UInt8]

    public init(
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
