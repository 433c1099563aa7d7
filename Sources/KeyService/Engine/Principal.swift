/// Who is calling the key service: an authenticated principal.
package struct Principal: Sendable, Equatable, CustomStringConvertible {
    /// `arn:aws:iam::<account>:user/<name>`.
    package let arn: String
    /// The principal's 12-digit account.
    package let account: String
    /// Whether the principal administers the service (may create keys and principals).
    package let isAdmin: Bool
    /// The principal's unique id (`AIDA…`), or `nil` for one the key store does not hold (a
    /// principal made up in-process). Grants are bound to it, so a principal deleted and created
    /// again under the same name is another principal.
    package let uniqueID: String?
    /// The principal's identity policy (JSON), or `nil` for none. It allows only where a key
    /// policy delegates to the principal's account (the `…:root` principal); its `Deny`s always apply.
    package let identityPolicy: String?

    package init(arn: String, account: String, isAdmin: Bool = false, uniqueID: String? = nil, identityPolicy: String? = nil) {
        self.arn = arn
        self.account = account
        self.isAdmin = isAdmin
        self.uniqueID = uniqueID
        self.identityPolicy = identityPolicy
    }

    /// A user principal of an account: `arn:aws:iam::<account>:user/<name>`.
    package static func user(
        _ name: String, account: String, isAdmin: Bool = false, uniqueID: String? = nil, identityPolicy: String? = nil
    ) -> Principal {
        Principal(arn: "arn:aws:iam::\(account):user/\(name)", account: account, isAdmin: isAdmin, uniqueID: uniqueID,
                  identityPolicy: identityPolicy)
    }

    /// The ARN.
    package var description: String { arn }
}
