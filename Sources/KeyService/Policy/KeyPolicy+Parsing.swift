extension KeyPolicy {
    /// Parses and validates a key policy document.
    ///
    /// Refused, with a ``PolicyError`` that names the statement and element at fault:
    /// - a document over ``maximumDocumentSize`` bytes, text that is not JSON (including duplicate
    ///   member names and trailing commas), and JSON that is not an object;
    /// - elements the language does not have, at the top (`Version`, `Id`, `Statement`) or in a
    ///   statement (`Sid`, `Effect`, `Principal`, `Action`/`NotAction`, `Resource`/`NotResource`,
    ///   `Condition`); names are case-sensitive, as in AWS;
    /// - a `Version` other than `"2012-10-17"` or `"2008-10-17"`; a missing or empty `Statement`;
    ///   duplicate `Sid`s;
    /// - a missing or invalid `Effect`; a missing `Principal`, or a principal that is not `"*"`,
    ///   an account ID, an IAM/STS ARN without wildcards, a unique id (`AIDA…`), or a service name;
    /// - both or neither of `Action`/`NotAction` and of `Resource`/`NotResource`; an action that is
    ///   not `*` or `kms:<name>`; a resource that is not `*` or an ARN;
    /// - a condition key envseal does not supply (see ``ConditionKeys``), which would always read as
    ///   absent;
    /// - an unknown condition operator, condition values that are not strings, booleans or numbers
    ///   (or non-empty lists of them), non-boolean values for `Bool` and `Null`, values that are not
    ///   numbers, dates or IP ranges for the numeric, date and IP address operators, and `ForAllValues:`
    ///   with `kms:EncryptionContext:…` or `aws:RequestTag/…`, which AWS KMS refuses as overly permissive;
    /// - features envseal does not implement (`NotPrincipal`, federated principals, policy variables
    ///   in a `2012-10-17` policy, `BinaryEquals`), so they are never misread.
    ///
    /// - Parameter json: The document; kept verbatim as ``json``.
    package init(json: String) throws(PolicyError) {
        try self.init(json: json, storedBefore: false, isIdentityPolicy: false)
    }

    /// Parses a key policy or, with `isIdentityPolicy`, an identity policy: the same language
    /// without `Principal`, since it applies to the principal it is attached to. `storedBefore`
    /// reads one accepted before envseal refused condition keys it does not supply: such a test
    /// then makes an `Allow` statement never apply and a `Deny` statement always apply (see
    /// ``PolicyCondition``), instead of reading the key as absent.
    init(json: String, storedBefore: Bool = false, isIdentityPolicy: Bool = false) throws(PolicyError) {
        let size = json.utf8.count
        guard size <= Self.maximumDocumentSize else {
            throw PolicyError(.tooLarge, "the document is \(size) bytes; a key policy may have at most \(Self.maximumDocumentSize)")
        }
        let root: PolicyJSON
        do throws(PolicyJSON.SyntaxError) {
            root = try PolicyJSON.parse(json)
        } catch {
            throw PolicyError(.invalidJSON, error.description)
        }
        guard case .object(let members) = root else {
            throw PolicyError(.notAnObject, "a policy must be a JSON object, not \(root.summary)")
        }
        var version: String?
        var id: String?
        var statementValue: PolicyJSON?
        for member in members {
            switch member.key {
            case "Version":
                guard case .string(let text) = member.value else {
                    throw PolicyError(.unsupportedVersion, element: "Version", "must be the string \"2012-10-17\", not \(member.value.summary)")
                }
                guard Self.supportedVersions.contains(text) else {
                    throw PolicyError(.unsupportedVersion, element: "Version",
                                      "\(PolicyError.quoted(text)) is not a policy language version (use \"2012-10-17\")")
                }
                version = text
            case "Id":
                guard case .string(let text) = member.value else {
                    throw PolicyError(.invalidElement, element: "Id", "must be a string, not \(member.value.summary)")
                }
                id = text
            case "Statement":
                statementValue = member.value
            default:
                throw PolicyError(.unknownElement, "unknown element \(PolicyError.quoted(member.key)) (a policy has Version, Id and Statement)")
            }
        }
        let rawStatements: [PolicyJSON]
        switch statementValue {
        case nil:
            throw PolicyError(.missingElement, element: "Statement", "missing: a policy needs at least one statement")
        case .object?:
            rawStatements = [statementValue!]
        case .array(let items)?:
            guard !items.isEmpty else { throw PolicyError(.emptyStatementList, element: "Statement", "the list is empty") }
            rawStatements = items
        case let other?:
            throw PolicyError(.invalidElement, element: "Statement", "must be an object or a list of objects, not \(other.summary)")
        }
        var statements: [Statement] = []
        var sidNumbers: [String: Int] = [:]
        for (offset, raw) in rawStatements.enumerated() {
            // Policy variables mean something only in the 2012-10-17 language; in 2008-10-17 `${…}` is literal text.
            var parser = StatementParser(
                number: offset + 1, variablesAreSpecial: version == "2012-10-17", storedBefore: storedBefore,
                isIdentityPolicy: isIdentityPolicy)
            let statement = try parser.parse(raw)
            if let sid = statement.sid {
                if let first = sidNumbers[sid] {
                    throw PolicyError(.duplicateSid, statement: offset + 1, sid: sid, element: "Sid", "statement \(first) has the same Sid")
                }
                sidNumbers[sid] = offset + 1
            }
            statements.append(statement)
        }
        self.init(version: version, id: id, statements: statements, json: json)
    }

    /// Classifies an entry of `{"AWS": …}`: `"*"`, a 12-digit account ID, an account root ARN, a
    /// deleted principal's unique id, or the ARN of an IAM or STS principal. `nil` for anything
    /// else, including ARNs with wildcards (AWS allows no wildcard in a principal except the lone `*`).
    static func awsPrincipal(_ text: String) -> PolicyPrincipal? {
        if text == "*" { return .anyone }
        if isAccountID(Substring(text)) { return .account(text) }
        // A unique id (`AIDA…`) is what a key policy shows for a principal deleted since: it
        // matches no caller, as no id is ever reused.
        if isUniqueID(text) { return .arn(text) }
        guard text.hasPrefix("arn:"), !text.contains("*") else { return nil }
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, !parts[1].isEmpty, parts[2] == "iam" || parts[2] == "sts", parts[3].isEmpty,
              isAccountID(parts[4]), !parts[5].isEmpty
        else { return nil }
        if parts[2] == "iam", parts[5] == "root" { return .account(String(parts[4])) }
        return .arn(text)
    }

    /// `AIDA` (a user) or `AROA` (a role), then 12 to 124 upper-case letters and digits.
    static func isUniqueID(_ text: String) -> Bool {
        let utf8 = text.utf8
        return (text.hasPrefix("AIDA") || text.hasPrefix("AROA")) && (16...128).contains(utf8.count)
            && utf8.dropFirst(4).allSatisfy { $0 &- UInt8(ascii: "A") < 26 || $0 &- UInt8(ascii: "0") < 10 }
    }

    private static func isAccountID(_ text: Substring) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { $0 &- UInt8(ascii: "0") < 10 }
    }
}

