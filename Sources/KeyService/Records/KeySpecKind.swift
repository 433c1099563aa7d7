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

    /// AWS's `KeyUsage` for the spec.
    package var keyUsage: String {
        self == .symmetricDefault ? "ENCRYPT_DECRYPT" : "GENERATE_VERIFY_MAC"
    }

    /// Whether it is an HMAC key.
    package var isHMAC: Bool { self != .symmetricDefault }

    /// The length of its key material in bytes.
    package var materialByteCount: Int {
        switch self {
        case .symmetricDefault, .hmac256: 32
        case .hmac384: 48
        case .hmac512: 64
        }
    }
}
