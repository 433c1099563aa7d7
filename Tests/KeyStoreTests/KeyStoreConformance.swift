import Foundation
import KeyService
import KeyStorePostgres
import KeyStoreSQLite
import Testing

/// The ``KeyStore`` implementations the conformance suite checks. Each case makes a fresh,
/// empty store and disposes of it; the PostgreSQL store gets a fresh schema per test, dropped
/// afterwards.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inMemory
    case sqlite
    case postgres

    /// The kinds this run can check: PostgreSQL only when `ENVSEAL_TEST_POSTGRES_URL` names a
    /// database (``PostgresKeyStoreTests/postgresIsTested()`` is then skipped, loudly, instead).
    static var allCases: [StoreKind] {
        PostgresTestDatabase.url == nil ? [.inMemory, .sqlite] : [.inMemory, .sqlite, .postgres]
    }

    var testDescription: String { rawValue }

    /// Runs `body` with a fresh, empty store of this kind.
    func withStore(_ body: (any KeyStore) async throws -> Void) async throws {
        switch self {
        case .inMemory:
            try await body(InMemoryKeyStore())
        case .sqlite:
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let store = try SQLiteKeyStore(path: directory.path("keys.sqlite"))
            defer { try? store.close() }
            try await body(store)
        case .postgres:
            try await PostgresTestDatabase.withStore(body)
        }
    }
}

/// One behaviour of ``KeyStore`` per test, checked against every ``StoreKind``: the in-memory
/// store is the reference, and every other store must agree with it.
@Suite("KeyStore conformance")
struct KeyStoreConformance {
    // MARK: - Metadata

