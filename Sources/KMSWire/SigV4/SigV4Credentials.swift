package import SodiumKit

/// An AWS access key pair, as the SigV4 signer uses it.
///
/// The secret access key lives only in guarded memory (``SecureBytes``). `description`,
/// `debugDescription` and `dump` show the access key ID alone: never the secret, nor the session
/// token (a bearer credential in its own right).
///
/// ```swift
/// let credentials = try SigV4Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: secret)
/// print(credentials) // SigV4Credentials(accessKeyID: AKIDEXAMPLE)
/// ```
package struct SigV4Credentials: Sendable {
    /// The access key ID, sent in the clear in the `Credential` scope.
    package let accessKeyID: String
    /// The secret access key: the HMAC key of the signing-key chain.
    package let secretAccessKey: SecureBytes
    /// The session token of temporary credentials, sent as `X-Amz-Security-Token`.
    package let sessionToken: String?

    /// Creates credentials from a secret already in guarded memory.
    /// - Parameters:
    ///   - accessKeyID: The access key ID.
    ///   - secretAccessKey: The secret access key (its UTF-8 bytes, as AWS uses them).
    ///   - sessionToken: The session token of temporary credentials, if any.
    package init(accessKeyID: String, secretAccessKey: SecureBytes, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Creates credentials, copying the secret access key into guarded memory.
    ///
    /// The string itself cannot be wiped: prefer ``init(accessKeyID:secretAccessKey:sessionToken:)``
    /// with ``SecureBytes`` where the secret never needs to be a `String`.
    /// - Parameters:
    ///   - accessKeyID: The access key ID.
    ///   - secretAccessKey: The secret access key.
    ///   - sessionToken: The session token of temporary credentials, if any.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    package init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) throws(SodiumError) {
        self.init(accessKeyID: accessKeyID, secretAccessKey: try SecureBytes(utf8: secretAccessKey),
                  sessionToken: sessionToken)
    }
}

extension SigV4Credentials: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The access key ID only; the secret and the session token are never shown.
    package var description: String { "SigV4Credentials(accessKeyID: \(accessKeyID))" }
    /// The same as ``description``.
    package var debugDescription: String { description }
    /// A mirror with the access key ID only, so `dump` shows no secret.
    package var customMirror: Mirror {
        Mirror(self, children: ["accessKeyID": accessKeyID], displayStyle: .struct)
    }
}
