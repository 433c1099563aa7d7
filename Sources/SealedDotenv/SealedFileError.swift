/// An error of a sealed-file operation that is neither a format error nor the key service's.
///
/// Descriptions name the variable or pattern at fault and never hold a value.
public struct SealedFileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
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
    }

    /// What went wrong.
    public let kind: Kind

    /// Creates an error.
    public init(_ kind: Kind) { self.kind = kind }

    public var description: String {
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
        }
    }
}
