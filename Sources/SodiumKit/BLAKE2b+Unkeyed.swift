import CSodium

extension BLAKE2b {
    /// Unkeyed BLAKE2b (`crypto_generichash` with no key) over length-prefixed public parts: a
    /// checksum, not a MAC (anyone can compute it). Each part is fed after its length as a 4-byte
    /// big-endian integer, as in ``mac(key:outputByteCount:parts:)``.
    /// - Parameters:
    ///   - outputByteCount: 16 to 64.
    ///   - parts: Public bytes only.
    /// - Returns: The hash.
    /// - Throws: ``SodiumError`` for an output length outside 16…64 or a part of 4 GiB or more.
    package static func hash(outputByteCount: Int, parts: [[UInt8]]) throws(SodiumError) -> [UInt8] {
        Sodium.ensureInitialized()
        guard outputRange.contains(outputByteCount) else {
            throw .invalidLength("BLAKE2b output", expected: "16 to 64", actual: outputByteCount)
        }
        var input: [UInt8] = []
        for part in parts {
            guard part.count <= Int(UInt32.max) else {
                throw .invalidLength("hash input part", expected: "less than 4 GiB", actual: part.count)
            }
            withUnsafeBytes(of: UInt32(part.count).bigEndian) { input.append(contentsOf: $0) }
            input.append(contentsOf: part)
        }
        var out = [UInt8](repeating: 0, count: outputByteCount)
        _ = crypto_generichash(&out, outputByteCount, input, UInt64(input.count), nil, 0)
        return out
    }
}
