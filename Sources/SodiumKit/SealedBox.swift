import CSodium

/// Anonymous public-key encryption: libsodium's `crypto_box_seal` (X25519, XSalsa20-Poly1305).
///
/// A sender with only the recipient's 32-byte X25519 public key seals a message; only the holder
/// of the matching secret key opens it. Each seal uses a fresh ephemeral key pair, whose public
/// half leads the output, so the output is `32 + message + 16` bytes and two seals of one message
/// differ. The sender is not authenticated: whoever opens learns only that the bytes were sealed
/// to them, which is why a sealed file's header MAC, keyed from the data key, must still pass.
package enum SealedBox {
    /// Bytes of an X25519 public key.
    package static let publicKeyByteCount = Int(crypto_box_publickeybytes())
    /// Bytes of an X25519 secret key.
    package static let secretKeyByteCount = Int(crypto_box_secretkeybytes())
    /// Bytes a seal adds to its message: the ephemeral public key and the Poly1305 tag.
    package static let overheadByteCount = Int(crypto_box_sealbytes())

    /// Makes a new X25519 key pair from libsodium's CSPRNG.
    /// - Returns: The public key, and the secret key in guarded memory.
    /// - Throws: ``SodiumError`` only when guarded memory cannot be had.
    package static func keyPair() throws(SodiumError) -> (publicKey: [UInt8], secretKey: SecureBytes) {
        Sodium.ensureInitialized()
        var publicKey = [UInt8](repeating: 0, count: publicKeyByteCount)
        let secretKey = try SecureBytes(count: secretKeyByteCount) { (buffer) throws(SodiumError) in
            let result = publicKey.withUnsafeMutableBufferPointer { pk in
                crypto_box_keypair(pk.baseAddress!, buffer.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard result == 0 else { throw .operationFailed("X25519 key generation") }
        }
        return (publicKey, secretKey)
    }

    /// Seals a message to a recipient.
    /// - Parameters:
    ///   - message: The secret bytes (a data key, say).
    ///   - publicKey: The recipient's 32-byte X25519 public key.
    /// - Returns: `ephemeral public key ‖ ciphertext ‖ tag`, ``overheadByteCount`` bytes longer
    ///   than `message`.
    /// - Throws: ``SodiumError`` for a public key of the wrong length, or one libsodium refuses
    ///   (a low-order point).
    package static func seal(_ message: SecureBytes, to publicKey: [UInt8]) throws(SodiumError) -> [UInt8] {
        Sodium.ensureInitialized()
        guard publicKey.count == publicKeyByteCount else {
            throw .invalidLength("recipient public key", expected: "\(publicKeyByteCount)", actual: publicKey.count)
        }
        var output = [UInt8](repeating: 0, count: message.count + overheadByteCount)
        let result = message.withUnsafeBytes { bytes in
            output.withUnsafeMutableBufferPointer { out in
                crypto_box_seal(out.baseAddress!, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self),
                                UInt64(bytes.count), publicKey)
            }
        }
        guard result == 0 else { throw .invalidParameter("the recipient public key is not usable") }
        return output
    }

    /// Opens a sealed message into guarded memory.
    /// - Parameters:
    ///   - sealed: What ``seal(_:to:)`` returned.
    ///   - publicKey: The recipient's 32-byte public key.
    ///   - secretKey: The recipient's 32-byte secret key.
    /// - Returns: The message, in guarded memory.
    /// - Throws: ``SodiumError/authenticationFailed`` when the message was sealed to another key
    ///   or a byte changed; a length error for keys of the wrong length or a short input.
    package static func open(_ sealed: [UInt8], publicKey: [UInt8], secretKey: SecureBytes) throws(SodiumError) -> SecureBytes {
        Sodium.ensureInitialized()
        guard publicKey.count == publicKeyByteCount else {
            throw .invalidLength("recipient public key", expected: "\(publicKeyByteCount)", actual: publicKey.count)
        }
        guard secretKey.count == secretKeyByteCount else {
            throw .invalidLength("recipient secret key", expected: "\(secretKeyByteCount)", actual: secretKey.count)
        }
        guard sealed.count >= overheadByteCount else {
            throw .invalidLength("sealed box", expected: "at least \(overheadByteCount)", actual: sealed.count)
        }
        return try SecureBytes(count: sealed.count - overheadByteCount) { (buffer) throws(SodiumError) in
            let result = secretKey.withUnsafeBytes { sk in
                crypto_box_seal_open(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), sealed, UInt64(sealed.count),
                                     publicKey, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard result == 0 else { throw .authenticationFailed }
        }
    }

    /// The public key of a secret key (`crypto_scalarmult_base`).
    /// - Parameter secretKey: A 32-byte X25519 secret key.
    /// - Returns: Its 32-byte public key.
    /// - Throws: ``SodiumError`` for a secret key of the wrong length.
    package static func publicKey(of secretKey: SecureBytes) throws(SodiumError) -> [UInt8] {
        Sodium.ensureInitialized()
        guard secretKey.count == secretKeyByteCount else {
            throw .invalidLength("recipient secret key", expected: "\(secretKeyByteCount)", actual: secretKey.count)
        }
        var publicKey = [UInt8](repeating: 0, count: publicKeyByteCount)
        let result = secretKey.withUnsafeBytes { sk in
            publicKey.withUnsafeMutableBufferPointer { pk in
                crypto_scalarmult_base(pk.baseAddress!, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
        guard result == 0 else { throw .operationFailed("X25519 public key") }
        return publicKey
    }
}