// MARK: - Statements

/// Reads one statement, producing errors that name it by number and `Sid`.
private struct StatementParser {
    let number: Int
    let variablesAreSpecial: Bool
    /// Whether to keep, rather than refuse, condition keys envseal does not supply.
    let storedBefore: Bool
    /// An identity policy's statements have no `Principal`: they cover the principal holding them.
    let isIdentityPolicy: Bool
    var sid: String?

    init(number: Int, variablesAreSpecial: Bool, storedBefore: Bool = false, isIdentityPolicy: Bool = false) {
        self.number = number
        self.variablesAreSpecial = variablesAreSpecial
        self.storedBefore = storedBefore
        self.isIdentityPolicy = isIdentityPolicy
    }

    static let elements: Set<String> = [
        "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition",
    ]

    func error(_ kind: PolicyError.Kind, _ element: String?, _ detail: String) -> PolicyError {
        PolicyError(kind, statement: number, sid: sid, element: element, detail)
    }

    mutating func parse(_ value: PolicyJSON) throws(PolicyError) -> KeyPolicy.Statement {
        guard case .object(let members) = value else {
            throw error(.invalidElement, nil, "a statement must be a JSON object, not \(value.summary)")
        }
        var fields: [String: PolicyJSON] = [:]
        for member in members { fields[member.key] = member.value }
        // The Sid first, so that every later error can name the statement by it.
        if let sidValue = fields["Sid"] {
            guard case .string(let text) = sidValue else {
                throw error(.invalidElement, "Sid", "must be a string, not \(sidValue.summary)")
            }
            sid = text
        }
        for member in members where !Self.elements.contains(member.key) {
            throw error(.unknownElement, nil, "unknown element \(PolicyError.quoted(member.key)) (a statement has Sid, Effect, "
                + "Principal, Action or NotAction, Resource or NotResource, and Condition)")
        }

        guard let effectValue = fields["Effect"] else {
            throw error(.missingElement, "Effect", "missing: it must be \"Allow\" or \"Deny\"")
        }
        guard case .string(let effectText) = effectValue, let effect = KeyPolicy.Statement.Effect(rawValue: effectText) else {
            throw error(.invalidElement, "Effect", "must be \"Allow\" or \"Deny\", not \(effectValue.summary)")
        }

        let principals: [PolicyPrincipal]
        if isIdentityPolicy {
            for element in ["Principal", "NotPrincipal"] where fields[element] != nil {
                throw error(.unknownElement, element, "an identity policy names no principal: it applies to the principal it is attached to")
            }
            principals = [.anyone]
        } else {
            if fields["NotPrincipal"] != nil {
                throw error(.unsupported, "NotPrincipal", "is not supported; use \"Principal\": \"*\" with an ArnNotEquals "
                    + "condition on aws:PrincipalArn instead")
            }
            guard let principalValue = fields["Principal"] else {
                throw error(.missingElement, "Principal", "missing: every key policy statement names its principals")
            }
            principals = try parsePrincipal(principalValue)
        }

        let actions = try parseScope(fields, "Action", "NotAction") { (action, element) throws(PolicyError) in
            try validateAction(action, element)
        }
        let resources = try parseScope(fields, "Resource", "NotResource") { (resource, element) throws(PolicyError) in
            try validateResource(resource, element)
        }
        var conditions: [PolicyCondition] = []
        if let conditionValue = fields["Condition"] {
            conditions = try parseConditions(conditionValue)
        }
        return KeyPolicy.Statement(
            sid: sid, effect: effect, principals: principals, actions: actions, resources: resources, conditions: conditions
        )
    }

