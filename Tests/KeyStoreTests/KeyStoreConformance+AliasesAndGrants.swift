import Foundation
import KeyService
import Testing

extension KeyStoreConformance {
    /// Aliases: unique names pointing at keys.
    @Suite("Aliases")
    struct Aliases {
        @Test(arguments: StoreKind.allCases)
        func aliases(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let keyA = UUID()
                let keyB = UUID()
                let created = Date()
                let names = ["alias/c", "alias/a", "alias/e", "alias/b", "alias/d"]
                var records: [AliasRecord] = []
                for (index, name) in names.enumerated() {
                    let record = AliasRecord(name: name, keyID: index.isMultiple(of: 2) ? keyA : keyB, createdAt: created, updatedAt: created)
                    try await store.insertAlias(record)
                    records.append(record)
                }
                let duplicate = await #expect(throws: KeyStoreError.self) {
                    try await store.insertAlias(AliasRecord(name: "alias/a", keyID: keyA, createdAt: created, updatedAt: created))
                }
                #expect(duplicate?.kind == .alreadyExists)
                #expect(try await store.alias(named: "alias/a") == records[1])
                #expect(try await store.alias(named: "alias/none") == nil)

                let byName = records.sorted { $0.name < $1.name }
                #expect(try await store.aliases(keyID: nil, after: nil, limit: 100) == byName)
                #expect(try await store.aliases(keyID: nil, after: nil, limit: 2) == Array(byName[0..<2]))
                #expect(try await store.aliases(keyID: nil, after: "alias/b", limit: 2) == Array(byName[2..<4]))
                #expect(try await store.aliases(keyID: nil, after: "alias/d", limit: 2) == [byName[4]])
                #expect(try await store.aliases(keyID: nil, after: "alias/e", limit: 2) == [])
                #expect(try await store.aliases(keyID: keyA, after: nil, limit: 100) == byName.filter { $0.keyID == keyA })
                #expect(try await store.aliases(keyID: keyA, after: "alias/c", limit: 1) == byName.filter { $0.keyID == keyA && $0.name > "alias/c" }.prefix(1).map { $0 })
                #expect(try await store.aliases(keyID: UUID(), after: nil, limit: 100) == [])

                let moved = created.addingTimeInterval(5)
                try await store.updateAlias(named: "alias/b", keyID: keyA, at: moved)
                #expect(try await store.alias(named: "alias/b") == AliasRecord(name: "alias/b", keyID: keyA, createdAt: created, updatedAt: moved))
                #expect(try await store.aliases(keyID: keyB, after: nil, limit: 100).map(\.name) == ["alias/a"])
                let unknown = await #expect(throws: KeyStoreError.self) {
                    try await store.updateAlias(named: "alias/none", keyID: keyA, at: moved)
                }
                #expect(unknown?.kind == .notFound)

                #expect(try await store.deleteAlias(named: "alias/c") == true)
                #expect(try await store.deleteAlias(named: "alias/c") == false)
                #expect(try await store.alias(named: "alias/c") == nil)
                #expect(try await store.aliases(keyID: nil, after: nil, limit: 100).map(\.name) == ["alias/a", "alias/b", "alias/d", "alias/e"])
            }
        }
    }
}

extension KeyStoreConformance {
    /// Grants: listed by key and by retiring principal.
    @Suite("Grants")
    struct Grants {
        @Test(arguments: StoreKind.allCases)
        func grantsByKeyAndByRetiringPrincipal(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let keyA = UUID()
                let keyB = UUID()
                // Ids out of alphabetical order: the order asked for is insertion (oldest first).
                let start = Date()
                var g1 = Fixtures.grant(id: "z-grant", keyID: keyA, retiringPrincipal: "arn:aws:iam::111122223333:user/p")
                var g2 = Fixtures.grant(id: "a-grant", keyID: keyB, retiringPrincipal: "arn:aws:iam::111122223333:user/p")
                var g3 = Fixtures.grant(id: "m-grant", keyID: keyA, retiringPrincipal: nil)
                var g4 = Fixtures.grant(id: "b-grant", keyID: keyA, retiringPrincipal: "arn:aws:iam::111122223333:user/q")
                g3.name = nil
                g3.encryptionContextSubset = nil
                g4.encryptionContextEquals = nil
                g1.createdAt = start
                g2.createdAt = start.addingTimeInterval(1)
                g3.createdAt = start.addingTimeInterval(2)
                g4.createdAt = start.addingTimeInterval(3)
                for grant in [g1, g2, g3, g4] {
                    try await store.insertGrant(grant)
                }
                let duplicate = await #expect(throws: KeyStoreError.self) {
                    try await store.insertGrant(Fixtures.grant(id: "m-grant", keyID: keyB))
                }
                #expect(duplicate?.kind == .alreadyExists)

                #expect(try await store.grants(keyID: keyA) == [g1, g3, g4])
                #expect(try await store.grants(keyID: keyB) == [g2])
                #expect(try await store.grants(keyID: UUID()) == [])
                #expect(try await store.grants(retiringPrincipal: "arn:aws:iam::111122223333:user/p") == [g1, g2])
                #expect(try await store.grants(retiringPrincipal: "arn:aws:iam::111122223333:user/q") == [g4])
                #expect(try await store.grants(retiringPrincipal: "arn:aws:iam::111122223333:user/nobody") == [])

                #expect(try await store.deleteGrant(id: "m-grant") == true)
                #expect(try await store.deleteGrant(id: "m-grant") == false)
                #expect(try await store.grants(keyID: keyA) == [g1, g4])
                // A grant added after a deletion is still the newest.
                let g5 = Fixtures.grant(id: "c-grant", keyID: keyA)
                try await store.insertGrant(g5)
                #expect(try await store.grants(keyID: keyA) == [g1, g4, g5])
            }
        }
    }
}
