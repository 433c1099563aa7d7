import Foundation
import KMSWire

/// Where a request came from, as the key policy's global condition keys see it.
///
/// The HTTP server sets it for each request with `RequestOrigin.$current.withValue(…)`; calls made
/// in-process (the CLI on its own key store, tests) keep ``inProcess``.
package struct RequestOrigin: Sendable, Equatable {
    /// `aws:SecureTransport`: whether the request arrived over TLS.
    package var secureTransport: Bool
    /// `aws:SourceIp`: the peer's IP address, when there is a network peer.
    package var sourceAddress: String?

    package init(secureTransport: Bool, sourceAddress: String?) {
        self.secureTransport = secureTransport
        self.sourceAddress = sourceAddress
    }

    /// A call that never crossed a network: nothing travelled in the clear, and there is no
    /// source address (so `IpAddress` tests fail and `NotIpAddress` tests hold).
    package static let inProcess = RequestOrigin(secureTransport: true, sourceAddress: nil)

    /// The origin of the request being served.
    @TaskLocal package static var current: RequestOrigin = .inProcess
}

extension KeyServiceEngine {
    /// The condition keys every request on a key carries: the caller, the connection, the time,
    /// and the key's properties. Operations add their own (see ``authorize(_:_:key:context:grantTokens:conditionKeys:grantLimit:)``).
    ///
    /// Only the keys that `policy` or `identityPolicy` tests are made: a key no statement tests
    /// cannot change a decision, and most policies test none, so most requests build nothing (no
    /// clock read, no formatted `aws:CurrentTime`).
    ///
    /// - Parameters:
    ///   - keyID: The key, to look up its aliases for `kms:ResourceAliases`; `nil` for a key
    ///     that does not exist yet.
    ///   - policy: The key policy that will be evaluated.
    ///   - identityPolicy: The caller's identity policy that will be evaluated with it, if any.
    ///   - keySpec: What the key is, for `kms:KeySpec` and `kms:KeyUsage`.
    ///   - origin: Where its material comes from, for `kms:KeyOrigin`.
    func baseConditionKeys(
        _ principal: Principal, keyID: UUID?, policy: KeyPolicy, identityPolicy: IdentityPolicy? = nil,
        keySpec: KeySpecKind = .symmetricDefault, origin: KeyOrigin = .awsKMS
    ) async throws(KMSError) -> [String: [String]] {
        var keys: [String: [String]] = [:]
        // Walks the (usually one to three) keys the policies test rather than probing for each
        // key it could make.
        for name in policy.testedConditionKeys {
            try await addBaseConditionKey(name, to: &keys, principal: principal, keyID: keyID, keySpec: keySpec, origin: origin)
        }
        for name in identityPolicy?.policy.testedConditionKeys ?? [] {
            try await addBaseConditionKey(name, to: &keys, principal: principal, keyID: keyID, keySpec: keySpec, origin: origin)
        }
        return keys
    }