    // MARK: Principal

    func parsePrincipal(_ value: PolicyJSON) throws(PolicyError) -> [PolicyPrincipal] {
        let members: [PolicyJSON.Member]
        switch value {
        case .string("*"):
            return [.anyone]
        case .object(let items) where !items.isEmpty:
            members = items
        default:
            throw error(.invalidPrincipal, "Principal", "must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::111122223333:root\"}, "
                + "not \(value.summary)")
        }
        var principals: [PolicyPrincipal] = []
        for member in members {
            let element = "Principal." + member.key
            switch member.key {
            case "AWS":
                for entry in try stringList(member.value, element) {
                    guard !entry.contains("${"), let principal = KeyPolicy.awsPrincipal(entry) else {
                        throw error(.invalidPrincipal, element, "\(PolicyError.quoted(entry)) is not \"*\", a 12-digit account ID, "
                            + "or an IAM ARN without wildcards")
                    }
                    principals.append(principal)
                }
            case "Service":
                for entry in try stringList(member.value, element) {
                    guard !entry.isEmpty, !entry.contains("*"), !entry.contains("${"),
                          entry.unicodeScalars.allSatisfy({ $0.properties.isWhitespace == false }) else {
                        throw error(.invalidPrincipal, element, "\(PolicyError.quoted(entry)) is not a service name")
                    }
                    principals.append(.service(entry))
                }
            case "Federated", "CanonicalUser":
                throw error(.unsupported, element, "\(member.key) principals are not supported; envseal has AWS principals "
                    + "and service principals only")
            default:
                throw error(.invalidPrincipal, "Principal", "\(PolicyError.quoted(member.key)) is not a principal type (use \"AWS\" or \"Service\")")
            }
        }
        // `*` among others still means everyone; keep the list short for evaluation.
        return principals.contains(.anyone) ? [.anyone] : principals
    }

