import EnvSealFormat
import Foundation
import SealedDotenv
import SodiumKit

/// Reading the recovery key file that ``SealedEnvironment/Options/recoveryKeyFile`` or
/// `ENVSEAL_RECOVERY_KEY_FILE` names, for ``SealedEnvironment/load(from:provider:options:)``.
enum RecoveryKeyLoading {
    /// The variable naming a recovery key file.
    static let fileVariable = "ENVSEAL_RECOVERY_KEY_FILE"
    /// The variable holding a protected file's passphrase.
    static let passphraseVariable = "ENVSEAL_RECOVERY_PASSPHRASE"

    /// The identity in `file`, unlocked with `ENVSEAL_RECOVERY_PASSPHRASE` when it is protected.
    /// - Throws: ``SealedEnvironment/LoadError``: unreadable, malformed or damaged (`.malformed`),
    ///   protected without a passphrase (`.notConfigured`), a wrong passphrase (`.recoveryKey`).
    static func identity(file: String, environment: [String: String]) throws(SealedEnvironment.LoadError) -> RecoveryIdentity {
        guard var data = FileManager.default.contents(atPath: file) else {
            throw SealedEnvironment.LoadError(.unreadable, variable: nil, "cannot read the recovery key file \(file)")
        }
        var bytes = Array(data)
        defer {
            data.resetBytes(in: 0..<data.count)
            SecureMemory.zero(&bytes)
        }
        do {
            let parsed = try RecoveryKeyFile(parsing: bytes)
            let passphrase = try environment[passphraseVariable].flatMap { $0.isEmpty ? nil : try SecureBytes(utf8: $0) }
            return RecoveryIdentity(try parsed.unlock(passphrase: passphrase))
        } catch let error as RecoveryKeyError {
            let hint = error.reason == .passphraseRequired ? " (set \(passphraseVariable))" : ""
            throw SealedEnvironment.LoadError(ErrorClassification(error).kind, variable: nil, "\(file): \(error)\(hint)")
        } catch {
            throw SealedEnvironment.LoadError(describing: error)
        }
    }
}
