import Foundation
import KeyService
import Testing

/// Requests, principals and documents shared by the key policy tests.
enum KeyPolicyFixtures {
    static let account = "111122223333"
    static let otherAccount = "444455556666"
    static let keyARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    static let otherKeyARN = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
    static let admin = "arn:aws:iam::111122223333:user/admin"
    static let billing = "arn:aws:iam::111122223333:user/billing-fn"
    static let someone = "arn:aws:iam::111122223333:user/someone"
    static let stranger = "arn:aws:iam::444455556666:user/stranger"

    /// A request; the account is taken from the principal ARN.
    static func request(
        _ principal: String = billing, _ action: String = "kms:Decrypt", resource: String = keyARN,
        context: [String: String]? = nil, extra: [String: [String]] = [:]
    ) -> AuthorizationRequest {
        let parts = principal.split(separator: ":", omittingEmptySubsequences: false)
        let account = parts.count > 4 ? String(parts[4]) : ""
        return AuthorizationRequest(
            principalARN: principal, principalAccount: account, action: action, resourceARN: resource,
            encryptionContext: context, extraConditionKeys: extra
        )
    }

    /// A 2012-10-17 document around the given statement objects.
    static func document(_ statements: String...) -> String {
        #"{"Version": "2012-10-17", "Statement": ["# + statements.joined(separator: ",") + "]}"
    }

    /// Parses a document made of the given statements.
    /// An identity policy document of these statements.
    static func identity(_ statements: String...) -> String {
        #"{"Version": "2012-10-17", "Statement": ["# + statements.joined(separator: ",") + "]}"
    }

