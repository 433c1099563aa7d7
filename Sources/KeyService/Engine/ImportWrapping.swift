import _CryptoExtras
import Foundation
import KMSWire
import SodiumKit

/// The RSA wrapping keys of imported key material, through swift-crypto's `_CryptoExtras`
/// (libsodium has no RSA): a fresh key pair per GetParametersForImport, and RSA-OAEP decryption
/// of the material ImportKeyMaterial brings.
enum ImportWrapping {
    /// The wrapping algorithms envseal accepts, with their OAEP hash.
    enum Algorithm: String, Sendable {
        case oaepSHA256 = "RSAES_OAEP_SHA_256"
        case oaepSHA1 = "RSAES_OAEP_SHA_1"

        var padding: _RSA.Encryption.Padding {
            switch self {
            case .oaepSHA256: .PKCS1_OAEP_SHA256
            case .oaepSHA1: .PKCS1_OAEP
            }
        }

        /// The algorithm of a request, or `UnsupportedOperationException` naming what envseal takes.
        init(_ spec: KMS.AlgorithmSpec) throws(KMSError) {
            guard let algorithm = Algorithm(rawValue: spec.rawValue) else {
                throw KMSError(.unsupportedOperation,
                    "envseal does not support WrappingAlgorithm \(spec.rawValue): use RSAES_OAEP_SHA_256 (or RSAES_OAEP_SHA_1); "
                        + "the RSA_AES_KEY_WRAP, PKCS#1 v1.5 and SM2 algorithms are not implemented")
            }
            self = algorithm
        }
    }

    /// The RSA modulus size of a WrappingKeySpec, or `UnsupportedOperationException`.
    static func keySize(_ spec: KMS.WrappingKeySpec) throws(KMSError) -> _RSA.Signing.KeySize {
        switch spec {
        case .rsa2048: return .bits2048
        case .rsa3072: return .bits3072
        case .rsa4096: return .bits4096
        default:
            throw KMSError(.unsupportedOperation, "envseal does not support WrappingKeySpec \(spec.rawValue): use RSA_2048, RSA_3072 or RSA_4096")
        }
    }

    /// A new key pair: the private key's DER in guarded memory, and the public key as DER
    /// SubjectPublicKeyInfo (what AWS returns as PublicKey). Made off the caller's executor
    /// (``OffThread``): an RSA key takes up to seconds.
    static func newKeyPair(_ size: _RSA.Signing.KeySize) async throws(KMSError) -> (privateKey: SecureBytes, publicKey: Data) {
        try await OffThread.run { () throws(KMSError) in try newKeyPairHere(size) }
    }

    private static func newKeyPairHere(_ size: _RSA.Signing.KeySize) throws(KMSError) -> (privateKey: SecureBytes, publicKey: Data) {
        do {
            let key = try _RSA.Encryption.PrivateKey(keySize: size)
            // The DER passes through one unguarded `Data` on its way into guarded memory.
            let der = key.derRepresentation
            let privateKey = try der.withUnsafeBytes { (raw) throws(SodiumError) in try SecureBytes(copying: raw) }
            return (privateKey, key.publicKey.derRepresentation)
        } catch {
            throw KMSError(.kmsInternal, "cannot make an RSA wrapping key pair")
        }
    }

    /// The material RSA-OAEP-wrapped under the public half of `privateKey`, in guarded memory.
    /// - Throws: `InvalidCiphertextException` when it does not decrypt (wrapped under another key,
    ///   with another algorithm, or damaged).
    static func unwrap(_ encrypted: Data, privateKey: SecureBytes, algorithm: Algorithm) throws(KMSError) -> SecureBytes {
        let key: _RSA.Encryption.PrivateKey
        do {
            key = try privateKey.withUnsafeBytes { raw in try _RSA.Encryption.PrivateKey(derRepresentation: Data(raw)) }
        } catch {
            throw KMSError(.kmsInternal, "the stored wrapping key does not parse")
        }
        let plaintext: Data
        do {
            plaintext = try key.decrypt(encrypted, padding: algorithm.padding)
        } catch {
            throw KMSError(.invalidCiphertext,
                "EncryptedKeyMaterial does not decrypt with this import token's wrapping key and \(algorithm.rawValue): "
                    + "wrap the material with the PublicKey that came with the ImportToken")
        }
        do {
            return try plaintext.withUnsafeBytes { (raw) throws(SodiumError) in try SecureBytes(copying: raw) }
        } catch {
            throw KMSError(.kmsInternal, "cannot hold the imported material in guarded memory")
        }
    }
}
