import EnvSealFormat
package import Foundation
import KMSWire
import SodiumKit
import Synchronization

/// Where and how a key service runs.
package struct KeyServiceConfiguration: Sendable {
    /// The region in ARNs (`us-east-1`).
    package var region: String
    /// The 12-digit account that owns the keys.
    package var account: String
    /// The ARN partition (`aws`).
    package var partition: String
    /// How many unwrapped key versions to keep in guarded memory.
    package var materialCacheCapacity: Int
    /// Principals that every new key's default policy names beside its creator.
    package var administrators: [String]
    /// The clock; tests inject one to make rotation and deletion due.
    package var now: @Sendable () -> Date
    /// How long a key record read from the store may be reused for cryptography. Changes made
    /// through this engine are seen at once; changes made by another process (the CLI, another
    /// server on the same database) within this time.
    package var keyCacheLifetime: Duration

    package init(
        region: String = "us-east-1", account: String = "111122223333", partition: String = "aws",
        materialCacheCapacity: Int = 4096, administrators: [String] = [], keyCacheLifetime: Duration = .seconds(1),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.keyCacheLifetime = keyCacheLifetime
        self.administrators = administrators
        self.region = region
        self.account = account
        self.partition = partition
        self.materialCacheCapacity = materialCacheCapacity
        self.now = now
    }
}

