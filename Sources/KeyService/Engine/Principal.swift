/// Who is calling the key service: an authenticated principal.
public struct Principal: Sendable, Equatable, CustomStringConvertible {
    /// `arn:aws:iam::<account>:user/<name>`.
    public let arn: String
    /// The principal's 12-digit account.
    public let account: String
    /// Whether the principal administers the service (may create keys and principals).
    public let isAdmin: Bool

    /// Creates a principal.
    public init(arn: String, account: String, isAdmin: Bool = false) {
        self.arn = arn
        self.account = account
        self.isAdmin = isAdmin
    }

    /// A user principal of an account: `arn:aws:iam::<account>:user/<name>`.
    public static func user(_ name: String, account: String, isAdmin: Bool = false) -> Principal {
        Principal(arn: "arn:aws:iam::\(account):user/\(name)", account: account, isAdmin: isAdmin)
    }

    /// The ARN.
    public var description: String { arn }
}
