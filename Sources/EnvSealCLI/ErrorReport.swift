import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import SealedDotenv
import SodiumKit

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
                let hint = file.flatMap(lambdaModeHint(for:)) ?? "seal it first with `envseal encrypt`"
                return CLIError(place + error.description, hint: hint, exitCode: EnvSealExit.malformedInput)
            case .invalidPattern, .nothingSelected, .invalidName, .noSuchVariable:
                return CLIError(place + error.description, exitCode: EnvSealExit.usage)
            case .sealedValueWithoutHeader, .unexpectedContext, .unexpectedKey:
                return CLIError(place + error.description, hint: "the file was changed or replaced after sealing; restore it from version control",
                                exitCode: EnvSealExit.tampered)
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
            case .invalidResponse:
                return CLIError(place + "the key service gave an unusable answer: \(error.description)",
                                hint: "is --endpoint a KMS endpoint?", exitCode: EnvSealExit.unavailable)
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

    /// For a file without a header whose values look like KMS ciphertexts (base64 of an
    /// envseal key service blob, or of AWS KMS's, which starts `AQICAH`): how to open it in
    /// lambda mode. Reads the file again; standard input cannot be, so it gets no such hint.
    static func lambdaModeHint(for path: String) -> String? {
        guard path != "-", let dotenv = try? FileIO.readDotenv(path) else { return nil }
        let looksLikeCiphertext = dotenv.assignments.contains { assignment in
            guard let blob = try? Base64.decode(assignment.value, variant: .standard) else { return false }
            return assignment.value.hasPrefix("AQICAH") || (try? CiphertextBlob(parsing: blob)) != nil
        }
        guard looksLikeCiphertext else { return nil }
        return "its values look like KMS ciphertexts of lambda mode: open it with `envseal decrypt \(path) --mode lambda --function NAME`"
    }

    static func keyServiceError(_ error: KMSError, place: String) -> CLIError {
        let (code, hint) = outcome(of: error.type)
        return CLIError(place + "the key service refused: \(error.description)", hint: hint, exitCode: code)
    }

    /// The exit code and hint for a key-service error type.
    static func outcome(of type: KMSErrorType) -> (Int32, String?) {
        switch type {
        case .invalidCiphertext, .incorrectKey:
            return (EnvSealExit.wrongKey, "the data key does not unwrap with this key and encryption context")
        case .notFound:
            return (EnvSealExit.keyUnavailable, "`envseal keys list` shows the keys and aliases there are")
        case .disabled, .kmsInvalidState:
            return (EnvSealExit.keyUnavailable, "the key is disabled or pending deletion; `envseal keys describe` tells which")
        case .accessDenied, .unrecognizedClient, .invalidSignature, .incompleteSignature,
             .missingAuthenticationToken, .expiredToken, .requestExpired:
            return (EnvSealExit.accessDenied, "check the credentials and the key policy")
        case .throttling, .internalFailure, .serviceUnavailable, .kmsInternal:
            return (EnvSealExit.unavailable, nil)
        default:
            return (EnvSealExit.failure, nil)
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
