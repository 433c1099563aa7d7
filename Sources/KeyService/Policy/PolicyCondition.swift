/// One test of a statement's `Condition` element: an operator applied to one condition key and
/// the policy's values for it, such as `"StringEquals": {"kms:EncryptionContext:AppName": "billing"}`.
///
/// A `Condition` element with several operators, or an operator with several keys, becomes several
/// of these, and a statement applies only when all of them hold. Several values for one key are
/// alternatives: the test holds when the request's value matches any of them, or, for a negated
/// operator (`StringNotEquals`, `StringNotLike`, `ArnNotEquals`, `ArnNotLike`), when it matches
/// none of them.
///
/// **Condition keys** are case-insensitive, the context-key part of
/// `kms:EncryptionContext:<context-key>` included, as in AWS KMS.
///
/// **Missing keys**: when the request has no value for the key, a plain operator fails and a
/// negated one holds, as in IAM; `…IfExists` makes any operator hold; `Null` tests exactly this.
///
/// **Set operators** for multivalued keys (`kms:EncryptionContextKeys`, or a key given several
/// values in ``AuthorizationRequest/extraConditionKeys``): `ForAnyValue:` holds when at least one of
/// the request's values passes, `ForAllValues:` when every one does, and so over an empty set
/// (docs/KEY-SERVICE.md has the pitfall this makes).
///
/// A single-valued key that nevertheless has several values in a request (a context with both
/// `AppName` and `appname`, which the case-insensitive key matches twice) has no documented IAM
/// meaning; envseal then requires every value to pass in an `Allow` statement and any value to pass
/// in a `Deny` statement, so the ambiguity can only ever deny.
package struct PolicyCondition: Sendable, Equatable {
    /// The comparison an operator makes.
    package enum Test: String, Sendable, Equatable, CaseIterable {
        /// `StringEquals`: exact, case-sensitive.
        case stringEquals = "StringEquals"
        /// `StringNotEquals`: none of the values, case-sensitive.
        case stringNotEquals = "StringNotEquals"
        case stringEqualsIgnoreCase = "StringEqualsIgnoreCase"
        case stringNotEqualsIgnoreCase = "StringNotEqualsIgnoreCase"
        /// `StringLike`: case-sensitive, with `*` and `?` wildcards.
        case stringLike = "StringLike"
        case stringNotLike = "StringNotLike"
        /// `ArnEquals`: an ARN pattern matched component by component (same as `ArnLike`, as in IAM).
        case arnEquals = "ArnEquals"
        case arnLike = "ArnLike"
        case arnNotEquals = "ArnNotEquals"
        case arnNotLike = "ArnNotLike"
        /// `Bool`: the request's value is `true` or `false` as the policy says.
        case bool = "Bool"
        /// `Null`: `true` holds when the key is absent, `false` when it is present.
        case null = "Null"
        /// `NumericEquals`: the request's number equals the policy's.
        case numericEquals = "NumericEquals"
        case numericNotEquals = "NumericNotEquals"
        /// `NumericLessThan`: the request's number is below the policy's.
        case numericLessThan = "NumericLessThan"
        case numericLessThanEquals = "NumericLessThanEquals"
        case numericGreaterThan = "NumericGreaterThan"
        case numericGreaterThanEquals = "NumericGreaterThanEquals"
        /// `DateEquals`: the request's date (ISO 8601 or epoch seconds) equals the policy's.
        case dateEquals = "DateEquals"
        case dateNotEquals = "DateNotEquals"
        /// `DateLessThan`: the request's date is before the policy's.
        case dateLessThan = "DateLessThan"
        case dateLessThanEquals = "DateLessThanEquals"
        /// `DateGreaterThan`: the request's date is after the policy's.
        case dateGreaterThan = "DateGreaterThan"
        case dateGreaterThanEquals = "DateGreaterThanEquals"
        /// `IpAddress`: the request's address lies in one of the policy's ranges (CIDR).
        case ipAddress = "IpAddress"
        /// `NotIpAddress`: in none of them.
        case notIpAddress = "NotIpAddress"

        /// Whether the test holds when the request's value matches *none* of the policy's values.
        package var isNegated: Bool {
            switch self {
            case .stringNotEquals, .stringNotEqualsIgnoreCase, .stringNotLike, .arnNotEquals, .arnNotLike, .numericNotEquals,
                 .dateNotEquals, .notIpAddress: true
            default: false
            }
        }

        /// How a policy value of this test must be written, for those that are not strings.
        var valueKind: ValueKind {
            switch self {
            case .bool, .null: .boolean
            case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
                 .numericGreaterThanEquals: .number
            case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals: .date
            case .ipAddress, .notIpAddress: .ipRange
            default: .string
            }
        }

        /// The order a numeric or date test requires of the request's value against the policy's.
        var ordering: Ordering {
            switch self {
            case .numericLessThan, .dateLessThan: .less
            case .numericLessThanEquals, .dateLessThanEquals: .lessOrEqual
            case .numericGreaterThan, .dateGreaterThan: .greater
            case .numericGreaterThanEquals, .dateGreaterThanEquals: .greaterOrEqual
            default: .equal
            }
        }
    }

    /// What a policy value must be for its operator.
    enum ValueKind: Sendable, Equatable {
        case string, boolean, number, date, ipRange
    }

    /// How a request's number or date must compare with a policy's.
    enum Ordering: Sendable, Equatable {
        case equal, less, lessOrEqual, greater, greaterOrEqual

        func holds(_ request: Double, _ policy: Double) -> Bool {
            switch self {
            case .equal: request == policy
            case .less: request < policy
            case .lessOrEqual: request <= policy
            case .greater: request > policy
            case .greaterOrEqual: request >= policy
            }
        }
    }

    /// The prefix that makes an operator compare sets of values.
    package enum SetOperator: String, Sendable, Equatable, CaseIterable {
        /// `ForAnyValue:`: at least one of the request's values passes; false when there are none.
        case forAnyValue = "ForAnyValue"
        /// `ForAllValues:`: every one of the request's values passes; **true when there are none**.
        case forAllValues = "ForAllValues"
    }

    package let test: Test
    /// The `ForAnyValue:`/`ForAllValues:` prefix, if any.
    package let setOperator: SetOperator?
    /// Whether the operator has the `IfExists` suffix: the test holds when the key is absent.
    package let ifExists: Bool
    /// The condition key as written in the policy.
    package let key: String
    /// The policy's values, as strings (`true`, `false` and numbers as JSON wrote them).
    package let values: [String]

    /// The test compiled for evaluation, built once by the parser.
    let program: Program

    /// Builds a test from a parsed operator, key and values. The parser has validated them.
    init(test: Test, setOperator: SetOperator?, ifExists: Bool, key: String, values: [String]) {
        self.test = test
        self.setOperator = setOperator
        self.ifExists = ifExists
        self.key = key
        self.values = values
        self.program = Program(test: test, setOperator: setOperator, ifExists: ifExists, key: key, values: values)
    }

    /// Tests are equal when their operator, key and values are; the compiled form follows from those.
    package static func == (lhs: PolicyCondition, rhs: PolicyCondition) -> Bool {
        lhs.test == rhs.test && lhs.setOperator == rhs.setOperator && lhs.ifExists == rhs.ifExists && lhs.key == rhs.key
            && lhs.values == rhs.values
    }
}

