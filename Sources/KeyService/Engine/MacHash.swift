import Crypto
import Foundation
import SodiumKit

/// The hash under an HMAC key's MACs: SHA-256 and SHA-512 through libsodium (SodiumKit), SHA-384
/// through swift-crypto, which libsodium lacks. SHA-224 is in neither, so HMAC_224 is refused.
enum MacHash: Sendable {
    case sha256
    case sha384
    case sha512

    /// The HMAC of `message` under `key`.
    func authenticate(_ message: [UInt8], key: SecureBytes) -> [UInt8] {
        switch self {
        case .sha256: return SodiumKit.HMAC.authenticate(message, key: key, hash: .sha256)
        case .sha512: return SodiumKit.HMAC.authenticate(message, key: key, hash: .sha512)
        case .sha384:
            // swift-crypto's SymmetricKey copies the bytes into its own storage, which it zeroes
            // when released, at the end of this call.
            let symmetricKey = key.withUnsafeBytes { Crypto.SymmetricKey(data: $0) }
            return Array(Crypto.HMAC<Crypto.SHA384>.authenticationCode(for: message, using: symmetricKey))
        }
    }

    /// Whether `mac` is the HMAC of `message` under `key`, compared in constant time.
    func verify(_ mac: [UInt8], of message: [UInt8], key: SecureBytes) -> Bool {
        ConstantTime.equal(authenticate(message, key: key), mac)
    }
}
