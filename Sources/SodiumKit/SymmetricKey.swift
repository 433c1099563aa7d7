import CSodium

/// A 256-bit secret key held in guarded memory.
///
/// Distinct types conform — ``KeyMaterial``, ``DataKey``, ``SubKey`` — so that a master key's
/// material cannot be passed where a data key is expected, and no key is ever a `[UInt8]`.
/// The length is checked once, in ``init(secureBytes:)``.
public protocol SymmetricKey: Sendable, Equatable, CustomStringConvertible {
    /// The key's bytes, in guarded memory.
    var secureBytes: SecureBytes { get }
    /// Wraps existing guarded bytes as a key.
    /// - Throws: ``SodiumError`` when the length is not ``SymmetricKeyLength/bytes``.
    init(secureBytes: SecureBytes) throws(SodiumError)
}

/// The length of every ``SymmetricKey``.
package enum SymmetricKeyLength {
    /// 32 bytes: XChaCha20-Poly1305's key size, BLAKE2b's recommended key size and
    /// `crypto_kdf`'s master key size, all of which libsodium fixes at 256 bits.
    package static let bytes = 32

    static func check(_ bytes: SecureBytes, _ what: String) throws(SodiumError) {
        guard bytes.count == Self.bytes else {
            throw .invalidLength(what, expected: "\(Self.bytes)", actual: bytes.count)
        }
    }
}

extension SymmetricKey {
    /// A new key from libsodium's CSPRNG.
    public static func random() -> Self {
        // The length is right by construction, and guarded memory failing for 32 bytes means
        // the process cannot hold any secret at all.
        do {
            return try Self(secureBytes: SecureRandom.secureBytes(count: SymmetricKeyLength.bytes))
        } catch {
            preconditionFailure("cannot allocate a key: \(error)")
        }
    }

    /// A fixed marker: keys never print.
    public var description: String { "\(Self.self)(redacted)" }

    /// Calls `body` with the key's bytes.
    func withKeyPointer<R, E: Error>(_ body: (UnsafePointer<UInt8>) throws(E) -> R) throws(E) -> R {
        try secureBytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(E) -> R in
            try body(raw.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
    }
}

/// Key material of a master key version, or of the root key that wraps master keys.
package struct KeyMaterial: SymmetricKey {
    /// The key's bytes, in guarded memory.
    package let secureBytes: SecureBytes
    /// Wraps 32 guarded bytes as key material.
    /// - Throws: ``SodiumError`` when the length is not 32.
    package init(secureBytes: SecureBytes) throws(SodiumError) {
        try SymmetricKeyLength.check(secureBytes, "key material")
        self.secureBytes = secureBytes
    }
}

/// A data key: made by the key service for one envelope, used locally, then thrown away.
public struct DataKey: SymmetricKey {
    /// The key's bytes, in guarded memory.
    public let secureBytes: SecureBytes
    /// Wraps 32 guarded bytes as a data key.
    /// - Throws: ``SodiumError`` when the length is not 32.
    public init(secureBytes: SecureBytes) throws(SodiumError) {
        try SymmetricKeyLength.check(secureBytes, "data key")
        self.secureBytes = secureBytes
    }
}

/// A key derived from another for one purpose (see ``KeyDerivation``).
package struct SubKey: SymmetricKey {
    /// The key's bytes, in guarded memory.
    package let secureBytes: SecureBytes
    /// Wraps 32 guarded bytes as a subkey.
    /// - Throws: ``SodiumError`` when the length is not 32.
    package init(secureBytes: SecureBytes) throws(SodiumError) {
        try SymmetricKeyLength.check(secureBytes, "subkey")
        self.secureBytes = secureBytes
    }
}