    static func policy(_ statements: String...) throws -> KeyPolicy {
        try KeyPolicy(json: #"{"Version": "2012-10-17", "Statement": ["# + statements.joined(separator: ",") + "]}")
    }

    /// An `Allow` statement for `principal` (a JSON value) with optional condition (a JSON object).
    static func allow(
        principal: String = #"{"AWS": "arn:aws:iam::111122223333:user/billing-fn"}"#, action: String = #""kms:Decrypt""#,
        resource: String = #""Resource": "*""#, condition: String? = nil, sid: String? = nil
    ) -> String {
        statement("Allow", principal: principal, action: action, resource: resource, condition: condition, sid: sid)
    }

    /// A `Deny` statement, shaped like ``allow(principal:action:resource:condition:sid:)``.
    static func deny(
        principal: String = #""*""#, action: String = #""kms:Decrypt""#, resource: String = #""Resource": "*""#,
        condition: String? = nil, sid: String? = nil
    ) -> String {
        statement("Deny", principal: principal, action: action, resource: resource, condition: condition, sid: sid)
    }

    private static func statement(
        _ effect: String, principal: String, action: String, resource: String, condition: String?, sid: String?
    ) -> String {
        var fields = [#""Effect": "\#(effect)""#, #""Principal": \#(principal)"#, #""Action": \#(action)"#, resource]
        if let sid { fields.insert(#""Sid": "\#(sid)""#, at: 0) }
        if let condition { fields.append(#""Condition": \#(condition)"#) }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    /// An example policy from `KeyStore/examples`, found relative to this source file.
    static func example(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("KeyStore/examples/\(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    /// The error a document is rejected with, or `nil` when it parses.
    static func rejection(_ json: String) -> PolicyError? {
        do {
            _ = try KeyPolicy(json: json)
            return nil
        } catch {
            return error
        }
    }
}

@Suite("Key policies: examples, default policy, evaluation")
struct KeyPolicyTests {
    typealias F = KeyPolicyFixtures

    // MARK: Example files

    @Test("Both example policies parse")
    func examplesParse() throws {
        let leastPrivilege = try KeyPolicy(json: try F.example("least-privilege-function.json"))
        #expect(leastPrivilege.statements.count == 4)
        #expect(leastPrivilege.version == "2012-10-17")
        let defaultPolicy = try KeyPolicy(json: try F.example("default-key-policy.json"))
        #expect(defaultPolicy.statements.map(\.sid) == ["Allow access for Key Administrators"])
    }

    @Test("The default-policy example is exactly what defaultPolicy produces")
    func defaultPolicyMatchesExample() throws {
        let produced = KeyPolicy.defaultPolicy(account: F.account, admins: [F.admin])
        let file = try F.example("default-key-policy.json")
        #expect(produced.json == file.trimmingCharacters(in: .newlines))
        #expect(try KeyPolicy(json: file).statements == produced.statements)
    }

    // MARK: Default policy

    @Test("The default policy lets the admins in, and no one else")
    func defaultPolicy() {
        let policy = KeyPolicy.defaultPolicy(account: F.account, admins: [F.admin])
        #expect(policy.id == "key-default-1")
        #expect(policy.evaluate(F.request(F.admin, "kms:PutKeyPolicy")) == .allow)
        #expect(policy.evaluate(F.request(F.admin, "kms:Decrypt")) == .allow)
        // envseal's account root would mean every principal of the account, so the default leaves it out.
        #expect(policy.evaluate(F.request(F.someone, "kms:Decrypt")) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.billing, "kms:ScheduleKeyDeletion")) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.stranger, "kms:Decrypt")) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.stranger, "kms:DescribeKey")) == .implicitDeny)
    }

    @Test("Without admins the default policy delegates to the account's identity policies, and allows nothing itself")
    func defaultPolicyWithoutAdmins() throws {
        let policy = KeyPolicy.defaultPolicy(account: F.account, admins: [])
        #expect(policy.statements.count == 1)
        #expect(policy.statements[0].principals == [.account(F.account)])
        #expect(policy.evaluate(F.request(F.someone, "kms:Decrypt")) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.admin, "kms:DisableKey")) == .implicitDeny)
        #expect(policy.delegatesToAccount(F.request(F.someone, "kms:Decrypt")))
        let decrypt = try IdentityPolicy(json: F.identity(#"{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}"#))
        #expect(policy.evaluate(F.request(F.someone, "kms:Decrypt"), identityPolicy: decrypt) == .allow)
        #expect(policy.evaluate(F.request(F.someone, "kms:DisableKey"), identityPolicy: decrypt) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.stranger, "kms:Decrypt")) == .implicitDeny)
        #expect(!policy.delegatesToAccount(F.request(F.stranger, "kms:Decrypt")))
        #expect(policy.evaluate(F.request(F.stranger, "kms:Decrypt"), identityPolicy: decrypt) == .implicitDeny)
        let china = KeyPolicy.defaultPolicy(account: F.account, partition: "aws-cn", admins: [])
        #expect(china.json.contains("arn:aws-cn:iam::111122223333:root"))
    }

    @Test("An admin of another account is allowed by the default policy")
    func defaultPolicyForeignAdmin() {
        let policy = KeyPolicy.defaultPolicy(account: F.account, admins: [F.stranger])
        #expect(policy.evaluate(F.request(F.stranger, "kms:DisableKey")) == .allow)
        #expect(policy.evaluate(F.request("arn:aws:iam::444455556666:user/other", "kms:DisableKey")) == .implicitDeny)
    }

    @Test("defaultPolicy drops duplicate and invalid admins")
    func defaultPolicyAdmins() throws {
        let messy = KeyPolicy.defaultPolicy(account: F.account, admins: [F.admin, "not an arn", F.admin, F.billing])
        #expect(messy.statements.count == 1)
        #expect(messy.statements[0].principals == [.arn(F.admin), .arn(F.billing)])
        #expect(try KeyPolicy(json: messy.json) == messy)
    }

    // MARK: Least privilege

    @Test("The function may decrypt only with its exact encryption context")
    func leastPrivilegeFunction() throws {
        let policy = try KeyPolicy(json: try F.example("least-privilege-function.json"))
        let exact = ["LambdaFunctionName": "billing"]
        #expect(policy.evaluate(F.request(F.billing, context: exact)) == .allow)
        #expect(policy.evaluate(F.request(F.billing, context: ["LambdaFunctionName": "payroll"])) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.billing, context: ["LambdaFunctionName": "Billing"])) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.billing, context: nil)) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.billing, context: [:])) == .implicitDeny)
        // An extra pair fails ForAllValues on the context keys.
        #expect(policy.evaluate(F.request(F.billing, context: ["LambdaFunctionName": "billing", "Stage": "prod"])) == .implicitDeny)
        // The kms:EncryptionContext:<key> test ignores the key's case, but the case-sensitive
        // kms:EncryptionContextKeys test does not: together they pin the exact key.
        #expect(policy.evaluate(F.request(F.billing, context: ["lambdafunctionname": "billing"])) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.billing, "kms:Encrypt", context: exact)) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.billing, "kms:ReEncryptFrom", context: exact)) == .implicitDeny)
    }

    @Test("Nobody but the function may decrypt, explicitly")
    func leastPrivilegeOthers() throws {
        let policy = try KeyPolicy(json: try F.example("least-privilege-function.json"))
        let exact = ["LambdaFunctionName": "billing"]
        let denied = PolicyDecision.explicitDeny(sid: "DenyDecryptExceptBillingFunction")
        #expect(policy.evaluate(F.request(F.someone, context: exact)) == denied)
        #expect(policy.evaluate(F.request(F.admin, context: exact)) == denied)
        #expect(policy.evaluate(F.request(F.stranger, context: exact)) == denied)
        #expect(policy.evaluate(F.request(F.someone, "kms:Encrypt", context: exact)) == .implicitDeny)
    }

    @Test("The admin manages the key and seals for the function, but cannot grant or decrypt")
    func leastPrivilegeAdmin() throws {
        let policy = try KeyPolicy(json: try F.example("least-privilege-function.json"))
        #expect(policy.evaluate(F.request(F.admin, "kms:DescribeKey")) == .allow)
        #expect(policy.evaluate(F.request(F.admin, "kms:GetKeyPolicy")) == .allow)
        #expect(policy.evaluate(F.request(F.admin, "kms:ScheduleKeyDeletion")) == .allow)
        #expect(policy.evaluate(F.request(F.admin, "kms:Encrypt", context: ["LambdaFunctionName": "billing"])) == .allow)
        #expect(policy.evaluate(F.request(F.admin, "kms:GenerateDataKey", context: ["LambdaFunctionName": "billing"])) == .allow)
        #expect(policy.evaluate(F.request(F.admin, "kms:Encrypt", context: ["LambdaFunctionName": "payroll"])) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.admin, "kms:Encrypt")) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.admin, "kms:CreateGrant")) == .implicitDeny)
    }

    // MARK: Decision rules

    @Test("An explicit Deny beats an Allow, whatever the statement order")
    func denyWins() throws {
        let allow = F.allow(principal: #""*""#, action: #""kms:*""#, sid: "AllowAll")
        let deny = F.deny(action: #""kms:Decrypt""#, sid: "NoDecrypt")
        for policy in [try F.policy(allow, deny), try F.policy(deny, allow)] {
            #expect(policy.evaluate(F.request(F.someone, "kms:Decrypt")) == .explicitDeny(sid: "NoDecrypt"))
            #expect(policy.evaluate(F.request(F.someone, "kms:Encrypt")) == .allow)
        }
        let anonymous = try F.policy(allow, F.deny(action: #""kms:Decrypt""#))
        #expect(anonymous.evaluate(F.request(F.someone)) == .explicitDeny(sid: nil))
        #expect(PolicyDecision.allow.isAllowed)
        #expect(!PolicyDecision.explicitDeny(sid: nil).isAllowed)
        #expect(!PolicyDecision.implicitDeny.isAllowed)
    }

    @Test("The first matching Deny names the decision")
    func firstDenyReported() throws {
        let policy = try F.policy(
            F.deny(action: #""kms:Encrypt""#, sid: "A"), F.deny(action: #""kms:Decrypt""#, sid: "B"),
            F.deny(action: #""kms:*""#, sid: "C")
        )
        #expect(policy.evaluate(F.request(F.someone, "kms:Decrypt")) == .explicitDeny(sid: "B"))
    }

    // MARK: Principals

    @Test("Principal forms: everyone, account root, bare account, exact ARN, service")
    func principals() throws {
        let everyone = try F.policy(F.allow(principal: #""*""#))
        #expect(everyone.evaluate(F.request(F.stranger)) == .allow)
        let everyoneAWS = try F.policy(F.allow(principal: #"{"AWS": ["arn:aws:iam::111122223333:user/admin", "*"]}"#))
        #expect(everyoneAWS.statements[0].principals == [.anyone])
        #expect(everyoneAWS.evaluate(F.request(F.stranger)) == .allow)

        // An account only delegates to its principals' identity policies.
        let root = try F.policy(F.allow(principal: #"{"AWS": "arn:aws:iam::444455556666:root"}"#))
        #expect(root.evaluate(F.request(F.stranger)) == .implicitDeny)
        #expect(root.delegatesToAccount(F.request(F.stranger)))
        #expect(!root.delegatesToAccount(F.request(F.someone)))
        let bare = try F.policy(F.allow(principal: #"{"AWS": "444455556666"}"#))
        #expect(bare.statements[0].principals == [.account("444455556666")])
        #expect(bare.evaluate(F.request(F.stranger)) == .implicitDeny)
        #expect(bare.delegatesToAccount(F.request(F.stranger)))

        let exact = try F.policy(F.allow(principal: #"{"AWS": ["arn:aws:iam::111122223333:user/billing"]}"#))
        #expect(exact.evaluate(F.request("arn:aws:iam::111122223333:user/billing")) == .allow)
        #expect(exact.evaluate(F.request(F.billing)) == .implicitDeny, "no prefix matching")
        #expect(exact.evaluate(F.request("arn:aws:iam::111122223333:user/Billing")) == .implicitDeny, "ARNs are case-sensitive")

        let role = try F.policy(F.allow(principal: #"{"AWS": "arn:aws:sts::111122223333:assumed-role/deploy/ci"}"#))
        #expect(role.evaluate(F.request("arn:aws:sts::111122223333:assumed-role/deploy/ci")) == .allow)

        let service = try F.policy(F.allow(principal: #"{"Service": ["lambda.amazonaws.com"]}"#))
        #expect(service.statements[0].principals == [.service("lambda.amazonaws.com")])
        var lambda = F.request(PolicyPrincipal.serviceARN("lambda.amazonaws.com"))
        lambda.principalAccount = F.account
        #expect(service.evaluate(lambda) == .allow)
        #expect(service.evaluate(F.request("service:s3.amazonaws.com")) == .implicitDeny)
        #expect(service.evaluate(F.request("lambda.amazonaws.com")) == .implicitDeny)
    }

    // MARK: Actions

    @Test("Action wildcards: kms:Generate*, kms:*, *, ? and case-insensitivity")
    func actionWildcards() throws {
        let generate = try F.policy(F.allow(principal: #""*""#, action: #""kms:Generate*""#))
        for action in ["kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GenerateRandom", "kms:generatedatakey"] {
            #expect(generate.evaluate(F.request(F.someone, action)) == .allow, "\(action)")
        }
        for action in ["kms:Decrypt", "kms:ReGenerate", "s3:GenerateDataKey", "kms:Generat"] {
            #expect(generate.evaluate(F.request(F.someone, action)) == .implicitDeny, "\(action)")
        }
        let kmsAll = try F.policy(F.allow(principal: #""*""#, action: #""kms:*""#))
        #expect(kmsAll.evaluate(F.request(F.someone, "kms:ScheduleKeyDeletion")) == .allow)
        #expect(kmsAll.evaluate(F.request(F.someone, "s3:GetObject")) == .implicitDeny)
        let everything = try F.policy(F.allow(principal: #""*""#, action: #""*""#))
        #expect(everything.evaluate(F.request(F.someone, "kms:Anything")) == .allow)
        let upper = try F.policy(F.allow(principal: #""*""#, action: #"["KMS:DECRYPT", "kms:?ncrypt"]"#))
        #expect(upper.evaluate(F.request(F.someone, "kms:Decrypt")) == .allow)
        #expect(upper.evaluate(F.request(F.someone, "kms:decrypt")) == .allow)
        #expect(upper.evaluate(F.request(F.someone, "kms:Encrypt")) == .allow)
        #expect(upper.evaluate(F.request(F.someone, "kms:ReEncrypt")) == .implicitDeny)
    }

    @Test("NotAction covers every action but the listed ones")
    func notAction() throws {
        let policy = try F.policy(
            #"{"Effect": "Allow", "Principal": "*", "NotAction": ["kms:Decrypt", "kms:Schedule*"], "Resource": "*"}"#
        )
        #expect(policy.statements[0].actions == .allExcept(["kms:Decrypt", "kms:Schedule*"]))
        #expect(policy.evaluate(F.request(F.someone, "kms:Encrypt")) == .allow)
        #expect(policy.evaluate(F.request(F.someone, "kms:Decrypt")) == .implicitDeny)
        #expect(policy.evaluate(F.request(F.someone, "kms:ScheduleKeyDeletion")) == .implicitDeny)

        let denyAllBut = try F.policy(
            F.allow(principal: #""*""#, action: #""kms:*""#),
            #"{"Sid": "OnlyDescribe", "Effect": "Deny", "Principal": "*", "NotAction": "kms:Describe*", "Resource": "*"}"#
        )
        #expect(denyAllBut.evaluate(F.request(F.someone, "kms:DescribeKey")) == .allow)
        #expect(denyAllBut.evaluate(F.request(F.someone, "kms:Encrypt")) == .explicitDeny(sid: "OnlyDescribe"))
    }

    // MARK: Resources

    @Test("Resource: * is this key; ARN patterns match component by component")
    func resources() throws {
        let exact = try F.policy(F.allow(principal: #""*""#, resource: #""Resource": "\#(F.keyARN)""#))
        #expect(exact.evaluate(F.request(F.someone)) == .allow)
        #expect(exact.evaluate(F.request(F.someone, resource: F.otherKeyARN)) == .implicitDeny)

        let accountKeys = try F.policy(F.allow(principal: #""*""#, resource: #""Resource": ["arn:aws:kms:*:111122223333:key/*"]"#))
        #expect(accountKeys.evaluate(F.request(F.someone)) == .allow)
        #expect(accountKeys.evaluate(F.request(F.someone, resource: "arn:aws:kms:us-east-1:444455556666:key/x")) == .implicitDeny)

        // A `*` cannot run across a colon, so this pattern is no way to match every account's keys.
        let spanning = try F.policy(F.allow(principal: #""*""#, resource: #""Resource": "arn:aws:kms:*:key/*""#))
        #expect(spanning.evaluate(F.request(F.someone)) == .implicitDeny)
        // A trailing `*` in a short pattern takes the rest of the ARN.
        let prefix = try F.policy(F.allow(principal: #""*""#, resource: #""Resource": "arn:aws:kms:*""#))
        #expect(prefix.evaluate(F.request(F.someone)) == .allow)
        let alias = try F.policy(F.allow(principal: #""*""#, resource: #""Resource": "arn:aws:kms:us-east-1:111122223333:alias/*""#))
        #expect(alias.evaluate(F.request(F.someone)) == .implicitDeny)
    }

    @Test("NotResource covers every resource but the listed ones")
    func notResource() throws {
        let policy = try F.policy(F.allow(principal: #""*""#, resource: #""NotResource": "\#(F.otherKeyARN)""#))
        #expect(policy.statements[0].resources == .allExcept([F.otherKeyARN]))
        #expect(policy.evaluate(F.request(F.someone)) == .allow)
        #expect(policy.evaluate(F.request(F.someone, resource: F.otherKeyARN)) == .implicitDeny)
        let nothing = try F.policy(F.allow(principal: #""*""#, resource: #""NotResource": "*""#))
        #expect(nothing.evaluate(F.request(F.someone)) == .implicitDeny)
    }

    // MARK: The model

    @Test("The parsed model keeps the document and its parts")
    func model() throws {
        let json = #"{"Version":"2008-10-17","Id":"p","Statement":{"Sid":"S","Effect":"Deny","Principal":{"AWS":"111122223333"},"#
            + #""Action":["kms:Decrypt"],"Resource":"*","Condition":{"ForAnyValue:StringLikeIfExists":{"kms:EncryptionContextKeys":["a*",7,true]}}}}"#
        let policy = try KeyPolicy(json: json)
        #expect(policy.json == json)
        #expect(policy.version == "2008-10-17")
        #expect(policy.id == "p")
        let statement = try #require(policy.statements.first)
        #expect(statement.sid == "S")
        #expect(statement.effect == .deny)
        #expect(statement.principals == [.account(F.account)])
        #expect(statement.actions == .only(["kms:Decrypt"]))
        #expect(statement.resources.patterns == ["*"])
        #expect(!statement.resources.isNegated)
        let condition = try #require(statement.conditions.first)
        #expect(condition.test == .stringLike)
        #expect(condition.setOperator == .forAnyValue)
        #expect(condition.ifExists)
        #expect(condition.key == "kms:EncryptionContextKeys")
        #expect(condition.values == ["a*", "7", "true"])
    }
}
