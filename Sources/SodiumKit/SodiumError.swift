/// An error from a cryptographic operation.
///
/// ``isAuthenticationFailure`` separates "this does not open with this key" (a wrong key, a
/// wrong context, a forged or corrupted ciphertext) from misuse (a bad length or parameter),
/// which is a bug or bad input and must not be retried with another key.
public struct SodiumError: Error, Sendable, Equatable, CustomStringConvertible {
    enum Kind: Equatable, Sendable {
        case authenticationFailed
        case invalidLength(what: String, expected: String, actual: Int)
        case invalidParameter(String)
        case outOfMemory
        case operationFailed(String)
    }

    let kind: Kind

    /// A ciphertext did not authenticate under the given key and associated data.
    public static let authenticationFailed = SodiumError(kind: .authenticationFailed)

    @usableFromInline
    static func invalidLength(_ what: String, expected: String, actual: Int) -> SodiumError {
        SodiumError(kind: .invalidLength(what: what, expected: expected, actual: actual))
    }

    static func invalidParameter(_ message: String) -> SodiumError {
        SodiumError(kind: .invalidParameter(message))
    }

    static let outOfMemory = SodiumError(kind: .outOfMemory)

    static func operationFailed(_ operation: String) -> SodiumError {
        SodiumError(kind: .operationFailed(operation))
    }

    /// `true` when the input failed authentication (wrong key, wrong associated data, forgery).
    public var isAuthenticationFailure: Bool { kind == .authenticationFailed }

    /// `true` when an input had the wrong length.
    public var isInvalidLength: Bool {
        if case .invalidLength = kind { return true }
        return false
    }

    /// `true` when a parameter was out of range.
    public var isInvalidParameter: Bool {
        if case .invalidParameter = kind { return true }
        return false
    }

    /// What went wrong, never including any secret or input bytes.
    public var description: String {
        switch kind {
        case .authenticationFailed:
            return "authentication failed: wrong key, wrong associated data, or corrupted data"
        case .invalidLength(let what, let expected, let actual):
            return "invalid \(what) length: expected \(expected) bytes, got \(actual)"
        case .invalidParameter(let message):
            return "invalid parameter: \(message)"
        case .outOfMemory:
            return "out of guarded memory"
        case .operationFailed(let operation):
            return "\(operation) failed"
        }
    }
}
