import Crypto
import Foundation
import KMSWire
import SodiumKit
import _CryptoExtras

/// An asymmetric signing key (ECC_NIST_P256/P384/P521, RSA_2048/3072/4096) for one call, parsed
/// from its material: ECDSA and RSA come from swift-crypto (BoringSSL), since libsodium has
/// neither.
///
/// The material as stored (wrapped under the root key) is the private scalar for ECC (32, 48 or
/// 66 bytes) and the PKCS #1 DER `RSAPrivateKey` for RSA. It is unwrapped into guarded memory
/// (``SecureBytes``) and parsed from there; the parsed key lives in BoringSSL's heap, which
/// BoringSSL zeroes when it frees it (`OPENSSL_free` cleanses), once this value goes.
struct SigningKey {
    private enum Backing {
        case p256(P256.Signing.PrivateKey)
        case p384(P384.Signing.PrivateKey)
        case p521(P521.Signing.PrivateKey)
        case rsa(_RSA.Signing.PrivateKey)
    }

    private let backing: Backing

    /// Parses stored material for `spec`.
    /// - Throws: `KMSInternalException` when it does not parse (it was written by this service,
    ///   so that is damage, not bad input).
    init(material: SecureBytes, spec: KeySpecKind) throws(KMSError) {
        do {
            backing = try material.withUnsafeBytes { (raw) throws -> Backing in
                switch spec {
                case .eccNistP256: return .p256(try P256.Signing.PrivateKey(rawRepresentation: raw))
                case .eccNistP384: return .p384(try P384.Signing.PrivateKey(rawRepresentation: raw))
                case .eccNistP521: return .p521(try P521.Signing.PrivateKey(rawRepresentation: raw))
                case .rsa2048, .rsa3072, .rsa4096: return .rsa(try _RSA.Signing.PrivateKey(derRepresentation: raw))
                case .symmetricDefault, .hmac256, .hmac384, .hmac512: throw KMSError(.kmsInternal, "\(spec.rawValue) is not a signing key spec")
                }
            }
        } catch {
            throw KMSError(.kmsInternal, "the stored \(spec.rawValue) private key does not parse")
        }
    }

    /// New private key material for `spec`, in guarded memory, made off the caller's executor
    /// (``OffThread``): an RSA key takes up to seconds.
    static func generate(_ spec: KeySpecKind) async throws(KMSError) -> SecureBytes {
        try await OffThread.run { () throws(KMSError) in try generateHere(spec) }
    }

    /// New private key material for `spec`, made on the calling thread; the encoding swift-crypto
    /// hands out is zeroed once copied.
    private static func generateHere(_ spec: KeySpecKind) throws(KMSError) -> SecureBytes {
        do {
            var encoded: Data
            switch spec {
            case .eccNistP256: encoded = P256.Signing.PrivateKey().rawRepresentation
            case .eccNistP384: encoded = P384.Signing.PrivateKey().rawRepresentation
            case .eccNistP521: encoded = P521.Signing.PrivateKey().rawRepresentation
            case .rsa2048: encoded = try _RSA.Signing.PrivateKey(keySize: .bits2048).derRepresentation
            case .rsa3072: encoded = try _RSA.Signing.PrivateKey(keySize: .bits3072).derRepresentation
            case .rsa4096: encoded = try _RSA.Signing.PrivateKey(keySize: .bits4096).derRepresentation
            case .symmetricDefault, .hmac256, .hmac384, .hmac512: throw KMSError(.kmsInternal, "\(spec.rawValue) is not a signing key spec")
            }
            defer { encoded.resetBytes(in: 0..<encoded.count) }
            return try SecureBytes(copying: encoded)
        } catch {
            throw KMSError(.kmsInternal, "cannot generate a \(spec.rawValue) key")
        }
    }

