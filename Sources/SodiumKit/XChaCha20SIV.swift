import CSodium

/// Deterministic authenticated encryption: XChaCha20 with a BLAKE2b synthetic IV (SIV).
///
/// ```
/// iv         = BLAKE2b-128(key: macKey, parts: [associatedData, plaintext])   (length-prefixed)
/// ciphertext = XChaCha20(key: streamKey, nonce: iv ‖ 0x00 × 8) ⊕ plaintext
/// output     = iv ‖ ciphertext
/// ```
///
/// The IV is a PRF of the whole input, so the same (associated data, plaintext) under the same
/// keys always gives the same output, and different inputs give unrelated IVs. This is the
/// SIV construction of Rogaway and Shrimpton: it leaks only whether two messages under one key
/// were identical, and resists nonce misuse because there is no nonce to misuse. The 128-bit
/// IV goes into XChaCha20's HChaCha20 step, so each message is encrypted under its own derived
/// stream key. Opening decrypts into guarded memory, recomputes the IV and compares it in
/// constant time; on mismatch the plaintext is wiped and never returned.
///
/// envseal uses it for values in sealed env files, where each file has its own data key and
/// names are unique within a file, so equal outputs only ever say "this value did not change".
package enum XChaCha20SIV {
    /// Bytes added to the plaintext: the 16-byte synthetic IV.
    package static let overhead = 16
    /// The largest plaintext accepted (sealed env values are far smaller).
    package static let maxPlaintextByteCount = 1 << 30

    /// The two keys the construction needs, derived from one key.
    package struct Keys: Sendable {
        let macKey: SubKey
        let streamKey: SubKey

        /// Derives the MAC key (id 1) and the stream key (id 2) from `key` under `context`.
        /// - Throws: ``SodiumError`` when guarded memory cannot be had.
        package init(deriving key: some SymmetricKey, context: KeyDerivation.Context) throws(SodiumError) {
            macKey = try KeyDerivation.derive(from: key, id: 1, context: context)
            streamKey = try KeyDerivation.derive(from: key, id: 2, context: context)
        }
    }

    /// Seals deterministically.
    /// - Parameters:
    ///   - plaintext: The bytes to seal.
    ///   - keys: The derived keys.
    ///   - associatedData: Bytes bound to the output but not encrypted.
    /// - Returns: The 16-byte IV followed by the ciphertext.
    /// - Throws: ``SodiumError`` when the plaintext is too long.
    package static func seal(_ plaintext: SecureBytes, keys: Keys, associatedData: [UInt8]) throws(SodiumError) -> [UInt8] {
        guard plaintext.count <= maxPlaintextByteCount else {
            throw .invalidLength("plaintext", expected: "at most \(maxPlaintextByteCount)", actual: plaintext.count)
        }
        let iv = try BLAKE2b.mac(key: keys.macKey, outputByteCount: overhead,
                                 parts: [.bytes(associatedData), .secret(plaintext)])
        var output = iv.bytes + [UInt8](repeating: 0, count: plaintext.count)
        let nonce = streamNonce(iv.bytes)
        plaintext.withUnsafeBytes { input in
            output.withUnsafeMutableBufferPointer { out in
                keys.streamKey.withKeyPointer { keyPointer in
                    _ = crypto_stream_xchacha20_xor(
                        out.baseAddress! + overhead, input.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        UInt64(input.count), nonce, keyPointer)
                }
            }
        }
        return output
    }

    /// Opens and authenticates.
    /// - Parameters:
    ///   - sealed: The IV followed by the ciphertext.
    ///   - keys: The derived keys.
    ///   - associatedData: The associated data used to seal.
    /// - Returns: The plaintext, in guarded memory.
    /// - Throws: ``SodiumError/authenticationFailed`` for a wrong key, wrong associated data or
    ///   any changed byte; a length error when `sealed` is shorter than the IV.
    package static func open(_ sealed: some Collection<UInt8>, keys: Keys, associatedData: [UInt8]) throws(SodiumError) -> SecureBytes {
        try open(all: [(Array(sealed), associatedData)], keys: keys)[0]
    }

    /// Opens and authenticates several values under the same keys, into one guarded allocation
    /// (see ``SecureBytes/batch(counts:initializingWith:)``): for a hundred values, one
    /// allocation's system calls instead of a hundred's.
    /// - Parameters:
    ///   - items: Each value's IV and ciphertext, with the associated data it was sealed with.
    ///   - keys: The derived keys.
    /// - Returns: The plaintexts, in the order of `items`.
    /// - Throws: ``SodiumError/authenticationFailed`` when any value does not open (all the
    ///   plaintexts are then wiped and none is returned; open the values one by one with
    ///   ``open(_:keys:associatedData:)`` to learn which); a length error when a value is
    ///   shorter than the IV.
    package static func open(all items: [(sealed: [UInt8], associatedData: [UInt8])], keys: Keys) throws(SodiumError) -> [SecureBytes] {
        for item in items where item.sealed.count < overhead {
            throw .invalidLength("sealed value", expected: "at least \(overhead)", actual: item.sealed.count)
        }
        let plaintexts = try SecureBytes.batch(counts: items.map { $0.sealed.count - overhead }) { index, out in
            guard out.count > 0 else { return }
            let sealed = items[index].sealed
            let nonce = streamNonce(Array(sealed[..<overhead]))
            sealed.withUnsafeBufferPointer { c in
                keys.streamKey.withKeyPointer { keyPointer in
                    _ = crypto_stream_xchacha20_xor(
                        out.baseAddress!.assumingMemoryBound(to: UInt8.self), c.baseAddress! + overhead,
                        UInt64(out.count), nonce, keyPointer)
                }
            }
        }
        for (index, plaintext) in plaintexts.enumerated() {
            let expected = try BLAKE2b.mac(key: keys.macKey, outputByteCount: overhead,
                                           parts: [.bytes(items[index].associatedData), .secret(plaintext)])
            // On this path every plaintext is released (and zeroed) with the batch.
            guard ConstantTime.equal(expected.bytes, Array(items[index].sealed[..<overhead])) else { throw .authenticationFailed }
        }
        return plaintexts
    }

    /// The 24-byte XChaCha20 nonce: the 16-byte IV, then eight zero bytes.
    static func streamNonce(_ iv: [UInt8]) -> [UInt8] {
        iv + [UInt8](repeating: 0, count: Nonce.byteCount - overhead)
    }
}
