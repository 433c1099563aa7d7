import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import SealedDotenv
import SodiumKit

/// Turns the errors of the sealed-file code and the key service into envseal's messages and exit
/// codes (docs/CLI.md). Messages name the file and variable, never a value; the exit code is
/// derived from ``ErrorClassification``, as `SealedEnvironment.LoadError`'s cause is.
enum ErrorReport {
    static func cliError(_ error: any Error, file: String?) -> CLIError {
        if let error = error as? CLIError { return error }
        let place = file.map { "\($0): " } ?? ""
        let classified = ErrorClassification(error)
        let exitCode = EnvSealExit.code(for: classified.kind)
        switch error {
        case let error as LambdaValueError:
            let inner = cliError(error.underlying, file: nil)
            return CLIError(place + "variable \(error.name): " + inner.message, hint: inner.hint, exitCode: exitCode)
        case let error as KMSError:
            return CLIError(place + "the key service refused: \(error.description)",
                            hint: hint(for: classified.kind, keyServiceErrorType: error.type), exitCode: exitCode)
        case let error as KMSTransportError where error.kind == .invalidResponse:
            return CLIError(place + "the key service gave an unusable answer: \(error.description)",
                            hint: "is --endpoint a KMS endpoint?", exitCode: exitCode)
        case let error as KMSTransportError where error.kind != .configuration:
            return CLIError(place + "the key service did not answer: \(error.description)",
                            hint: "check --endpoint and that the server is running", exitCode: exitCode)
        case let error as SealedFileError where error.kind == .notSealed:
            let hint = file.flatMap(lambdaModeHint(for:)) ?? "seal it first with `envseal encrypt`"
            return CLIError(place + error.description, hint: hint, exitCode: exitCode)
        case let error as FormatError where error.isTampering:
            return CLIError(place + error.description, hint: "the file was changed after sealing; restore it from version control",
                            exitCode: exitCode)
        case let error as SealedFileError where error.isTampering:
            return CLIError(place + error.description, hint: "the file was changed or replaced after sealing; restore it from version control",
                            exitCode: exitCode)
        default:
            return CLIError(place + "\(error)", exitCode: exitCode)
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

    /// The hint for a refusal of the key service, by what it means (and, for a key that cannot
    /// be used, by whether it exists).
    static func hint(for kind: ErrorClassification.Kind, keyServiceErrorType type: KMSErrorType?) -> String? {
        switch kind {
        case .wrongKey: "the data key does not unwrap with this key and encryption context"
        case .keyUnavailable where type == .notFound: "`envseal keys list` shows the keys and aliases there are"
        case .keyUnavailable: "the key is disabled or pending deletion; `envseal keys describe` tells which"
        case .accessDenied: "check the credentials and the key policy"
        case .wrongRecoveryKey: "`envseal recovery recipient KEYFILE` prints a recovery key's recipient; the file must be sealed for it"
        default: nil
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
