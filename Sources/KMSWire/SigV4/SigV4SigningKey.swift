import SodiumKit
import Synchronization

/// The SigV4 signing key: `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
/// "aws4_request")`, every step in guarded memory.
enum SigV4SigningKey {
    /// Derives the signing key for one day, region and service.
    /// - Parameters:
    ///   - secret: The secret access key (its UTF-8 bytes).
    ///   - date: The scope date, `yyyymmdd`.
    ///   - region: The scope region.
    ///   - service: The scope service.
    /// - Returns: The 32-byte signing key, in guarded memory.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    static func derive(
        secret: SecureBytes, date: some StringProtocol, region: some StringProtocol, service: some StringProtocol
    ) throws(SodiumError) -> SecureBytes {
        // "AWS4" + secret is itself key material: build it straight into guarded memory.
        let prefix: [UInt8] = Array("AWS4".utf8)
        let kSecret = try SecureBytes(count: prefix.count + secret.count) { buffer in
            buffer.copyBytes(from: prefix)
            secret.withUnsafeBytes { bytes in
                if bytes.count > 0 {
                    UnsafeMutableRawBufferPointer(rebasing: buffer[prefix.count...]).copyMemory(from: bytes)
                }
            }
        }
        let kDate = try SHA256.hmac(Array(date.utf8), key: kSecret)
        let kRegion = try SHA256.hmac(Array(region.utf8), key: kDate)
        let kService = try SHA256.hmac(Array(service.utf8), key: kRegion)
        return try SHA256.hmac(Array(SigV4Canonical.terminator.utf8), key: kService)
    }

    /// A small bounded cache of derived signing keys, so a busy access key costs one HMAC per
    /// request instead of five.
    ///
    /// An entry is keyed by access key ID and date (a cache belongs to one verifier or signer, whose
    /// region and service are fixed, so the key is in effect the whole scope), and remembers the
    /// secret it was derived from: a hit needs the secret the caller just looked up to be equal (constant
    /// time), so a rotated or deleted secret never verifies from the cache. When full, the least
    /// recently used entry goes; its keys are zeroed by `sodium_free` once no verification still
    /// holds them.
    final class Cache: Sendable {
        struct Key: Hashable, Sendable {
            let accessKeyID: String
            let date: String
        }

        private struct Entry {
            let secret: SecureBytes
            let signingKey: SecureBytes
            var lastUse: UInt64
        }

        private struct State {
            var entries: [Key: Entry] = [:]
            var clock: UInt64 = 0
        }

        private let state = Mutex(State())
        /// The most entries kept.
        let capacity: Int

        /// Creates an empty cache.
        /// - Parameter capacity: The most entries kept; 0 disables caching.
        init(capacity: Int) {
            self.capacity = max(capacity, 0)
        }

        /// The signing key for an access key and day: from the cache when it was derived from this
        /// very secret, else derived and cached.
        /// - Throws: ``SodiumError`` when guarded memory cannot be had.
        func signingKey(
            accessKeyID: String, date: String, region: String, service: String, secret: SecureBytes
        ) throws(SodiumError) -> SecureBytes {
            let key = Key(accessKeyID: accessKeyID, date: date)
            if let cached = cached(key, secret: secret) { return cached }
            let derived = try SigV4SigningKey.derive(secret: secret, date: date, region: region, service: service)
            insert(derived, for: key, secret: secret)
            return derived
        }

        /// The cached signing key for `key`, if it was derived from `secret`.
        func cached(_ key: Key, secret: SecureBytes) -> SecureBytes? {
            state.withLock { state in
                guard var entry = state.entries[key], entry.secret == secret else { return nil }
                state.clock &+= 1
                entry.lastUse = state.clock
                state.entries[key] = entry
                return entry.signingKey
            }
        }

        /// Stores a signing key derived from `secret`, evicting the least recently used entry when full.
        func insert(_ signingKey: SecureBytes, for key: Key, secret: SecureBytes) {
            guard capacity > 0 else { return }
            // The evicted entry is returned, so it is released (sodium_free: a munmap) only after
            // the lock is let go.
            _ = state.withLock { state -> Entry? in
                state.clock &+= 1
                var evicted: Entry?
                if state.entries[key] == nil, state.entries.count >= capacity,
                   let oldest = state.entries.min(by: { $0.value.lastUse < $1.value.lastUse }) {
                    evicted = state.entries.removeValue(forKey: oldest.key)
                }
                state.entries[key] = Entry(secret: secret, signingKey: signingKey, lastUse: state.clock)
                return evicted
            }
        }

        var count: Int { state.withLock { $0.entries.count } }
    }
}
