import EnvSealFormat
import KMSClient
import KMSWire
import SealedDotenv

extension SealedEnvironment {
    /// Why a sealed environment did not load: the variable at fault (when one is) and the cause.
    ///
    /// The message says what went wrong and where; it never holds a value or a key.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        /// The kind of failure: one of the static members below.
        ///
        /// A struct rather than an enum so that a cause can be added without breaking a `switch`
        /// in a function; compare with `==` or match with `case .tampered:` (and a `default:`).
        public struct Cause: Sendable, Hashable, CustomStringConvertible {
            /// The cause's name, as the static member is spelled: `tampered`.
            public let name: String

            private init(_ name: String) { self.name = name }

            /// The environment has nothing sealed (no header, no lambda-mode variables).
            public static let notSealed = Cause("notSealed")
            /// A variable was removed, added, changed or moved after sealing, a header was removed
            /// from sealed values, or the file is not the one expected (another context or key):
            /// stop, do not retry.
            public static let tampered = Cause("tampered")
            /// The header or a value does not parse, or a plaintext is not text.
            public static let malformed = Cause("malformed")
            /// The source file cannot be read.
            public static let unreadable = Cause("unreadable")
            /// The key service refused; ``LoadError/keyServiceErrorType`` holds its AWS error type
            /// (for example `AccessDeniedException`, `DisabledException`,
            /// `InvalidCiphertextException`).
            public static let keyService = Cause("keyService")
            /// The key service could not be reached in time.
            public static let unreachable = Cause("unreachable")
            /// No region, credentials or function name to work with; or a passphrase-protected
            /// recovery key file without `ENVSEAL_RECOVERY_PASSPHRASE`.
            public static let notConfigured = Cause("notConfigured")
            /// The recovery key (`ENVSEAL_RECOVERY_KEY_FILE`) does not open the environment: its
            /// passphrase is wrong, or the header has no slot for its recipient.
            public static let recoveryKey = Cause("recoveryKey")

            /// The cause's name.
            public var description: String { name }

            /// The cause of a classified failure.
            init(_ kind: ErrorClassification.Kind) {
                switch kind {
                case .notSealed: self = .notSealed
                case .tampered: self = .tampered
                case .malformed, .invalidSelection, .unclassified: self = .malformed
                case .unreadable: self = .unreadable
                case .wrongKey, .keyUnavailable, .accessDenied, .keyServiceBusy, .keyServiceRefused: self = .keyService
                case .unreachable, .invalidResponse: self = .unreachable
                case .notConfigured: self = .notConfigured
                case .wrongRecoveryKey: self = .recoveryKey
                }
            }
        }

        /// The kind of failure.
        public var cause: Cause { Cause(classification) }
        /// The key service's error type when it refused (``Cause/keyService``), else `nil`.
        public let keyServiceErrorType: KMSErrorType?
        /// The variable at fault, when one is.
        public let variable: String?
        /// What went wrong and where.
        public let message: String
        /// The failure as the layers below classify it, which the cause and the CLI's exit code
        /// are derived from.
        package let classification: ErrorClassification.Kind

        /// Creates an error of a classified kind.
        package init(_ classification: ErrorClassification.Kind, variable: String?, _ message: String, keyServiceErrorType: KMSErrorType? = nil) {
            self.classification = classification
            self.variable = variable
            self.message = message
            self.keyServiceErrorType = keyServiceErrorType
        }

        /// Classifies an error of the layers below (see ``ErrorClassification``).
        package init(describing error: any Error) {
            let classified = ErrorClassification(error)
            self.init(classified.kind, variable: classified.variable, Self.message(for: error),
                      keyServiceErrorType: classified.keyServiceErrorType)
        }

        /// The message for an error of the layers below; an error of another kind is named by its
        /// type alone, since its description might hold anything.
        static func message(for error: any Error) -> String {
            switch error {
            case let error as LambdaValueError: "\(error.name): \(message(for: error.underlying))"
            case let error as KMSError: "the key service refused: \(error.description)"
            case let error as FormatError: error.description
            case let error as SealedFileError: error.description
            case let error as KMSTransportError: error.description
            case let error as RecoveryKeyError: error.description
            default: "\(type(of: error))"
            }
        }

        public var description: String { message }
    }
}
