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
        try mac(key: key, outputByteCount: outputByteCount) { feed in
            for part in parts {
                switch part {
                case .bytes(let bytes): bytes.withUnsafeBytes { feed.part($0) }
                case .secret(let secret): secret.withUnsafeBytes { feed.part($0) }
                }
            }
        }
    }

    /// Computes a keyed BLAKE2b MAC over length-prefixed parts that `body` feeds one at a time,
    /// read in place: the same MAC as ``mac(key:outputByteCount:parts:)`` over the same parts,
    /// without building a list of them (nothing is allocated for the parts).
    /// - Parameters:
    ///   - key: The MAC key.
    ///   - outputByteCount: 16 to 64.
    ///   - body: Feeds the parts, in order, with ``PartFeed/part(_:)-(UnsafeRawBufferPointer)``.
    /// - Returns: The MAC.
    /// - Throws: ``SodiumError`` for an output length outside 16…64 or a part of 4 GiB or more.
    package static func mac(
        key: some SymmetricKey, outputByteCount: Int = 32, _ body: (inout PartFeed) -> Void
    ) throws(SodiumError) -> MAC {
        Sodium.ensureInitialized()
        guard outputRange.contains(outputByteCount) else {
            throw .invalidLength("BLAKE2b output", expected: "16 to 64", actual: outputByteCount)
        }
        // libsodium's state struct is 64-byte aligned, which Swift imports as an opaque type.
        // The parts are gathered in a buffer after the state and hashed a buffer at a time: one
        // update per 256 bytes rather than two per part.
        let stateSize = (crypto_generichash_statebytes() + 63) & ~63
        let allocation = stateSize + PartFeed.bufferByteCount
        let raw = UnsafeMutableRawPointer.allocate(byteCount: allocation, alignment: 64)
        let state = OpaquePointer(raw)
        defer {
            // The state holds key-derived words: wipe it, and the gathered parts with it.
            sodium_memzero(raw, allocation)
            raw.deallocate()
        }
        key.withKeyPointer { keyPointer in
            _ = crypto_generichash_init(state, keyPointer, SymmetricKeyLength.bytes, outputByteCount)
        }
        var feed = PartFeed(state: state, buffer: raw + stateSize)
        body(&feed)
        feed.flush()
        if let oversized = feed.oversized {
            throw .invalidLength("MAC input part", expected: "less than 4 GiB", actual: oversized)
        }
        var out = [UInt8](repeating: 0, count: outputByteCount)
        _ = crypto_generichash_final(state, &out, outputByteCount)
        return try MAC(bytes: out)
    }

    /// Where ``mac(key:outputByteCount:_:)`` takes its parts; valid only inside that call.
    package struct PartFeed: ~Copyable {
        fileprivate let state: OpaquePointer
        fileprivate static let bufferByteCount = 256
        private let buffer: UnsafeMutableRawPointer
        private var buffered = 0
        /// The length of the first part too long to prefix, which fails the MAC.
        fileprivate var oversized: Int?

        fileprivate init(state: OpaquePointer, buffer: UnsafeMutableRawPointer) {
            self.state = state
            self.buffer = buffer
        }

        /// Feeds one part: its length as a 4-byte big-endian integer, then its bytes.
        package mutating func part(_ bytes: UnsafeRawBufferPointer) {
            guard bytes.count <= Int(UInt32.max) else {
                oversized = oversized ?? bytes.count
                return
            }
            let count = UInt32(bytes.count)
            withUnsafeBytes(of: count.bigEndian) { write($0) }
            write(bytes)
        }

        private mutating func write(_ bytes: UnsafeRawBufferPointer) {
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
            if buffered + bytes.count > Self.bufferByteCount {
                flush()
                if bytes.count >= Self.bufferByteCount {
                    _ = crypto_generichash_update(state, base.assumingMemoryBound(to: UInt8.self), UInt64(bytes.count))
                    return
                }
            }
            (buffer + buffered).copyMemory(from: base, byteCount: bytes.count)
            buffered += bytes.count
        }

        fileprivate mutating func flush() {
            guard buffered > 0 else { return }
            _ = crypto_generichash_update(state, buffer.assumingMemoryBound(to: UInt8.self), UInt64(buffered))
            buffered = 0
        }

        /// Feeds a string's UTF-8 as one part, read in place when the string is stored contiguously.
        package mutating func part(_ string: String) {
            var string = string
            string.withUTF8 { part(UnsafeRawBufferPointer($0)) }
        }
    }
}