    // MARK: Action and Resource

    func parseScope(
        _ fields: [String: PolicyJSON], _ positive: String, _ negative: String,
        validate: (String, String) throws(PolicyError) -> Void
    ) throws(PolicyError) -> KeyPolicy.Statement.Scope {
        switch (fields[positive], fields[negative]) {
        case (nil, nil):
            throw error(.missingElement, positive, "missing: a statement needs \(positive) or \(negative)")
        case (.some, .some):
            throw error(.conflictingElements, positive, "a statement may have \(positive) or \(negative), not both")
        case (let value?, nil):
            let patterns = try stringList(value, positive)
            for pattern in patterns { try validate(pattern, positive) }
            return .only(patterns)
        case (nil, let value?):
            let patterns = try stringList(value, negative)
            for pattern in patterns { try validate(pattern, negative) }
            return .allExcept(patterns)
        }
    }

    func validateAction(_ action: String, _ element: String) throws(PolicyError) {
        if action == "*" { return }
        let prefix = action.utf8.prefix(4)
        guard prefix.count == 4, prefix.map(WildcardPattern.foldASCII).elementsEqual("kms:".utf8) else {
            throw error(.invalidAction, element, "\(PolicyError.quoted(action)) is not a KMS action (kms:<Operation>, or *)")
        }
        let name = action.utf8.dropFirst(4)
        let valid = !name.isEmpty && name.allSatisfy { byte in
            WildcardPattern.foldASCII(byte) &- UInt8(ascii: "a") < 26 || byte &- UInt8(ascii: "0") < 10
                || byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?")
        }
        guard valid else {
            throw error(.invalidAction, element, "\(PolicyError.quoted(action)) is not a valid action name (letters, digits, * and ? after kms:)")
        }
    }

    func validateResource(_ resource: String, _ element: String) throws(PolicyError) {
        guard resource == "*" || resource.hasPrefix("arn:") else {
            throw error(.invalidResource, element, "\(PolicyError.quoted(resource)) is neither \"*\" (this key) nor an ARN")
        }
        if variablesAreSpecial, resource.contains("${") {
            throw error(.unsupported, element, "\(PolicyError.quoted(resource)) uses a policy variable, which envseal does not support")
        }
    }

    /// A string, or a non-empty list of strings.
    func stringList(_ value: PolicyJSON, _ element: String) throws(PolicyError) -> [String] {
        switch value {
        case .string(let text):
            return [text]
        case .array(let items) where !items.isEmpty:
            var strings: [String] = []
            for item in items {
                guard case .string(let text) = item else {
                    throw error(.invalidElement, element, "the list must hold only strings, not \(item.summary)")
                }
                strings.append(text)
            }
            return strings
        case .array:
            throw error(.invalidElement, element, "the list is empty")
        default:
            throw error(.invalidElement, element, "must be a string or a list of strings, not \(value.summary)")
        }
    }

    // MARK: Condition

