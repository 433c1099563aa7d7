/// An identity policy: the IAM policy attached to a principal, saying what it may do on which
/// keys. It counts only where a key policy delegates to the principal's account (an `Allow`
/// naming `arn:aws:iam::<account>:root`), as AWS KMS counts IAM policies; its `Deny`s always apply.
///
/// The language is the key policy's without `Principal` (the policy applies to the principal
/// holding it). `Resource` is `*` (every key) or key ARN patterns such as
/// `arn:aws:kms:us-east-1:111122223333:key/*`.
///
/// ```json
/// {"Version": "2012-10-17",
///  "Statement": [{"Effect": "Allow", "Action": "kms:Decrypt",
///                 "Resource": "arn:aws:kms:us-east-1:111122223333:key/*"}]}
/// ```
package struct IdentityPolicy: Sendable, Equatable {
    /// The policy, parsed as a key policy whose statements cover any caller.
    let policy: KeyPolicy

    /// The document exactly as it was given.
    package var json: String { policy.json }

    /// Parses and validates an identity policy document.
    ///
    /// Refused with a ``PolicyError``: what ``KeyPolicy/init(json:)`` refuses, and a statement with
    /// `Principal` or `NotPrincipal`.
    /// - Parameter json: The document.
    package init(json: String) throws(PolicyError) {
        policy = try KeyPolicy(json: json, isIdentityPolicy: true)
    }

    /// Decides a request on this policy alone: a matching `Deny` wins, then a matching `Allow`.
    package func evaluate(_ request: AuthorizationRequest) -> PolicyDecision {
        policy.evaluate(request)
    }
}