    @Test(arguments: StoreKind.allCases)
    func metadataIsSetOnlyWhenAbsent(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            #expect(try await store.metadata("salt") == nil)
            #expect(try await store.setMetadataIfAbsent("salt", [1, 2, 3]) == [1, 2, 3])
            #expect(try await store.setMetadataIfAbsent("salt", [9]) == [1, 2, 3])
            #expect(try await store.metadata("salt") == [1, 2, 3])
            #expect(try await store.setMetadataIfAbsent("empty", []) == [])
            #expect(try await store.metadata("empty") == [])
            #expect(try await store.metadata("other") == nil)
        }
    }

    // MARK: - Keys

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
                deleted: make(.deleted, deletion: past)
            )
            let all = [
                keys.rotationDue, keys.rotationDueNow, keys.rotationLater, keys.rotationDisabledKey, keys.rotationOff,
                keys.plain, keys.deletionDue, keys.deletionLater, keys.deleted,
            ]
            for key in all {
                try await store.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
            }
            func sorted(_ keys: [KeyRecord]) -> [KeyRecord] { keys.sorted { $0.id.uuidString < $1.id.uuidString } }

            #expect(try await store.keysDue(at: now) == sorted([keys.rotationDue, keys.rotationDueNow, keys.deletionDue]))
            #expect(
                try await store.keysDue(at: future)
                    == sorted([keys.rotationDue, keys.rotationDueNow, keys.rotationLater, keys.deletionDue, keys.deletionLater]))
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

    // MARK: - Versions

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

    // MARK: - Aliases

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

    // MARK: - Grants

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

    // MARK: - Principals

    @Test(arguments: StoreKind.allCases)
    func principalsAreUniqueByAccessKeyAndName(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let zeta = Fixtures.principal(accessKeyID: "AKIAZETA0000000000001", name: "zeta")
            let alpha = Fixtures.principal(accessKeyID: "AKIAALPHA000000000002", name: "alpha")
            try await store.insertPrincipal(zeta)
            try await store.insertPrincipal(alpha)

            let sameKey = await #expect(throws: KeyStoreError.self) {
                try await store.insertPrincipal(Fixtures.principal(accessKeyID: zeta.accessKeyID, name: "other"))
            }
            #expect(sameKey?.kind == .alreadyExists)
            let sameName = await #expect(throws: KeyStoreError.self) {
                try await store.insertPrincipal(Fixtures.principal(accessKeyID: "AKIAOTHER000000000003", name: "alpha"))
            }
            #expect(sameName?.kind == .alreadyExists)

            #expect(try await store.principal(accessKeyID: zeta.accessKeyID) == zeta)
            #expect(try await store.principal(accessKeyID: "AKIAOTHER000000000003") == nil)
            #expect(try await store.principals() == [alpha, zeta])

            // Admins and disabled principals round-trip; disable, enable, delete.
            var admin = Fixtures.principal(accessKeyID: "AKIAADMIN000000000004", name: "admin")
            admin.isAdmin = true
            try await store.insertPrincipal(admin)
            #expect(try await store.principal(accessKeyID: admin.accessKeyID)?.isAdmin == true)
            try await store.setPrincipalEnabled(accessKeyID: zeta.accessKeyID, false)
            #expect(try await store.principal(accessKeyID: zeta.accessKeyID)?.isEnabled == false)
            try await store.setPrincipalEnabled(accessKeyID: zeta.accessKeyID, true)
            #expect(try await store.principal(accessKeyID: zeta.accessKeyID)?.isEnabled == true)
            let unknown = await #expect(throws: KeyStoreError.self) {
                try await store.setPrincipalEnabled(accessKeyID: "AKIANONE000000000000", false)
            }
            #expect(unknown?.kind == .notFound)
            #expect(try await store.deletePrincipal(accessKeyID: alpha.accessKeyID))
            #expect(try await store.deletePrincipal(accessKeyID: alpha.accessKeyID) == false)
            #expect(try await store.principals().map(\.name) == ["admin", "zeta"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func principalsHaveUniqueIDsAndIdentityPolicies(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            var fn = Fixtures.principal(accessKeyID: "AKIAFN00000000000001", name: "fn")
            fn.identityPolicy = #"{"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}"#
            try await store.insertPrincipal(fn)
            #expect(try await store.principal(accessKeyID: fn.accessKeyID) == fn)
            #expect(fn.uniqueID.hasPrefix("AIDA") && fn.uniqueID.count == 20)
            let sameID = await #expect(throws: KeyStoreError.self) {
                var other = Fixtures.principal(accessKeyID: "AKIAOTHER00000000002", name: "other")
                other.uniqueID = fn.uniqueID
                try await store.insertPrincipal(other)
            }
            #expect(sameID?.kind == .alreadyExists)

            try await store.setPrincipalPolicy(accessKeyID: fn.accessKeyID, nil)
            #expect(try await store.principal(accessKeyID: fn.accessKeyID)?.identityPolicy == nil)
            try await store.setPrincipalPolicy(accessKeyID: fn.accessKeyID, "{}")
            #expect(try await store.principal(accessKeyID: fn.accessKeyID)?.identityPolicy == "{}")
            let unknown = await #expect(throws: KeyStoreError.self) {
                try await store.setPrincipalPolicy(accessKeyID: "AKIANONE000000000000", "{}")
            }
            #expect(unknown?.kind == .notFound)

            // Deleting fn deletes the grants made to it (by id), and only those.
            let key = UUID()
            var toFn = Fixtures.grant(id: "to-fn", keyID: key)
            toFn.granteePrincipalID = fn.uniqueID
            var toNamesake = Fixtures.grant(id: "to-namesake", keyID: key)
            toNamesake.granteePrincipalID = PrincipalDirectory.newUniqueID()
            var unbound = Fixtures.grant(id: "unbound", keyID: key)
            unbound.granteePrincipalID = nil
            var retiredByFn = Fixtures.grant(id: "retired-by-fn", keyID: key, retiringPrincipal: fn.arn)
            retiredByFn.granteePrincipalID = PrincipalDirectory.newUniqueID()
            retiredByFn.retiringPrincipalID = fn.uniqueID
            for grant in [toFn, toNamesake, unbound, retiredByFn] { try await store.insertGrant(grant) }
            #expect(try await store.grants(keyID: key) == [toFn, toNamesake, unbound, retiredByFn])
            #expect(try await store.deletePrincipal(accessKeyID: fn.accessKeyID))
            // A grant it could only retire stays, naming it by its unique id.
            retiredByFn.retiringPrincipal = fn.uniqueID
            #expect(try await store.grants(keyID: key) == [toNamesake, unbound, retiredByFn])
            #expect(try await store.grants(retiringPrincipal: fn.arn) == [])
            #expect(try await store.grants(retiringPrincipal: fn.uniqueID) == [retiredByFn])
            #expect(try await store.principal(accessKeyID: fn.accessKeyID) == nil)
        }
    }

    // MARK: - Audit

    @Test(arguments: StoreKind.allCases)
    func auditRecordsFormASequence(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            #expect(try await store.auditRecords(after: 0, limit: 10) == [])
            var appended: [AuditRecord] = []
            for _ in 0..<5 {
                appended.append(try await store.appendAudit { Fixtures.nextAudit(after: $0) })
            }
            #expect(appended.map(\.sequence) == [1, 2, 3, 4, 5])
            #expect(Fixtures.isChain(appended))

            let skipped = await #expect(throws: KeyStoreError.self) {
                try await store.appendAudit { last in
                    var record = Fixtures.nextAudit(after: last)
                    record.sequence += 1
                    return record
                }
            }
            #expect(skipped?.kind == .alreadyExists)
            await #expect(throws: Refused.self) {
                try await store.appendAudit { _ in throw Refused() }
            }
            // A batch whose second record skips a number writes nothing at all.
            let brokenBatch = await #expect(throws: KeyStoreError.self) {
                try await store.appendAudit(batch: { last in
                    let first = Fixtures.nextAudit(after: last)
                    var second = Fixtures.nextAudit(after: first)
                    second.sequence += 1
                    return [first, second]
                })
            }
            #expect(brokenBatch?.kind == .alreadyExists)
            #expect(try await store.auditRecords(after: 0, limit: 100) == appended)

            // A batch appends its records in order, in one go.
            let batch = try await store.appendAudit(batch: { last in
                let first = Fixtures.nextAudit(after: last)
                let second = Fixtures.nextAudit(after: first)
                return [first, second, Fixtures.nextAudit(after: second)]
            })
            #expect(batch.map(\.sequence) == [6, 7, 8])
            #expect(try await store.auditRecords(after: 5, limit: 100) == batch)
            #expect(Fixtures.isChain(appended + batch))
            #expect(try await store.auditRecords(after: 0, limit: 2) == Array(appended[0..<2]))
            #expect(try await store.auditRecords(after: 2, limit: 2) == Array(appended[2..<4]))
            #expect(try await store.auditRecords(after: 4, limit: 2) == [appended[4], batch[0]])
            #expect(try await store.auditRecords(after: 8, limit: 2) == [])
            #expect(try await store.auditRecords(after: 0, limit: 0) == [])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func concurrentAuditAppendsFormOneChain(kind: StoreKind) async throws {
        try await kind.withStore { (store) async throws in
            let sequences = try await Fixtures.concurrently(tasks: 8, each: 100) {
                try await store.appendAudit { Fixtures.nextAudit(after: $0) }.sequence
            }
            #expect(Set(sequences) == Set(1...800))
            let records = try await Fixtures.allAudit(of: store)
            #expect(records.map(\.sequence) == Array(1...800))
            #expect(Fixtures.isChain(records))
        }
    }
}

