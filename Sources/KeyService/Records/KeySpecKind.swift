import Foundation

/// What a key is, fixed when it is created: AWS's `KeySpec`, among those envseal makes.
package enum KeySpecKind: String, Sendable, Codable, CaseIterable {
    /// A 256-bit symmetric encryption key (`ENCRYPT_DECRYPT`).
    case symmetricDefault = "SYMMETRIC_DEFAULT"
    /// An HMAC-SHA-256 key of 32 bytes (`GENERATE_VERIFY_MAC`).
    case hmac256 = "HMAC_256"
    /// An HMAC-SHA-384 key of 48 bytes (`GENERATE_VERIFY_MAC`), through swift-crypto.
    case hmac384 = "HMAC_384"
    /// An HMAC-SHA-512 key of 64 bytes (`GENERATE_VERIFY_MAC`).
    case hmac512 = "HMAC_512"
    /// An ECDSA key on NIST P-256 (`SIGN_VERIFY`, ECDSA_SHA_256).
    case eccNistP256 = "ECC_NIST_P256"
    /// An ECDSA key on NIST P-384 (`SIGN_VERIFY`, ECDSA_SHA_384).
    case eccNistP384 = "ECC_NIST_P384"
    /// An ECDSA key on NIST P-521 (`SIGN_VERIFY`, ECDSA_SHA_512).
    case eccNistP521 = "ECC_NIST_P521"
    /// A 2048-bit RSA key (`SIGN_VERIFY`, PSS and PKCS #1 v1.5).
    case rsa2048 = "RSA_2048"
    /// A 3072-bit RSA key (`SIGN_VERIFY`).
    case rsa3072 = "RSA_3072"
    /// A 4096-bit RSA key (`SIGN_VERIFY`).
    case rsa4096 = "RSA_4096"

    /// AWS's `KeyUsage` for the spec.
    package var keyUsage: String {
        switch self {
        case .symmetricDefault: "ENCRYPT_DECRYPT"
        case .hmac256, .hmac384, .hmac512: "GENERATE_VERIFY_MAC"
        default: "SIGN_VERIFY"
        }
    }

    /// Whether it is the symmetric encryption key (the only spec that encrypts and rotates).
    package var isSymmetric: Bool { self == .symmetricDefault }

    /// Whether it is an HMAC key.
    package var isHMAC: Bool { self == .hmac256 || self == .hmac384 || self == .hmac512 }

    /// Whether it is an asymmetric signing key (ECC or RSA).
    package var isSigning: Bool { !isSymmetric && !isHMAC }

    /// The length of its key material in bytes; for a signing key, of the private key's encoding
    /// as stored (the private scalar for ECC, PKCS #1 DER for RSA, whose length varies).
    package var materialByteCount: Int {
        switch self {
        case .symmetricDefault, .hmac256: 32
        case .hmac384: 48
        case .hmac512: 64
        case .eccNistP256: 32
        case .eccNistP384: 48
        case .eccNistP521: 66
        case .rsa2048, .rsa3072, .rsa4096: 0
        }
    }
}
