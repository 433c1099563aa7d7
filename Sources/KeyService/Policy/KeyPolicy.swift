import Foundation

/// A KMS key policy: the resource policy attached to one key, parsed and validated once, then
/// evaluated on every request that uses the key.
///
/// The language is AWS's (IAM policy grammar as KMS key policies use it), so policies written for
/// AWS KMS work here unchanged as long as they stay within what envseal implements; anything else
/// is rejected with a ``PolicyError`` rather than silently ignored. See ``init(json:)`` for what is
/// validated and ``evaluate(_:)`` for the decision.
///
/// A value is immutable and `Sendable`: parse once, cache it per key, and share it across tasks.
package struct KeyPolicy: Sendable, Equatable {
    /// The `Version` element: `"2012-10-17"`, `"2008-10-17"`, or `nil` when absent.
    package let version: String?
    /// The `Id` element, if any.
    package let id: String?
    /// The statements, in document order. Never empty.
    package let statements: [Statement]
    /// The document exactly as it was given: what `GetKeyPolicy` returns.
    package let json: String

    /// The largest document AWS KMS accepts as a key policy: 32 KiB of UTF-8.
    package static let maximumDocumentSize = 32_768

    /// The `Version` values the policy language has.
    package static let supportedVersions: Set<String> = ["2012-10-17", "2008-10-17"]

    /// The statements compiled for evaluation, in document order.
    let programs: [Statement.Program]
    /// The condition keys the statements test, lowercased, so the engine fetches a costly value
    /// (`kms:ResourceAliases`) only for a policy that needs it.
    let testedConditionKeys: Set<String>

    /// Assembles a policy from parsed parts; ``init(json:)`` is the public way in.
    init(version: String?, id: String?, statements: [Statement], json: String) {
        self.version = version
        self.id = id
        self.statements = statements
        self.json = json
        self.programs = statements.map(\.program)
        self.testedConditionKeys = Set(statements.flatMap { $0.conditions.map { $0.key.lowercased() } })
    }

    /// Whether a statement tests `key` (lowercased).
    func testsConditionKey(_ key: String) -> Bool {
        testedConditionKeys.contains(key)
    }

    /// Policies are equal when their documents and parsed parts are; the compiled forms follow from those.
    package static func == (lhs: KeyPolicy, rhs: KeyPolicy) -> Bool {
        lhs.json == rhs.json && lhs.version == rhs.version && lhs.id == rhs.id && lhs.statements == rhs.statements
    }
}

// MARK: - Statements

extension KeyPolicy {
    /// One element of the `Statement` array: who (`Principal`) may or may not (`Effect`) do what
    /// (`Action`/`NotAction`) to which key (`Resource`/`NotResource`) under which `Condition`s.
    package struct Statement: Sendable, Equatable {
        /// Whether a matching statement grants or forbids.
        package enum Effect: String, Sendable, Equatable {
            case allow = "Allow"
            /// `"Deny"`: wins over every `Allow`.
            case deny = "Deny"
        }

        /// Which values an element lists, and whether it lists them to include or exclude them.
        package enum Scope: Sendable, Equatable {
            /// `Action` or `Resource`: the statement covers what matches one of these patterns.
            case only([String])
            /// `NotAction` or `NotResource`: the statement covers what matches none of them.
            case allExcept([String])

            /// The patterns as written.
            package var patterns: [String] {
                switch self {
                case .only(let patterns), .allExcept(let patterns): patterns
                }
            }

            /// Whether this came from `NotAction`/`NotResource`.
            package var isNegated: Bool {
                if case .allExcept = self { return true }
                return false
            }
        }

        /// The `Sid` element, if any.
        package let sid: String?
        /// The `Effect` element.
        package let effect: Effect
        /// The principals of the `Principal` element (`NotPrincipal` is not supported).
        package let principals: [PolicyPrincipal]
        /// `Action` or `NotAction`: patterns such as `kms:Decrypt`, `kms:Generate*` or `*`.
        package let actions: Scope
        /// `Resource` or `NotResource`: `*` (this key) or ARN patterns.
        package let resources: Scope
        /// The tests of the `Condition` element, one per operator and key; all must hold.
        package let conditions: [PolicyCondition]

        /// The statement compiled for evaluation, built once by the parser.
        let program: Program

        init(
            sid: String?, effect: Effect, principals: [PolicyPrincipal], actions: Scope, resources: Scope,
            conditions: [PolicyCondition]
        ) {
            self.sid = sid
            self.effect = effect
            self.principals = principals
            self.actions = actions
            self.resources = resources
            self.conditions = conditions
            self.program = Program(
                sid: sid, effect: effect, principals: principals, actions: actions, resources: resources, conditions: conditions
            )
        }

        /// Statements are equal when their elements are; the compiled form follows from those.
        package static func == (lhs: Statement, rhs: Statement) -> Bool {
            lhs.sid == rhs.sid && lhs.effect == rhs.effect && lhs.principals == rhs.principals && lhs.actions == rhs.actions
                && lhs.resources == rhs.resources && lhs.conditions == rhs.conditions
        }
    }
}

