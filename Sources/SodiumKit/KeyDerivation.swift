import CSodium

/// Subkey derivation with `crypto_kdf_derive_from_key` (BLAKE2b with the subkey id as salt and
/// the context as personalisation).
///
/// One key never serves two purposes: each purpose gets its own subkey, named by an 8-byte
/// ``Context`` and a numeric id, so a MAC key can never be confused with an encryption key.
package enum KeyDerivation {
    /// An 8-byte ASCII label naming a family of subkeys (`crypto_kdf_CONTEXTBYTES`).
    package struct Context: Sendable, Hashable {
        let bytes: [CChar]

        /// Creates a context from exactly 8 ASCII characters.
        /// - Throws: ``SodiumError`` for any other length or a non-ASCII character.
        package init(_ label: String) throws(SodiumError) {
            let utf8 = Array(label.utf8)
            guard utf8.count == Int(crypto_kdf_CONTEXTBYTES) else {
                throw .invalidLength("KDF context", expected: "\(crypto_kdf_CONTEXTBYTES)", actual: utf8.count)
            }
            guard utf8.allSatisfy({ $0 < 0x80 }) else { throw .invalidParameter("KDF context must be ASCII") }
            self.bytes = utf8.map { CChar(bitPattern: $0) }
        }
    }

    /// Derives a 32-byte subkey.
    /// - Parameters:
    ///   - key: The key to derive from.
    ///   - id: The subkey's number within the context.
    ///   - context: The family of subkeys.
    /// - Returns: The subkey, in guarded memory.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    package static func derive(from key: some SymmetricKey, id: UInt64, context: Context) throws(SodiumError) -> SubKey {
        Sodium.ensureInitialized()
        let bytes = try SecureBytes(count: SymmetricKeyLength.bytes) { out throws(SodiumError) in
            let result = key.withKeyPointer { keyPointer in
                crypto_kdf_derive_from_key(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), out.count, id, context.bytes, keyPointer)
            }
            guard result == 0 else { throw .operationFailed("key derivation") }
        }
        return try SubKey(secureBytes: bytes)
    }
}
