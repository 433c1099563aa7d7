import CSodium

/// XChaCha20-Poly1305-IETF authenticated encryption with associated data.
///
/// The 24-byte nonce is long enough to be chosen at random for every message. The output is
/// the ciphertext followed by a 16-byte Poly1305 tag; opening checks the tag before any
/// plaintext is released.
package enum XChaCha20Poly1305 {
    /// The tag length: 16 bytes.
    package static let tagByteCount = 16
    /// The largest plaintext accepted here; far below libsodium's own limit, far above any use
    /// in envseal (KMS plaintexts are at most 4,096 bytes).
    package static let maxPlaintextByteCount = 1 << 30

    /// Encrypts and authenticates.
    /// - Parameters:
    ///   - plaintext: The bytes to encrypt.
    ///   - key: The key.
    ///   - nonce: A nonce never used before with this key (``Nonce/random()``).
    ///   - associatedData: Bytes authenticated but not encrypted.
    /// - Returns: Ciphertext followed by the 16-byte tag.
    /// - Throws: ``SodiumError`` when the plaintext is too long.
    package static func seal(
        _ plaintext: UnsafeRawBufferPointer,
        key: some SymmetricKey,
        nonce: Nonce,
        associatedData: [UInt8] = []
    ) throws(SodiumError) -> [UInt8] {
        Sodium.ensureInitialized()
        guard plaintext.count <= maxPlaintextByteCount else {
            throw .invalidLength("plaintext", expected: "at most \(maxPlaintextByteCount)", actual: plaintext.count)
        }
        var output = [UInt8](repeating: 0, count: plaintext.count + tagByteCount)
        var outputLength: UInt64 = 0
        let result = key.withKeyPointer { keyPointer in
            output.withUnsafeMutableBufferPointer { out in
                associatedData.withUnsafeBufferPointer { ad in
                    crypto_aead_xchacha20poly1305_ietf_encrypt(
                        out.baseAddress!, &outputLength,
                        plaintext.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(plaintext.count),
                        ad.baseAddress, UInt64(ad.count),
                        nil, nonce.bytes, keyPointer)
                }
            }
        }
        guard result == 0 else { throw .operationFailed("XChaCha20-Poly1305 encryption") }
        return output
    }

    /// Encrypts and authenticates bytes held in guarded memory.
    /// - Parameters:
    ///   - plaintext: The secret bytes to encrypt.
    ///   - key: The key.
    ///   - nonce: A nonce never used before with this key.
    ///   - associatedData: Bytes authenticated but not encrypted.
    /// - Returns: Ciphertext followed by the 16-byte tag.
    /// - Throws: ``SodiumError`` when the plaintext is too long.
    package static func seal(
        _ plaintext: SecureBytes,
        key: some SymmetricKey,
        nonce: Nonce,
        associatedData: [UInt8] = []
    ) throws(SodiumError) -> [UInt8] {
        try plaintext.withUnsafeBytes { (bytes) throws(SodiumError) in
            try seal(bytes, key: key, nonce: nonce, associatedData: associatedData)
        }
    }

    /// Checks the tag and decrypts into memory the caller provides.
    ///
    /// For plaintext that leaves the process at once (a response on the wire), where a copy in
    /// guarded memory would protect nothing; otherwise use the `SecureBytes` form.
    /// - Parameters:
    ///   - ciphertext: Ciphertext followed by the tag.
    ///   - key: The key.
    ///   - nonce: The nonce used to seal.
    ///   - associatedData: The associated data used to seal.
    ///   - output: Exactly `ciphertext.count - 16` bytes; untouched on failure.
    /// - Throws: ``SodiumError/authenticationFailed`` for a wrong key, nonce, associated data or
    ///   any changed byte; a length error for a short ciphertext or a wrong-sized output.
    package static func open(
        _ ciphertext: some Collection<UInt8>,
        key: some SymmetricKey,
        nonce: Nonce,
        associatedData: [UInt8] = [],
        into output: UnsafeMutableRawBufferPointer
    ) throws(SodiumError) {
        Sodium.ensureInitialized()
        guard ciphertext.count >= tagByteCount else {
            throw .invalidLength("ciphertext", expected: "at least \(tagByteCount)", actual: ciphertext.count)
        }
        guard output.count == ciphertext.count - tagByteCount else {
            throw .invalidLength("plaintext buffer", expected: "\(ciphertext.count - tagByteCount)", actual: output.count)
        }
        let input = Array(ciphertext)
        var scratch: UInt8 = 0
        var plaintextLength: UInt64 = 0
        let result = key.withKeyPointer { keyPointer in
            input.withUnsafeBufferPointer { c in
                associatedData.withUnsafeBufferPointer { ad in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? withUnsafeMutablePointer(to: &scratch) { $0 },
                        &plaintextLength, nil,
                        c.baseAddress!, UInt64(c.count),
                        ad.baseAddress, UInt64(ad.count),
                        nonce.bytes, keyPointer)
                }
            }
        }
        guard result == 0 else { throw .authenticationFailed }
    }

    /// Checks the tag and decrypts into guarded memory.
    /// - Parameters:
    ///   - ciphertext: Ciphertext followed by the tag.
    ///   - key: The key.
    ///   - nonce: The nonce used to seal.
    ///   - associatedData: The associated data used to seal.
    /// - Returns: The plaintext, in guarded memory.
    /// - Throws: ``SodiumError/authenticationFailed`` for a wrong key, nonce, associated data or
    ///   any changed byte; a length error when `ciphertext` is shorter than a tag.
    package static func open(
        _ ciphertext: some Collection<UInt8>,
        key: some SymmetricKey,
        nonce: Nonce,
        associatedData: [UInt8] = []
    ) throws(SodiumError) -> SecureBytes {
        guard ciphertext.count >= tagByteCount else {
            throw .invalidLength("ciphertext", expected: "at least \(tagByteCount)", actual: ciphertext.count)
        }
        // On failure libsodium writes nothing to the buffer, which is released here anyway.
        return try SecureBytes(count: ciphertext.count - tagByteCount) { out throws(SodiumError) in
            try open(ciphertext, key: key, nonce: nonce, associatedData: associatedData, into: out)
        }
    }
}