    func parseConditions(_ value: PolicyJSON) throws(PolicyError) -> [PolicyCondition] {
        guard case .object(let operators) = value else {
            throw error(.invalidCondition, "Condition", "must be an object of operators, such as {\"StringEquals\": {…}}, not \(value.summary)")
        }
        var conditions: [PolicyCondition] = []
        for block in operators {
            let name: PolicyCondition.OperatorName
            switch PolicyCondition.parseOperator(block.key) {
            case .success(let parsed):
                name = parsed
            case .failure(.unknown):
                throw error(.unknownConditionOperator, "Condition", "\(PolicyError.quoted(block.key)) is not a condition operator")
            case .failure(.unsupported):
                throw error(.unsupported, "Condition", "the \(PolicyError.quoted(block.key)) operator is not supported (envseal has "
                    + "the String, Arn, Numeric, Date and IpAddress operators, Bool and Null, with ForAnyValue:, ForAllValues: "
                    + "and …IfExists)")
            case .failure(.invalid(let reason)):
                throw error(.unknownConditionOperator, "Condition", "\(PolicyError.quoted(block.key)): \(reason)")
            }
            guard case .object(let entries) = block.value else {
                throw error(.invalidCondition, "Condition", "\(PolicyError.quoted(block.key)) must map condition keys to values, "
                    + "not be \(block.value.summary)")
            }
            for entry in entries {
                let place = "\(PolicyError.quoted(block.key)): \(PolicyError.quoted(entry.key))"
                let lowered = entry.key.lowercased()
                guard !entry.key.isEmpty, lowered != PolicyCondition.KeySource.encryptionContextPrefix else {
                    throw error(.invalidCondition, "Condition", "\(place) is not a condition key")
                }
                guard storedBefore || ConditionKeys.isSupported(entry.key) else {
                    throw error(.unsupportedConditionKey, "Condition", "\(place): envseal does not supply the condition key "
                        + "\(PolicyError.quoted(entry.key)), so a test of it could never mean what it says (the keys are listed in "
                        + "docs/KEY-SERVICE.md)")
                }
                let values = try conditionValues(entry.value, place)
                for value in values {
                    let problem: String? = switch name.test.valueKind {
                    case .string: nil
                    case .boolean: value.lowercased() == "true" || value.lowercased() == "false" ? nil : "is not true or false"
                    case .number: ConditionNumber.parse(value) == nil ? "is not a number" : nil
                    case .date: ConditionDate.parse(value) == nil ? "is not a date (ISO 8601, such as 2026-12-31T23:59:59Z, or epoch seconds)" : nil
                    case .ipRange: IPRange(value) == nil ? "is not an IP address or CIDR range" : nil
                    }
                    if let problem {
                        throw error(.invalidCondition, "Condition", "\(place): \(PolicyError.quoted(value)) \(problem)")
                    }
                }
                if variablesAreSpecial, values.contains(where: { $0.contains("${") }) {
                    throw error(.unsupported, "Condition", "\(place) uses a policy variable, which envseal does not support")
                }
                if name.setOperator == .forAllValues,
                   lowered.hasPrefix(PolicyCondition.KeySource.encryptionContextPrefix) || lowered.hasPrefix("aws:requesttag/") {
                    throw error(.overlyPermissiveCondition, "Condition", "\(place): ForAllValues with a single-valued key matches "
                        + "requests without that key or with unlisted ones; remove ForAllValues")
                }
                conditions.append(PolicyCondition(
                    test: name.test, setOperator: name.setOperator, ifExists: name.ifExists, key: entry.key, values: values
                ))
            }
        }
        return conditions
    }

    /// A condition's values as strings: a string, boolean or number, or a non-empty list of them.
    func conditionValues(_ value: PolicyJSON, _ place: String) throws(PolicyError) -> [String] {
        if let scalar = value.scalarText { return [scalar] }
        guard case .array(let items) = value, !items.isEmpty else {
            throw error(.invalidCondition, "Condition", "\(place): values must be strings, booleans or numbers, or a non-empty list of them, "
                + "not \(value.summary)")
        }
        var values: [String] = []
        for item in items {
            guard let scalar = item.scalarText else {
                throw error(.invalidCondition, "Condition", "\(place): values must be strings, booleans or numbers, not \(item.summary)")
            }
            values.append(scalar)
        }
        return values
    }
}
