import CSodium

/// Argon2id key derivation from a passphrase (`crypto_pwhash` with `ALG_ARGON2ID13`).
package enum Argon2id {
    /// The cost parameters, stored beside the salt so a key can be derived again.
    package struct Parameters: Sendable, Codable, Hashable {
        /// Passes over memory (`opslimit`), at least 1.
        package var opsLimit: UInt64
        /// Memory in bytes (`memlimit`), at least 8 KiB.
        package var memLimit: Int

        /// Creates parameters.
        /// - Parameters:
        ///   - opsLimit: Passes over memory, at least 1.
        ///   - memLimit: Memory in bytes, at least 8,192.
        package init(opsLimit: UInt64, memLimit: Int) {
            self.opsLimit = opsLimit
            self.memLimit = memLimit
        }

        /// libsodium's "moderate" profile: 3 passes over 256 MiB (about a second on a server core).
        package static let moderate = Parameters(
            opsLimit: UInt64(crypto_pwhash_argon2id_OPSLIMIT_MODERATE), memLimit: Int(crypto_pwhash_argon2id_MEMLIMIT_MODERATE))
        /// libsodium's "interactive" profile: 2 passes over 64 MiB.
        package static let interactive = Parameters(
            opsLimit: UInt64(crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE), memLimit: Int(crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE))
        /// The cheapest setting libsodium allows: for tests only.
        package static let minimum = Parameters(
            opsLimit: UInt64(crypto_pwhash_argon2id_OPSLIMIT_MIN), memLimit: Int(crypto_pwhash_argon2id_MEMLIMIT_MIN))
    }

    /// A 16-byte random salt.
    package struct Salt: Sendable, Hashable, Codable {
        /// The salt length (`crypto_pwhash_argon2id_SALTBYTES`).
        package static let byteCount = 16
        package let bytes: [UInt8]
        /// Wraps existing salt bytes.
        /// - Throws: ``SodiumError`` for a length other than 16.
        package init(bytes: some Collection<UInt8>) throws(SodiumError) {
            guard bytes.count == Self.byteCount else {
                throw .invalidLength("salt", expected: "\(Self.byteCount)", actual: bytes.count)
            }
            self.bytes = Array(bytes)
        }
        /// A fresh random salt.
        package static func random() -> Salt {
            Salt(unchecked: SecureRandom.bytes(count: byteCount))
        }
        private init(unchecked bytes: [UInt8]) { self.bytes = bytes }
    }

    /// A key derived from a passphrase, with what is needed to derive it again.
    package struct DerivedKey: Sendable {
        package let key: KeyMaterial
        package let salt: Salt
        /// The cost parameters used.
        package let parameters: Parameters
    }

    /// Derives a 32-byte key from a passphrase.
    /// - Parameters:
    ///   - passphrase: The passphrase, in guarded memory.
    ///   - salt: The salt (``Salt/random()`` for a new key, the stored one to derive again).
    ///   - parameters: The cost.
    /// - Returns: The key with its salt and parameters.
    /// - Throws: ``SodiumError`` for parameters outside libsodium's limits or too little memory.
    package static func deriveKey(passphrase: SecureBytes, salt: Salt, parameters: Parameters) throws(SodiumError) -> DerivedKey {
        Sodium.ensureInitialized()
        guard parameters.opsLimit >= UInt64(crypto_pwhash_argon2id_OPSLIMIT_MIN),
              parameters.opsLimit <= UInt64(crypto_pwhash_argon2id_OPSLIMIT_MAX) else {
            throw .invalidParameter("Argon2id opsLimit must be 1 to 4294967295")
        }
        guard parameters.memLimit >= Int(crypto_pwhash_argon2id_MEMLIMIT_MIN),
              parameters.memLimit <= crypto_pwhash_argon2id_memlimit_max() else {
            throw .invalidParameter("Argon2id memLimit must be at least 8192 bytes")
        }
        let bytes = try SecureBytes(count: SymmetricKeyLength.bytes) { out throws(SodiumError) in
            let result = passphrase.withUnsafeBytes { pass in
                crypto_pwhash(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(out.count),
                    pass.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(pass.count),
                    salt.bytes, parameters.opsLimit, parameters.memLimit, crypto_pwhash_argon2id_ALG_ARGON2ID13)
            }
            guard result == 0 else { throw .outOfMemory }
        }
        return DerivedKey(key: try KeyMaterial(secureBytes: bytes), salt: salt, parameters: parameters)
    }
}