// MARK: - Operator names

extension PolicyCondition {
    /// The parts of an operator name such as `ForAllValues:StringLikeIfExists`.
    struct OperatorName: Equatable {
        let test: Test
        let setOperator: SetOperator?
        let ifExists: Bool
    }

    /// Why an operator name was refused.
    enum OperatorNameProblem: Error, Equatable {
        /// Not an IAM operator at all.
        case unknown
        /// An IAM operator envseal does not implement.
        case unsupported
        /// A combination IAM does not allow, with the reason.
        case invalid(String)
    }

    /// The IAM operators envseal does not implement, so that a policy using one is refused as
    /// unsupported rather than called unknown.
    private static let unsupportedTests: Set<String> = ["binaryequals"]

    /// Splits an operator name into set operator, test and `IfExists`. Names are matched without
    /// regard to case, so a policy AWS might accept in another spelling is read the same way here.
    static func parseOperator(_ name: String) -> Result<OperatorName, OperatorNameProblem> {
        var rest = Substring(name)
        var setOperator: SetOperator?
        for candidate in SetOperator.allCases {
            let prefix = candidate.rawValue + ":"
            if rest.count > prefix.count, rest.prefix(prefix.count).lowercased() == prefix.lowercased() {
                setOperator = candidate
                rest = rest.dropFirst(prefix.count)
                break
            }
        }
        var ifExists = false
        if rest.count > 8, rest.suffix(8).lowercased() == "ifexists" {
            ifExists = true
            rest = rest.dropLast(8)
        }
        let base = rest.lowercased()
        guard let test = Test.allCases.first(where: { $0.rawValue.lowercased() == base }) else {
            return .failure(unsupportedTests.contains(base) ? .unsupported : .unknown)
        }
        if test == .null, ifExists {
            return .failure(.invalid("Null cannot take IfExists: it already tests whether the key exists"))
        }
        if test == .null, setOperator != nil {
            return .failure(.invalid("Null cannot take a set operator: it tests whether the key exists"))
        }
        return .success(OperatorName(test: test, setOperator: setOperator, ifExists: ifExists))
    }
}

