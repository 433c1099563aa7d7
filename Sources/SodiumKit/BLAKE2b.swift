import CSodium

/// Keyed BLAKE2b (`crypto_generichash`), used as a MAC and a PRF.
///
/// Inputs are given as a list of parts, each fed to the hash after its length as a 4-byte
/// big-endian integer, so that no two different lists hash the same bytes (`["ab","c"]` and
/// `["a","bc"]` differ) without ever concatenating secrets into a temporary buffer.
package enum BLAKE2b {
    /// The output lengths BLAKE2b allows: 16 to 64 bytes.
    package static let outputRange = 16...64

    /// One input part: public bytes, or secret bytes in guarded memory.
    package enum Part: Sendable {
        /// Public bytes.
        case bytes([UInt8])
        /// Secret bytes, read in place.
        case secret(SecureBytes)
    }

    /// Computes a keyed BLAKE2b MAC over length-prefixed parts.
    /// - Parameters:
    ///   - key: The MAC key.
    ///   - outputByteCount: 16 to 64.
    ///   - parts: The parts, each prefixed with its length (u32, big-endian).
    /// - Returns: The MAC.
    /// - Throws: ``SodiumError`` for an output length outside 16…64 or a part of 4 GiB or more.
    package static func mac(key: some SymmetricKey, outputByteCount: Int = 32, parts: [Part]) throws(SodiumError) -> MAC {
        Sodium.ensureInitialized()
        guard outputRange.contains(outputByteCount) else {
            throw .invalidLength("BLAKE2b output", expected: "16 to 64", actual: outputByteCount)
        }
        // libsodium's state struct is 64-byte aligned, which Swift imports as an opaque type.
        let stateSize = crypto_generichash_statebytes()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: stateSize, alignment: 64)
        let state = OpaquePointer(raw)
        defer {
            // The state holds key-derived words: wipe it.
            sodium_memzero(raw, stateSize)
            raw.deallocate()
        }
        key.withKeyPointer { keyPointer in
            _ = crypto_generichash_init(state, keyPointer, SymmetricKeyLength.bytes, outputByteCount)
        }
        for part in parts {
            let count: Int
            switch part {
            case .bytes(let bytes): count = bytes.count
            case .secret(let secret): count = secret.count
            }
            guard count <= Int(UInt32.max) else {
                throw .invalidLength("MAC input part", expected: "less than 4 GiB", actual: count)
            }
            let prefix = [UInt8](bigEndian: UInt32(count))
            _ = crypto_generichash_update(state, prefix, UInt64(prefix.count))
            switch part {
            case .bytes(let bytes):
                _ = crypto_generichash_update(state, bytes, UInt64(bytes.count))
            case .secret(let secret):
                secret.withUnsafeBytes { raw in
                    _ = crypto_generichash_update(state, raw.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(raw.count))
                }
            }
        }
        var out = [UInt8](repeating: 0, count: outputByteCount)
        _ = crypto_generichash_final(state, &out, outputByteCount)
        return try MAC(bytes: out)
    }
}

extension Array where Element == UInt8 {
    /// The big-endian bytes of a 32-bit integer.
    init(bigEndian value: UInt32) {
        self = [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }
}
