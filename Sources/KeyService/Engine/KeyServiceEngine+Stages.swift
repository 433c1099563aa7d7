import EnvSealFormat
package import Foundation
package import KMSWire
package import SodiumKit

/// The stages of one Decrypt, each on its own, for envseal-bench's per-stage breakdown. Each runs
/// the engine's own code for that stage, with every check it makes in a real call.
extension KeyServiceEngine {
    /// Key lookup: the record from the short-lived cache (or the store), refused when deleted.
    package func stageKeyLookup(_ id: UUID) async throws(KMSError) -> KeyRecord {
        guard let stored = try await loadKey(id) else { throw KMSError(.notFound, "Key '\(keyARN(id))' does not exist") }
        return try await checkNotDeleted(stored)
    }

    /// Policy evaluation of a Decrypt: the condition keys, the key policy, the caller's identity
    /// policy and, when those do not allow, the key's grants.
    package func stageAuthorizeDecrypt(_ principal: Principal, key: KeyRecord, context: [String: String]?) async throws(KMSError) {
        try await authorize(principal, KeyAction(.decrypt), key: key, context: context,
                            conditionKeys: Self.cryptoConditionKeys(keyReference: nil))
    }

    /// A version's material as a Decrypt gets it: from the material cache once unwrapped.
    package func stageMaterial(_ key: KeyRecord, version: UInt32) async throws(KMSError) -> KeyMaterial {
        try await material(key, version: version).material
    }

    /// A version's material read from the store and unwrapped under the root key, bypassing the
    /// material cache: what a cache miss costs.
    package func stageUnwrap(_ key: KeyRecord, version: UInt32) async throws(KMSError) -> KeyMaterial {
        try await unwrapMaterial(key, version: version).material
    }

    /// An HMAC key's material as GenerateMac gets it: from the material cache once unwrapped.
    package func stageHMACMaterial(_ key: KeyRecord) async throws(KMSError) -> SecureBytes {
        try await hmacMaterial(key)
    }

    /// An HMAC key's material read from the store and unwrapped, bypassing the cache.
    package func stageHMACUnwrap(_ key: KeyRecord) async throws(KMSError) -> SecureBytes {
        try await unwrapHMACMaterial(key)
    }

    /// The audit record's hash-chain link: the keyed BLAKE2b over the previous hash and its fields.
    package func stageAuditHash(_ record: AuditRecord) throws -> [UInt8] {
        try audit.hash(of: record)
    }

    /// The audit append of a Decrypt: linked to the chain and committed to the store.
    package func stageAuditAppend(_ principal: Principal, keyARN: String, context: [String: String]?, requestID: String) async throws {
        try await audit.append(to: store, time: now, principal: principal.arn, operation: KMSOperation.decrypt.rawValue,
                               keyARN: keyARN, context: context, outcome: "Allowed", requestID: requestID)
    }
}