// MARK: - Keys and matching

extension PolicyCondition {
    /// Where a condition key's values come from in an ``AuthorizationRequest``.
    enum KeySource: Sendable, Equatable {
        /// A key envseal does not supply, kept only from a policy stored before such keys were
        /// refused: the test fails closed (see ``Program/holds(for:everyValue:)``).
        case unsupported
        /// `kms:EncryptionContext:<context-key>`: the values of the context's pairs whose key equals
        /// `<context-key>` ignoring case.
        case encryptionContextValue(String)
        /// `kms:EncryptionContextKeys`: the context's keys.
        case encryptionContextKeys
        /// Any other key: ``AuthorizationRequest/extraConditionKeys`` (looked up ignoring case),
        /// or for a few keys a value derived from the request when the caller supplied none.
        case requestKey(String, derived: Derived?)

        /// Keys whose value the request carries anyway.
        enum Derived: Sendable, Equatable {
            /// `aws:PrincipalArn`.
            case principalARN
            /// `aws:PrincipalAccount` and `kms:CallerAccount`.
            case principalAccount
        }

        static let encryptionContextPrefix = "kms:encryptioncontext:"

        init(_ key: String) {
            let lowered = key.lowercased()
            if !ConditionKeys.isSupported(key) {
                self = .unsupported
            } else if lowered == "kms:encryptioncontextkeys" {
                self = .encryptionContextKeys
            } else if lowered.hasPrefix(Self.encryptionContextPrefix) {
                // The prefix is ASCII, so dropping its scalars leaves the context key as written.
                self = .encryptionContextValue(String(key.unicodeScalars.dropFirst(Self.encryptionContextPrefix.unicodeScalars.count)))
            } else {
                let derived: Derived? = switch lowered {
                case "aws:principalarn": .principalARN
                case "aws:principalaccount", "kms:calleraccount": .principalAccount
                default: nil
                }
                self = .requestKey(lowered, derived: derived)
            }
        }
    }

    /// One policy value compiled for its operator.
    enum Matcher: Sendable, Equatable {
        case exact(String)
        case ignoringCase(String)
        case pattern(WildcardPattern)
        case arn(WildcardPattern.ARN)
        case boolean(Bool)
        case number(Double, Ordering)
        case date(Double, Ordering)
        case ipRange(IPRange)
        /// A value the parser would have refused; matches nothing.
        case invalid

