package import EnvSealFormat

/// An error of a sealed-file operation that is neither a format error nor the key service's.
///
/// Descriptions name the variable or pattern at fault and never hold a value.
package struct SealedFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    package enum Kind: Sendable, Equatable {
        /// The file has no `ENVSEAL` header: it was never sealed (or is in lambda mode).
        case notSealed
        /// The file already has an `ENVSEAL` header.
        case alreadySealed
        /// A name is assigned more than once, so which value counts would be ambiguous.
        case duplicateVariable(name: String)
        /// The named variable is not in the file.
        case noSuchVariable(name: String)
        /// The name cannot be a variable (or is the header's own name).
        case invalidName(name: String)
        /// A value cannot be stored: NUL bytes, or too long for its mode.
        case invalidValue(name: String, reason: String)
        /// A lambda-mode value is not a base64 KMS ciphertext.
        case notLambdaCiphertext(name: String)
        /// A `--only`/`--except` pattern is not a valid regular expression.
        case invalidPattern(pattern: String, reason: String)
        /// Nothing matched the selection.
        case nothingSelected
        /// A variable holds a sealed (`es1:`) value but there is no `ENVSEAL` header to verify it
        /// with: the header was removed.
        case sealedValueWithoutHeader(name: String)
        /// The header's encryption context is not the one the caller expects: another sealed
        /// file was put in this one's place.
        case unexpectedContext(found: EncryptionContext, expected: EncryptionContext)
        /// The data key is not wrapped under the master key the caller expects (as given: key ID,
        /// ARN, alias name or alias ARN).
        case unexpectedKey(expected: String)
        /// No slot of the header opened the file: each failure, by slot.
        case noSlotOpens(failures: [SealedFile.SlotFailure])
        /// No slot matches what was to be removed.
        case noSuchSlot
        /// Removing would leave the file with no slot, and nobody able to open it.
        case lastSlot
        /// A key-service slot records no key ARN and its ciphertext names none envseal can read.
        case slotKeyUnknown(slot: Int)
        /// Another key was named for a file with several key-service slots.
        case severalKeySlots
    }

    /// What went wrong.
    package let kind: Kind

    package init(_ kind: Kind) { self.kind = kind }

    package var description: String {
        switch kind {
        case .notSealed: return "the file has no ENVSEAL header: it is not sealed in envelope mode"
        case .alreadySealed: return "the file is already sealed (it has an ENVSEAL header)"
        case .duplicateVariable(let name): return "variable \(name) is assigned more than once"
        case .noSuchVariable(let name): return "variable \(name) is not in the file"
        case .invalidName(let name): return "\(name) cannot be a variable name here"
        case .invalidValue(let name, let reason): return "the value of \(name) cannot be sealed: \(reason)"
        case .notLambdaCiphertext(let name): return "the value of \(name) is not a base64 KMS ciphertext"
        case .invalidPattern(let pattern, let reason): return "invalid pattern \(pattern): \(reason)"
        case .nothingSelected: return "no variable matches the selection"
        case .sealedValueWithoutHeader(let name):
            return "variable \(name) holds a sealed value but the file has no \(SealedFileHeader.variableName) header: the header was removed"
        case .unexpectedContext(let found, let expected):
            return "the file is sealed with encryption context \(found), not the expected \(expected): another sealed file is in its place"
        case .unexpectedKey(let expected):
            return "the file's data key is not wrapped under the expected key \(expected): another sealed file is in its place"
        case .noSlotOpens(let failures):
            if failures.isEmpty { return "no slot of the header can be tried: it holds only recovery recipients and no recovery key was given" }
            return "no slot of the header opens the file: " + failures.map(\.description).joined(separator: "; ")
        case .noSuchSlot: return "no slot of the header matches"
        case .lastSlot: return "that would remove the header's last slot, and nobody could open the file"
        case .slotKeyUnknown(let slot): return "slot \(slot) records no key ARN, and its ciphertext names no key envseal can read"
        case .severalKeySlots: return "the file has several key slots: add or remove keys with `keys add`/`keys remove` instead of naming one"
        }
    }

    /// `true` for the kinds that mean "forged or substituted": stop, do not try another way.
    package var isTampering: Bool {
        switch kind {
        case .sealedValueWithoutHeader, .unexpectedContext, .unexpectedKey: return true
        default: return false
        }
    }
}
