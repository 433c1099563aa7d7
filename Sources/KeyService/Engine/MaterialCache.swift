import Foundation
import SodiumKit
import Synchronization

/// Unwrapped key versions, kept in guarded memory so Encrypt and Decrypt skip the root-key unwrap.
///
/// HMAC keys' material is held beside the encryption keys' (any length, so as bytes), under the
/// same capacity and eviction.
///
/// Key versions are immutable once written, but for imported material, which the engine evicts
/// when it imports or deletes it; an entry leaves the cache when the key is destroyed, its
/// imported material changes, or the cache is full (oldest first), and its memory is zeroed by
/// `sodium_free` when the last user lets go of it. A cached entry is only used after the key's
/// state was checked (Enabled), so a key disabled or pending import elsewhere is refused first.
final class MaterialCache: Sendable {
    /// A version's material with its public KeyMaterialId, both immutable.
    struct CachedMaterial: Sendable {
        let material: KeyMaterial
        let materialID: String
    }

    struct Entry: Hashable {
        let keyID: UUID
        let version: UInt32
    }

    private struct State {
        var entries: [Entry: CachedMaterial] = [:]
        var hmacEntries: [Entry: SecureBytes] = [:]
        var order: [Entry] = []
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    func get(_ keyID: UUID, _ version: UInt32) -> CachedMaterial? {
        state.withLock { $0.entries[Entry(keyID: keyID, version: version)] }
    }

    func put(_ keyID: UUID, _ version: UInt32, _ material: CachedMaterial) {
        state.withLock { state in
            let entry = Entry(keyID: keyID, version: version)
            guard state.entries[entry] == nil else { return }
            if state.entries.count + state.hmacEntries.count >= capacity, !state.order.isEmpty {
                let oldest = state.order.removeFirst()
                state.entries[oldest] = nil
                state.hmacEntries[oldest] = nil
            }
            state.entries[entry] = material
            state.order.append(entry)
        }
    }

    func getHMAC(_ keyID: UUID, _ version: UInt32) -> SecureBytes? {
        state.withLock { $0.hmacEntries[Entry(keyID: keyID, version: version)] }
    }

    func putHMAC(_ keyID: UUID, _ version: UInt32, _ bytes: SecureBytes) {
        state.withLock { state in
            let entry = Entry(keyID: keyID, version: version)
            guard state.hmacEntries[entry] == nil else { return }
            if state.entries.count + state.hmacEntries.count >= capacity, !state.order.isEmpty {
                let oldest = state.order.removeFirst()
                state.entries[oldest] = nil
                state.hmacEntries[oldest] = nil
            }
            state.hmacEntries[entry] = bytes
            state.order.append(entry)
        }
    }

    func evict(keyID: UUID) {
        state.withLock { state in
            state.order.removeAll { $0.keyID == keyID }
            state.entries = state.entries.filter { $0.key.keyID != keyID }
            state.hmacEntries = state.hmacEntries.filter { $0.key.keyID != keyID }
        }
    }

    var count: Int { state.withLock { $0.entries.count + $0.hmacEntries.count } }
}
