import Foundation
import SodiumKit
import Synchronization

/// Unwrapped key versions, kept in guarded memory so Encrypt and Decrypt skip the root-key unwrap.
///
/// Key versions are immutable once written, so an entry never goes stale; it leaves the cache
/// when the key is destroyed or when the cache is full (oldest first), and its memory is zeroed
/// by `sodium_free` when the last user lets go of it.
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
            if state.entries.count >= capacity, !state.order.isEmpty {
                state.entries[state.order.removeFirst()] = nil
            }
            state.entries[entry] = material
            state.order.append(entry)
        }
    }

    func evict(keyID: UUID) {
        state.withLock { state in
            state.order.removeAll { $0.keyID == keyID }
            state.entries = state.entries.filter { $0.key.keyID != keyID }
        }
    }

    var count: Int { state.withLock { $0.entries.count } }
}
