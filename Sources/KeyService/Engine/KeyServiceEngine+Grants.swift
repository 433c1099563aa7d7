import EnvSealFormat
import Foundation
package import KMSWire
import SodiumKit

extension KeyServiceEngine {
    /// CreateGrant: lets a principal use the key for some operations, perhaps only with some
    /// encryption context. A grant with the same name and parameters is returned again.
    package func createGrant(_ request: KMS.CreateGrantRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.CreateGrantResponse {
        let operations = request.operations.map(\.rawValue)
        let equals = request.constraints?.encryptionContextEquals
        let subset = request.constraints?.encryptionContextSubset
        // The new grant's constraint is the context this CreateGrant is authorized with (AWS's
        // kms:EncryptionContext:… for CreateGrant), so a constrained CreateGrant grant admits
        // only grants whose constraint satisfies it; a grant-authorized call is also capped.
        return try await withKey(
            .createGrant, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID, validate: request.validate,
            context: equals ?? subset, grantTokens: request.grantTokens, conditionKeys: Self.grantConditionKeys(request),
            grantLimit: { parent in parent.excess(operations: operations, equals: equals, subset: subset) },
            check: { (key) throws(KMSError) in
                guard !operations.isEmpty else {
                    throw KMSError(.validation, "1 validation error detected: Value at 'operations' failed to satisfy constraint: Member must have length greater than or equal to 1")
                }
                if request.constraints != nil, operations.contains(where: { !Self.constrainableOperations.contains($0) }) {
                    throw KMSError(.validation, "encryption context constraints are allowed only in grants for cryptographic operations and CreateGrant")
                }
                try Self.requireGrantable(operations, constrained: request.constraints != nil, key: key)
            },
            state: .notPendingDeletion, dryRun: request.dryRun
        ) { (key, _) async throws(KMSError) in
            let granteeID = try await uniqueID(of: request.granteePrincipal)
            var retiringID: String?
            if let retiring = request.retiringPrincipal { retiringID = try await uniqueID(of: retiring) }
            let existing = try await storeCall { try await store.grants(keyID: key.id) }
            if let name = request.name, let same = existing.first(where: {
                $0.name == name && $0.granteePrincipal == request.granteePrincipal && $0.retiringPrincipal == request.retiringPrincipal
                    && $0.granteePrincipalID == granteeID && $0.retiringPrincipalID == retiringID
                    && Set($0.operations) == Set(operations) && $0.encryptionContextSubset == request.constraints?.encryptionContextSubset
                    && $0.encryptionContextEquals == request.constraints?.encryptionContextEquals
            }) {
                return KMS.CreateGrantResponse(grantToken: same.token, grantId: same.id)
            }
            guard existing.count < 50_000 else { throw KMSError(.limitExceeded, "\(key.arn) has too many grants") }
            let grant = GrantRecord(
                id: Hex.encode(SecureRandom.bytes(count: 32)), token: Base64URLToken.make(), keyID: key.id, name: request.name,
                granteePrincipal: request.granteePrincipal, retiringPrincipal: request.retiringPrincipal, operations: operations,
                encryptionContextSubset: request.constraints?.encryptionContextSubset,
                encryptionContextEquals: request.constraints?.encryptionContextEquals,
                issuingAccount: "arn:\(configuration.partition):iam::\(principal.account):root", createdAt: now, createdBy: principal.arn,
                granteePrincipalID: granteeID, retiringPrincipalID: retiringID)
            try await storeCall { try await store.insertGrant(grant) }
            return KMS.CreateGrantResponse(grantToken: grant.token, grantId: grant.id)
        }
    }

    /// ListGrants: a key's grants, optionally one id or one grantee; paginated.
    package func listGrants(_ request: KMS.ListGrantsRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ListGrantsResponse {
        try await withKey(.listGrants, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate, conditionKeys: ["kms:GrantIsForAWSResource": ["false"]]) { (key, _) async throws(KMSError) in
            var grants = try await storeCall { try await store.grants(keyID: key.id) }
            if let id = request.grantId { grants = grants.filter { $0.id == id } }
            if let grantee = request.granteePrincipal { grants = grants.filter { $0.granteePrincipal == grantee } }
            let (page, next) = try page(grants, marker: request.marker, limit: Self.limit(request.limit, default: 50), operation: .listGrants)
            return KMS.ListGrantsResponse(grants: page.map(listEntry), nextMarker: next, truncated: next != nil)
        }
    }

    /// ListRetirableGrants: the grants a principal may retire. Callers may list their own; admins anyone's.
    package func listRetirableGrants(_ request: KMS.ListRetirableGrantsRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ListGrantsResponse {
        try await audited(.listRetirableGrants, principal, requestID: requestID) { (_) async throws(KMSError) in
            try request.validate()
            let own = request.retiringPrincipal == principal.arn
            guard principal.isAdmin || own else {
                throw KMSError(.accessDenied, "User: \(principal.arn) is not authorized to perform: kms:ListRetirableGrants for \(request.retiringPrincipal)")
            }
            var grants = try await storeCall { try await store.grants(retiringPrincipal: request.retiringPrincipal) }
            // A caller's own list holds only the grants retirable by it, not by a deleted namesake.
            if own && !principal.isAdmin { grants = grants.filter { $0.isRetirable(by: principal) } }
            let (page, next) = try page(grants, marker: request.marker, limit: Self.limit(request.limit, default: 50), operation: .listRetirableGrants)
            return KMS.ListGrantsResponse(grants: page.map(listEntry), nextMarker: next, truncated: next != nil)
        }
    }

    /// RetireGrant: by token, or by key and grant id. Allowed for the retiring principal, the
    /// grantee when the grant includes RetireGrant, and principals the key policy allows.
    package func retireGrant(_ request: KMS.RetireGrantRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await audited(.retireGrant, principal, requestID: requestID) { (note) async throws(KMSError) in
            try request.validate()
            let grant: GrantRecord
            if let token = request.grantToken {
                guard let found = try await findGrant({ $0.token == token }) else {
                    throw KMSError(.invalidGrantToken, "the grant token does not name a grant")
                }
                grant = found
            } else if let keyId = request.keyId, let grantId = request.grantId {
                let key = try await resolveKey(keyId, allowAlias: false)
                guard let found = try await storeCall({ try await store.grants(keyID: key.id) }).first(where: { $0.id == grantId }) else {
                    throw KMSError(.notFound, "Grant \(grantId) does not exist on \(key.arn)")
                }
                grant = found
            } else {
                throw KMSError(.validation, "RetireGrant needs either GrantToken, or both KeyId and GrantId")
            }
            guard let key = try await storeCall({ try await store.key(id: grant.keyID) }) else {
                throw KMSError(.notFound, "the grant's key does not exist")
            }
            note.keyARN = key.arn
            let mayRetire = grant.isRetirable(by: principal) || (grant.isGranted(to: principal) && grant.operations.contains(KeyAction(.retireGrant).name))
            if !mayRetire {
                try await authorize(
                    principal, KeyAction(.retireGrant), key: key, context: grant.encryptionContextEquals ?? grant.encryptionContextSubset,
                    conditionKeys: ["kms:GrantConstraintType": Self.constraintTypes(equals: grant.encryptionContextEquals, subset: grant.encryptionContextSubset)])
            }
            try Self.dryRun(request.dryRun)
            _ = try await storeCall { try await store.deleteGrant(id: grant.id) }
        }
    }

    /// RevokeGrant: needs kms:RevokeGrant on the key.
    package func revokeGrant(_ request: KMS.RevokeGrantRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        try await withKey(.revokeGrant, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate, conditionKeys: ["kms:GrantIsForAWSResource": ["false"]],
                          dryRun: request.dryRun) { (key, _) async throws(KMSError) in
            guard try await storeCall({ try await store.grants(keyID: key.id) }).contains(where: { $0.id == request.grantId }) else {
                throw KMSError(.notFound, "Grant \(request.grantId) does not exist on \(key.arn)")
            }
            _ = try await storeCall { try await store.deleteGrant(id: request.grantId) }
        }
    }

    /// Operations that may carry encryption context constraints: the cryptographic ones, and
    /// CreateGrant, whose constraint binds the grants made through it.
    static let constrainableOperations: Set<String> = [
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo",
        "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "CreateGrant",
    ]

    func listEntry(_ grant: GrantRecord) -> KMS.GrantListEntry {
        let constraints = grant.encryptionContextSubset == nil && grant.encryptionContextEquals == nil ? nil
            : KMS.GrantConstraints(encryptionContextSubset: grant.encryptionContextSubset, encryptionContextEquals: grant.encryptionContextEquals)
        return KMS.GrantListEntry(
            keyId: keyARN(grant.keyID), grantId: grant.id, name: grant.name, creationDate: grant.createdAt,
            granteePrincipal: grant.granteePrincipal, retiringPrincipal: grant.retiringPrincipal,
            issuingAccount: grant.issuingAccount, operations: grant.operations.map { KMS.GrantOperation(rawValue: $0) },
            constraints: constraints)
    }

    /// Looks for a grant across every key (tokens do not name their key).
    func findGrant(_ matches: @Sendable (GrantRecord) -> Bool) async throws(KMSError) -> GrantRecord? {
        var marker: UUID?
        while true {
            let page = try await storeCall { try await store.keys(after: marker, limit: 500) }
            for key in page {
                if let found = try await storeCall({ try await store.grants(keyID: key.id) }).first(where: matches) { return found }
            }
            guard page.count == 500, let last = page.last else { return nil }
            marker = last.id
        }
    }

    /// The unique id of the principal of the key store with this ARN, or `nil` when there is none
    /// (another account's principal, a role, a principal not created yet): a grant binds to the
    /// principal its ARN names when it is made.
    func uniqueID(of arn: String) async throws(KMSError) -> String? {
        try await storeCall { try await store.principals() }.first { $0.arn == arn }?.uniqueID
    }
}

/// Random grant tokens: 32 random bytes, base64url.
enum Base64URLToken {
    static func make() -> String {
        EnvSealFormat.Base64URL.encode(SecureRandom.bytes(count: 32))
    }
}

extension GrantRecord {
    /// Why a grant with `operations` and these constraints, made on this grant's authority, would
    /// give more than this grant has; `nil` when it would not.
    ///
    /// AWS: its operations must be some or all of this grant's, and its constraint at least as
    /// strict: every context the new grant admits must be one this grant admits. So a parent
    /// `EncryptionContextEquals E` needs the child's `Equals E`; a parent
    /// `EncryptionContextSubset S` needs every pair of `S` in the child's `Equals` or `Subset`.
    func excess(operations: [String], equals: [String: String]?, subset: [String: String]?) -> String? {
        let extra = operations.filter { !self.operations.contains($0) }
        if !extra.isEmpty {
            return "grant \(id) allows kms:CreateGrant only for its own operations (\(self.operations.joined(separator: ", "))), "
                + "not \(extra.joined(separator: ", "))"
        }
        if let parentEquals = encryptionContextEquals, !(equals.map { GrantConstraint.same($0, parentEquals) } ?? false) {
            return "grant \(id) has an EncryptionContextEquals constraint, and a grant made through it must have the same one"
        }
        if let parentSubset = encryptionContextSubset {
            // The pairs every context the new grant admits must hold.
            let held = (equals ?? [:]).merging(subset ?? [:]) { fromEquals, _ in fromEquals }
            if !GrantConstraint.holds(held, every: parentSubset) {
                return "grant \(id) has an EncryptionContextSubset constraint, and a grant made through it must require "
                    + "every pair of it (in its EncryptionContextSubset or EncryptionContextEquals)"
            }
        }
        return nil
    }
}

/// How a grant's encryption-context constraint compares contexts: keys without regard to case,
/// values exactly (AWS: "the key in each key-value pair is not case sensitive, but the value is
/// case sensitive").
enum GrantConstraint {
    /// Whether two contexts hold the same pairs, keys compared without case.
    static func same(_ left: [String: String], _ right: [String: String]) -> Bool {
        if left == right { return true }
        guard left.count == right.count else { return false }
        let (a, b) = (normalized(left), normalized(right))
        return a.elementsEqual(b) { $0.key == $1.key && $0.value == $1.value }
    }

    /// Whether `context` holds every pair of `pairs`, keys compared without case.
    static func holds(_ context: [String: String], every pairs: [String: String]) -> Bool {
        pairs.allSatisfy { key, value in
            context[key] == value || context.contains { $0.key.lowercased() == key.lowercased() && $0.value == value }
        }
    }

    private static func normalized(_ context: [String: String]) -> [(key: String, value: String)] {
        context.map { (key: $0.key.lowercased(), value: $0.value) }
            .sorted { $0.key != $1.key ? $0.key < $1.key : $0.value < $1.value }
    }
}
