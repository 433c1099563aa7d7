import CSodium

/// HMAC (RFC 2104) over SHA-256 or SHA-512, libsodium's `crypto_auth_hmacsha256` and
/// `crypto_auth_hmacsha512`, under a key of any length: what a KMS HMAC key computes.
package enum HMAC {
    /// The hash under the HMAC.
    package enum Hash: Sendable {
        /// SHA-256: 32-byte MACs.
        case sha256
        /// SHA-512: 64-byte MACs.
        case sha512

        /// The MAC's length in bytes.
        package var byteCount: Int {
            switch self {
            case .sha256: 32
            case .sha512: 64
            }
        }
    }

    /// The HMAC of a message.
    /// - Parameters:
    ///   - message: The message, of any length.
    ///   - key: The key, in guarded memory, of any length.
    ///   - hash: SHA-256 or SHA-512.
    /// - Returns: The MAC, ``Hash/byteCount`` bytes.
    package static func authenticate(_ message: [UInt8], key: SecureBytes, hash: Hash) -> [UInt8] {
        switch hash {
        case .sha256:
            return SHA256.hmacPublic(message, key: key)
        case .sha512:
            Sodium.ensureInitialized()
            var out = [UInt8](repeating: 0, count: hash.byteCount)
            // The state holds key-derived pads: allocate it, wipe it, free it.
            let size = crypto_auth_hmacsha512_statebytes()
            let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            defer {
                sodium_memzero(raw, size)
                raw.deallocate()
            }
            let state = raw.assumingMemoryBound(to: crypto_auth_hmacsha512_state.self)
            key.withUnsafeBytes { k in
                // SecureBytes always has a real base address, even when empty.
                _ = crypto_auth_hmacsha512_init(state, k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
            }
            _ = crypto_auth_hmacsha512_update(state, message, UInt64(message.count))
            _ = crypto_auth_hmacsha512_final(state, &out)
            return out
        }
    }

    /// Whether `mac` is the HMAC of `message`, compared in constant time.
    /// - Returns: `false` for a MAC of the wrong length or value.
    package static func verify(_ mac: [UInt8], of message: [UInt8], key: SecureBytes, hash: Hash) -> Bool {
        ConstantTime.equal(authenticate(message, key: key, hash: hash), mac)
    }
}
