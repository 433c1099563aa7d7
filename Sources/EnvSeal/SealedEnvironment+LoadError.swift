import EnvSealFormat
import KMSClient
import KMSWire
import SealedDotenv

extension SealedEnvironment {
    /// Why a sealed environment did not load: the variable at fault (when one is) and the cause.
    ///
    /// The message says what went wrong and where; it never holds a value or a key.
    public struct LoadError: Error, Sendable, CustomStringConvertible {
        /// The kind of failure.
        public enum Cause: Sendable, Equatable {
            /// The environment has nothing sealed (no header, no lambda-mode variables).
            case notSealed
            /// A variable was removed, added, changed or moved after sealing, a header was removed
            /// from sealed values, or the file is not the one expected (another context or key):
            /// stop, do not retry.
            case tampered
            /// The header or a value does not parse, or a plaintext is not text.
            case malformed
            /// The source file cannot be read.
            case unreadable
            /// The key service refused; its AWS error type (for example `AccessDeniedException`,
            /// `DisabledException`, `InvalidCiphertextException`).
            case keyService(String)
            /// The key service could not be reached in time.
            case unreachable
            /// No region, credentials or function name to work with.
            case notConfigured
        }

        /// The kind of failure.
        public let cause: Cause
        /// The variable at fault, when one is.
        public let variable: String?
        /// What went wrong and where.
        public let message: String

        init(_ cause: Cause, variable: String?, _ message: String) {
            self.cause = cause
            self.variable = variable
            self.message = message
        }

        /// Classifies an error of the layers below.
        init(describing error: any Error) {
            switch error {
            case let error as FormatError:
                self.init(error.isTampering ? .tampered : .malformed, variable: Self.variable(in: error), error.description)
            case let error as SealedFileError:
                switch error.kind {
                case .notSealed: self.init(.notSealed, variable: nil, error.description)
                case .sealedValueWithoutHeader(let name): self.init(.tampered, variable: name, error.description)
                case .unexpectedContext, .unexpectedKey: self.init(.tampered, variable: nil, error.description)
                case .duplicateVariable(let name), .noSuchVariable(let name), .invalidName(let name),
                     .invalidValue(let name, _), .notLambdaCiphertext(let name):
                    self.init(.malformed, variable: name, error.description)
                default: self.init(.malformed, variable: nil, error.description)
                }
            case let error as LambdaValueError:
                let inner = LoadError(describing: error.underlying)
                self.init(inner.cause, variable: error.name, "\(error.name): \(inner.message)")
            case let error as KMSError:
                self.init(.keyService(error.type.rawValue), variable: nil, "the key service refused: \(error.description)")
            case let error as KMSTransportError:
                self.init(error.kind == .configuration ? .notConfigured : .unreachable, variable: nil, error.description)
            default:
                self.init(.malformed, variable: nil, "\(type(of: error))")
            }
        }

        static func variable(in error: FormatError) -> String? {
            switch error.kind {
            case .valueNotAuthentic(let name), .missingVariable(let name), .unlistedVariable(let name), .changedVariable(let name):
                return name
            default:
                return nil
            }
        }

        public var description: String { message }
    }
}
