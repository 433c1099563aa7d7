import KeyService
import Testing

@Suite("Key policies: condition operators")
struct KeyPolicyConditionTests {
    typealias F = KeyPolicyFixtures

    /// A policy allowing everyone `kms:Decrypt` under one condition block.
    private func allowing(_ condition: String) throws -> KeyPolicy {
        try F.policy(F.allow(principal: #""*""#, condition: condition))
    }

    private func decision(_ policy: KeyPolicy, context: [String: String]? = nil, extra: [String: [String]] = [:]) -> PolicyDecision {
        policy.evaluate(F.request(F.someone, context: context, extra: extra))
    }

    // MARK: String operators

    @Test("StringEquals is exact and case-sensitive; several values are alternatives")
    func stringEquals() throws {
        let policy = try allowing(#"{"StringEquals": {"kms:EncryptionContext:Stage": ["test", "dev"]}}"#)
        #expect(decision(policy, context: ["Stage": "test"]) == .allow)
        #expect(decision(policy, context: ["Stage": "dev", "Other": "x"]) == .allow)
        #expect(decision(policy, context: ["Stage": "Test"]) == .implicitDeny)
        #expect(decision(policy, context: ["Stage": "prod"]) == .implicitDeny)
        #expect(decision(policy, context: ["Other": "test"]) == .implicitDeny)
        #expect(decision(policy) == .implicitDeny)
        // Byte-exact: a decomposed é is not the precomposed one, though Swift's == says it is.
        let accented = try allowing(#"{"StringEquals": {"kms:EncryptionContext:Name": "caf\u00e9"}}"#)
        #expect(decision(accented, context: ["Name": "caf\u{E9}"]) == .allow)
        #expect(decision(accented, context: ["Name": "cafe\u{301}"]) == .implicitDeny)
    }

    @Test("The context-key part of kms:EncryptionContext:<key> ignores case, as AWS documents")
    func encryptionContextKeyCase() throws {
        let policy = try allowing(#"{"StringEquals": {"KMS:encryptioncontext:appname": "ExampleApp"}}"#)
        #expect(decision(policy, context: ["AppName": "ExampleApp"]) == .allow)
        #expect(decision(policy, context: ["APPNAME": "ExampleApp"]) == .allow)
        #expect(decision(policy, context: ["AppName": "exampleapp"]) == .implicitDeny)
    }

    @Test("Pairs whose keys differ only by case: an Allow needs all of them, a Deny any")
    func ambiguousContextKeys() throws {
        let context = ["AppName": "billing", "appname": "payroll"]
        let allow = try allowing(#"{"StringEquals": {"kms:EncryptionContext:AppName": "billing"}}"#)
        #expect(decision(allow, context: context) == .implicitDeny)
        let deny = try F.policy(
            F.allow(principal: #""*""#),
            F.deny(condition: #"{"StringEquals": {"kms:EncryptionContext:AppName": "payroll"}}"#, sid: "NoPayroll")
        )
        #expect(decision(deny, context: context) == .explicitDeny(sid: "NoPayroll"))
    }

    @Test("StringNotEquals: none of the values; holds when the key is absent")
    func stringNotEquals() throws {
        let policy = try allowing(#"{"StringNotEquals": {"kms:EncryptionContext:Stage": ["prod", "staging"]}}"#)
        #expect(decision(policy, context: ["Stage": "dev"]) == .allow)
        #expect(decision(policy, context: ["Stage": "prod"]) == .implicitDeny)
        #expect(decision(policy, context: ["Stage": "staging"]) == .implicitDeny)
        #expect(decision(policy, context: ["Stage": "Prod"]) == .allow)
        #expect(decision(policy) == .allow, "a negated operator holds for a missing key")
    }

    @Test("StringEqualsIgnoreCase and StringNotEqualsIgnoreCase")
    func ignoreCase() throws {
        let equals = try allowing(#"{"StringEqualsIgnoreCase": {"kms:EncryptionContext:Stage": "PROD"}}"#)
        #expect(decision(equals, context: ["Stage": "prod"]) == .allow)
        #expect(decision(equals, context: ["Stage": "Prod"]) == .allow)
        #expect(decision(equals, context: ["Stage": "prod "]) == .implicitDeny)
        #expect(decision(equals) == .implicitDeny)
        let unicode = try allowing(#"{"StringEqualsIgnoreCase": {"kms:EncryptionContext:City": "ZÜRICH"}}"#)
        #expect(decision(unicode, context: ["City": "zürich"]) == .allow)
        #expect(decision(unicode, context: ["City": "zurich"]) == .implicitDeny)
        let notEquals = try allowing(#"{"StringNotEqualsIgnoreCase": {"kms:EncryptionContext:Stage": "PROD"}}"#)
        #expect(decision(notEquals, context: ["Stage": "prod"]) == .implicitDeny)
        #expect(decision(notEquals, context: ["Stage": "dev"]) == .allow)
    }

    @Test("StringLike with * and ? on context values, case-sensitive")
    func stringLike() throws {
        let policy = try allowing(#"{"StringLike": {"kms:EncryptionContext:LambdaFunctionName": ["billing-*", "job-??"]}}"#)
        #expect(decision(policy, context: ["LambdaFunctionName": "billing-prod"]) == .allow)
        #expect(decision(policy, context: ["LambdaFunctionName": "billing-"]) == .allow)
        #expect(decision(policy, context: ["LambdaFunctionName": "job-42"]) == .allow)
        #expect(decision(policy, context: ["LambdaFunctionName": "job-é1"]) == .allow, "? is one character, not one byte")
        #expect(decision(policy, context: ["LambdaFunctionName": "job-4"]) == .implicitDeny)
        #expect(decision(policy, context: ["LambdaFunctionName": "billing"]) == .implicitDeny)
        #expect(decision(policy, context: ["LambdaFunctionName": "Billing-prod"]) == .implicitDeny)
        #expect(decision(policy, context: ["LambdaFunctionName": "xbilling-prod"]) == .implicitDeny)
        #expect(decision(policy) == .implicitDeny)
        let notLike = try allowing(#"{"StringNotLike": {"kms:EncryptionContext:Stage": "prod*"}}"#)
        #expect(decision(notLike, context: ["Stage": "production"]) == .implicitDeny)
        #expect(decision(notLike, context: ["Stage": "dev"]) == .allow)
        #expect(decision(notLike) == .allow)
    }

    @Test("Numbers and booleans in a policy compare as their JSON text")
    func scalarValues() throws {
        let policy = try allowing(#"{"StringEquals": {"kms:EncryptionContext:Version": [2, 1.5, true]}}"#)
        #expect(decision(policy, context: ["Version": "2"]) == .allow)
        #expect(decision(policy, context: ["Version": "1.5"]) == .allow)
        #expect(decision(policy, context: ["Version": "true"]) == .allow)
        #expect(decision(policy, context: ["Version": "2.0"]) == .implicitDeny)
    }

    // MARK: Set operators

    @Test("ForAllValues:StringEquals on kms:EncryptionContextKeys, including the empty-set pitfall")
    func forAllValues() throws {
        let policy = try allowing(#"{"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName", "Stage"]}}"#)
        #expect(decision(policy, context: ["AppName": "a", "Stage": "b"]) == .allow)
        #expect(decision(policy, context: ["AppName": "a"]) == .allow, "a subset is allowed")
        #expect(decision(policy, context: ["AppName": "a", "Extra": "c"]) == .implicitDeny, "an extra key is denied")
        #expect(decision(policy, context: ["appname": "a"]) == .implicitDeny, "keys compare case-sensitively")
        // The pitfall AWS documents: a universal claim over no keys is true, so no context passes.
        #expect(decision(policy, context: [:]) == .allow)
        #expect(decision(policy, context: nil) == .allow)

        // The fix: also require a context to exist.
        let fixed = try allowing(#"""
            {"ForAllValues:StringEquals": {"kms:EncryptionContextKeys": ["AppName", "Stage"]},
             "Null": {"kms:EncryptionContextKeys": "false"}}
            """#)
        #expect(decision(fixed, context: ["AppName": "a"]) == .allow)
        #expect(decision(fixed, context: [:]) == .implicitDeny)
        #expect(decision(fixed, context: nil) == .implicitDeny)
    }

    @Test("ForAnyValue:StringLike on kms:EncryptionContextKeys")
    func forAnyValue() throws {
        let policy = try allowing(#"{"ForAnyValue:StringLike": {"kms:EncryptionContextKeys": ["App*", "Tenant?"]}}"#)
        #expect(decision(policy, context: ["AppName": "x", "Other": "y"]) == .allow)
        #expect(decision(policy, context: ["TenantA": "x"]) == .allow)
        #expect(decision(policy, context: ["Other": "y"]) == .implicitDeny)
        #expect(decision(policy, context: ["app": "y"]) == .implicitDeny)
        #expect(decision(policy, context: [:]) == .implicitDeny, "ForAnyValue over no values is false")
        #expect(decision(policy, context: nil) == .implicitDeny)
    }

    @Test("Negated operators under set operators test each request value against all policy values")
    func negatedSetOperators() throws {
        let allNot = try allowing(#"{"ForAllValues:StringNotLike": {"kms:EncryptionContextKeys": ["aws*", "Secret*"]}}"#)
        #expect(decision(allNot, context: ["AppName": "x", "Stage": "y"]) == .allow)
        #expect(decision(allNot, context: ["AppName": "x", "awsRegion": "y"]) == .implicitDeny)
        #expect(decision(allNot, context: [:]) == .allow)
        let anyNot = try allowing(#"{"ForAnyValue:StringNotEquals": {"kms:EncryptionContextKeys": ["AppName"]}}"#)
        #expect(decision(anyNot, context: ["AppName": "x", "Stage": "y"]) == .allow)
        #expect(decision(anyNot, context: ["AppName": "x"]) == .implicitDeny)
        #expect(decision(anyNot, context: nil) == .implicitDeny)
    }

    @Test("Set operators over a multivalued extra key such as kms:GrantOperations")
    func multivaluedExtraKey() throws {
        let policy = try F.policy(F.allow(
            principal: #""*""#, action: #""kms:CreateGrant""#,
            condition: #"{"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt", "Encrypt"]}}"#
        ))
        func grant(_ operations: [String]) -> PolicyDecision {
            policy.evaluate(F.request(F.someone, "kms:CreateGrant", extra: ["kms:GrantOperations": operations]))
        }
        #expect(grant(["Decrypt"]) == .allow)
        #expect(grant(["Decrypt", "Encrypt"]) == .allow)
        #expect(grant(["Decrypt", "ReEncryptFrom"]) == .implicitDeny)
    }

    // MARK: Null, Bool, IfExists

    @Test("Null tests whether a key is present")
    func null() throws {
        let requireContext = try allowing(#"{"Null": {"kms:EncryptionContextKeys": "false"}}"#)
        #expect(decision(requireContext, context: ["a": "b"]) == .allow)
        #expect(decision(requireContext, context: [:]) == .implicitDeny)
        #expect(decision(requireContext) == .implicitDeny)
        let forbidVia = try allowing(#"{"Null": {"kms:ViaService": true}}"#)
        #expect(decision(forbidVia) == .allow)
        #expect(decision(forbidVia, extra: ["kms:ViaService": ["ec2.us-east-1.amazonaws.com"]]) == .implicitDeny)
        #expect(decision(forbidVia, extra: ["kms:ViaService": []]) == .allow, "an empty list is absent")
        let contextKey = try allowing(#"{"Null": {"kms:EncryptionContext:Stage": "false"}}"#)
        #expect(decision(contextKey, context: ["stage": ""]) == .allow)
        #expect(decision(contextKey, context: ["Other": "x"]) == .implicitDeny)
        let either = try allowing(#"{"Null": {"kms:ViaService": ["true", "false"]}}"#)
        #expect(decision(either) == .allow)
    }

    @Test("Bool compares true and false, given as JSON booleans or strings")
    func bool() throws {
        for literal in ["true", #""true""#, #""TRUE""#] {
            let policy = try allowing(#"{"Bool": {"kms:GrantIsForAWSResource": \#(literal)}}"#)
            #expect(decision(policy, extra: ["kms:GrantIsForAWSResource": ["true"]]) == .allow)
            #expect(decision(policy, extra: ["kms:GrantIsForAWSResource": ["True"]]) == .allow)
            #expect(decision(policy, extra: ["kms:GrantIsForAWSResource": ["false"]]) == .implicitDeny)
            #expect(decision(policy) == .implicitDeny)
        }
        let ifExists = try allowing(#"{"BoolIfExists": {"kms:GrantIsForAWSResource": false}}"#)
        #expect(decision(ifExists) == .allow)
        #expect(decision(ifExists, extra: ["kms:GrantIsForAWSResource": ["false"]]) == .allow)
        #expect(decision(ifExists, extra: ["kms:GrantIsForAWSResource": ["true"]]) == .implicitDeny)
    }

    @Test("…IfExists holds for a missing key and tests a present one")
    func ifExists() throws {
        let policy = try allowing(#"{"StringEqualsIfExists": {"kms:ViaService": "lambda.us-east-1.amazonaws.com"}}"#)
        #expect(decision(policy) == .allow)
        #expect(decision(policy, extra: ["kms:ViaService": ["lambda.us-east-1.amazonaws.com"]]) == .allow)
        #expect(decision(policy, extra: ["kms:ViaService": ["s3.us-east-1.amazonaws.com"]]) == .implicitDeny)
        let setIfExists = try allowing(#"{"ForAnyValue:StringEqualsIfExists": {"kms:EncryptionContextKeys": "AppName"}}"#)
        #expect(decision(setIfExists) == .allow)
        #expect(decision(setIfExists, context: ["Other": "x"]) == .implicitDeny)
        // A Deny with a negated IfExists operator still denies when the key is missing.
        let deny = try F.policy(
            F.allow(principal: #""*""#),
            F.deny(condition: #"{"StringNotEqualsIfExists": {"kms:ViaService": "lambda.us-east-1.amazonaws.com"}}"#, sid: "ViaLambda")
        )
        #expect(decision(deny) == .explicitDeny(sid: "ViaLambda"))
        #expect(decision(deny, extra: ["kms:ViaService": ["lambda.us-east-1.amazonaws.com"]]) == .allow)
    }

    // MARK: Combining

    @Test("Keys in one operator, and operators in one Condition, must all hold")
    func conjunction() throws {
        let policy = try allowing(#"""
            {"StringEquals": {"kms:EncryptionContext:Department": "IT", "kms:EncryptionContext:Project": "Alpha"},
             "StringLike": {"kms:EncryptionContext:Stage": "dev*"}}
            """#)
        #expect(decision(policy, context: ["Department": "IT", "Project": "Alpha", "Stage": "dev1"]) == .allow)
        #expect(decision(policy, context: ["Department": "IT", "Project": "Alpha"]) == .implicitDeny)
        #expect(decision(policy, context: ["Department": "IT", "Project": "Beta", "Stage": "dev1"]) == .implicitDeny)
        #expect(decision(policy, context: ["Department": "HR", "Project": "Alpha", "Stage": "dev1"]) == .implicitDeny)
    }

    // MARK: Request keys

    @Test("kms:CallerAccount, aws:PrincipalAccount and aws:PrincipalArn come from the request unless given")
    func derivedKeys() throws {
        let account = try allowing(#"{"StringEquals": {"kms:CallerAccount": "111122223333"}}"#)
        #expect(decision(account) == .allow)
        #expect(account.evaluate(F.request(F.stranger)) == .implicitDeny)
        #expect(account.evaluate(F.request(F.stranger, extra: ["kms:CallerAccount": ["111122223333"]])) == .allow)
        let principalAccount = try allowing(#"{"StringEquals": {"aws:PrincipalAccount": "444455556666"}}"#)
        #expect(principalAccount.evaluate(F.request(F.stranger)) == .allow)
        let arn = try allowing(#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::111122223333:user/billing-*"}}"#)
        #expect(arn.evaluate(F.request(F.billing)) == .allow)
        #expect(arn.evaluate(F.request(F.someone)) == .implicitDeny)
    }

    @Test("Condition key names ignore case; request key names too")
    func keyNameCase() throws {
        let policy = try allowing(#"{"StringEquals": {"KMS:VIASERVICE": "ec2.us-east-1.amazonaws.com"}}"#)
        #expect(decision(policy, extra: ["kms:ViaService": ["ec2.us-east-1.amazonaws.com"]]) == .allow)
        #expect(decision(policy, extra: ["Kms:viaservice": ["ec2.us-east-1.amazonaws.com"]]) == .allow)
        #expect(decision(policy, extra: ["kms:ViaService": ["EC2.us-east-1.amazonaws.com"]]) == .implicitDeny)
        #expect(decision(policy) == .implicitDeny)
    }

    @Test("Request key names that differ only by case pool their values")
    func pooledRequestKeys() throws {
        let policy = try allowing(#"{"ForAllValues:StringEquals": {"kms:GrantOperations": ["Decrypt"]}}"#)
        #expect(decision(policy, extra: ["kms:GrantOperations": ["Decrypt"], "KMS:GRANTOPERATIONS": ["Decrypt"]]) == .allow)
        #expect(decision(policy, extra: ["kms:GrantOperations": ["Decrypt"], "KMS:GRANTOPERATIONS": ["Encrypt"]]) == .implicitDeny)
        let account = try allowing(#"{"StringEquals": {"kms:CallerAccount": "111122223333"}}"#)
        #expect(decision(account, extra: ["kms:CallerAccount": []]) == .implicitDeny, "given as empty: absent, no default")
    }

    @Test("Operator names ignore case")
    func operatorNameCase() throws {
        let policy = try allowing(#"{"forallvalues:stringequalsifexists": {"kms:EncryptionContextKeys": "AppName"}}"#)
        let condition = try #require(policy.statements.first?.conditions.first)
        #expect(condition.test == .stringEquals)
        #expect(condition.setOperator == .forAllValues)
        #expect(condition.ifExists)
    }

    @Test("ArnLike matches each ARN component separately")
    func arnOperators() throws {
        let policy = try allowing(#"{"ArnLike": {"aws:PrincipalArn": "arn:aws:lambda:*:111122223333:function:billing*"}}"#)
        func source(_ arn: String) -> PolicyDecision { decision(policy, extra: ["aws:PrincipalArn": [arn]]) }
        #expect(source("arn:aws:lambda:us-east-1:111122223333:function:billing") == .allow)
        #expect(source("arn:aws:lambda:us-east-1:111122223333:function:billing:live") == .allow)
        #expect(source("arn:aws:lambda:us-east-1:444455556666:function:billing") == .implicitDeny)
        #expect(source("arn:aws:lambda:us-east-1:x:111122223333:function:billing") == .implicitDeny)
        #expect(source("not-an-arn") == .implicitDeny)
        // Only a `*` that ends a short pattern's last component runs past colons.
        let short = try allowing(#"{"ArnLike": {"aws:PrincipalArn": ["arn:aws:k*s", "arn:aws:s3:::bucket/*"]}}"#)
        #expect(decision(short, extra: ["aws:PrincipalArn": ["arn:aws:kms:us-east-1:111122223333:alias/sales"]]) == .implicitDeny)
        #expect(decision(short, extra: ["aws:PrincipalArn": ["arn:aws:kms"]]) == .allow)
        #expect(decision(short, extra: ["aws:PrincipalArn": ["arn:aws:s3:::bucket/a:b"]]) == .allow)
        let notEquals = try allowing(#"{"ArnNotEquals": {"aws:PrincipalArn": "arn:aws:lambda:us-east-1:111122223333:function:billing"}}"#)
        #expect(decision(notEquals, extra: ["aws:PrincipalArn": ["arn:aws:lambda:us-east-1:111122223333:function:payroll"]]) == .allow)
        #expect(decision(notEquals, extra: ["aws:PrincipalArn": ["arn:aws:lambda:us-east-1:111122223333:function:billing"]]) == .implicitDeny)
    }

    @Test("A policy in the 2008-10-17 language treats ${…} as literal text")
    func literalVariables() throws {
        let json = #"{"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Principal": "*", "Action": "kms:Decrypt", "#
            + #""Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}}}"#
        let policy = try KeyPolicy(json: json)
        #expect(decision(policy, context: ["user": "${aws:username}"]) == .allow)
        #expect(decision(policy, context: ["user": "someone"]) == .implicitDeny)
    }
}
