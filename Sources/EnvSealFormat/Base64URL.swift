import SodiumKit

/// Unpadded base64url (RFC 4648 §5), strict: decoding accepts only the canonical encoding, so a
/// sealed value has exactly one spelling and a changed character is always a changed byte.
///
/// The coding is SodiumKit's ``Base64``; this names the format's variant and reports a refusal as
/// a ``FormatError`` naming the field.
package enum Base64URL {
    /// Encodes without padding.
    /// - Parameter bytes: The bytes.
    /// - Returns: The base64url text.
    package static func encode(_ bytes: some Collection<UInt8>) -> String {
        Base64.encode(bytes, variant: .urlSafeNoPadding)
    }

    /// Decodes canonical unpadded base64url.
    /// - Parameters:
    ///   - text: The text.
    ///   - field: What the text is, for the error.
    /// - Returns: The bytes.
    /// - Throws: ``FormatError`` for a character outside the alphabet, padding, an impossible
    ///   length, or unused bits that are not zero.
    package static func decode(_ text: some StringProtocol, field: String) throws(FormatError) -> [UInt8] {
        do {
            return try Base64.decode(text, variant: .urlSafeNoPadding)
        } catch {
            throw FormatError(.invalidBase64(field: field))
        }
    }
}
