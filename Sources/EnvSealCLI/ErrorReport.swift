import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import SealedDotenv

/// Turns the errors of the sealed-file code and the key service into envseal's messages and exit
/// codes (docs/CLI.md). Messages name the file and variable, never a value.
enum ErrorReport {
    static func cliError(_ error: any Error, file: String?) -> CLIError {
        let place = file.map { "\($0): " } ?? ""
        switch error {
        case let error as CLIError:
            return error
        case let error as FormatError where error.isTampering:
            return CLIError(place + error.description, hint: "the file was changed after sealing; restore it from version control",
                            exitCode: EnvSealExit.tampered)
        case let error as FormatError:
            return CLIError(place + error.description, exitCode: EnvSealExit.malformedInput)
        case let error as SealedFileError:
            switch error.kind {
            case .notSealed:
                return CLIError(place + error.description, hint: "seal it first with `envseal encrypt`", exitCode: EnvSealExit.malformedInput)
            case .invalidPattern, .nothingSelected, .invalidName, .noSuchVariable:
                return CLIError(place + error.description, exitCode: EnvSealExit.usage)
            default:
                return CLIError(place + error.description, exitCode: EnvSealExit.malformedInput)
            }
        case let error as LambdaValueError:
            let inner = cliError(error.underlying, file: nil)
            return CLIError(place + "variable \(error.name): " + inner.message, hint: inner.hint, exitCode: inner.exitCode)
        case let error as KMSError:
            return keyServiceError(error, place: place)
        case let error as KMSTransportError:
            switch error.kind {
            case .configuration:
                return CLIError(place + error.description, exitCode: EnvSealExit.configuration)
            default:
                return CLIError(place + "the key service did not answer: \(error.description)",
                                hint: "check --endpoint and that the server is running", exitCode: EnvSealExit.unavailable)
            }
        case let error as DotenvFile.EditError:
            return CLIError(place + error.description, exitCode: EnvSealExit.malformedInput)
        default:
            return CLIError(place + "\(error)")
        }
    }

    static func keyServiceError(_ error: KMSError, place: String) -> CLIError {
        let message = place + "the key service refused: \(error.description)"
        switch error.type {
        case .invalidCiphertext, .incorrectKey:
            return CLIError(message, hint: "the data key does not unwrap with this key and encryption context",
                            exitCode: EnvSealExit.wrongKey)
        case .notFound:
            return CLIError(message, hint: "`envseal keys list` shows the keys and aliases there are", exitCode: EnvSealExit.keyUnavailable)
        case .disabled, .kmsInvalidState:
            return CLIError(message, hint: "the key is disabled, pending deletion or gone; `envseal keys describe` tells which",
                            exitCode: EnvSealExit.keyUnavailable)
        case .accessDenied, .unrecognizedClient, .invalidSignature, .incompleteSignature,
             .missingAuthenticationToken, .expiredToken, .requestExpired:
            return CLIError(message, hint: "check the credentials and the key policy", exitCode: EnvSealExit.accessDenied)
        case .throttling, .internalFailure, .serviceUnavailable, .kmsInternal:
            return CLIError(message, exitCode: EnvSealExit.unavailable)
        default:
            return CLIError(message)
        }
    }
}

extension KeyServiceConnection {
    /// Runs a key-service call, reporting a failure in envseal's words.
    func run<T>(file: String? = nil, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw ErrorReport.cliError(error, file: file)
        }
    }
}
