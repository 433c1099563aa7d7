import CSodium

/// SHA-256 (`crypto_hash_sha256`) and HMAC-SHA-256 (`crypto_auth_hmacsha256`), for AWS
/// Signature Version 4, which fixes both. envseal's own formats use BLAKE2b.
package enum SHA256 {
    /// The digest length: 32 bytes.
    package static let byteCount = 32

    /// The SHA-256 digest of some bytes.
    /// - Parameter bytes: The message.
    /// - Returns: 32 bytes.
    package static func hash(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: byteCount)
        var empty: UInt8 = 0
        let input = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self)
        _ = withUnsafeMutablePointer(to: &empty) { fallback in
            crypto_hash_sha256(&out, input ?? UnsafePointer(fallback), UInt64(bytes.count))
        }
        return out
    }

    /// The SHA-256 digest of an array of bytes.
    package static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { hash($0) }
    }

    /// HMAC-SHA-256 of a message under a secret key of any length.
    ///
    /// The result is returned in guarded memory, since in SigV4's key chain each output is the
    /// next step's key; ``hmacPublic(_:key:)`` gives the final, public signature.
    /// - Parameters:
    ///   - message: The message.
    ///   - key: The key, in guarded memory.
    /// - Returns: The 32-byte MAC, in guarded memory.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    package static func hmac(_ message: [UInt8], key: SecureBytes) throws(SodiumError) -> SecureBytes {
        try SecureBytes(count: byteCount) { out in
            compute(message, key: key, into: out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// HMAC-SHA-256 whose result is not secret (a request signature).
    /// - Parameters:
    ///   - message: The message.
    ///   - key: The key, in guarded memory.
    /// - Returns: The 32-byte MAC.
    package static func hmacPublic(_ message: [UInt8], key: SecureBytes) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount)
        out.withUnsafeMutableBufferPointer { compute(message, key: key, into: $0.baseAddress!) }
        return out
    }

    private static func compute(_ message: [UInt8], key: SecureBytes, into out: UnsafeMutablePointer<UInt8>) {
        Sodium.ensureInitialized()
        // The state holds key-derived pads: allocate it, wipe it, free it.
        let size = crypto_auth_hmacsha256_statebytes()
        let raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
        defer {
            sodium_memzero(raw, size)
            raw.deallocate()
        }
        let state = raw.assumingMemoryBound(to: crypto_auth_hmacsha256_state.self)
        key.withUnsafeBytes { k in
            // SecureBytes always has a real base address, even when empty.
            _ = crypto_auth_hmacsha256_init(state, k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
        }
        _ = crypto_auth_hmacsha256_update(state, message, UInt64(message.count))
        _ = crypto_auth_hmacsha256_final(state, out)
    }
}
