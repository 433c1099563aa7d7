import Foundation
import KeyService
import Testing

extension KeyStoreConformance {
    /// Key versions: numbering, concurrent rotation and destroying a key's material.
    @Suite("Versions")
    struct Versions {
        @Test(arguments: StoreKind.allCases)
        func addVersionNumbersVersionsAndRefusesWrongOnes(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let key = Fixtures.key()
                let first = Fixtures.version(of: key.id, 1)
                try await store.insertKey(key, firstVersion: first)

                var numbers: [UInt32] = []
                var added: [KeyVersionRecord] = [first]
                for _ in 0..<2 {
                    let version = try await store.addVersion(keyID: key.id) { key, number in
                        key.currentVersion = number
                        return Fixtures.version(of: key.id, number, rotationType: .onDemand)
                    }
                    numbers.append(version.version)
                    added.append(version)
                }
                #expect(numbers == [2, 3])
                #expect(try await store.versions(keyID: key.id) == added)
                #expect(try await store.version(keyID: key.id, number: 2) == added[1])
                #expect(try await store.key(id: key.id)?.currentVersion == 3)

                let wrongNumber = await #expect(throws: KeyStoreError.self) {
                    try await store.addVersion(keyID: key.id) { key, number in
                        key.currentVersion = number + 1
                        key.description = "never written"
                        return Fixtures.version(of: key.id, number + 1)
                    }
                }
                #expect(wrongNumber?.kind == .alreadyExists)
                let wrongKey = await #expect(throws: KeyStoreError.self) {
                    try await store.addVersion(keyID: key.id) { _, number in Fixtures.version(of: UUID(), number) }
                }
                #expect(wrongKey?.kind == .alreadyExists)
                await #expect(throws: Refused.self) {
                    try await store.addVersion(keyID: key.id) { _, _ in throw Refused() }
                }
                #expect(try await store.versions(keyID: key.id) == added)
                #expect(try await store.key(id: key.id)?.currentVersion == 3)
                #expect(try await store.key(id: key.id)?.description == key.description)

                let unknown = await #expect(throws: KeyStoreError.self) {
                    try await store.addVersion(keyID: UUID()) { key, number in Fixtures.version(of: key.id, number) }
                }
                #expect(unknown?.kind == .notFound)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func concurrentAddVersionsGetDistinctNumbers(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let key = Fixtures.key()
                try await store.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
                let numbers = try await Fixtures.concurrently(tasks: 8, each: 50) {
                    try await store.addVersion(keyID: key.id) { key, number in
                        key.currentVersion = number
                        return Fixtures.version(of: key.id, number)
                    }.version
                }
                #expect(numbers.count == 400)
                #expect(Set(numbers) == Set(2...401))
                #expect(try await store.versions(keyID: key.id).map(\.version) == Array(1...401))
                #expect(try await store.key(id: key.id)?.currentVersion == 401)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func destroyKeyEmptiesEveryVersionsMaterial(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let key = Fixtures.key()
                let other = Fixtures.key()
                try await store.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
                try await store.insertKey(other, firstVersion: Fixtures.version(of: other.id, 1))
                for _ in 0..<2 {
                    _ = try await store.addVersion(keyID: key.id) { key, number in
                        key.currentVersion = number
                        return Fixtures.version(of: key.id, number)
                    }
                }
                let before = try await store.versions(keyID: key.id)
                let otherVersions = try await store.versions(keyID: other.id)
                var current = key
                current.currentVersion = 3

                await #expect(throws: Refused.self) {
                    try await store.destroyKey(id: key.id) { key in
                        key.state = .deleted
                        throw Refused()
                    }
                }
                #expect(try await store.key(id: key.id) == current)
                #expect(try await store.versions(keyID: key.id) == before)

                let deletedAt = Date()
                try await store.destroyKey(id: key.id) { key in
                    key.state = .deleted
                    key.deletedAt = deletedAt
                    key.deletedBy = "arn:aws:iam::111122223333:user/admin"
                }
                var expected = current
                expected.state = .deleted
                expected.deletedAt = deletedAt
                expected.deletedBy = "arn:aws:iam::111122223333:user/admin"
                #expect(try await store.key(id: key.id) == expected)
                let after = try await store.versions(keyID: key.id)
                #expect(after.map(\.wrappedMaterial) == [[], [], []])
                #expect(after.map(\.materialID) == before.map(\.materialID))
                #expect(after.map(\.createdAt) == before.map(\.createdAt))
                #expect(try await store.version(keyID: key.id, number: 2)?.wrappedMaterial == [])
                #expect(try await store.versions(keyID: other.id) == otherVersions)

                let error = await #expect(throws: KeyStoreError.self) {
                    try await store.destroyKey(id: UUID()) { _ in }
                }
                #expect(error?.kind == .notFound)
            }
        }
    }
}
