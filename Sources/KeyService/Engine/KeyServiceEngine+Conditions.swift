import Foundation
import KMSWire

/// Where a request came from, as the key policy's global condition keys see it.
///
/// The HTTP server sets it for each request with `RequestOrigin.$current.withValue(…)`; calls made
/// in-process (the CLI on its own key store, tests) keep ``inProcess``.
public struct RequestOrigin: Sendable, Equatable {
    /// `aws:SecureTransport`: whether the request arrived over TLS.
    public var secureTransport: Bool
    /// `aws:SourceIp`: the peer's IP address, when there is a network peer.
    public var sourceAddress: String?

    public init(secureTransport: Bool, sourceAddress: String?) {
        self.secureTransport = secureTransport
        self.sourceAddress = sourceAddress
    }

    /// A call that never crossed a network: nothing travelled in the clear, and there is no
    /// source address (so `IpAddress` tests fail and `NotIpAddress` tests hold).
    public static let inProcess = RequestOrigin(secureTransport: true, sourceAddress: nil)

    /// The origin of the request being served.
    @TaskLocal public static var current: RequestOrigin = .inProcess
}

extension KeyServiceEngine {
    /// The condition keys every request on a key carries: the caller, the connection, the time,
    /// and the key's properties. Operations add their own (see ``authorize(_:_:key:context:grantTokens:conditionKeys:grantLimit:)``).
    ///
    /// - Parameters:
    ///   - keyID: The key, to look up its aliases for `kms:ResourceAliases`; `nil` for a key
    ///     that does not exist yet.
    ///   - policy: The policy that will be evaluated: aliases are read only when it tests them.
    func baseConditionKeys(_ principal: Principal, keyID: UUID?, policy: KeyPolicy) async throws(KMSError) -> [String: [String]] {
        let origin = RequestOrigin.current
        let time = now.timeIntervalSince1970
        var keys: [String: [String]] = [
            "kms:CallerAccount": [principal.account],
            "aws:PrincipalArn": [principal.arn],
            "aws:SecureTransport": [origin.secureTransport ? "true" : "false"],
            "aws:CurrentTime": [ConditionDate.format(epochSeconds: time)],
            "aws:EpochTime": [String(Int(time.rounded(.down)))],
            "aws:RequestedRegion": [configuration.region],
            // A symmetric key's (authorize replaces them for an HMAC key); the keys are present
            // "even when the parameter doesn't appear in the request", as AWS documents.
            "kms:KeySpec": ["SYMMETRIC_DEFAULT"],
            "kms:KeyUsage": ["ENCRYPT_DECRYPT"],
            "kms:KeyOrigin": ["AWS_KMS"],
            "kms:MultiRegion": ["false"],
        ]
        if let address = origin.sourceAddress { keys["aws:SourceIp"] = [address] }
        if let name = Self.userName(principal.arn) { keys["aws:username"] = [name] }
        // The principal's unique id (AIDA…), which a principal recreated under the same name does
        // not share, as IAM's aws:userid for a user.
        if let id = principal.uniqueID { keys["aws:userid"] = [id] }
        if let keyID, policy.testsConditionKey("kms:resourcealiases") {
            let aliases = try await storeCall { try await store.aliases(keyID: keyID, after: nil, limit: 1000) }
            keys["kms:ResourceAliases"] = aliases.map(\.name)
        }
        return keys
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
        requestAlias(keyReference).merging(["kms:EncryptionAlgorithm": ["SYMMETRIC_DEFAULT"]]) { lhs, _ in lhs }
    }

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
