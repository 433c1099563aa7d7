import Foundation
import KMSWire
import Testing
@testable import KeyService

/// Condition keys: the parser accepts only keys the engine supplies, the engine supplies each of
/// them, and the numeric, date and IP address operators are evaluated for real.
@Suite("authorization: condition keys and operators")
struct ConditionKeyTests {
    typealias F = KeyPolicyFixtures

    // MARK: Validation

    @Test("a key envseal does not supply is refused, naming it", arguments: [
        "aws:SourceArn", "kms:Foo", "aws:ResourceTag/team", "kms:TrailingDaysWithoutKeyUsage", "kms:EncryptionContext:",
        "aws:RequestTag/",
    ])
    func unsupportedKeyRefused(key: String) throws {
        let error = try #require(F.rejection(F.document(F.deny(condition: #"{"StringEquals": {"\#(key)": "x"}}"#))))
        #expect(error.kind == .unsupportedConditionKey || error.kind == .invalidCondition, "\(error)")
        #expect(error.description.contains(key), "\(error)")
    }

    static let supportedKeys = [
        "aws:CurrentTime", "aws:EpochTime", "aws:SecureTransport", "aws:SourceIp", "aws:PrincipalArn", "aws:PrincipalAccount",
        "aws:username", "aws:userid", "aws:RequestedRegion", "aws:TagKeys", "aws:RequestTag/team", "kms:CallerAccount", "kms:KeySpec",
        "kms:KeyUsage", "kms:KeyOrigin", "kms:MultiRegion", "kms:ResourceAliases", "kms:ViaService", "kms:EncryptionContext:App",
        "kms:EncryptionContextKeys", "kms:EncryptionAlgorithm", "kms:RequestAlias", "kms:ReEncryptOnSameKey", "kms:GrantOperations",
        "kms:GrantConstraintType", "kms:GrantIsForAWSResource", "kms:GranteePrincipal", "kms:RetiringPrincipal",
        "kms:BypassPolicyLockoutSafetyCheck", "kms:ScheduleKeyDeletionPendingWindowInDays", "kms:RotationPeriodInDays",
    ]

