import SodiumKit

/// The public half of an offline recovery key, as users pass it around: `esr1:` and the base64url
/// of the 32-byte X25519 public key followed by a 4-byte checksum (docs/FORMAT.md, "Recovery keys").
///
/// The checksum (the first 4 bytes of unkeyed BLAKE2b-16 over `[publicKey]`) is not a security
/// measure, only a typo catcher: a recipient copied with a changed or missing character is refused
/// instead of sealing a file for a key nobody has. One line of 53 characters.
package struct RecoveryRecipient: Sendable, Hashable, CustomStringConvertible {
    /// The text prefix, with the format's version.
    package static let prefix = "esr1:"
    /// The checksum length.
    static let checksumByteCount = 4

    /// The X25519 public key, 32 bytes.
    package let publicKey: [UInt8]

    /// A recipient for a public key.
    /// - Parameter publicKey: 32 bytes.
    /// - Throws: ``RecoveryKeyError`` for another length.
    package init(publicKey: [UInt8]) throws(RecoveryKeyError) {
        guard publicKey.count == BoxKeyPair.publicKeyByteCount else {
            throw RecoveryKeyError(.invalidRecipient("a public key is \(BoxKeyPair.publicKeyByteCount) bytes, not \(publicKey.count)"))
        }
        self.publicKey = publicKey
    }

    /// Parses the text form, checking its prefix, encoding, length and checksum.
    /// - Parameter text: `esr1:…`; surrounding spaces and line breaks are ignored.
    /// - Throws: ``RecoveryKeyError`` saying which of those is wrong.
    package init(parsing text: String) throws(RecoveryKeyError) {
        let trimmed = text.trimmingWhitespace()
        guard trimmed.hasPrefix(Self.prefix) else {
            throw RecoveryKeyError(.invalidRecipient("it must start with \(Self.prefix)"))
        }
        let bytes: [UInt8]
        do {
            bytes = try Base64URL.decode(trimmed.dropFirst(Self.prefix.count), field: "recipient")
        } catch {
            throw RecoveryKeyError(.invalidRecipient("what follows \(Self.prefix) is not canonical unpadded base64url"))
        }
        let expected = BoxKeyPair.publicKeyByteCount + Self.checksumByteCount
        guard bytes.count == expected else {
            throw RecoveryKeyError(.invalidRecipient("it holds \(bytes.count) bytes, not \(expected) (cut short or run together?)"))
        }
        let publicKey = Array(bytes[..<BoxKeyPair.publicKeyByteCount])
        guard ConstantTime.equal(bytes[BoxKeyPair.publicKeyByteCount...], Self.checksum(publicKey)) else {
            throw RecoveryKeyError(.recipientChecksumMismatch)
        }
        self.publicKey = publicKey
    }

    /// The text form, `esr1:…`.
    package var text: String {
        Self.prefix + Base64URL.encode(publicKey + Self.checksum(publicKey))
    }

    /// The text form: a recipient is public.
    package var description: String { text }

    /// The first 4 bytes of unkeyed BLAKE2b-16 over `[publicKey]`.
    static func checksum(_ publicKey: [UInt8]) -> [UInt8] {
        do {
            return Array(try BLAKE2b.hash(outputByteCount: 16, parts: [publicKey]).prefix(checksumByteCount))
        } catch {
            // 16 is a valid BLAKE2b output length and 32 bytes a valid part: this cannot fail.
            preconditionFailure("BLAKE2b-16 over a public key failed: \(error)")
        }
    }
}

extension StringProtocol {
    /// The text without leading and trailing spaces, tabs, carriage returns and line feeds.
    func trimmingWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        let text = Substring(self)
        guard let first = text.firstIndex(where: { !isSpace($0) }), let last = text.lastIndex(where: { !isSpace($0) }) else { return "" }
        return text[first...last]
    }
}
