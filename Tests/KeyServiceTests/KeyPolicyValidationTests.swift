import KeyService
import Testing

@Suite("Key policies: validation")
struct KeyPolicyValidationTests {
    typealias F = KeyPolicyFixtures

    /// A document that must be refused, with the kind of error and the place it must name.
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let json: String
        let kind: PolicyError.Kind
        var statement: Int?
        var sid: String?
        var element: String?

        var testDescription: String { name }
    }

    /// A valid statement to put before or after a broken one.
    static let fine = F.allow(principal: #""*""#, sid: "Fine")

    static let cases: [Case] = [
        // The document.
        Case(name: "empty text", json: "", kind: .invalidJSON),
        Case(name: "not JSON", json: "Version: 2012-10-17", kind: .invalidJSON),
        Case(name: "truncated", json: #"{"Version": "2012-10-17", "Statement": ["#, kind: .invalidJSON),
        Case(name: "trailing comma", json: #"{"Statement": [\#(fine),]}"#, kind: .invalidJSON),
        Case(name: "duplicate member", json: #"{"Statement": {"Effect": "Deny", "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}}"#,
             kind: .invalidJSON),
        Case(name: "text after the document", json: #"{"Statement": \#(fine)} {}"#, kind: .invalidJSON),
        Case(name: "unpaired surrogate", json: #"{"Id": "\ud800", "Statement": \#(fine)}"#, kind: .invalidJSON),
        Case(name: "raw control character", json: "{\"Id\": \"a\u{1}b\", \"Statement\": \(fine)}", kind: .invalidJSON),
        Case(name: "leading zero", json: #"{"Statement": \#(fine), "Id": 01}"#, kind: .invalidJSON),
        Case(name: "too deep", json: String(repeating: "[", count: 40) + String(repeating: "]", count: 40), kind: .invalidJSON),
        Case(name: "an array", json: "[\(fine)]", kind: .notAnObject),
        Case(name: "a string", json: #""policy""#, kind: .notAnObject),
        Case(name: "too large", json: F.document(fine, F.allow(principal: #""*""#, sid: String(repeating: "x", count: 33_000))), kind: .tooLarge),
        Case(name: "unknown top-level element", json: #"{"Version": "2012-10-17", "Statements": [\#(fine)]}"#, kind: .unknownElement),
        Case(name: "wrong version", json: #"{"Version": "2013-01-01", "Statement": [\#(fine)]}"#, kind: .unsupportedVersion, element: "Version"),
        Case(name: "numeric version", json: #"{"Version": 2012, "Statement": [\#(fine)]}"#, kind: .unsupportedVersion, element: "Version"),
        Case(name: "Id not a string", json: #"{"Id": ["x"], "Statement": [\#(fine)]}"#, kind: .invalidElement, element: "Id"),
        Case(name: "no Statement", json: #"{"Version": "2012-10-17"}"#, kind: .missingElement, element: "Statement"),
        Case(name: "empty Statement", json: #"{"Version": "2012-10-17", "Statement": []}"#, kind: .emptyStatementList, element: "Statement"),
        Case(name: "Statement a string", json: #"{"Statement": "Allow"}"#, kind: .invalidElement, element: "Statement"),

        // Statement elements.
        Case(name: "statement not an object", json: F.document(fine, "true"), kind: .invalidElement, statement: 2),
        Case(name: "unknown statement element", json: F.document(fine, #"{"Sid": "Lower", "effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#),
             kind: .unknownElement, statement: 2, sid: "Lower"),
        Case(name: "Sid not a string", json: F.document(#"{"Sid": 7, "Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}"#),
             kind: .invalidElement, statement: 1, element: "Sid"),
        Case(name: "duplicate Sid", json: F.document(fine, F.allow(principal: #""*""#, sid: "Other"), F.allow(principal: #""*""#, sid: "Fine")),
             kind: .duplicateSid, statement: 3, sid: "Fine", element: "Sid"),
        Case(name: "missing Effect", json: F.document(#"{"Sid": "NoEffect", "Principal": "*", "Action": "*", "Resource": "*"}"#),
             kind: .missingElement, statement: 1, sid: "NoEffect", element: "Effect"),
        Case(name: "lower-case Effect", json: F.document(fine, #"{"Effect": "allow", "Principal": "*", "Action": "*", "Resource": "*"}"#),
             kind: .invalidElement, statement: 2, element: "Effect"),
        Case(name: "Effect not a string", json: F.document(#"{"Effect": true, "Principal": "*", "Action": "*", "Resource": "*"}"#),
             kind: .invalidElement, statement: 1, element: "Effect"),

        // Principal.
        Case(name: "missing Principal", json: F.document(#"{"Sid": "Nobody", "Effect": "Allow", "Action": "*", "Resource": "*"}"#),
             kind: .missingElement, statement: 1, sid: "Nobody", element: "Principal"),
        Case(name: "wildcard inside a principal ARN", json: F.document(F.allow(principal: #"{"AWS": "arn:aws:iam::*:root"}"#, sid: "Wild")),
             kind: .invalidPrincipal, statement: 1, sid: "Wild", element: "Principal.AWS"),
        Case(name: "principal a bare name", json: F.document(F.allow(principal: #"{"AWS": ["alice"]}"#)),
             kind: .invalidPrincipal, statement: 1, element: "Principal.AWS"),
        Case(name: "principal with an 11-digit account", json: F.document(F.allow(principal: #"{"AWS": "arn:aws:iam::11112222333:user/x"}"#)),
             kind: .invalidPrincipal, statement: 1, element: "Principal.AWS"),
        Case(name: "principal ARN without a resource", json: F.document(F.allow(principal: #"{"AWS": "arn:aws:iam::111122223333"}"#)),
             kind: .invalidPrincipal, statement: 1, element: "Principal.AWS"),
        Case(name: "principal of another service", json: F.document(F.allow(principal: #"{"AWS": "arn:aws:s3:::bucket"}"#)),
             kind: .invalidPrincipal, statement: 1, element: "Principal.AWS"),
        Case(name: "principal an ARN string", json: F.document(F.allow(principal: #""arn:aws:iam::111122223333:root""#)),
             kind: .invalidPrincipal, statement: 1, element: "Principal"),
        Case(name: "empty principal object", json: F.document(F.allow(principal: "{}")), kind: .invalidPrincipal, statement: 1, element: "Principal"),
        Case(name: "unknown principal type", json: F.document(F.allow(principal: #"{"User": "x"}"#)),
             kind: .invalidPrincipal, statement: 1, element: "Principal"),
        Case(name: "empty principal list", json: F.document(F.allow(principal: #"{"AWS": []}"#)),
             kind: .invalidElement, statement: 1, element: "Principal.AWS"),
        Case(name: "service principal with a wildcard", json: F.document(F.allow(principal: #"{"Service": "*.amazonaws.com"}"#)),
             kind: .invalidPrincipal, statement: 1, element: "Principal.Service"),
        Case(name: "NotPrincipal", json: F.document(#"{"Sid": "Not", "Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "*", "Resource": "*"}"#),
             kind: .unsupported, statement: 1, sid: "Not", element: "NotPrincipal"),
        Case(name: "federated principal", json: F.document(F.allow(principal: #"{"Federated": "cognito-identity.amazonaws.com"}"#)),
             kind: .unsupported, statement: 1, element: "Principal.Federated"),

        // Action.
        Case(name: "a non-KMS action", json: F.document(fine, F.allow(principal: #""*""#, action: #"["kms:Decrypt", "s3:GetObject"]"#, sid: "AllowDecrypt")),
             kind: .invalidAction, statement: 2, sid: "AllowDecrypt", element: "Action"),
        Case(name: "an action without a service", json: F.document(F.allow(action: #""Decrypt""#)), kind: .invalidAction, statement: 1, element: "Action"),
        Case(name: "an empty action name", json: F.document(F.allow(action: #""kms:""#)), kind: .invalidAction, statement: 1, element: "Action"),
        Case(name: "a bad character in an action", json: F.document(F.allow(action: #""kms:Decrypt!""#)), kind: .invalidAction, statement: 1, element: "Action"),
        Case(name: "a wildcard service", json: F.document(F.allow(action: #""*:Decrypt""#)), kind: .invalidAction, statement: 1, element: "Action"),
        Case(name: "a non-KMS NotAction", json: F.document(#"{"Effect": "Allow", "Principal": "*", "NotAction": "iam:*", "Resource": "*"}"#),
             kind: .invalidAction, statement: 1, element: "NotAction"),
        Case(name: "an action that is a number", json: F.document(F.allow(action: "42")), kind: .invalidElement, statement: 1, element: "Action"),
        Case(name: "an action list with a number", json: F.document(F.allow(action: #"["kms:Decrypt", 42]"#)),
             kind: .invalidElement, statement: 1, element: "Action"),
        Case(name: "an empty action list", json: F.document(F.allow(action: "[]")), kind: .invalidElement, statement: 1, element: "Action"),
        Case(name: "Action and NotAction", json: F.document(#"{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "NotAction": "kms:Decrypt", "Resource": "*"}"#),
             kind: .conflictingElements, statement: 1, element: "Action"),
        Case(name: "no Action", json: F.document(fine, #"{"Sid": "Idle", "Effect": "Allow", "Principal": "*", "Resource": "*"}"#),
             kind: .missingElement, statement: 2, sid: "Idle", element: "Action"),

        // Resource.
        Case(name: "no Resource", json: F.document(F.allow(resource: #""Condition": {}"#)), kind: .missingElement, statement: 1, element: "Resource"),
        Case(name: "Resource and NotResource", json: F.document(F.allow(resource: #""Resource": "*", "NotResource": "arn:aws:kms:*""#)),
             kind: .conflictingElements, statement: 1, element: "Resource"),
        Case(name: "a resource that is not an ARN", json: F.document(F.allow(resource: #""Resource": "key/1234""#)),
             kind: .invalidResource, statement: 1, element: "Resource"),
        Case(name: "a NotResource that is not an ARN", json: F.document(F.allow(resource: #""NotResource": ["*", "alias/x"]"#)),
             kind: .invalidResource, statement: 1, element: "NotResource"),
        Case(name: "a policy variable in a resource", json: F.document(F.allow(resource: #""Resource": "arn:aws:kms:*:${aws:PrincipalAccount}:key/*""#)),
             kind: .unsupported, statement: 1, element: "Resource"),

        // Condition.
        Case(name: "Condition not an object", json: F.document(F.allow(condition: #"["StringEquals"]"#, sid: "C")),
             kind: .invalidCondition, statement: 1, sid: "C", element: "Condition"),
        Case(name: "an unknown operator", json: F.document(fine, F.allow(condition: #"{"StringEqualz": {"kms:CallerAccount": "111122223333"}}"#, sid: "Typo")),
             kind: .unknownConditionOperator, statement: 2, sid: "Typo", element: "Condition"),
        Case(name: "an unknown set operator", json: F.document(F.allow(condition: #"{"ForEveryValue:StringEquals": {"kms:EncryptionContextKeys": "a"}}"#)),
             kind: .unknownConditionOperator, statement: 1, element: "Condition"),
        Case(name: "NullIfExists", json: F.document(F.allow(condition: #"{"NullIfExists": {"kms:ViaService": "true"}}"#)),
             kind: .unknownConditionOperator, statement: 1, element: "Condition"),
        Case(name: "ForAnyValue:Null", json: F.document(F.allow(condition: #"{"ForAnyValue:Null": {"kms:EncryptionContextKeys": "true"}}"#)),
             kind: .unknownConditionOperator, statement: 1, element: "Condition"),
        Case(name: "a binary operator", json: F.document(F.allow(condition: #"{"BinaryEquals": {"kms:CallerAccount": "AAAA"}}"#)),
             kind: .unsupported, statement: 1, element: "Condition"),
        Case(name: "a condition key envseal does not supply", json: F.document(F.allow(condition: #"{"StringEquals": {"kms:PrimaryRegion": "us-west-2"}}"#)),
             kind: .unsupportedConditionKey, statement: 1, element: "Condition"),
        Case(name: "a number that is not one", json: F.document(F.allow(condition: #"{"NumericLessThan": {"kms:RotationPeriodInDays": "soon"}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "a date that is not one", json: F.document(F.allow(condition: #"{"DateLessThan": {"aws:CurrentTime": "2026-02-30T00:00:00Z"}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "an IP range that is not one", json: F.document(F.allow(condition: #"{"IpAddress": {"aws:SourceIp": "10.0.0.0/33"}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "an operator block that is not an object", json: F.document(F.allow(condition: #"{"StringEquals": "kms:CallerAccount"}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "a null condition value", json: F.document(F.allow(condition: #"{"StringEquals": {"kms:CallerAccount": null}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "an object condition value", json: F.document(F.allow(condition: #"{"StringEquals": {"kms:CallerAccount": {"a": "b"}}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "a nested list of condition values", json: F.document(F.allow(condition: #"{"StringEquals": {"kms:CallerAccount": [["a"]]}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "an empty list of condition values", json: F.document(F.allow(condition: #"{"StringEquals": {"kms:CallerAccount": []}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "an empty condition key", json: F.document(F.allow(condition: #"{"StringEquals": {"": "x"}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "an encryption context key with no context key", json: F.document(F.allow(condition: #"{"StringEquals": {"kms:EncryptionContext:": "x"}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "a Bool value that is not a boolean", json: F.document(F.allow(condition: #"{"Bool": {"aws:SecureTransport": "yes"}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "a Null value that is not a boolean", json: F.document(F.allow(condition: #"{"Null": {"kms:ViaService": 1}}"#)),
             kind: .invalidCondition, statement: 1, element: "Condition"),
        Case(name: "a policy variable in a condition", json: F.document(F.allow(condition: #"{"StringEquals": {"kms:EncryptionContext:user": "${aws:username}"}}"#)),
             kind: .unsupported, statement: 1, element: "Condition"),
        Case(name: "ForAllValues with an encryption context key",
             json: F.document(F.allow(condition: #"{"ForAllValues:StringEquals": {"kms:EncryptionContext:Department": "IT"}}"#, sid: "Loose")),
             kind: .overlyPermissiveCondition, statement: 1, sid: "Loose", element: "Condition"),
        Case(name: "ForAllValues with a request tag", json: F.document(F.allow(condition: #"{"ForAllValues:StringLike": {"aws:RequestTag/team": "a*"}}"#)),
             kind: .overlyPermissiveCondition, statement: 1, element: "Condition"),
    ]

    @Test("Malformed documents are refused with their kind and place", arguments: cases)
    func refused(_ testCase: Case) throws {
        let error = try #require(F.rejection(testCase.json), "\(testCase.name) parsed")
        #expect(error.kind == testCase.kind, "\(error)")
        #expect(error.statement == testCase.statement, "\(error)")
        #expect(error.sid == testCase.sid, "\(error)")
        if let element = testCase.element {
            #expect(error.element == element, "\(error)")
        }
        // The description names the place.
        if let statement = testCase.statement {
            #expect(error.description.hasPrefix("statement \(statement)"), "\(error)")
        }
        if let sid = testCase.sid {
            #expect(error.description.contains("(\"\(sid)\")"), "\(error)")
        }
        if let element = error.element {
            #expect(error.description.contains(element + ":"), "\(error)")
        }
    }

    @Test("Every kind of error is exercised above")
    func everyKindCovered() {
        let covered = Set(Self.cases.map(\.kind))
        #expect(covered == Set(PolicyError.Kind.allCases))
    }

    @Test("The brief's example message: statement, Sid, element and value")
    func exampleMessage() throws {
        let json = F.document(F.allow(principal: #""*""#, sid: "First"), F.allow(principal: #""*""#, action: #""s3:GetObject""#, sid: "AllowDecrypt"))
        let error = try #require(F.rejection(json))
        #expect(error.description.hasPrefix(#"statement 2 ("AllowDecrypt"): Action: "s3:GetObject""#))
    }

    @Test("A JSON syntax error names line and column")
    func syntaxPosition() throws {
        let error = try #require(F.rejection("{\n  \"Statement\": [\n    {\"Effect\" \"Allow\"}\n  ]\n}"))
        #expect(error.kind == .invalidJSON)
        #expect(error.description.contains("line 3, column 15"), "\(error)")
    }

    @Test("A document of exactly the size limit is accepted")
    func sizeLimit() throws {
        let base = F.document(F.allow(principal: #""*""#, sid: ""))
        let padding = KeyPolicy.maximumDocumentSize - base.utf8.count
        let json = F.document(F.allow(principal: #""*""#, sid: String(repeating: "x", count: padding)))
        #expect(json.utf8.count == KeyPolicy.maximumDocumentSize)
        _ = try KeyPolicy(json: json)
        #expect(F.rejection(json + " ")?.kind == .tooLarge)
    }

    @Test("Hostile nesting is refused without recursion trouble")
    func deepNesting() {
        let deep = String(repeating: "[", count: 16_000) + String(repeating: "]", count: 16_000)
        #expect(F.rejection(deep)?.kind == .invalidJSON)
        let deepObject = String(repeating: #"{"a":"#, count: 5_000) + "1" + String(repeating: "}", count: 5_000)
        #expect(F.rejection(deepObject)?.kind == .invalidJSON)
    }

    @Test("Valid but unusual documents parse")
    func accepted() throws {
        // A byte order mark, escapes, a statement object instead of a list, no Version, an empty Condition.
        let json = "\u{FEFF}" + #"{"Statement": {"Sid": "\u0041\n\ud83d\ude00", "Effect": "Allow", "Principal": {"AWS": "*", "Service": "x"}, "#
            + #""Action": "kms:*", "Resource": "*", "Condition": {}}}"#
        let policy = try KeyPolicy(json: json)
        #expect(policy.version == nil)
        #expect(policy.statements[0].sid == "A\n😀")
        #expect(policy.statements[0].conditions.isEmpty)
        #expect(policy.statements[0].principals == [.anyone])
        // AWS returns policies in this layout.
        let aws = "{\n  \"Version\" : \"2012-10-17\",\n  \"Statement\" : [ {\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {\n"
            + "      \"AWS\" : \"arn:aws:iam::111122223333:root\"\n    },\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  } ]\n}"
        _ = try KeyPolicy(json: aws)
    }
}