    @Test("every key the documentation lists is accepted", arguments: supportedKeys)
    func supportedKeyAccepted(key: String) throws {
        _ = try F.policy(F.allow(condition: #"{"StringEqualsIfExists": {"\#(key.uppercased())": "x"}}"#))
    }

    @Test("BinaryEquals is refused as unsupported, naming it")
    func binaryRefused() throws {
        let error = try #require(F.rejection(F.document(F.allow(condition: #"{"BinaryEquals": {"kms:CallerAccount": "QQ=="}}"#))))
        #expect(error.kind == .unsupported)
        #expect(error.description.contains("BinaryEquals"))
    }

    // MARK: Operators

    private func decision(_ condition: String, _ extra: [String: [String]], deny: Bool = false) throws -> PolicyDecision {
        let statement = deny ? F.deny(condition: condition) : F.allow(principal: #""*""#, condition: condition)
        return try F.policy(statement).evaluate(F.request(F.someone, extra: extra))
    }

    @Test("Numeric operators compare numbers, not text")
    func numeric() throws {
        let days = "kms:ScheduleKeyDeletionPendingWindowInDays"
        #expect(try decision(#"{"NumericGreaterThanEquals": {"\#(days)": 14}}"#, [days: ["30"]]) == .allow)
        #expect(try decision(#"{"NumericGreaterThanEquals": {"\#(days)": 14}}"#, [days: ["7"]]) == .implicitDeny)
        #expect(try decision(#"{"NumericLessThan": {"\#(days)": "10"}}"#, [days: ["9"]]) == .allow)
        #expect(try decision(#"{"NumericLessThan": {"\#(days)": "10"}}"#, [days: ["10"]]) == .implicitDeny)
        #expect(try decision(#"{"NumericEquals": {"\#(days)": "7.0"}}"#, [days: ["7"]]) == .allow)
        #expect(try decision(#"{"NumericNotEquals": {"\#(days)": ["7", "8"]}}"#, [days: ["8"]]) == .implicitDeny)
        #expect(try decision(#"{"NumericNotEquals": {"\#(days)": ["7", "8"]}}"#, [days: ["30"]]) == .allow)
        #expect(try decision(#"{"NumericLessThan": {"\#(days)": "10"}}"#, [:]) == .implicitDeny)
    }

    @Test("Date operators read ISO 8601 and epoch seconds")
    func dates() throws {
        let now = ["aws:CurrentTime": ["2026-12-07T18:30:00Z"]]
        #expect(try decision(#"{"DateGreaterThan": {"aws:CurrentTime": "2026-12-07T18:00:00Z"}}"#, now) == .allow)
        #expect(try decision(#"{"DateGreaterThan": {"aws:CurrentTime": "2026-12-08"}}"#, now) == .implicitDeny)
        #expect(try decision(#"{"DateLessThan": {"aws:CurrentTime": "2026-12-07T20:00:00+02:00"}}"#, now) == .implicitDeny)
        #expect(try decision(#"{"DateLessThan": {"aws:CurrentTime": "2026-12-07T20:31:00+02:00"}}"#, now) == .allow)
        #expect(try decision(#"{"DateLessThanEquals": {"aws:CurrentTime": 1796668200}}"#, now) == .allow)
        #expect(try decision(#"{"DateEquals": {"aws:EpochTime": "2026-12-07T18:30:00.000Z"}}"#, ["aws:EpochTime": ["1796668200"]]) == .allow)
        #expect(ConditionDate.format(epochSeconds: 1_796_668_200) == "2026-12-07T18:30:00Z")
        #expect(ConditionDate.parse("2024-02-29T23:59:59Z") == 1_709_251_199)
        for bad in ["2026-13-01", "2026-02-29", "2026-12-07T24:00:00Z", "2026-12-07T18:30:00ZZ", "yesterday", ""] {
            #expect(ConditionDate.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("IpAddress and NotIpAddress match CIDR ranges, IPv4 and IPv6")
    func ipAddresses() throws {
        let source = { (address: String) in ["aws:SourceIp": [address]] }
        let inside = #"{"IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]}}"#
        #expect(try decision(inside, source("10.1.2.3")) == .allow)
        #expect(try decision(inside, source("::ffff:10.1.2.3")) == .allow)
        #expect(try decision(inside, source("2001:db8:1::7")) == .allow)
        #expect(try decision(inside, source("11.0.0.1")) == .implicitDeny)
        #expect(try decision(inside, source("2001:db9::1")) == .implicitDeny)
        #expect(try decision(inside, [:]) == .implicitDeny)
        #expect(try decision(#"{"IpAddress": {"aws:SourceIp": "203.0.113.7"}}"#, source("203.0.113.7")) == .allow)
        #expect(try decision(#"{"IpAddress": {"aws:SourceIp": "203.0.113.7"}}"#, source("203.0.113.8")) == .implicitDeny)
        let outside = #"{"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}"#
        #expect(try decision(outside, source("127.0.0.1"), deny: true) == .implicitDeny)
        #expect(try decision(outside, source("192.0.2.1"), deny: true) == .explicitDeny(sid: nil))
    }

    // MARK: What the engine supplies

    /// A policy: the admin may do everything; billing-fn may do `actions` under `condition`.
    static func policy(actions: String, condition: String, effect: String = "Allow") -> String {
        """
        {"Version": "2012-10-17", "Statement": [
          {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", "Resource": "*"},
          {"Sid": "Function", "Effect": "\(effect)", "Principal": {"AWS": "arn:aws:iam::111122223333:user/billing-fn"},
           "Action": \(actions), "Resource": "*", "Condition": \(condition)}
        ]}
        """
    }

    @Test("aws:SecureTransport: Deny … false denies a request that came over plain HTTP")
    func secureTransport() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
            ]}
            """)
        let plain = RequestOrigin(secureTransport: false, sourceAddress: "127.0.0.1")
        let tls = RequestOrigin(secureTransport: true, sourceAddress: "127.0.0.1")
        let denied = await RequestOrigin.$current.withValue(plain) { await kmsError { _ = try await f.encrypt("x", key: key) } }
        #expect(denied == .accessDenied)
        let allowed = await RequestOrigin.$current.withValue(tls) { await kmsError { _ = try await f.encrypt("x", key: key) } }
        #expect(allowed == nil)
        // In-process calls never crossed a network.
        _ = try await f.encrypt("x", key: key)
    }

    @Test("aws:SourceIp comes from the request's origin")
    func sourceIp() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.policy(actions: #""kms:Encrypt""#, condition: #"{"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}"#))
        func attempt(_ address: String?) async -> KMSErrorType? {
            await RequestOrigin.$current.withValue(RequestOrigin(secureTransport: true, sourceAddress: address)) {
                await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) }
            }
        }
        #expect(await attempt("10.2.3.4") == nil)
        #expect(await attempt("192.0.2.1") == .accessDenied)
        #expect(await attempt(nil) == .accessDenied)
    }

    @Test("kms:GrantOperations and kms:GrantConstraintType limit what CreateGrant may give")
    func grantOperations() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.policy(actions: #""kms:CreateGrant""#, condition: """
            {"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]},
             "StringEquals": {"kms:GrantConstraintType": "EncryptionContextEquals"},
             "Bool": {"kms:GrantIsForAWSResource": "false"}}
            """))
        func create(_ operations: [KMS.GrantOperation], _ constraints: KMS.GrantConstraints?) async -> KMSErrorType? {
            await kmsError {
                _ = try await f.kms.createGrant(.init(keyId: key, granteePrincipal: f.function.arn, operations: operations, constraints: constraints), by: f.function)
            }
        }
        let equals = KMS.GrantConstraints(encryptionContextEquals: ["app": "billing"])
        #expect(await create([.decrypt], equals) == nil)
        #expect(await create([.decrypt, .encrypt], equals) == nil)
        #expect(await create([.decrypt, .generateDataKey], equals) == .accessDenied)
        #expect(await create([.createGrant], equals) == .accessDenied)
        #expect(await create([.decrypt], nil) == .accessDenied)
        #expect(await create([.decrypt], .init(encryptionContextSubset: ["app": "billing"])) == .accessDenied)
    }

    @Test("kms:RequestAlias, kms:EncryptionAlgorithm and the key's properties are supplied")
    func requestKeys() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.policy(actions: #"["kms:Encrypt", "kms:DescribeKey"]"#, condition: """
            {"StringEquals": {"kms:RequestAlias": "alias/billing", "kms:EncryptionAlgorithm": "SYMMETRIC_DEFAULT",
              "kms:KeySpec": "SYMMETRIC_DEFAULT", "kms:KeyUsage": "ENCRYPT_DECRYPT", "kms:KeyOrigin": "AWS_KMS",
              "aws:username": "billing-fn", "aws:RequestedRegion": "us-east-1", "kms:CallerAccount": "111122223333"},
             "Bool": {"kms:MultiRegion": "false"}, "Null": {"kms:ViaService": "true"}}
            """))
        try await f.kms.createAlias(.init(aliasName: "alias/billing", targetKeyId: key), by: f.admin)
        try await f.kms.createAlias(.init(aliasName: "alias/other", targetKeyId: key), by: f.admin)
        _ = try await f.encrypt("x", key: "alias/billing", as: f.function)
        _ = try await f.encrypt("x", key: "arn:aws:kms:us-east-1:111122223333:alias/billing", as: f.function)
        #expect(await kmsError { _ = try await f.encrypt("x", key: "alias/other", as: f.function) } == .accessDenied)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) } == .accessDenied)
        // kms:EncryptionAlgorithm belongs to cryptographic operations: DescribeKey has none, so the test fails.
        #expect(await kmsError { _ = try await f.kms.describeKey(.init(keyId: "alias/billing"), by: f.function) } == .accessDenied)
    }

    @Test("aws:userid is the caller's unique id, which a principal of the same name does not share")
    func userID() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.policy(actions: #""kms:Encrypt""#, condition: """
            {"StringEquals": {"aws:userid": "AIDAEXAMPLEUSER00001"}}
            """))
        let original = Principal.user("billing-fn", account: f.function.account, uniqueID: "AIDAEXAMPLEUSER00001")
        let recreated = Principal.user("billing-fn", account: f.function.account, uniqueID: "AIDAEXAMPLEUSER00002")
        _ = try await f.encrypt("x", key: key, as: original)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: recreated) } == .accessDenied)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) } == .accessDenied, "no id, no match")
    }

    @Test("kms:ResourceAliases lists the key's aliases")
    func resourceAliases() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.policy(actions: #""kms:Encrypt""#, condition: """
            {"ForAnyValue:StringLike": {"kms:ResourceAliases": "alias/finance-*"}}
            """))
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) } == .accessDenied)
        try await f.kms.createAlias(.init(aliasName: "alias/finance-billing", targetKeyId: key), by: f.admin)
        _ = try await f.encrypt("x", key: key, as: f.function)
    }

    @Test("aws:CurrentTime follows the engine's clock")
    func currentTime() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        // The fixture's clock starts at 2027-01-15T08:00:00Z.
        let key = try await f.newKey(policy: Self.policy(actions: #""kms:Encrypt""#, condition: """
            {"DateLessThan": {"aws:CurrentTime": "2027-01-20T00:00:00Z"}}
            """))
        _ = try await f.encrypt("x", key: key, as: f.function)
        f.clock.advance(days: 10)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) } == .accessDenied)
    }

    @Test("operation parameters: pending window, rotation period, request tags")
    func operationParameters() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.policy(
            actions: #"["kms:ScheduleKeyDeletion", "kms:EnableKeyRotation", "kms:TagResource"]"#, condition: """
            {"NumericGreaterThanEqualsIfExists": {"kms:ScheduleKeyDeletionPendingWindowInDays": 20, "kms:RotationPeriodInDays": 180},
             "StringEqualsIfExists": {"aws:RequestTag/team": "billing"}}
            """))
        #expect(await kmsError { _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 7), by: f.function) } == .accessDenied)
        #expect(await kmsError { try await f.kms.enableKeyRotation(.init(keyId: key, rotationPeriodInDays: 90), by: f.function) } == .accessDenied)
        try await f.kms.enableKeyRotation(.init(keyId: key, rotationPeriodInDays: 365), by: f.function)
        #expect(await kmsError { try await f.kms.tagResource(.init(keyId: key, tags: [.init(tagKey: "team", tagValue: "payroll")]), by: f.function) } == .accessDenied)
        try await f.kms.tagResource(.init(keyId: key, tags: [.init(tagKey: "team", tagValue: "billing")]), by: f.function)
        _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 30), by: f.function)
    }

    @Test("a policy stored before keys were checked fails closed on a key envseal does not supply")
    func storedPolicyFailsClosed() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let id = try #require(UUID(uuidString: String(key.split(separator: "/").last!)))
        let stored = """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", "Resource": "*"},
              {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/billing-fn"}, "Action": "kms:Encrypt", "Resource": "*",
               "Condition": {"StringNotEquals": {"aws:SourceArn": "arn:aws:lambda:us-east-1:111122223333:function:x"}}},
              {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:Decrypt", "Resource": "*",
               "Condition": {"StringEquals": {"aws:PrincipalTag/team": "none"}}}
            ]}
            """
        try await f.store.updateKey(id: id) { $0.policy = stored }
        f.kms.forgetKey(id)
        #expect(await kmsError { _ = try await f.encrypt("x", key: key, as: f.function) } == .accessDenied)
        let blob = try await f.encrypt("x", key: key)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .accessDenied)
        // The admin can still replace it with a valid policy.
        try await f.kms.putKeyPolicy(.init(keyId: key, policy: functionPolicy), by: f.admin)
        #expect(try await f.decrypt(blob) == "x")
    }

    // MARK: Condition keys made only for the policies that test them

    /// A key policy that delegates Decrypt to the account, with no condition of its own.
    static let delegating = """
        {"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:user/admin"}, "Action": "kms:*", "Resource": "*"},
          {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:Decrypt", "Resource": "*"}
        ]}
        """

    @Test("a condition in the identity policy alone still gets its key when the key policy tests none")
    func identityPolicyConditionKeys() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.delegating)
        let blob = try await f.encrypt("x", key: key)
        let caller = Principal.user("reader", account: Fixture.account, identityPolicy: """
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*",
              "Condition": {"Bool": {"aws:SecureTransport": "true"}, "StringEquals": {"aws:username": "reader"}}}]}
            """)
        func attempt(secure: Bool) async -> KMSErrorType? {
            await RequestOrigin.$current.withValue(RequestOrigin(secureTransport: secure, sourceAddress: "10.0.0.1")) {
                await kmsError { _ = try await f.decrypt(blob, as: caller) }
            }
        }
        #expect(await attempt(secure: true) == nil)
        #expect(await attempt(secure: false) == .accessDenied)
        // A Deny on a time condition in the identity policy applies though the key policy tests no time.
        let late = Principal.user("reader", account: Fixture.account, identityPolicy: """
            {"Version": "2012-10-17", "Statement": [
              {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
              {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}}]}
            """)
        #expect(await kmsError { _ = try await f.decrypt(blob, as: late) } == .accessDenied)
    }

    @Test("a principal's changed identity policy applies at once: parsed policies are kept per owner and document")
    func changedIdentityPolicyApplies() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey(policy: Self.delegating)
        let blob = try await f.encrypt("x", key: key)
        let allow = #"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}"#
        let deny = #"{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}]}"#
        #expect(try await f.decrypt(blob, as: .user("reader", account: Fixture.account, identityPolicy: allow)) == "x")
        #expect(await kmsError { _ = try await f.decrypt(blob, as: .user("reader", account: Fixture.account, identityPolicy: deny)) } == .accessDenied)
        #expect(await kmsError { _ = try await f.decrypt(blob, as: .user("reader", account: Fixture.account)) } == .accessDenied)
        #expect(try await f.decrypt(blob, as: .user("reader", account: Fixture.account, identityPolicy: allow)) == "x")
    }

    @Test("a key deleted through another engine on the same store leaves this engine's material cache")
    func deletionElsewhereEvictsMaterial() async throws {
        let f = try await Fixture(); defer { f.cleanUp() }
        let key = try await f.newKey()
        let blob = try await f.encrypt("x", key: key)
        let root = try await RootKey.open(.file(f.directory.appendingPathComponent("root.key").path), store: f.store)
        let clock = f.clock
        let other = KeyServiceEngine(store: f.store, root: root, configuration: .init(keyCacheLifetime: .zero, now: { clock.now }))
        #expect(String(decoding: try #require(try await other.decrypt(.init(ciphertextBlob: blob), by: f.admin).plaintext), as: UTF8.self) == "x")
        #expect(other.materials.count == 1)
        _ = try await f.kms.scheduleKeyDeletion(.init(keyId: key, pendingWindowInDays: 7), by: f.admin)
        f.clock.advance(days: 8)
        #expect(await kmsError { _ = try await f.decrypt(blob) } == .notFound)
        #expect(await kmsError { _ = try await other.decrypt(.init(ciphertextBlob: blob), by: f.admin) } == .notFound)
        #expect(other.materials.count == 0)
    }
}
