import CSodium

/// Random bytes from libsodium's CSPRNG (`randombytes_buf`, the kernel's `getrandom`).
package enum SecureRandom {
    /// Random bytes for values that are not secret (nonces, salts, identifiers).
    /// - Parameter count: How many bytes.
    /// - Returns: `count` random bytes.
    package static func bytes(count: Int) -> [UInt8] {
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: max(count, 0))
        out.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
        return out
    }

    /// Random bytes for secrets, written straight into guarded memory.
    /// - Parameter count: How many bytes.
    /// - Returns: `count` random bytes in guarded memory.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    package static func secureBytes(count: Int) throws(SodiumError) -> SecureBytes {
        try SecureBytes(count: count) { buffer in
            if buffer.count > 0 { randombytes_buf(buffer.baseAddress!, buffer.count) }
        }
    }
}

/// Comparisons whose time does not depend on where two byte strings differ.
package enum ConstantTime {
    /// `true` when both have the same length and the same bytes (`sodium_memcmp`).
    package static func equal(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
        let a = Array(lhs), b = Array(rhs)
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        Sodium.ensureInitialized()
        return a.withUnsafeBytes { pa in
            b.withUnsafeBytes { pb in sodium_memcmp(pa.baseAddress!, pb.baseAddress!, a.count) == 0 }
        }
    }
}
