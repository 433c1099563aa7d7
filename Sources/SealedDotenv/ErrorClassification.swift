import EnvSealFormat
import KMSClient
package import KMSWire

/// What an error of sealing and opening means: the one classification of the errors of the
/// layers below (formats, sealed files, the key service and the way to it).
///
/// `SealedEnvironment.LoadError`'s cause and the CLI's exit codes (docs/CLI.md) are both derived
/// from ``Kind``, so that a library user and a script see the same failure the same way.
package struct ErrorClassification: Sendable, Equatable {
    /// What kind of failure an error is.
    package enum Kind: Sendable, Equatable, CaseIterable {
        /// Nothing is sealed: the file or environment has no `ENVSEAL` header.
        case notSealed
        /// Forged, changed or substituted after sealing: stop, do not retry.
        case tampered
        /// A header, a sealed value or dotenv text does not parse, or a value cannot be stored.
        case malformed
        /// What the caller asked for does not fit the file: an unknown or impossible variable
        /// name, a bad pattern, or a selection that matches nothing.
        case invalidSelection
        /// A file cannot be read.
        case unreadable
        /// The key service refused because the data key does not unwrap with this key and
        /// encryption context (`InvalidCiphertextException`, `IncorrectKeyException`).
        case wrongKey
        /// A recovery key does not open the file: its passphrase is wrong, or the file has no slot
        /// for its recipient.
        case wrongRecoveryKey
        /// The key service refused because the key is disabled, pending deletion or does not exist.
        case keyUnavailable
        /// The key service refused the caller: credentials, signature, or the key policy.
        case accessDenied
        /// The key service is throttling or failing for now; a later try may succeed.
        case keyServiceBusy
        /// The key service refused for another reason.
        case keyServiceRefused
        /// The key service could not be reached, or did not answer in time.
        case unreachable
        /// The key service answered with something that is not a KMS response.
        case invalidResponse
        /// No region, credentials or function name to work with, or a bad endpoint.
        case notConfigured
        /// An error none of the layers below describes.
        case unclassified
    }

    /// What kind of failure it is.
    package let kind: Kind
    /// The variable at fault, when one is.
    package let variable: String?
    /// The key service's error type, when the key service refused.
    package let keyServiceErrorType: KMSErrorType?

    /// Classifies an error of the layers below; any other error is ``Kind/unclassified``.
    package init(_ error: any Error) {
        switch error {
        case let error as FormatError:
            self.init(error.isTampering ? .tampered : .malformed, variable: Self.variable(in: error))
        case let error as SealedFileError:
            self.init(Self.kind(of: error), variable: Self.variable(in: error))
        case is DotenvError, is DotenvFile.EditError:
            self.init(.malformed)
        case let error as RecoveryKeyError:
            if error.isWrongKey {
                self.init(.wrongRecoveryKey)
            } else {
                self.init(error.reason == .passphraseRequired ? .notConfigured : .malformed)
            }
        case let error as LambdaValueError:
            let inner = ErrorClassification(error.underlying)
            self.init(inner.kind, variable: error.name, keyServiceErrorType: inner.keyServiceErrorType)
        case let error as KMSError:
            self.init(Self.kind(of: error.type), keyServiceErrorType: error.type)
        case let error as KMSTransportError:
            switch error.kind {
            case .configuration: self.init(.notConfigured)
            case .invalidResponse: self.init(.invalidResponse)
            default: self.init(.unreachable)
            }
        default:
            self.init(.unclassified)
        }
    }

    init(_ kind: Kind, variable: String? = nil, keyServiceErrorType: KMSErrorType? = nil) {
        self.kind = kind
        self.variable = variable
        self.keyServiceErrorType = keyServiceErrorType
    }

    /// What a refusal of the key service means, by its error type.
    package static func kind(of type: KMSErrorType) -> Kind {
        switch type {
        case .invalidCiphertext, .incorrectKey:
            return .wrongKey
        case .notFound, .disabled, .kmsInvalidState:
            return .keyUnavailable
        case .accessDenied, .unrecognizedClient, .invalidSignature, .incompleteSignature,
             .missingAuthenticationToken, .expiredToken, .requestExpired:
            return .accessDenied
        case .throttling, .internalFailure, .serviceUnavailable, .kmsInternal:
            return .keyServiceBusy
        default:
            return .keyServiceRefused
        }
    }

    static func kind(of error: SealedFileError) -> Kind {
        switch error.kind {
        case .notSealed: return .notSealed
        case .sealedValueWithoutHeader, .unexpectedContext, .unexpectedKey: return .tampered
        case .invalidPattern, .nothingSelected, .invalidName, .noSuchVariable: return .invalidSelection
        case .alreadySealed, .duplicateVariable, .invalidValue, .notLambdaCiphertext, .slotKeyUnknown: return .malformed
        case .noSuchSlot, .lastSlot, .severalKeySlots: return .invalidSelection
        case .noSlotOpens(let failures): return failures.first?.kind ?? .keyUnavailable
        }
    }

    static func variable(in error: FormatError) -> String? { error.variable }

    static func variable(in error: SealedFileError) -> String? {
        switch error.kind {
        case .sealedValueWithoutHeader(let name), .duplicateVariable(let name), .noSuchVariable(let name),
             .invalidName(let name), .invalidValue(let name, _), .notLambdaCiphertext(let name):
            return name
        default:
            return nil
        }
    }
}
