import Foundation
package import KMSWire

extension KeyServiceEngine {
    /// GetKeyPolicy: the key's only policy, named `default`.
    package func getKeyPolicy(_ request: KMS.GetKeyPolicyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.GetKeyPolicyResponse {
        try await withKey(.getKeyPolicy, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate) { (key, _) async throws(KMSError) in
            try Self.requireDefaultPolicyName(request.policyName)
            return KMS.GetKeyPolicyResponse(policy: key.policy, policyName: "default")
        }
    }

    /// PutKeyPolicy: replaces the policy, refusing one that would lock the caller out unless
    /// BypassPolicyLockoutSafetyCheck is set (as AWS does).
    package func putKeyPolicy(_ request: KMS.PutKeyPolicyRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) {
        let bypass = request.bypassPolicyLockoutSafetyCheck ?? false
        try await withKey(
            .putKeyPolicy, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
            validate: { () throws(KMSError) in
                try request.validate()
                try Self.requireDefaultPolicyName(request.policyName)
            },
            conditionKeys: ["kms:BypassPolicyLockoutSafetyCheck": [bypass ? "true" : "false"]]
        ) { (key, _) async throws(KMSError) in
            let policy = try await checkNewPolicy(request.policy, keyARN: key.arn, keyID: key.id, keySpec: key.keySpec, principal: principal, bypass: bypass)
            defer { forgetKey(key.id) }
            _ = try await storeCall {
                try await store.updateKey(id: key.id) { record in
                    guard record.state != .pendingDeletion else { throw KMSError(.kmsInvalidState, "\(record.arn) is pending deletion.") }
                    record.policy = policy
                }
            }
        }
    }

    /// ListKeyPolicies: always `["default"]`.
    package func listKeyPolicies(_ request: KMS.ListKeyPoliciesRequest, by principal: Principal, requestID: String? = nil) async throws(KMSError) -> KMS.ListKeyPoliciesResponse {
        try await withKey(.listKeyPolicies, keyID: request.keyId, allowAlias: false, by: principal, requestID: requestID,
                          validate: request.validate) { (key, _) async throws(KMSError) in
            return KMS.ListKeyPoliciesResponse(policyNames: ["default"], truncated: false)
        }
    }

    /// Parses a new policy and, unless bypassed, checks that it still lets the caller change it,
    /// directly or through a statement delegating to the caller's account: a PutKeyPolicy from the
    /// same caller and connection, now, without the bypass.
    /// - Parameters:
    ///   - keyID: The key, when it exists already (for its aliases).
    ///   - keySpec: What the key is (for `kms:KeySpec` and `kms:KeyUsage`).
    func checkNewPolicy(
        _ json: String, keyARN: String, keyID: UUID?, keySpec: KeySpecKind, principal: Principal, bypass: Bool
    ) async throws(KMSError) -> String {
        let policy: KeyPolicy
        do {
            policy = try KeyPolicy(json: json)
        } catch {
            throw KMSError(.malformedPolicyDocument, "\(error)")
        }
        if !bypass {
            var keys = try await baseConditionKeys(principal, keyID: keyID, policy: policy, keySpec: keySpec)
            keys["kms:BypassPolicyLockoutSafetyCheck"] = ["false"]
            let request = AuthorizationRequest(
                principalARN: principal.arn, principalAccount: principal.account, action: "kms:PutKeyPolicy",
                resourceARN: keyARN, encryptionContext: nil, extraConditionKeys: keys)
            // As in AWS, delegating PutKeyPolicy to the caller's account passes: the principal's
            // identity policy (set with the CLI, outside the key service) can then allow it.
            let decision = policy.evaluate(request)
            guard decision == .allow || (decision == .implicitDeny && policy.delegatesToAccount(request)) else {
                throw KMSError(.malformedPolicyDocument,
                    "The new key policy will not allow you to update the key policy in the future (\(principal.arn) would lose kms:PutKeyPolicy)")
            }
        }
        return json
    }

    static func requireDefaultPolicyName(_ name: String?) throws(KMSError) {
        if let name, name != "default" { throw KMSError(.notFound, "No such policy exists: \(name); a key has one policy, named default") }
    }
}
