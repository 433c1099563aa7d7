import ArgumentParser
import SealedDotenv

/// envseal's exit codes, documented in docs/CLI.md. Scripts may rely on them.
package enum EnvSealExit {
    package static let success: Int32 = 0
    /// A failure with no more specific code.
    package static let failure: Int32 = 1
    /// Bad command-line usage (ArgumentParser's validation code).
    package static let usage: Int32 = 64
    /// An input file is malformed: dotenv syntax, a header or a sealed value that does not parse.
    package static let malformedInput: Int32 = 65
    /// An input file is missing or unreadable.
    package static let cannotRead: Int32 = 66
    /// A sealed file was tampered with: a variable missing, added, changed, or not authentic.
    package static let tampered: Int32 = 51
    /// The data key did not unwrap: wrong key, wrong encryption context, or a corrupted wrapped key.
    package static let wrongKey: Int32 = 52
    /// The key is disabled, pending deletion, or does not exist.
    package static let keyUnavailable: Int32 = 53
    /// The key service is unreachable, timed out, or kept throttling past the deadline.
    package static let unavailable: Int32 = 69
    /// An output file could not be written.
    package static let cannotWrite: Int32 = 73
    /// The caller is not allowed: bad credentials or signature, or the key policy denies it.
    package static let accessDenied: Int32 = 77
    /// The key service is not configured: no region, no credentials, a bad endpoint.
    package static let configuration: Int32 = 78
}

extension EnvSealExit {
    /// The exit code for a failure of the layers below, as ``ErrorClassification`` classifies it.
    static func code(for kind: ErrorClassification.Kind) -> Int32 {
        switch kind {
        case .notSealed, .malformed: malformedInput
        case .tampered: tampered
        case .invalidSelection: usage
        case .unreadable: cannotRead
        case .wrongKey, .wrongRecoveryKey: wrongKey
        case .keyUnavailable: keyUnavailable
        case .accessDenied: accessDenied
        case .keyServiceBusy, .unreachable, .invalidResponse: unavailable
        case .notConfigured: configuration
        case .keyServiceRefused, .unclassified: failure
        }
    }
}

/// An error the CLI reports as `envseal: error: …` with an exit code.
struct CLIError: Error, CustomStringConvertible {
    let message: String
    let hint: String?
    let exitCode: Int32

    init(_ message: String, hint: String? = nil, exitCode: Int32 = EnvSealExit.failure) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
    }

    var description: String { message }
}
