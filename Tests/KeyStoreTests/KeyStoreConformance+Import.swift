import Foundation
import KeyService
import Testing

extension KeyStoreConformance {
    /// Imported key material: a key's material changed in place with its record, and the
    /// wrapping keys of GetParametersForImport.
    @Suite("Imported material")
    struct ImportedMaterial {
        @Test(arguments: StoreKind.allCases)
        func updateMaterialChangesTheKeyAndItsCurrentVersionTogether(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                var key = Fixtures.key()
                key.origin = .external
                key.state = .pendingImport
                let empty = KeyVersionRecord(keyID: key.id, version: 1, wrappedMaterial: [], materialID: "", createdAt: Date(), rotationType: .initial)
                try await store.insertKey(key, firstVersion: empty)
                let material = Fixtures.version(of: key.id, 1)
                let model = "KEY_MATERIAL_DOES_NOT_EXPIRE"
                let updated = try await store.updateMaterial(keyID: key.id) { record, version in
                    version.wrappedMaterial = material.wrappedMaterial
                    version.materialID = material.materialID
                    version.createdAt = material.createdAt
                    record.state = .enabled
                    record.expirationModel = model
                }
                #expect(updated.state == .enabled)
                #expect(try await store.key(id: key.id) == updated)
                #expect(try await store.version(keyID: key.id, number: 1) == material)

                // A closure that throws writes nothing.
                struct Refused: Error {}
                await #expect(throws: Refused.self) {
                    _ = try await store.updateMaterial(keyID: key.id) { record, version in
                        version.wrappedMaterial = []
                        record.state = .pendingImport
                        throw Refused()
                    }
                }
                #expect(try await store.key(id: key.id) == updated)
                #expect(try await store.version(keyID: key.id, number: 1) == material)
                let missing = await #expect(throws: KeyStoreError.self) {
                    _ = try await store.updateMaterial(keyID: UUID()) { _, _ in }
                }
                #expect(missing?.kind == .notFound)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func wrappingKeysAreKeptUntilTheyExpire(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let now = Date()
                func make(validTo: Date) -> WrappingKeyRecord {
                    WrappingKeyRecord(id: UUID(), keyID: UUID(), algorithm: "RSAES_OAEP_SHA_256", spec: "RSA_2048",
                                      wrappedPrivateKey: Fixtures.randomBytes(1200), createdAt: now, validTo: validTo)
                }
                let old = make(validTo: now.addingTimeInterval(-1))
                let current = make(validTo: now.addingTimeInterval(86_400))
                try await store.insertWrappingKey(old, removingExpiredBefore: now.addingTimeInterval(-86_400))
                #expect(try await store.wrappingKey(id: old.id) == old)
                try await store.insertWrappingKey(current, removingExpiredBefore: now)
                #expect(try await store.wrappingKey(id: current.id) == current)
                #expect(try await store.wrappingKey(id: old.id) == nil)
                #expect(try await store.wrappingKey(id: UUID()) == nil)
                let again = await #expect(throws: KeyStoreError.self) {
                    try await store.insertWrappingKey(current, removingExpiredBefore: now)
                }
                #expect(again?.kind == .alreadyExists)
            }
        }
    }
}
