import Foundation
import KeyService
import Testing

extension KeyStoreConformance {
    /// Key records: insert, read, page, due dates and updates.
    @Suite("Keys")
    struct Keys {
        @Test(arguments: StoreKind.allCases)
        func keysAreInsertedAndRead(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let key = Fixtures.fullKey()
                let first = Fixtures.version(of: key.id, 1)
                try await store.insertKey(key, firstVersion: first)

                #expect(try await store.key(id: key.id) == key)
                #expect(try await store.versions(keyID: key.id) == [first])
                #expect(try await store.version(keyID: key.id, number: 1) == first)
                #expect(try await store.version(keyID: key.id, number: 2) == nil)
                #expect(try await store.key(id: UUID()) == nil)
                #expect(try await store.versions(keyID: UUID()) == [])

                var again = Fixtures.key()
                again.id = key.id
                let error = await #expect(throws: KeyStoreError.self) {
                    try await store.insertKey(again, firstVersion: Fixtures.version(of: key.id, 1))
                }
                #expect(error?.kind == .alreadyExists)
                #expect(try await store.key(id: key.id) == key)
            }
        }

        @Test(arguments: StoreKind.allCases)
        func recordsRoundTripExactly(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                // Dates a millisecond or microsecond encoding would round; text that needs escaping.
                let awkward = [
                    Date(timeIntervalSinceReferenceDate: (0.1 + 0.2).nextUp), Date(timeIntervalSinceReferenceDate: -1e9 / 3),
                    Date(timeIntervalSince1970: 1_767_225_600.123_456_789), Date(), .distantPast, .distantFuture,
                ]
                for (index, date) in awkward.enumerated() {
                    var key = Fixtures.fullKey()
                    key.createdAt = date
                    key.deletionDate = date
                    key.nextRotationDate = date
                    key.description = "\"quoted\" \\ back/slash \u{1F511} é\n\t#\(index)"
                    let version = KeyVersionRecord(
                        keyID: key.id, version: 1, wrappedMaterial: [0, 255, 0], materialID: "m", createdAt: date, rotationType: .initial)
                    try await store.insertKey(key, firstVersion: version)
                    #expect(try await store.key(id: key.id) == key)
                    #expect(try await store.versions(keyID: key.id) == [version])

                    let alias = AliasRecord(name: "alias/round-trip-\(index)", keyID: key.id, createdAt: date, updatedAt: date)
                    try await store.insertAlias(alias)
                    #expect(try await store.alias(named: alias.name) == alias)

                    var grant = Fixtures.grant(id: "grant-\(index)", keyID: key.id)
                    grant.createdAt = date
                    try await store.insertGrant(grant)
                    #expect(try await store.grants(keyID: key.id) == [grant])

                    var principal = Fixtures.principal(accessKeyID: "AKIAROUNDTRIP\(index)", name: "round-trip-\(index)")
                    principal.createdAt = date
                    try await store.insertPrincipal(principal)
                    #expect(try await store.principal(accessKeyID: principal.accessKeyID) == principal)

                    let audit = try await store.appendAudit { last in
                        var record = Fixtures.nextAudit(after: last)
                        record.time = date
                        return record
                    }
                    #expect(try await store.auditRecords(after: audit.sequence - 1, limit: 1) == [audit])
                }
            }
        }

        @Test(arguments: StoreKind.allCases)
        func keysArePagedInIDOrder(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                var inserted: [KeyRecord] = []
                for _ in 0..<7 {
                    let key = Fixtures.key()
                    try await store.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
                    inserted.append(key)
                }
                let sorted = inserted.sorted { $0.id.uuidString < $1.id.uuidString }

                #expect(try await store.keys(after: nil, limit: 3) == Array(sorted[0..<3]))
                #expect(try await store.keys(after: sorted[2].id, limit: 3) == Array(sorted[3..<6]))
                #expect(try await store.keys(after: sorted[5].id, limit: 3) == [sorted[6]])
                #expect(try await store.keys(after: sorted[6].id, limit: 3) == [])
                #expect(try await store.keys(after: nil, limit: 100) == sorted)
                #expect(try await store.keys(after: nil, limit: 0) == [])
                // A marker need not be a stored id.
                let lowest = try #require(UUID(uuidString: "00000000-0000-0000-0000-000000000000"))
                let highest = try #require(UUID(uuidString: "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"))
                #expect(try await store.keys(after: lowest, limit: 100) == sorted)
                #expect(try await store.keys(after: highest, limit: 100) == [])
            }
        }

        @Test(arguments: StoreKind.allCases)
        func keysDueForRotationOrDeletion(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let now = Date()
                let past = now.addingTimeInterval(-60)
                let future = now.addingTimeInterval(60)
                func make(_ state: KeyState, rotation: Date? = nil, deletion: Date? = nil) -> KeyRecord {
                    var key = Fixtures.key()
                    key.state = state
                    key.rotationEnabled = rotation != nil
                    key.rotationPeriodDays = rotation.map { _ in 365 }
                    key.nextRotationDate = rotation
                    key.deletionDate = deletion
                    return key
                }
                func expiring(_ state: KeyState, _ validTo: Date) -> KeyRecord {
                    var key = make(state)
                    key.origin = .external
                    key.expirationModel = "KEY_MATERIAL_EXPIRES"
                    key.validTo = validTo
                    return key
                }
                var rotationOffButDated = make(.enabled)
                rotationOffButDated.nextRotationDate = past
                let keys = (
                    rotationDue: make(.enabled, rotation: past),
                    rotationDueNow: make(.enabled, rotation: now),
                    rotationLater: make(.enabled, rotation: future),
                    rotationDisabledKey: make(.disabled, rotation: past),
                    rotationOff: rotationOffButDated,
                    plain: make(.enabled),
                    deletionDue: make(.pendingDeletion, deletion: past),
                    deletionLater: make(.pendingDeletion, deletion: future),
                    deleted: make(.deleted, deletion: past),
                    importExpired: expiring(.disabled, past),
                    importLater: expiring(.enabled, future),
                    importPending: expiring(.pendingImport, past)
                )
                let all = [
                    keys.rotationDue, keys.rotationDueNow, keys.rotationLater, keys.rotationDisabledKey, keys.rotationOff,
                    keys.plain, keys.deletionDue, keys.deletionLater, keys.deleted, keys.importExpired, keys.importLater,
                    keys.importPending,
                ]
                for key in all {
                    try await store.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
                }
                func sorted(_ keys: [KeyRecord]) -> [KeyRecord] { keys.sorted { $0.id.uuidString < $1.id.uuidString } }

                #expect(try await store.keysDue(at: now) == sorted([keys.rotationDue, keys.rotationDueNow, keys.deletionDue, keys.importExpired]))
                #expect(
                    try await store.keysDue(at: future)
                        == sorted([keys.rotationDue, keys.rotationDueNow, keys.rotationLater, keys.deletionDue, keys.deletionLater,
                                   keys.importExpired, keys.importLater]))
                #expect(try await store.keysDue(at: past.addingTimeInterval(-1)) == [])
            }
        }

        @Test(arguments: StoreKind.allCases)
        func updateKeyPersistsOrWritesNothing(kind: StoreKind) async throws {
            try await kind.withStore { (store) async throws in
                let key = Fixtures.key()
                try await store.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
                let deletion = Date().addingTimeInterval(-1)

                let returned = try await store.updateKey(id: key.id) { key in
                    key.description = "changed"
                    key.state = .pendingDeletion
                    key.deletionDate = deletion
                    key.tags.append(KeyTag(key: "team", value: "billing"))
                    return 42
                }
                #expect(returned == 42)
                var expected = key
                expected.description = "changed"
                expected.state = .pendingDeletion
                expected.deletionDate = deletion
                expected.tags.append(KeyTag(key: "team", value: "billing"))
                #expect(try await store.key(id: key.id) == expected)
                // What the store queries on follows the record.
                #expect(try await store.keysDue(at: Date()) == [expected])

                await #expect(throws: Refused.self) {
                    try await store.updateKey(id: key.id) { key in
                        key.description = "never written"
                        key.state = .enabled
                        throw Refused()
                    }
                }
                #expect(try await store.key(id: key.id) == expected)
                #expect(try await store.keysDue(at: Date()) == [expected])

                let error = await #expect(throws: KeyStoreError.self) {
                    try await store.updateKey(id: UUID()) { _ in }
                }
                #expect(error?.kind == .notFound)
            }
        }
    }
}
