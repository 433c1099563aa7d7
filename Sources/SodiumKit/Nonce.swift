/// A 24-byte XChaCha20 nonce. Not secret; unique per key is all it must be.
package struct Nonce: Sendable, Hashable {
    /// The length of an XChaCha20 nonce: 192 bits, long enough that random nonces never repeat
    /// in practice (2^96 messages under one key before a collision becomes likely).
    package static let byteCount = 24

    package let bytes: [UInt8]

    /// Wraps existing nonce bytes.
    /// - Parameter bytes: Exactly 24 bytes.
    /// - Throws: ``SodiumError`` for any other length.
    @inlinable  // specialised where it is called: a blob parse makes one per Decrypt
    package init(bytes: some Collection<UInt8>) throws(SodiumError) {
        guard bytes.count == Self.byteCount else {
            throw .invalidLength("nonce", expected: "\(Self.byteCount)", actual: bytes.count)
        }
        self.bytes = Array(bytes)
    }

    /// A fresh random nonce.
    package static func random() -> Nonce {
        try! Nonce(bytes: SecureRandom.bytes(count: byteCount))
    }
}

/// A message authentication code (a keyed BLAKE2b output, 16 to 64 bytes).
///
/// Not secret, but compared in constant time so that a forger learns nothing from timing.
package struct MAC: Sendable, Equatable, CustomStringConvertible {
    /// The MAC's bytes.
    package let bytes: [UInt8]

    /// Wraps MAC bytes.
    /// - Parameter bytes: 16 to 64 bytes.
    /// - Throws: ``SodiumError`` for any other length.
    package init(bytes: some Collection<UInt8>) throws(SodiumError) {
        guard BLAKE2b.outputRange.contains(bytes.count) else {
            throw .invalidLength("MAC", expected: "16 to 64", actual: bytes.count)
        }
        self.bytes = Array(bytes)
    }

    /// Constant-time comparison (for equal lengths).
    package static func == (lhs: MAC, rhs: MAC) -> Bool {
        ConstantTime.equal(lhs.bytes, rhs.bytes)
    }

    /// Hex, since a MAC is not secret.
    package var description: String { Hex.encode(bytes) }
}
