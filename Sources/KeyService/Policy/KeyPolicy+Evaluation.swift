/// What a key policy is asked: may this principal perform this action on this key, with this
/// encryption context and these other condition keys?
package struct AuthorizationRequest: Sendable {
    /// The caller's ARN, such as `arn:aws:iam::111122223333:user/billing-fn`, or
    /// `service:<name>` for an AWS service principal (see ``PolicyPrincipal/service(_:)``).
    package var principalARN: String
    /// The caller's 12-digit account.
    package var principalAccount: String
    /// The action, `kms:<Operation>`, such as `kms:Decrypt`.
    package var action: String
    /// The ARN of the key the request uses (what `"Resource": "*"` stands for in a key policy).
    package var resourceARN: String
    /// The request's encryption context, or `nil` when the operation has none. It supplies
    /// `kms:EncryptionContext:<context-key>` and `kms:EncryptionContextKeys`; an empty context
    /// supplies neither, like an absent one.
    package var encryptionContext: [String: String]?
    /// Values of any other condition keys, such as `kms:ViaService`, `kms:GrantOperations` or
    /// `kms:RequestAlias`; names are matched ignoring case, and an empty list counts as absent.
    ///
    /// `aws:PrincipalArn`, `aws:PrincipalAccount` and `kms:CallerAccount` default to
    /// ``principalARN`` and ``principalAccount`` when not given here.
    package var extraConditionKeys: [String: [String]]

    package init(
        principalARN: String,
        principalAccount: String,
        action: String,
        resourceARN: String,
        encryptionContext: [String: String]? = nil,
        extraConditionKeys: [String: [String]] = [:]
    ) {
        self.principalARN = principalARN
        self.principalAccount = principalAccount
        self.action = action
        self.resourceARN = resourceARN
        self.encryptionContext = encryptionContext
        self.extraConditionKeys = extraConditionKeys
    }
}

/// The outcome of evaluating a key policy.
package enum PolicyDecision: Sendable, Equatable {
    /// A statement allows the request and none denies it.
    case allow
    /// A `Deny` statement matches; its `Sid`, if it has one. No grant can override this.
    case explicitDeny(sid: String?)
    /// No statement matches. A grant may still allow the request.
    case implicitDeny

    /// Whether the policy allows the request.
    package var isAllowed: Bool { self == .allow }
}

extension KeyPolicy {
    /// Decides a request on the key policy alone: an explicit `Deny` in any matching statement
    /// wins; otherwise a matching `Allow` that names the caller itself (its ARN, `*` or its
    /// service) allows; otherwise the request is implicitly denied.
    ///
    /// An `Allow` naming the caller's account (`arn:aws:iam::<account>:root` or the bare account
    /// ID) allows nothing by itself: as in AWS it only delegates to the account's identity
    /// policies, which ``evaluate(_:identityPolicy:)`` consults. A `Deny` naming the account
    /// applies to every principal of it.
    ///
    /// A statement matches when its principal, action, resource and every condition match. Denies
    /// are checked before allows, so the result does not depend on statement order; the `Sid`
    /// reported is that of the first matching `Deny`.
    ///
    /// Evaluation does no parsing, no regular expressions and no allocation: everything was
    /// compiled by ``init(json:)``.
    package func evaluate(_ request: AuthorizationRequest) -> PolicyDecision {
        for program in programs where program.isDeny && program.applies(to: request) {
            return .explicitDeny(sid: program.sid)
        }
        for program in programs where !program.isDeny && program.match(request) == .direct {
            return .allow
        }
        return .implicitDeny
    }

    /// Decides a request as IAM does for a caller of the key's account: an explicit `Deny` in the
    /// key policy or in the caller's identity policy wins; otherwise the request is allowed when
    /// the key policy allows the caller directly, or when an `Allow` of the key policy names the
    /// caller's account (delegates to IAM) *and* the identity policy allows the request.
    ///
    /// - Parameters:
    ///   - request: The request.
    ///   - identityPolicy: The caller's identity policy, or `nil` when it has none.
    package func evaluate(_ request: AuthorizationRequest, identityPolicy: IdentityPolicy?) -> PolicyDecision {
        let own = evaluate(request)
        if case .explicitDeny = own { return own }
        guard let identityPolicy else { return own }
        let identity = identityPolicy.evaluate(request)
        if case .explicitDeny = identity { return identity }
        if own == .allow { return .allow }
        return identity == .allow && delegatesToAccount(request) ? .allow : .implicitDeny
    }

    /// Whether an `Allow` statement naming the caller's account covers the request, so that the
    /// caller's identity policy may allow it.
    package func delegatesToAccount(_ request: AuthorizationRequest) -> Bool {
        programs.contains { !$0.isDeny && $0.match(request) == .account }
    }
}