/// One principal named in a statement's `Principal` element.
package enum PolicyPrincipal: Sendable, Hashable {
    /// `"*"` or `{"AWS": "*"}`: every caller.
    case anyone
    /// `arn:<partition>:iam::<account>:root` or a bare 12-digit account ID: the account. As in
    /// AWS, an `Allow` naming it only delegates to the identity policies of the account's
    /// principals (it allows nothing by itself); a `Deny` naming it applies to all of them.
    case account(String)
    /// The exact ARN of a user, role or session; or the unique id (`AIDA…`) that replaces the ARN
    /// of a principal deleted since, which matches no caller.
    case arn(String)
    /// `{"Service": "<name>"}`: the AWS service `<name>`, which authenticates to envseal as the
    /// principal `service:<name>`.
    case service(String)

    /// The principal ARN a service principal authenticates as: `service:<name>`.
    package static func serviceARN(_ name: String) -> String { "service:" + name }
}

// MARK: - The default policy

extension KeyPolicy {
    /// The policy a key gets when `CreateKey` names none, shaped like AWS's default key policy.
    ///
    /// It has one statement, `"Allow access for Key Administrators"`, which gives each admin ARN
    /// `kms:*` on the key (the account root, when `admins` is empty, which delegates to the
    /// principals' identity policies). Unlike AWS's default it names the admins directly rather
    /// than delegating to the account, so a key works for its admins whatever their identity
    /// policies. The JSON is laid out as AWS's `GetKeyPolicy` returns it.
    ///
    /// - Parameters:
    ///   - account: The key's 12-digit account ID. Anything else is a programming error (the
    ///     service configuration validates it) and traps.
    ///   - partition: The ARN partition, `aws` unless the service is configured otherwise.
    ///   - admins: Principal ARNs of the key's administrators, in order; duplicates are dropped, and
    ///     so is any entry that is not a valid principal (`"*"`, an account, or an IAM ARN).
    package static func defaultPolicy(account: String, partition: String = "aws", admins: [String]) -> KeyPolicy {
        var seen = Set<String>()
        let requested = admins
        let admins = admins.filter { admin in
            Self.awsPrincipal(admin) != nil && !admin.contains("${") && seen.insert(admin).inserted
        }
        // AWS's default policy gives `arn:aws:iam::<account>:root` kms:*, delegating to identity
        // policies; the default here names the admins themselves. Only an empty list means "the
        // account"; a list whose every entry was invalid must not silently turn into it.
        precondition(!requested.isEmpty == !admins.isEmpty, "defaultPolicy: no valid admin ARN among \(requested)")
        let owners = admins.isEmpty ? ["arn:\(partition):iam::\(account):root"] : admins
        let statements = [PolicyJSONWriter.statement(sid: "Allow access for Key Administrators", principals: owners)]
        let json = PolicyJSONWriter.document(id: "key-default-1", statements: statements)
        do {
            return try KeyPolicy(json: json)
        } catch {
            preconditionFailure("default key policy for account \(account) in partition \(partition) is invalid: \(error)")
        }
    }
}

/// Writes policies in the layout AWS KMS returns them (Jackson's default pretty printer): two-space
/// indents, `" : "` between names and values, and arrays kept on the line of their opening bracket.
private enum PolicyJSONWriter {
    static func document(id: String, statements: [String]) -> String {
        """
        {
          "Version" : "2012-10-17",
          "Id" : \(quote(id)),
          "Statement" : [ \(statements.joined(separator: ", ")) ]
        }
        """
    }

    static func statement(sid: String, principals: [String]) -> String {
        let principal = principals.count == 1
            ? quote(principals[0])
            : "[ " + principals.map(quote).joined(separator: ", ") + " ]"
        return """
        {
            "Sid" : \(quote(sid)),
            "Effect" : "Allow",
            "Principal" : {
              "AWS" : \(principal)
            },
            "Action" : "kms:*",
            "Resource" : "*"
          }
        """
    }