    /// Adds the per-request condition key a policy tests under `lowercased`, when it is one of
    /// them (the operation's own keys come from the operation).
    private func addBaseConditionKey(
        _ lowercased: String, to keys: inout [String: [String]], principal: Principal, keyID: UUID?, keySpec: KeySpecKind,
        origin: KeyOrigin
    ) async throws(KMSError) {
        switch lowercased {
        case "kms:calleraccount": keys["kms:CallerAccount"] = [principal.account]
        case "aws:principalarn": keys["aws:PrincipalArn"] = [principal.arn]
        case "aws:securetransport": keys["aws:SecureTransport"] = [RequestOrigin.current.secureTransport ? "true" : "false"]
        case "aws:currenttime", "aws:epochtime":
            // One reading of the clock for both.
            guard keys["aws:CurrentTime"] == nil else { return }
            let time = now.timeIntervalSince1970
            keys["aws:CurrentTime"] = [ConditionDate.format(epochSeconds: time)]
            keys["aws:EpochTime"] = [String(Int(time.rounded(.down)))]
        case "aws:requestedregion": keys["aws:RequestedRegion"] = [configuration.region]
        // The key's own; present "even when the parameter doesn't appear in the request", as AWS
        // documents.
        case "kms:keyspec": keys["kms:KeySpec"] = [keySpec.rawValue]
        case "kms:keyusage": keys["kms:KeyUsage"] = [keySpec.keyUsage]
        case "kms:keyorigin": keys["kms:KeyOrigin"] = [origin.rawValue]
        case "kms:multiregion": keys["kms:MultiRegion"] = ["false"]
        case "aws:sourceip": if let address = RequestOrigin.current.sourceAddress { keys["aws:SourceIp"] = [address] }
        case "aws:username": if let name = Self.userName(principal.arn) { keys["aws:username"] = [name] }
        // The principal's unique id (AIDA…), which a principal recreated under the same name does
        // not share, as IAM's aws:userid for a user.
        case "aws:userid": if let id = principal.uniqueID { keys["aws:userid"] = [id] }
        case "kms:resourcealiases":
            guard let keyID, keys["kms:ResourceAliases"] == nil else { return }
            let aliases = try await storeCall { try await store.aliases(keyID: keyID, after: nil, limit: 1000) }
            keys["kms:ResourceAliases"] = aliases.map(\.name)
        default: return
        }
    }

    /// `aws:username`: the friendly name of an IAM user (the last part of `user/path/name`);
    /// other principals have none.
    static func userName(_ arn: String) -> String? {
        let parts = arn.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[2] == "iam", parts[5].hasPrefix("user/") else { return nil }
        return parts[5].split(separator: "/").last.map(String.init)
    }

    /// `kms:RequestAlias`: the alias name when the request named its key by alias (name or ARN).
    static func requestAlias(_ reference: String?) -> [String: [String]] {
        guard let reference else { return [:] }
        if reference.hasPrefix("alias/") { return ["kms:RequestAlias": [reference]] }
        if reference.hasPrefix("arn:"), let range = reference.range(of: ":alias/") {
            return ["kms:RequestAlias": [String(reference[reference.index(after: range.lowerBound)...])]]
        }
        return [:]
    }

    /// `kms:EncryptionAlgorithm` (and `kms:RequestAlias`) for a cryptographic operation; only
    /// SYMMETRIC_DEFAULT gets this far.
    static func cryptoConditionKeys(keyReference: String?) -> [String: [String]] {
        guard keyReference != nil else { return algorithmConditionKey }
        return requestAlias(keyReference).merging(algorithmConditionKey) { lhs, _ in lhs }
    }

    private static let algorithmConditionKey = ["kms:EncryptionAlgorithm": ["SYMMETRIC_DEFAULT"]]

    /// The keys of CreateGrant: `kms:GrantOperations`, `kms:GrantConstraintType`,
    /// `kms:GrantIsForAWSResource` (no AWS service calls here), `kms:GranteePrincipal`, `kms:RetiringPrincipal`.
    static func grantConditionKeys(_ request: KMS.CreateGrantRequest) -> [String: [String]] {
        var keys: [String: [String]] = [
            "kms:GrantOperations": request.operations.map(\.rawValue),
            "kms:GrantIsForAWSResource": ["false"],
            "kms:GranteePrincipal": [request.granteePrincipal],
        ]
        if let retiring = request.retiringPrincipal { keys["kms:RetiringPrincipal"] = [retiring] }
        keys["kms:GrantConstraintType"] = constraintTypes(equals: request.constraints?.encryptionContextEquals,
                                                          subset: request.constraints?.encryptionContextSubset)
        return keys
    }

    /// `kms:GrantConstraintType`: the constraint kinds a grant has.
    static func constraintTypes(equals: [String: String]?, subset: [String: String]?) -> [String] {
        (equals == nil ? [] : ["EncryptionContextEquals"]) + (subset == nil ? [] : ["EncryptionContextSubset"])
    }
}