extension KeyPolicy.Statement {
    /// A statement compiled for evaluation.
    ///
    /// A class so that walking the statements on every request moves one reference per statement:
    /// walking an array of the ``KeyPolicy/Statement`` structs themselves copied each one,
    /// retaining and releasing every array inside it, and that dominated the cost of evaluation.
    /// Immutable, hence `Sendable`.
    final class Program: Sendable {
        let isDeny: Bool
        let sid: String?
        /// The principals, with service principals turned into the ARNs they authenticate as.
        let principals: [PolicyPrincipal]
        /// Action patterns; action names are case-insensitive in IAM.
        let actionPatterns: [WildcardPattern]
        let actionsNegated: Bool
        /// Resource patterns; ARNs are case-sensitive.
        let resourcePatterns: [WildcardPattern.ARN]
        let resourcesNegated: Bool
        let conditions: [PolicyCondition.Program]

        init(
            sid: String?, effect: KeyPolicy.Statement.Effect, principals: [PolicyPrincipal], actions: KeyPolicy.Statement.Scope,
            resources: KeyPolicy.Statement.Scope, conditions: [PolicyCondition]
        ) {
            self.isDeny = effect == .deny
            self.sid = sid
            self.principals = principals.map { principal in
                if case .service(let name) = principal { return .arn(PolicyPrincipal.serviceARN(name)) }
                return principal
            }
            self.actionPatterns = actions.patterns.map { WildcardPattern($0, ignoringCase: true) }
            self.actionsNegated = actions.isNegated
            self.resourcePatterns = resources.patterns.map { WildcardPattern.ARN($0) }
            self.resourcesNegated = resources.isNegated
            self.conditions = conditions.map(\.program)
        }

        /// How a statement's `Principal` covers a caller.
        enum PrincipalMatch {
            /// Not at all.
            case none
            /// By the caller's own ARN, `*`, or its service.
            case direct
            /// Only through the caller's account (`…:root` or the account ID).
            case account
        }

        /// Whether the statement covers the request: principal, action, resource and conditions.
        func applies(to request: AuthorizationRequest) -> Bool {
            match(request) != .none
        }

        /// How the statement covers the request: `.none` unless its action, resource and every
        /// condition match too.
        ///
        /// The cheap tests run first so most non-matching statements never look at conditions: the
        /// principal list is usually one or two exact comparisons, the action list can be long.
        func match(_ request: AuthorizationRequest) -> PrincipalMatch {
            let principal = principalMatch(arn: request.principalARN, account: request.principalAccount)
            guard principal != .none,
                  coversAction(request.action),
                  coversResource(request.resourceARN)
            else { return .none }
            // An Allow needs every value of an ambiguous single-valued key to pass; a Deny any
            // (see PolicyCondition), so ambiguity can only ever deny.
            let everyValue = !isDeny
            for condition in conditions where !condition.holds(for: request, everyValue: everyValue) {
                return .none
            }
            return principal
        }

        func coversAction(_ action: String) -> Bool {
            let listed = WildcardPattern.withUTF8(action) { bytes in
                actionPatterns.withUnsafeBufferPointer { patterns in
                    patterns.indices.contains { patterns[$0].matches(bytes) }
                }
            }
            return listed != actionsNegated
        }

        func coversResource(_ arn: String) -> Bool {
            let listed = WildcardPattern.withUTF8(arn) { bytes in
                resourcePatterns.withUnsafeBufferPointer { patterns in
                    patterns.indices.contains { patterns[$0].matches(bytes) }
                }
            }
            return listed != resourcesNegated
        }

        /// A direct match wins over an account match when a statement names both.
        func principalMatch(arn: String, account: String) -> PrincipalMatch {
            principals.withUnsafeBufferPointer { principals in
                var result = PrincipalMatch.none
                for index in principals.indices {
                    switch principals[index] {
                    case .anyone: return .direct
                    case .account(let listed): if WildcardPattern.sameBytes(account, listed) { result = .account }
                    case .arn(let listed): if WildcardPattern.sameBytes(arn, listed) { return .direct }
                    // Compiled into `.arn("service:<name>")` above; kept for exhaustiveness.
                    case .service(let name): if WildcardPattern.sameBytes(arn, PolicyPrincipal.serviceARN(name)) { return .direct }
                    }
                }
                return result
            }
        }
    }
}

extension AuthorizationRequest {
    /// Calls `body` with each of the request's values for a condition key; not at all when the
    /// request has none.
    func forEachValue(of source: PolicyCondition.KeySource, _ body: (String) -> Void) {
        switch source {
        case .unsupported:
            return
        case .encryptionContextValue(let contextKey):
            guard let encryptionContext else { return }
            for (key, value) in encryptionContext where WildcardPattern.equalIgnoringCase(key, contextKey) {
                body(value)
            }
        case .encryptionContextKeys:
            guard let encryptionContext else { return }
            for key in encryptionContext.keys { body(key) }
        case .requestKey(let name, let derived):
            // Names that differ only by case are the same key: their values are pooled.
            var given = false
            for (key, values) in extraConditionKeys where WildcardPattern.equalIgnoringCase(key, name) {
                given = true
                values.forEach(body)
            }
            if given { return }
            switch derived {
            case .principalARN: body(principalARN)
            case .principalAccount: body(principalAccount)
            case nil: break
            }
        }
    }
}
