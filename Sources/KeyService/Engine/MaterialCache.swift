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

    /// What an entry holds: an encryption key version, or an HMAC key's bytes.
    private enum Held {
        case encryption(CachedMaterial)
        case hmac(SecureBytes)
    }

    private struct State {
        var entries: [Entry: Held] = [:]
        var order: [Entry] = []
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int) { self.capacity = max(capacity, 1) }

    func get(_ keyID: UUID, _ version: UInt32) -> CachedMaterial? {
        guard case .encryption(let material)? = state.withLock({ $0.entries[Entry(keyID: keyID, version: version)] }) else { return nil }
        return material
    }

    func put(_ keyID: UUID, _ version: UInt32, _ material: CachedMaterial) {
        insert(.encryption(material), at: Entry(keyID: keyID, version: version))
    }

    func getHMAC(_ keyID: UUID, _ version: UInt32) -> SecureBytes? {
        guard case .hmac(let bytes)? = state.withLock({ $0.entries[Entry(keyID: keyID, version: version)] }) else { return nil }
        return bytes
    }

    func putHMAC(_ keyID: UUID, _ version: UInt32, _ bytes: SecureBytes) {
        insert(.hmac(bytes), at: Entry(keyID: keyID, version: version))
    }

    /// Adds an entry unless one is there, first evicting the oldest when full.
    private func insert(_ held: Held, at entry: Entry) {
        state.withLock { state in
            guard state.entries[entry] == nil else { return }
            if state.entries.count >= capacity, !state.order.isEmpty {
                state.entries[state.order.removeFirst()] = nil
            }
            state.entries[entry] = held
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