/// The KMS engine: every operation, for a calling principal, with AWS KMS's semantics.
///
/// Each operation resolves the key, authorizes the caller with the key policy and grants
/// *before* any material is unwrapped, checks the key's state, does its work, and appends an
/// audit record, allowed or denied. Errors are ``KMSError``s with AWS's names.
///
/// ```swift
/// let store = InMemoryKeyStore()
/// let root = try await RootKey.open(.file("KeyStore/root.key"), store: store)
/// let kms = KeyServiceEngine(store: store, root: root)
/// let admin = Principal.user("admin", account: kms.configuration.account, isAdmin: true)
/// let key = try await kms.createKey(.init(description: "app secrets"), by: admin)
/// ```
package final class KeyServiceEngine: Sendable {
    package let configuration: KeyServiceConfiguration
    let store: any KeyStore
    let root: RootKey
    let materials: MaterialCache
    /// Parsed key policies by key, with the document each was parsed from.
    let policies = Mutex<[UUID: ParsedPolicy<KeyPolicy>]>([:])
    /// Parsed identity policies by principal ARN, with the document each was parsed from.
    let identityPolicies = Mutex<[String: ParsedPolicy<IdentityPolicy>]>([:])
    let audit: AuditChain
    /// Key records recently read, with when they were read.
    let keyCache = Mutex<[UUID: (record: KeyRecord, read: ContinuousClock.Instant)]>([:])
    /// Signs pagination markers, so only markers this service handed out are accepted.
    let markerKey: SubKey

    /// Creates an engine over a store whose root key has been checked by ``RootKey/open(_:store:)``.
    package init(store: any KeyStore, root: RootKey, configuration: KeyServiceConfiguration = .init()) {
        self.store = store
        self.root = root
        self.configuration = configuration
        self.materials = MaterialCache(capacity: configuration.materialCacheCapacity)
        self.audit = AuditChain(root: root)
        self.markerKey = root.subkey(.paginationMarker)
    }

    var now: Date { configuration.now() }

    /// Succeeds when the key store answers: what a readiness probe asks.
    package func checkReady() async throws {
        _ = try await store.metadata(MetadataName.rootCheck)
    }

    func keyARN(_ id: UUID) -> String {
        "arn:\(configuration.partition):kms:\(configuration.region):\(configuration.account):key/\(id.uuidString.lowercased())"
    }

    func aliasARN(_ name: String) -> String {
        "arn:\(configuration.partition):kms:\(configuration.region):\(configuration.account):\(name)"
    }

    // MARK: - Running an operation

    /// What an operation tells the audit log about itself as it runs.
    struct AuditNote: Sendable {
        var keyARN: String?
        var context: [String: String]?
    }

    /// Runs an operation and appends its audit record, whatever the outcome.
    func audited<T: Sendable>(
        _ operation: KMSOperation, _ principal: Principal, requestID: String?, context: [String: String]? = nil,
        _ body: (inout AuditNote) async throws(KMSError) -> T
    ) async throws(KMSError) -> T {
        var note = AuditNote(keyARN: nil, context: context)
        let result: Result<T, KMSError>
        do {
            result = .success(try await body(&note))
        } catch {
            result = .failure(error)
        }
        let outcome: String
        switch result {
        case .success: outcome = "Allowed"
        case .failure(let error): outcome = error.type.rawValue
        }
        do {
            try await audit.append(
                to: store, time: now, principal: principal.arn, operation: operation.rawValue, keyARN: note.keyARN,
                context: note.context, outcome: outcome, requestID: requestID ?? RequestID.make())
        } catch {
            // An operation that cannot be audited is not acknowledged.
            throw KMSError(.kmsInternal, "the audit log could not be written: \(Self.storeMessage(error))")
        }
        return try result.get()
    }

    /// What an operation requires of its key's state once the caller is authorized.
    enum KeyStateRule {
        /// Any state but deleted (metadata, policies, grants listed, tags).
        case any
        /// Enabled or disabled, not pending deletion (aliases, grants made).
        case notPendingDeletion
        /// Enabled only: cryptography (``requireEnabled(_:)``).
        case enabled
    }

    /// Runs an operation on one key: validates the request, then opens the key with
    /// ``openKey(_:_:allowAlias:by:note:context:grantTokens:conditionKeys:grantLimit:check:state:dryRun:)``
    /// for `operation`'s own action, then runs `body`; audited whatever the outcome.
    /// - Parameter validate: The request's checks that come before the key is looked up.
    func withKey<T: Sendable>(
        _ operation: KMSOperation, keyID reference: String, allowAlias: Bool = true, by principal: Principal, requestID: String?,
        validate: () throws(KMSError) -> Void, context: [String: String]? = nil, grantTokens: [String]? = nil,
        conditionKeys: [String: [String]] = [:], grantLimit: ((GrantRecord) -> String?)? = nil,
        check: (KeyRecord) throws(KMSError) -> Void = { _ in }, state: KeyStateRule = .any, dryRun: Bool? = nil,
        _ body: (KeyRecord, inout AuditNote) async throws(KMSError) -> T
    ) async throws(KMSError) -> T {
        try await audited(operation, principal, requestID: requestID) { (note) async throws(KMSError) in
            try validate()
            let key = try await openKey(
                KeyAction(operation), reference, allowAlias: allowAlias, by: principal, note: &note, context: context,
                grantTokens: grantTokens, conditionKeys: conditionKeys, grantLimit: grantLimit, check: check, state: state, dryRun: dryRun)
            return try await body(key, &note)
        }
    }

    /// Opens a key for an action, in the order AWS answers: resolves the key and notes its ARN
    /// for the audit log, runs `check`, authorizes the action, checks the key's state, honours
    /// DryRun. Nothing about the key's material is touched before authorization.
    func openKey(
        _ action: KeyAction, _ reference: String, allowAlias: Bool = true, by principal: Principal, note: inout AuditNote,
        context: [String: String]? = nil, grantTokens: [String]? = nil, conditionKeys: [String: [String]] = [:],
        grantLimit: ((GrantRecord) -> String?)? = nil, check: (KeyRecord) throws(KMSError) -> Void = { _ in },
        state: KeyStateRule = .any, dryRun: Bool? = nil
    ) async throws(KMSError) -> KeyRecord {
        let key = try await resolveKey(reference, allowAlias: allowAlias)
        note.keyARN = key.arn
        try check(key)
        try await authorize(principal, action, key: key, context: context, grantTokens: grantTokens,
                            conditionKeys: conditionKeys, grantLimit: grantLimit)
        switch state {
        case .any: break
        case .notPendingDeletion:
            guard key.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.") }
        case .enabled: try requireEnabled(key)
        }
        try Self.dryRun(dryRun)
        return key
    }

    /// Runs a store call, turning its errors into KMS errors.
    func storeCall<T>(_ body: () async throws -> T) async throws(KMSError) -> T {
        do {
            return try await body()
        } catch let error as KMSError {
            throw error
        } catch let error as KeyStoreError {
            switch error.kind {
            case .notFound: throw KMSError(.notFound, error.message)
            case .alreadyExists: throw KMSError(.alreadyExists, error.message)
            case .unavailable: throw KMSError(.kmsInternal, "the key store is unavailable: \(error.message)")
            }
        } catch {
            throw KMSError(.kmsInternal, "the key store failed: \(Self.storeMessage(error))")
        }
    }

    static func storeMessage(_ error: any Error) -> String {
        (error as? KeyStoreError)?.message ?? String(describing: type(of: error))
    }

    // MARK: - Keys

    /// Finds a key by id, ARN, alias or alias ARN, performing a deletion that has come due.
    /// - Parameter allowAlias: `false` for the operations where AWS takes only a key id or ARN.
    func resolveKey(_ reference: String, allowAlias: Bool = true) async throws(KMSError) -> KeyRecord {
        let identifier = try KeyIdentifier(reference, region: configuration.region, account: configuration.account,
                                           partition: configuration.partition)
        let id: UUID
        switch identifier {
        case .keyID(let keyID):
            id = keyID
        case .aliasName(let name):
            guard allowAlias else { throw KMSError(.notFound, "this operation takes a key id or key ARN, not an alias: \(reference)") }
            guard let alias = try await storeCall({ try await store.alias(named: name) }) else {
                throw KMSError(.notFound, "Alias \(aliasARN(name)) is not found.")
            }
            id = alias.keyID
        }
        guard let key = try await loadKey(id) else {
            throw KMSError(.notFound, "Key '\(keyARN(id))' does not exist")
        }
        return try await checkNotDeleted(key)
    }

    /// A key record, from the short-lived cache or the store.
    func loadKey(_ id: UUID) async throws(KMSError) -> KeyRecord? {
        // One reading of the clock: the cache's age test, and the read time of a record stored.
        let read = ContinuousClock.now
        if let cached = keyCache.withLock({ $0[id] }), read - cached.read < configuration.keyCacheLifetime {
            return cached.record
        }
        let record = try await storeCall { try await store.key(id: id) }
        if let record {
            keyCache.withLock { cache in
                if cache.count > 10_000 { cache.removeAll() }
                cache[id] = (record, read)
            }
        }
        return record
    }

    /// Forgets a cached key record after this engine changed it.
    func forgetKey(_ id: UUID) {
        _ = keyCache.withLock { $0.removeValue(forKey: id) }
    }

    /// Performs a deletion that has come due, and refuses a deleted key.
    func checkNotDeleted(_ record: consuming KeyRecord) async throws(KMSError) -> KeyRecord {
        var key = record
        if key.state == .pendingDeletion, let due = key.deletionDate, due <= now {
            try await destroy(key)
            key.state = .deleted
        }
        if key.origin == .external, key.state != .deleted, let end = key.validTo, end <= now { key = try await expireImportedMaterial(key) }
        if key.state == .deleted {
            // Deleted by this engine or another (on a shared store): its material goes too.
            materials.evict(keyID: key.id)
            throw KMSError(.notFound, "Key '\(key.arn)' was deleted\(Self.deletionNote(key)): its material is destroyed and its ciphertexts can never be decrypted")
        }
        return key
    }

    static func deletionNote(_ key: KeyRecord) -> String {
        var note = ""
        if let at = key.deletedAt ?? key.deletionDate { note += " at \(ISO8601DateFormatter().string(from: at))" }
        if let by = key.deletedBy ?? key.deletionScheduledBy { note += " (scheduled by \(by))" }
        return note
    }

    /// Destroys a key's material for good: the end of its deletion waiting period.
    func destroy(_ key: KeyRecord) async throws(KMSError) {
        let when = now
        try await storeCall {
            try await store.destroyKey(id: key.id) { record in
                guard record.state == .pendingDeletion || record.state == .deleted else {
                    throw KMSError(.kmsInvalidState, "key \(record.arn) is no longer pending deletion")
                }
                if record.state == .pendingDeletion {
                    record.deletedBy = record.deletionScheduledBy
                    record.deletedAt = when
                    record.state = .deleted
                }
            }
        }
        materials.evict(keyID: key.id)
        forgetKey(key.id)
    }

    /// Refuses cryptography with a key that is not enabled, as AWS does.
    func requireEnabled(_ key: KeyRecord) throws(KMSError) {
        switch key.state {
        case .enabled: return
        case .disabled: throw KMSError(.disabled, "\(key.arn) is disabled.")
        case .pendingDeletion: throw KMSError(.kmsInvalidState, "\(key.arn) is pending deletion.")
        case .deleted: throw KMSError(.notFound, "Key '\(key.arn)' was deleted")
        case .pendingImport: throw KMSError(.kmsInvalidState, "\(key.arn) is pending import.")
        }
    }

    /// The unwrapped material of one version of a key, with its KeyMaterialId, from the cache or
    /// the store.
    func material(_ key: KeyRecord, version: UInt32) async throws(KMSError) -> MaterialCache.CachedMaterial {
        if let cached = materials.get(key.id, version) { return cached }
        let cached = try await unwrapMaterial(key, version: version)
        materials.put(key.id, version, cached)
        return cached
    }

    /// Reads one version of a key from the store and unwraps its material under the root key:
    /// what ``material(_:version:)`` does when the cache does not hold the version.
    func unwrapMaterial(_ key: KeyRecord, version: UInt32) async throws(KMSError) -> MaterialCache.CachedMaterial {
        guard let record = try await storeCall({ try await store.version(keyID: key.id, number: version) }) else {
            throw KMSError(.invalidCiphertext, "the ciphertext names a key version that does not exist")
        }
        guard !record.wrappedMaterial.isEmpty else {
            throw KMSError(.notFound, "Key '\(key.arn)' was deleted: its material is destroyed")
        }
        do {
            let material = try KeyMaterial(secureBytes: root.unwrap(record.wrappedMaterial, id: key.id, version: version, purpose: "key-material"))
            return MaterialCache.CachedMaterial(material: material, materialID: record.materialID)
        } catch {
            throw KMSError(.kmsInternal, "the material of \(key.arn) version \(version) does not open under the root key")
        }
    }

    /// New material for a version, wrapped for storage.
    func newVersion(keyID: UUID, version: UInt32, type: RotationType) throws(KMSError) -> (KeyVersionRecord, KeyMaterial) {
        do {
            return try Self.makeVersion(root: root, keyID: keyID, version: version, type: type, at: now)
        } catch {
            throw KMSError(.kmsInternal, "cannot wrap new key material")
        }
    }

    // MARK: - Authorization

    /// Allows the call or throws `AccessDeniedException`. Runs before any material is unwrapped.
    /// - Parameters:
    ///   - conditionKeys: The operation's own condition keys (`kms:GrantOperations`,
    ///     `kms:RequestAlias`, …), beside those every request carries (``baseConditionKeys(_:keyID:policy:)``).
    ///   - grantLimit: For a call a grant may authorize only within limits (CreateGrant): why a
    ///     grant that allows the operation still cannot authorize this call, or `nil`.
    func authorize(
        _ principal: Principal, _ action: KeyAction, key: KeyRecord, context: [String: String]? = nil, grantTokens: [String]? = nil,
        conditionKeys: [String: [String]] = [:], grantLimit: ((GrantRecord) -> String?)? = nil
    ) async throws(KMSError) {
        // Both read in place from the caches: nothing of either policy is copied per request.
        let policy = try cachedPolicy(key.policy, keyID: key.id, keyARN: key.arn)
        let identityPolicy = try cachedIdentityPolicy(of: principal)
        // Condition keys are read by conditions alone: when neither policy has one, none is made.
        var extraConditionKeys: [String: [String]] = [:]
        if !policy.value.testedConditionKeys.isEmpty || identityPolicy?.value.policy.testedConditionKeys.isEmpty == false {
            extraConditionKeys = try await baseConditionKeys(principal, keyID: key.id, policy: policy.value, identityPolicy: identityPolicy?.value,
                                                          keySpec: key.keySpec, origin: key.origin)
                .merging(conditionKeys) { _, operation in operation }
        }
        let request = AuthorizationRequest(
            principalARN: principal.arn, principalAccount: principal.account, action: action.qualifiedName,
            resourceARN: key.arn, encryptionContext: context, extraConditionKeys: extraConditionKeys)
        var grants: [GrantRecord]?
        if let grantTokens, !grantTokens.isEmpty {
            let all = try await storeCall { try await store.grants(keyID: key.id) }
            grants = all
            for token in grantTokens where !all.contains(where: { $0.token == token }) {
                throw KMSError(.invalidGrantToken, "a grant token is not valid for \(key.arn)")
            }
        }
        switch policy.value.evaluate(request, identityPolicy: identityPolicy?.value) {
        case .allow:
            return
        case .explicitDeny:
            throw Self.denied(principal, action, key, explicit: true)
        case .implicitDeny:
            let candidates: [GrantRecord]
            if let grants { candidates = grants } else { candidates = try await storeCall { try await store.grants(keyID: key.id) } }
            var refusal: String?
            for grant in candidates where grant.isGranted(to: principal) && grant.allows(principal: principal.arn, operation: action.name, context: context) {
                guard let reason = grantLimit?(grant) else { return }
                refusal = refusal ?? reason
            }
            if let refusal {
                throw KMSError(.accessDenied, "User: \(principal.arn) is not authorized to perform: kms:\(action.name) on resource: \(key.arn) because \(refusal)")
            }
            throw Self.denied(principal, action, key, explicit: false)
        }
    }

    static func denied(_ principal: Principal, _ action: KeyAction, _ key: KeyRecord, explicit: Bool) -> KMSError {
        KMSError(.accessDenied,
            "User: \(principal.arn) is not authorized to perform: kms:\(action.name) on resource: \(key.arn) because "
                + (explicit ? "an explicit deny in the key policy or the principal's identity policy applies"
                    : "no key policy statement (directly, or through the account and the principal's identity policy) or grant allows it"))
    }

    /// The caller's identity policy, parsed once per document. A stored policy that no longer
    /// parses fails the request rather than being skipped, since it may hold a `Deny`.
    func cachedIdentityPolicy(of principal: Principal) throws(KMSError) -> ParsedPolicy<IdentityPolicy>? {
        guard let json = principal.identityPolicy else { return nil }
        return try Self.parsed(json, for: principal.arn, cache: identityPolicies, what: "the identity policy of \(principal.arn)") { json throws(PolicyError) in
            try IdentityPolicy(json: json)
        }
    }

    func cachedPolicy(_ json: String, keyID: UUID, keyARN: String) throws(KMSError) -> ParsedPolicy<KeyPolicy> {
        try Self.parsed(json, for: keyID, cache: policies, what: "the stored policy of \(keyARN)") { json throws(PolicyError) in
            try KeyPolicy(json: json, storedBefore: true)
        }
    }

    /// A stored policy document parsed once and kept per owner (key or principal), with the
    /// document it was parsed from: a request finds it by the owner's id, which is cheap to hash,
    /// and uses it only when the document it holds is still the owner's (the same string, so
    /// compared without reading it). Up to 1,024 owners; then the cache starts over. A document
    /// that no longer parses is an internal error, never a missing policy: it may hold a Deny.
    private static func parsed<Owner: Hashable & Sendable, Policy: Sendable>(
        _ json: String, for owner: Owner, cache: borrowing Mutex<[Owner: ParsedPolicy<Policy>]>,
        what: @autoclosure () -> String, parse: (String) throws(PolicyError) -> Policy
    ) throws(KMSError) -> ParsedPolicy<Policy> {
        if let cached = cache.withLock({ $0[owner] }), cached.json == json { return cached }
        do {
            let parsed = ParsedPolicy(json: json, value: try parse(json))
            cache.withLock { cache in
                if cache.count > 1024 { cache.removeAll() }
                cache[owner] = parsed
            }
            return parsed
        } catch {
            throw KMSError(.kmsInternal, "\(what()) does not parse: \(error)")
        }
    }

    /// Account-level operations (CreateKey) are for admins; AWS would ask IAM, which envseal has not.
    func requireAdmin(_ principal: Principal, _ operation: KMSOperation) throws(KMSError) {
        guard principal.isAdmin else {
            throw KMSError(.accessDenied, "User: \(principal.arn) is not authorized to perform: kms:\(operation.rawValue): only admin principals may")
        }
    }

    // MARK: - Pagination

    static func limit(_ requested: Int?, default value: Int = 100) -> Int {
        min(max(requested ?? value, 1), 1000)
    }
}