    /// Private key material given by an operator (a seed file), in the stored form, in guarded
    /// memory: PEM text, or base64 of DER (PKCS #8, SEC 1 for ECC, PKCS #1 for RSA). The key
    /// must be of `spec`'s curve or modulus size.
    /// - Throws: `ValidationException` saying what is wrong, never quoting the text.
    static func importing(_ text: String, spec: KeySpecKind) throws(KMSError) -> SecureBytes {
        let isPEM = text.hasPrefix("-----BEGIN")
        var der = Data()
        if !isPEM {
            guard let decoded = Data(base64Encoded: text) else { throw KMSError(.validation, "not PEM, and not base64") }
            der = decoded
        }
        defer { der.resetBytes(in: 0..<der.count) }
        do {
            var encoded: Data
            switch spec {
            case .eccNistP256:
                encoded = try (isPEM ? P256.Signing.PrivateKey(pemRepresentation: text) : P256.Signing.PrivateKey(derRepresentation: der)).rawRepresentation
            case .eccNistP384:
                encoded = try (isPEM ? P384.Signing.PrivateKey(pemRepresentation: text) : P384.Signing.PrivateKey(derRepresentation: der)).rawRepresentation
            case .eccNistP521:
                encoded = try (isPEM ? P521.Signing.PrivateKey(pemRepresentation: text) : P521.Signing.PrivateKey(derRepresentation: der)).rawRepresentation
            case .rsa2048, .rsa3072, .rsa4096:
                let key = try isPEM ? _RSA.Signing.PrivateKey(pemRepresentation: text) : _RSA.Signing.PrivateKey(derRepresentation: der)
                let bits = spec == .rsa2048 ? 2048 : spec == .rsa3072 ? 3072 : 4096
                guard key.keySizeInBits == bits else { throw KMSError(.validation, "an RSA key of \(key.keySizeInBits) bits, not \(bits)") }
                encoded = key.derRepresentation
            case .symmetricDefault, .hmac256, .hmac384, .hmac512:
                throw KMSError(.validation, "\(spec.rawValue) is not a signing key spec")
            }
            defer { encoded.resetBytes(in: 0..<encoded.count) }
            return try SecureBytes(copying: encoded)
        } catch let error as KMSError {
            throw error
        } catch {
            throw KMSError(.validation, "it does not parse as one")
        }
    }

    /// The public key as AWS's GetPublicKey gives it: DER SubjectPublicKeyInfo (RFC 5280).
    var publicKeyDER: Data {
        switch backing {
        case .p256(let key): key.publicKey.derRepresentation
        case .p384(let key): key.publicKey.derRepresentation
        case .p521(let key): key.publicKey.derRepresentation
        case .rsa(let key): key.publicKey.derRepresentation
        }
    }

    /// Signs a message (hashed here) or a digest the caller made.
    /// - Returns: A DER `ECDSA-Sig-Value` for ECDSA, the PKCS #1 signature (modulus-sized) for RSA.
    func sign(_ input: SigningInput) throws(KMSError) -> Data {
        do {
            let digest = try input.digest()
            switch (backing, input.algorithm.padding) {
            case (.p256(let key), nil): return try key.signature(for: digest).derRepresentation
            case (.p384(let key), nil): return try key.signature(for: digest).derRepresentation
            case (.p521(let key), nil): return try key.signature(for: digest).derRepresentation
            case (.rsa(let key), let padding?): return try key.signature(for: digest, padding: padding).rawRepresentation
            default: throw KMSError(.kmsInternal, "the signing algorithm does not fit the key")
            }
        } catch let error as KMSError {
            throw error
        } catch {
            throw KMSError(.kmsInternal, "signing failed")
        }
    }

    /// Whether `signature` is a valid signature of the input under this key's public half. A
    /// signature that does not parse (not DER for ECDSA) is simply not valid.
    func isValidSignature(_ signature: Data, for input: SigningInput) throws(KMSError) -> Bool {
        let digest = try input.digest()
        switch (backing, input.algorithm.padding) {
        case (.p256(let key), nil):
            guard let parsed = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.publicKey.isValidSignature(parsed, for: digest)
        case (.p384(let key), nil):
            guard let parsed = try? P384.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.publicKey.isValidSignature(parsed, for: digest)
        case (.p521(let key), nil):
            guard let parsed = try? P521.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.publicKey.isValidSignature(parsed, for: digest)
        case (.rsa(let key), let padding?):
            return key.publicKey.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: digest, padding: padding)
        default:
            throw KMSError(.kmsInternal, "the signing algorithm does not fit the key")
        }
    }
}

/// A signing algorithm envseal implements, as AWS names it.
enum SigningAlgorithm: String, CaseIterable {
    case ecdsaSha256 = "ECDSA_SHA_256"
    case ecdsaSha384 = "ECDSA_SHA_384"
    case ecdsaSha512 = "ECDSA_SHA_512"
    case rsassaPssSha256 = "RSASSA_PSS_SHA_256"
    case rsassaPssSha384 = "RSASSA_PSS_SHA_384"
    case rsassaPssSha512 = "RSASSA_PSS_SHA_512"
    case rsassaPkcs1V15Sha256 = "RSASSA_PKCS1_V1_5_SHA_256"
    case rsassaPkcs1V15Sha384 = "RSASSA_PKCS1_V1_5_SHA_384"
    case rsassaPkcs1V15Sha512 = "RSASSA_PKCS1_V1_5_SHA_512"

