/// An error reading a recovery recipient (`esr1:…`) or a recovery key file (`esk1:…`, `esk1p:…`),
/// or unlocking one with a passphrase.
///
/// The description says what was wrong and where; it never holds key bytes or a passphrase (a
/// recipient is public, but is not repeated either: the caller names where it came from).
package struct RecoveryKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    package enum Reason: Sendable, Equatable {
        /// The text is not a recipient: prefix, base64url or length.
        case invalidRecipient(String)
        /// The recipient's 4-byte checksum does not match its key: mistyped or cut short.
        case recipientChecksumMismatch
        /// The file is not a recovery key file: no key line, two key lines, a bad prefix, base64url
        /// or length, or cost parameters out of range.
        case malformedKeyFile(String)
        /// The file parses but its bytes do not agree with each other (the checksum, the public
        /// key, the recipient comment): it was damaged or edited.
        case damagedKeyFile(String)
        /// The key file is protected by a passphrase and none was given.
        case passphraseRequired
        /// The passphrase does not open the key file.
        case wrongPassphrase
        /// The sealed file has no slot for the recovery key's recipient (given in text form).
        case noSlotForRecipient(String)
    }

    /// What went wrong.
    package let reason: Reason

    package init(_ reason: Reason) { self.reason = reason }

    /// `true` when the recovery key is the wrong one: a passphrase that does not open it, or a
    /// sealed file with no slot for it (exit 52, as a wrong key).
    package var isWrongKey: Bool {
        switch reason {
        case .wrongPassphrase, .noSlotForRecipient: true
        default: false
        }
    }

    /// What was wrong, without any key bytes.
    package var description: String {
        switch reason {
        case .invalidRecipient(let why):
            return "invalid recovery recipient: \(why)"
        case .recipientChecksumMismatch:
            return "invalid recovery recipient: its checksum does not match (mistyped or cut short)"
        case .malformedKeyFile(let why):
            return "not an envseal recovery key file: \(why)"
        case .damagedKeyFile(let why):
            return "the recovery key file is damaged or was edited: \(why)"
        case .passphraseRequired:
            return "the recovery key file is protected by a passphrase and none was given"
        case .wrongPassphrase:
            return "wrong passphrase: it does not open the recovery key file"
        case .noSlotForRecipient(let recipient):
            return "the file is not sealed for this recovery key: no slot for its recipient \(recipient)"
        }
    }
}