/// The action a call is authorized for (`kms:<name>`): an operation's own, or one half of
/// ReEncrypt. Made from a ``KMSOperation``, so an action name cannot be mistyped.
struct KeyAction: Sendable, Equatable {
    /// The name after `kms:`, as grants list it.
    let name: String

    /// `kms:<name>`, as policies name it.
    let qualifiedName: String

    init(_ operation: KMSOperation) { self.init(name: operation.rawValue) }

    private init(name: String) {
        self.name = name
        qualifiedName = "kms:" + name
    }

    /// ReEncrypt's permission on the source key.
    static let reEncryptFrom = KeyAction(name: "ReEncryptFrom")
    /// ReEncrypt's permission on the destination key.
    static let reEncryptTo = KeyAction(name: "ReEncryptTo")
}

extension GrantRecord {
    /// Whether the grant was made to this principal: its ARN, and the unique id the ARN named
    /// when the grant was made (none for a principal the store did not hold), so a principal
    /// deleted and created again under the same name does not inherit the grant.
    func isGranted(to principal: Principal) -> Bool {
        granteePrincipal == principal.arn && granteePrincipalID == principal.uniqueID
    }

    /// Whether this principal is the grant's retiring principal, by ARN and unique id alike.
    func isRetirable(by principal: Principal) -> Bool {
        retiringPrincipal == principal.arn && retiringPrincipalID == principal.uniqueID
    }

    /// Whether the grant lets `principal` perform `operation` with `context`.
    func allows(principal: String, operation: String, context: [String: String]?) -> Bool {
        guard granteePrincipal == principal, operations.contains(operation) else { return false }
        let given = context ?? [:]
        if let equals = encryptionContextEquals, !GrantConstraint.same(given, equals) { return false }
        if let subset = encryptionContextSubset, !GrantConstraint.holds(given, every: subset) { return false }
        return true
    }
}

extension Array where Element == UInt8 {
    init(bigEndianBytes value: UInt32) {
        self = [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}