    /// A JSON string literal.
    static func quote(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        do {
            return String(decoding: try encoder.encode(text), as: UTF8.self)
        } catch {
            preconditionFailure("a string always encodes as JSON: \(error)")
        }
    }
}

// MARK: - Errors

/// Why a key policy document was rejected, and where. The service answers
/// `MalformedPolicyDocumentException` with its ``description``.
///
/// The description names the place first, then the problem:
/// `statement 2 ("AllowDecrypt"): Action: "s3:GetObject" is not a KMS action`.
package struct PolicyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem it is.
    package enum Kind: String, Sendable, Equatable, CaseIterable {
        /// Not JSON, or JSON this parser refuses: duplicate member names (which would let two
        /// readers of the same policy disagree on its meaning) or nesting deeper than any policy needs.
        case invalidJSON
        /// The document is JSON but not an object.
        case notAnObject
        /// The document is longer than ``KeyPolicy/maximumDocumentSize`` bytes.
        case tooLarge
        /// `Version` is not `"2012-10-17"` or `"2008-10-17"`.
        case unsupportedVersion
        /// An element the policy language does not have (element names are case-sensitive).
        case unknownElement
        /// A required element is missing: `Statement`, `Effect`, `Principal`, `Action`/`NotAction`
        /// or `Resource`/`NotResource`.
        case missingElement
        /// Both forms of an element: `Action` and `NotAction`, or `Resource` and `NotResource`.
        case conflictingElements
        /// An element has the wrong JSON type or an invalid value (`"Effect": "Permit"`).
        case invalidElement
        /// `Statement` is an empty array.
        case emptyStatementList
        /// Two statements have the same `Sid`.
        case duplicateSid
        /// A `Principal` entry is not `"*"`, an account ID, an IAM ARN or a service name.
        case invalidPrincipal
        /// An action is not `*` or `kms:<name>` (wildcards allowed in the name).
        case invalidAction
        /// A resource is not `*` or an ARN.
        case invalidResource
        /// A condition operator the policy language does not have.
        case unknownConditionOperator
        /// A condition key envseal does not supply: a test of it would always see the key absent,
        /// so `Deny … "Bool": {"aws:SecureTransport": "false"}` of a key never supplied would deny nothing.
        case unsupportedConditionKey
        /// A condition key or value is malformed (not strings, booleans or numbers; not `true` or
        /// `false` where the operator needs a boolean; an empty key or list).
        case invalidCondition
        /// `ForAllValues` with a single-valued key of KMS's encryption context or request tags, which
        /// AWS KMS rejects (`OverlyPermissiveCondition`) because it matches requests without the key.
        case overlyPermissiveCondition
        /// Valid in AWS but not implemented by envseal, so refused rather than misread:
        /// `NotPrincipal`, `Federated`/`CanonicalUser` principals, policy variables (`${…}`), and
        /// the `BinaryEquals` condition operator.
        case unsupported
    }

    /// What kind of problem it is.
    package let kind: Kind
    /// The statement's number, counting from 1 in document order, when the problem is in one.
    package let statement: Int?
    /// The statement's `Sid`, when it has one.
    package let sid: String?
    /// The element at fault (`Action`, `Condition`, `Version`, …), when there is one.
    package let element: String?
    /// What is wrong, in a sentence fragment.
    package let detail: String

    init(_ kind: Kind, statement: Int? = nil, sid: String? = nil, element: String? = nil, _ detail: String) {
        self.kind = kind
        self.statement = statement
        self.sid = sid
        self.element = element
        self.detail = detail
    }

    /// The place, then the problem: `statement 2 ("AllowDecrypt"): Action: "s3:GetObject" is not a KMS action`.
    package var description: String {
        var text = ""
        if let statement {
            text += "statement \(statement)"
            if let sid { text += " (\(PolicyError.quoted(sid)))" }
            text += ": "
        }
        if let element { text += element + ": " }
        return text + detail
    }

    /// A value quoted for a message, shortened so a huge value cannot flood logs.
    static func quoted(_ value: String) -> String {
        let limit = 80
        let shown = value.unicodeScalars.count > limit ? String(value.unicodeScalars.prefix(limit)) + "…" : value
        return PolicyJSONWriter.quote(shown)
    }
}