/// An error a test's closure throws to refuse a change.
struct Refused: Error {}

/// A directory for one test, removed by ``remove()``.
struct TemporaryDirectory: Sendable {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-keystore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Records for the tests, and checks of what stores return.
enum Fixtures {
    static let account = "111122223333"

    static func key(_ id: UUID = UUID()) -> KeyRecord {
        KeyRecord(
            id: id, arn: "arn:aws:kms:us-east-1:\(account):key/\(id.uuidString.lowercased())", account: account,
            description: "test key", createdAt: Date(), createdBy: "arn:aws:iam::\(account):user/admin",
            policy: #"{"Version":"2012-10-17","Statement":[]}"#)
    }

    /// A key with every optional field set.
    static func fullKey() -> KeyRecord {
        var key = key()
        key.tags = [KeyTag(key: "b", value: "2"), KeyTag(key: "a", value: "1")]
        key.state = .pendingDeletion
        key.deletionDate = Date().addingTimeInterval(7 * 86_400)
        key.deletionScheduledBy = "arn:aws:iam::\(account):user/admin"
        key.deletedAt = Date()
        key.deletedBy = "arn:aws:iam::\(account):user/admin"
        key.rotationEnabled = true
        key.rotationPeriodDays = 365
        key.nextRotationDate = Date().addingTimeInterval(365 * 86_400)
        key.onDemandRotationCount = 3
        key.currentVersion = 1
        return key
    }

    static func version(of keyID: UUID, _ number: UInt32, rotationType: RotationType = .initial) -> KeyVersionRecord {
        KeyVersionRecord(
            keyID: keyID, version: number, wrappedMaterial: randomBytes(60),
            materialID: randomBytes(32).map { String(format: "%02x", $0) }.joined(), createdAt: Date(), rotationType: rotationType)
    }

    static func grant(id: String, keyID: UUID, retiringPrincipal: String? = nil) -> GrantRecord {
        GrantRecord(
            id: id, token: "token-\(id)", keyID: keyID, name: "name-\(id)", granteePrincipal: "arn:aws:iam::\(account):user/fn",
            retiringPrincipal: retiringPrincipal, operations: ["Decrypt", "GenerateDataKey"],
            encryptionContextSubset: ["app": "billing", "stage": "prod"], encryptionContextEquals: ["k": "v"],
            issuingAccount: account, createdAt: Date(), createdBy: "arn:aws:iam::\(account):user/admin")
    }

    static func principal(accessKeyID: String, name: String) -> PrincipalRecord {
        PrincipalRecord(
            accessKeyID: accessKeyID, name: name, arn: "arn:aws:iam::\(account):user/\(name)", account: account,
            wrappedSecret: randomBytes(48), createdAt: Date())
    }

    /// The record after `last`, chained to it by ``chainHash(_:_:)``.
    static func nextAudit(after last: AuditRecord?) -> AuditRecord {
        let sequence = (last?.sequence ?? 0) + 1
        let previous = last?.hash ?? [UInt8](repeating: 0, count: 32)
        return AuditRecord(
            sequence: sequence, time: Date(), principal: "arn:aws:iam::\(account):user/admin", operation: "Decrypt",
            keyARN: sequence.isMultiple(of: 2) ? nil : "arn:aws:kms:us-east-1:\(account):key/k",
            encryptionContext: sequence.isMultiple(of: 3) ? nil : ["purpose": "test", "n": "\(sequence)"],
            outcome: "Allowed", requestID: UUID().uuidString, previousHash: previous, hash: chainHash(previous, sequence))
    }

    /// A stand-in for the engine's keyed BLAKE2b: FNV-1a over the previous hash and the
    /// sequence, stretched to 32 bytes. Not cryptographic; it only has to make each record's
    /// hash depend on the one before, so that a fork or a gap shows.
    static func chainHash(_ previous: [UInt8], _ sequence: Int64) -> [UInt8] {
        var state: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        previous.forEach(mix)
        withUnsafeBytes(of: sequence.littleEndian) { $0.forEach(mix) }
        var hash: [UInt8] = []
        for round in 0..<4 {
            mix(UInt8(round))
            withUnsafeBytes(of: state.littleEndian) { hash.append(contentsOf: $0) }
        }
        return hash
    }

    /// Whether `records` are 1…n, each chained to the one before.
    static func isChain(_ records: [AuditRecord]) -> Bool {
        var previous = [UInt8](repeating: 0, count: 32)
        for (index, record) in records.enumerated() {
            guard record.sequence == Int64(index + 1), record.previousHash == previous,
                record.hash == chainHash(previous, record.sequence)
            else { return false }
            previous = record.hash
        }
        return true
    }

    /// Every audit record, read a page at a time.
    static func allAudit(of store: any KeyStore) async throws -> [AuditRecord] {
        var records: [AuditRecord] = []
        while true {
            let page = try await store.auditRecords(after: records.last?.sequence ?? 0, limit: 128)
            if page.isEmpty { return records }
            records += page
        }
    }

    /// Runs `operation` `each` times in each of `tasks` concurrent tasks; returns every result.
    static func concurrently<T: Sendable>(
        tasks: Int, each: Int, _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> [T] {
        try await withThrowingTaskGroup(of: [T].self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var results: [T] = []
                    for _ in 0..<each { results.append(try await operation()) }
                    return results
                }
            }
            var all: [T] = []
            for try await results in group { all += results }
            return all
        }
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in generator.next() }
    }
}