    enum Hash { case sha256, sha384, sha512 }

    /// The hash the algorithm signs (its name's suffix).
    var hash: Hash {
        switch self {
        case .ecdsaSha256, .rsassaPssSha256, .rsassaPkcs1V15Sha256: .sha256
        case .ecdsaSha384, .rsassaPssSha384, .rsassaPkcs1V15Sha384: .sha384
        case .ecdsaSha512, .rsassaPssSha512, .rsassaPkcs1V15Sha512: .sha512
        }
    }

    /// The digest length in bytes: what a `DIGEST` message must be.
    var digestByteCount: Int {
        switch hash {
        case .sha256: 32
        case .sha384: 48
        case .sha512: 64
        }
    }

    /// RSA's padding; `nil` for ECDSA. PSS's salt is as long as the digest (swift-crypto's
    /// `.PSS`), as AWS's RSASSA_PSS_SHA_* are; MGF1 uses the same hash.
    var padding: _RSA.Signing.Padding? {
        switch self {
        case .ecdsaSha256, .ecdsaSha384, .ecdsaSha512: nil
        case .rsassaPssSha256, .rsassaPssSha384, .rsassaPssSha512: .PSS
        case .rsassaPkcs1V15Sha256, .rsassaPkcs1V15Sha384, .rsassaPkcs1V15Sha512: .insecurePKCS1v1_5
        }
    }

    /// The algorithms a key spec signs with, in AWS's order: P-256 ECDSA_SHA_256 only, P-384
    /// ECDSA_SHA_384, P-521 ECDSA_SHA_512; RSA every RSASSA algorithm.
    static func supported(by spec: KeySpecKind) -> [SigningAlgorithm] {
        switch spec {
        case .eccNistP256: [.ecdsaSha256]
        case .eccNistP384: [.ecdsaSha384]
        case .eccNistP521: [.ecdsaSha512]
        case .rsa2048, .rsa3072, .rsa4096:
            [.rsassaPssSha256, .rsassaPssSha384, .rsassaPssSha512, .rsassaPkcs1V15Sha256, .rsassaPkcs1V15Sha384, .rsassaPkcs1V15Sha512]
        case .symmetricDefault, .hmac256, .hmac384, .hmac512: []
        }
    }
}

/// What Sign signs or Verify checks: a message and how to read it.
struct SigningInput {
    let algorithm: SigningAlgorithm
    let message: Data
    /// `true` for `MessageType` DIGEST: the message is already the digest, and its length was
    /// checked against the algorithm's.
    let isDigest: Bool

    /// The digest to sign, as the concrete swift-crypto digest type of the algorithm's hash:
    /// RSA signing picks the hash (its OID in PKCS #1, its MGF1) from the digest's type.
    func digest() throws(KMSError) -> any Digest {
        switch algorithm.hash {
        case .sha256: try Self.digest(Crypto.SHA256.self, message, isDigest: isDigest)
        case .sha384: try Self.digest(Crypto.SHA384.self, message, isDigest: isDigest)
        case .sha512: try Self.digest(Crypto.SHA512.self, message, isDigest: isDigest)
        }
    }

    /// The message's digest, or the message itself as a digest value.
    ///
    /// swift-crypto has no public way to make a digest value from bytes, so one is made by
    /// hashing nothing and overwriting its bytes. That relies on the digest type being plain
    /// bytes of exactly the digest's length (it is a tuple of `UInt64`s), which is checked before,
    /// and the bytes read back through the type's own `Sequence` after: any other layout fails
    /// closed with an internal error rather than signing something else.
    private static func digest<H: HashFunction>(_ hash: H.Type, _ message: Data, isDigest: Bool) throws(KMSError) -> H.Digest {
        guard isDigest else { return H.hash(data: message) }
        var digest = H.hash(data: Data())
        guard message.count == H.Digest.byteCount, _isPOD(H.Digest.self), MemoryLayout<H.Digest>.size == H.Digest.byteCount else {
            throw KMSError(.kmsInternal, "cannot take a \(H.Digest.byteCount)-byte digest as given")
        }
        withUnsafeMutableBytes(of: &digest) { $0.copyBytes(from: message) }
        guard digest.elementsEqual(message) else {
            throw KMSError(.kmsInternal, "cannot take a \(H.Digest.byteCount)-byte digest as given")
        }
        return digest
    }
}
