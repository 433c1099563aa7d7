import CSodium

/// An X25519 key pair for `crypto_box` (and `crypto_box_seal`): the recipient side of an offline
/// recovery key.
///
/// The secret key is 32 bytes in guarded memory; the public key is `crypto_scalarmult_base` of it,
/// so a pair read back from storage is checked by computing the public key again
/// (``init(secretKey:)``) rather than trusting a stored copy.
package struct BoxKeyPair: Sendable {
    /// The length of a public key (`crypto_box_PUBLICKEYBYTES`).
    package static let publicKeyByteCount = 32
    /// The length of a secret key (`crypto_box_SECRETKEYBYTES`).
    package static let secretKeyByteCount = 32

    /// The public key: not secret.
    package let publicKey: [UInt8]
    /// The secret key, in guarded memory.
    package let secretKey: SecureBytes

    /// A new key pair from libsodium's CSPRNG (`crypto_box_keypair`).
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    package static func generate() throws(SodiumError) -> BoxKeyPair {
        Sodium.ensureInitialized()
        var publicKey = [UInt8](repeating: 0, count: publicKeyByteCount)
        var result: Int32 = -1
        let secretKey = try SecureBytes(count: secretKeyByteCount) { out in
            result = publicKey.withUnsafeMutableBufferPointer { pk in
                crypto_box_keypair(pk.baseAddress!, out.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard result == 0 else { throw .operationFailed("crypto_box_keypair") }
        return BoxKeyPair(unchecked: publicKey, secretKey: secretKey)
    }

    /// The pair of an existing secret key: its public key is computed (`crypto_scalarmult_base`).
    /// - Parameter secretKey: 32 bytes.
    /// - Throws: ``SodiumError`` for another length.
    package init(secretKey: SecureBytes) throws(SodiumError) {
        guard secretKey.count == Self.secretKeyByteCount else {
            throw .invalidLength("X25519 secret key", expected: "\(Self.secretKeyByteCount)", actual: secretKey.count)
        }
        Sodium.ensureInitialized()
        var publicKey = [UInt8](repeating: 0, count: Self.publicKeyByteCount)
        let result = secretKey.withUnsafeBytes { sk in
            publicKey.withUnsafeMutableBufferPointer { pk in
                crypto_scalarmult_base(pk.baseAddress!, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard result == 0 else { throw .operationFailed("crypto_scalarmult_base") }
        self.init(unchecked: publicKey, secretKey: secretKey)
    }

    private init(unchecked publicKey: [UInt8], secretKey: SecureBytes) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }
}