        /// Whether a request value matches this policy value. A request value that is not a
        /// number, date or address where one is needed matches nothing.
        func matches(_ value: String) -> Bool {
            switch self {
            case .exact(let expected): WildcardPattern.sameBytes(value, expected)
            case .ignoringCase(let expected): WildcardPattern.equalIgnoringCase(value, expected)
            case .pattern(let pattern): pattern.matches(value)
            case .arn(let pattern): pattern.matches(value)
            case .boolean(let expected): WildcardPattern.equalIgnoringCase(value, expected ? "true" : "false")
            case .number(let expected, let ordering): ConditionNumber.parse(value).map { ordering.holds($0, expected) } ?? false
            case .date(let expected, let ordering): ConditionDate.parse(value).map { ordering.holds($0, expected) } ?? false
            case .ipRange(let range): range.contains(value)
            case .invalid: false
            }
        }
    }

    /// A test compiled for evaluation: a class, so evaluation moves one reference instead of copying
    /// the arrays inside (see ``KeyPolicy/Statement/Program``). Immutable, hence `Sendable`.
    final class Program: Sendable {
        let test: Test
        let negated: Bool
        let setOperator: SetOperator?
        let ifExists: Bool
        /// Where the request's values for the key come from, decided once at parse time.
        let source: KeySource
        /// The policy's values compiled for the test.
        let matchers: [Matcher]

        init(test: Test, setOperator: SetOperator?, ifExists: Bool, key: String, values: [String]) {
            self.test = test
            self.negated = test.isNegated
            self.setOperator = setOperator
            self.ifExists = ifExists
            self.source = KeySource(key)
            self.matchers = values.map { value in
                switch test {
                case .stringEquals, .stringNotEquals: .exact(value)
                case .stringEqualsIgnoreCase, .stringNotEqualsIgnoreCase: .ignoringCase(value)
                case .stringLike, .stringNotLike: .pattern(WildcardPattern(value))
                case .arnEquals, .arnLike, .arnNotEquals, .arnNotLike: .arn(WildcardPattern.ARN(value))
                case .bool, .null: .boolean(value.lowercased() == "true")
                case .numericEquals, .numericNotEquals, .numericLessThan, .numericLessThanEquals, .numericGreaterThan,
                     .numericGreaterThanEquals:
                    ConditionNumber.parse(value).map { .number($0, test.ordering) } ?? .invalid
                case .dateEquals, .dateNotEquals, .dateLessThan, .dateLessThanEquals, .dateGreaterThan, .dateGreaterThanEquals:
                    ConditionDate.parse(value).map { .date($0, test.ordering) } ?? .invalid
                case .ipAddress, .notIpAddress: IPRange(value).map { .ipRange($0) } ?? .invalid
                }
            }
        }

        /// Whether the test holds for `request`.
        ///
        /// - Parameter everyValue: How to read a single-valued key that has several values in the
        ///   request: `true` requires all of them to pass (for `Allow` statements), `false` any (for
        ///   `Deny` statements). See ``PolicyCondition``.
        func holds(for request: AuthorizationRequest, everyValue: Bool) -> Bool {
            // Nothing is known of an unsupported key: an Allow must not apply, a Deny must.
            if source == .unsupported { return !everyValue }
            if test == .null {
                var present = false
                request.forEachValue(of: source) { _ in present = true }
                // `"Null": "true"` holds when the key is absent; several values are alternatives.
                return matchers.contains(.boolean(!present))
            }
            var count = 0
            var anyPassed = false
            var allPassed = true
            let negated = negated
            matchers.withUnsafeBufferPointer { matchers in
                request.forEachValue(of: source) { value in
                    count += 1
                    let matched = matchers.indices.contains { matchers[$0].matches(value) }
                    if matched != negated { anyPassed = true } else { allPassed = false }
                }
            }
            if count == 0 {
                if ifExists { return true }
                switch setOperator {
                // The pitfall: a universal claim over nothing is true. See PolicyCondition.
                case .forAllValues: return true
                case .forAnyValue: return false
                // IAM: a missing key fails a plain operator and satisfies a negated one.
                case nil: return negated
                }
            }
            switch setOperator {
            case .forAnyValue: return anyPassed
            case .forAllValues: return allPassed
            case nil: return everyValue ? allPassed : anyPassed
            }
        }
    }
}
