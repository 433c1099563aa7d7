import Foundation
import KeyService
import KeyStoreSQLite
import Testing

/// What only the SQLite store promises: its files, its pragmas, its schema's history, sharing a
/// file between instances, shredding destroyed material, and surviving SIGKILL.
@Suite("SQLiteKeyStore")
struct SQLiteKeyStoreTests {
    // MARK: - Files and pragmas

    @Test func filesAreOwnerOnly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("nested/store/keys.sqlite")
        let store = try SQLiteKeyStore(path: path)
        defer { try? store.close() }
        _ = try await store.setMetadataIfAbsent("check", [1])

        #expect(try mode(of: directory.path("nested/store")) == 0o700)
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(try mode(of: file) == 0o600, "\(file)")
        }
    }

    @Test func filesAreOwnerOnlyWhateverTheUmask() async throws {
        // In a child process, since the umask is the whole process's: the probe creates a store
        // under `umask 000` (SQLite alone would make it 0644) and is killed while it is open,
        // leaving the -wal and -shm files in place.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("nested/keys.sqlite")
        let probe = try ProbeRun(path: path, count: ProbeRun.operations, umask: "000")
        _ = try probe.readLines(atLeast: 20)
        _ = probe.killAndDrain()

        #expect(try mode(of: directory.path("nested")) == 0o700)
        for file in [path, path + "-wal", path + "-shm"] {
            #expect(try mode(of: file) == 0o600, "\(file)")
        }
    }

    @Test(arguments: [SQLiteKeyStore.Durability.normal, .full])
    func walAndSynchronousFollowDurability(durability: SQLiteKeyStore.Durability) async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteKeyStore(path: directory.path("keys.sqlite"), durability: durability)
        defer { try? store.close() }

        #expect(try await store.inspect("PRAGMA journal_mode") == ["wal"])
        #expect(try await store.inspect("PRAGMA synchronous") == [durability == .full ? "2" : "1"])
        #expect(try await store.inspect("PRAGMA secure_delete") == ["1"])
        #expect(try await store.inspect("PRAGMA temp_store") == ["2"])
        #expect(store.durability == durability)
    }

    @Test func reopeningSeesEverything() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        let key = Fixtures.fullKey()
        let grant = Fixtures.grant(id: "g", keyID: key.id, retiringPrincipal: "arn:aws:iam::111122223333:user/p")
        let principal = Fixtures.principal(accessKeyID: "AKIAREOPEN0000000001", name: "reopen")
        let alias = AliasRecord(name: "alias/reopen", keyID: key.id, createdAt: Date(), updatedAt: Date())

        let written = try SQLiteKeyStore(path: path)
        _ = try await written.setMetadataIfAbsent("root-check", [7, 7, 7])
        try await written.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
        _ = try await written.addVersion(keyID: key.id) { key, number in
            key.currentVersion = number
            return Fixtures.version(of: key.id, number)
        }
        try await written.insertAlias(alias)
        try await written.insertGrant(grant)
        try await written.insertPrincipal(principal)
        for _ in 0..<3 {
            _ = try await written.appendAudit { Fixtures.nextAudit(after: $0) }
        }
        let versions = try await written.versions(keyID: key.id)
        let audit = try await Fixtures.allAudit(of: written)
        try written.close()

        for durability in [SQLiteKeyStore.Durability.normal, .full] {
            let reopened = try SQLiteKeyStore(path: path, durability: durability)
            #expect(try await reopened.metadata("root-check") == [7, 7, 7])
            #expect(try await reopened.key(id: key.id)?.currentVersion == 2)
            #expect(try await reopened.versions(keyID: key.id) == versions)
            #expect(try await reopened.alias(named: alias.name) == alias)
            #expect(try await reopened.grants(keyID: key.id) == [grant])
            #expect(try await reopened.principals() == [principal])
            #expect(try await Fixtures.allAudit(of: reopened) == audit)
            try reopened.close()
        }
    }

    // MARK: - Shredding

    @Test func destroyedMaterialLeavesNoTraceOnDisk() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        let store = try SQLiteKeyStore(path: path)
        defer { try? store.close() }

        // Random 32-byte patterns cannot occur in the files by chance. One version is large
        // enough to spill onto overflow pages.
        let patterns = (0..<3).map { _ in Fixtures.randomBytes(32) }
        let kept = Fixtures.randomBytes(32)
        let materials = [patterns[0], patterns[1], Array(repeating: patterns[2], count: 150).flatMap { $0 }]
        let key = Fixtures.key()
        let other = Fixtures.key()
        try await store.insertKey(key, firstVersion: material(materials[0], key: key.id, version: 1))
        try await store.insertKey(other, firstVersion: material(kept, key: other.id, version: 1))
        // Part of the material in the database file, part only in the WAL.
        try await store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for number: UInt32 in 2...3 {
            _ = try await store.addVersion(keyID: key.id) { key, next in
                key.currentVersion = next
                return material(materials[Int(number) - 1], key: key.id, version: next)
            }
        }
        for pattern in patterns + [kept] {
            #expect(try filesContain(pattern, path: path), "the search must find live material")
        }

        try await store.destroyKey(id: key.id) { $0.state = .deleted }

        for pattern in patterns {
            #expect(try !filesContain(pattern, path: path), "destroyed material is still on disk")
        }
        #expect(try filesContain(kept, path: path))
        #expect(try await store.versions(keyID: other.id).first?.wrappedMaterial == kept)
        // Nothing comes back once the remaining WAL content reaches the file and on close.
        try await store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try store.close()
        for pattern in patterns {
            #expect(try !filesContain(pattern, path: path), "destroyed material is still on disk")
        }
        #expect(try filesContain(kept, path: path))
    }

    // MARK: - Migrations

    @Test func aDatabaseCreatedByV1OpensAgain() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        // As an envseal whose schema was v1 left it; opening migrates it to the current schema.
        try SQLiteKeyStore.createDatabase(at: path, upTo: "v1")
        let first = try SQLiteKeyStore(path: path)
        #expect(try await first.inspect("SELECT identifier FROM grdb_migrations ORDER BY rowid") == SQLiteKeyStore.schemaMigrations)
        let key = Fixtures.fullKey()
        try await first.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
        _ = try await first.appendAudit { Fixtures.nextAudit(after: $0) }
        try first.close()

        let second = try SQLiteKeyStore(path: path)
        defer { try? second.close() }
        #expect(try await second.inspect("SELECT identifier FROM grdb_migrations ORDER BY rowid") == SQLiteKeyStore.schemaMigrations)
        #expect(try await second.key(id: key.id) == key)
        #expect(Fixtures.isChain(try await Fixtures.allAudit(of: second)))
        #expect(try await second.inspect("PRAGMA integrity_check") == ["ok"])
    }

    @Test func principalsOfAV2DatabaseGetUniqueIDsAndTheirGrantsAreBound() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        let user = "arn:aws:iam::111122223333:user/"
        try SQLiteKeyStore.createDatabase(at: path, upTo: "v2-principal-flags", then: """
            INSERT INTO principals (access_key_id, name, arn, account, wrapped_secret, created_at, is_admin, enabled)
            VALUES ('AKIAADMIN', 'admin', '\(user)admin', '111122223333', x'00', 0, 1, 1),
                   ('AKIAFN', 'fn', '\(user)fn', '111122223333', x'00', 0, 0, 1);
            INSERT INTO grants (id, position, token, key_id, name, grantee_principal, retiring_principal, operations,
                                encryption_context_subset, encryption_context_equals, issuing_account, created_at, created_by)
            VALUES ('to-fn', 1, 't1', 'K', NULL, '\(user)fn', '\(user)admin', '["Decrypt"]', NULL, NULL, '111122223333', 0, 'x'),
                   ('to-nobody', 2, 't2', 'K', NULL, '\(user)gone', NULL, '["Decrypt"]', NULL, NULL, '111122223333', 0, 'x');
            """)
        let store = try SQLiteKeyStore(path: path)
        defer { try? store.close() }
        let principals = try await store.principals()
        let admin = try #require(principals.first { $0.name == "admin" })
        let fn = try #require(principals.first { $0.name == "fn" })
        for principal in principals {
            #expect(principal.uniqueID.count == 20 && principal.uniqueID.hasPrefix("AIDA"))
            #expect(principal.uniqueID.dropFirst(4).allSatisfy { ("A"..."Z").contains($0) || ("2"..."7").contains($0) })
        }
        #expect(admin.uniqueID != fn.uniqueID)
        #expect(admin.identityPolicy == PrincipalDirectory.administratorPolicy)
        #expect(fn.identityPolicy == nil)
        let bound = try await store.inspect("SELECT id || ' ' || coalesce(grantee_principal_id, '-') || ' ' || coalesce(retiring_principal_id, '-') FROM grants ORDER BY position")
        #expect(bound == ["to-fn \(fn.uniqueID) \(admin.uniqueID)", "to-nobody - -"])
    }

    @Test func keysOfAV3DatabaseAreSymmetricAndThePolicyStaysLast() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        try SQLiteKeyStore.createDatabase(at: path, upTo: "v3-principal-identity", then: """
            INSERT INTO keys (id, state, rotation_enabled, arn, account, description, created_at, created_by,
                              on_demand_rotation_count, current_version, tags, policy)
            VALUES ('8F0D1C5E-2B7A-4C39-9E61-0A4B3C2D1E0F', 'Enabled', 0, 'arn', '111122223333', 'old', 0, 'x', 0, 1, '[]', '{}');
            """)
        let store = try SQLiteKeyStore(path: path)
        defer { try? store.close() }
        let id = try #require(UUID(uuidString: "8F0D1C5E-2B7A-4C39-9E61-0A4B3C2D1E0F"))
        let key = try #require(try await store.key(id: id))
        #expect(key.keySpec == .symmetricDefault)
        #expect(key.description == "old")
        #expect(try await store.inspect("SELECT name FROM pragma_table_info('keys') ORDER BY cid DESC LIMIT 1") == ["policy"])
        #expect(try await store.inspect("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'keys' AND sql IS NOT NULL") == ["keys_by_state"])
        #expect(try await store.inspect("PRAGMA integrity_check") == ["ok"])
    }

    @Test func aMigrationFromTheFutureIsRefused() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        let store = try SQLiteKeyStore(path: path)
        try await store.execute("INSERT INTO grdb_migrations (identifier) VALUES ('v2-from-a-newer-envseal')")
        try store.close()

        let error = #expect(throws: KeyStoreError.self) { try SQLiteKeyStore(path: path) }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("v2-from-a-newer-envseal") == true)
        #expect(error?.message.contains("newer") == true)
    }

    @Test func instancesOpeningANewFileTogetherAllSucceed() async throws {
        // Several processes starting at once on a new file race to create it and run v1.
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for round in 0..<10 {
            let path = directory.path("race-\(round).sqlite")
            let opened = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        let store = try SQLiteKeyStore(path: path)
                        _ = try await store.appendAudit { Fixtures.nextAudit(after: $0) }
                        try store.close()
                        return true
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(opened == 4)
            let store = try SQLiteKeyStore(path: path)
            #expect(try await store.inspect("SELECT identifier FROM grdb_migrations ORDER BY rowid") == SQLiteKeyStore.schemaMigrations)
            #expect(Fixtures.isChain(try await Fixtures.allAudit(of: store)))
            try store.close()
        }
    }

    // MARK: - Sharing a file

    @Test func twoInstancesOnOneFileKeepOneChain() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        let stores = [try SQLiteKeyStore(path: path), try SQLiteKeyStore(path: path)]
        defer { stores.forEach { try? $0.close() } }
        let key = Fixtures.key()
        try await stores[0].insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))

        let sequences = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for task in 0..<8 {
                let store = stores[task % 2]
                group.addTask {
                    var sequences: [Int64] = []
                    for _ in 0..<100 {
                        sequences.append(try await store.appendAudit { Fixtures.nextAudit(after: $0) }.sequence)
                    }
                    return sequences
                }
            }
            return try await group.reduce([], +)
        }
        #expect(Set(sequences) == Set(1...800))
        for store in stores {
            let records = try await Fixtures.allAudit(of: store)
            #expect(records.map(\.sequence) == Array(1...800))
            #expect(Fixtures.isChain(records))
        }

        let numbers = try await withThrowingTaskGroup(of: [UInt32].self) { group in
            for task in 0..<4 {
                let store = stores[task % 2]
                group.addTask {
                    var numbers: [UInt32] = []
                    for _ in 0..<25 {
                        numbers.append(try await store.addVersion(keyID: key.id) { key, number in
                            key.currentVersion = number
                            return Fixtures.version(of: key.id, number)
                        }.version)
                    }
                    return numbers
                }
            }
            return try await group.reduce([], +)
        }
        #expect(Set(numbers) == Set(2...101))
        #expect(try await stores[1].versions(keyID: key.id).map(\.version) == Array(1...101))
        #expect(try await stores[0].key(id: key.id)?.currentVersion == 101)
    }

    // MARK: - Unusable paths

    @Test func aDirectoryInTheWayIsUnavailable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)

        let error = #expect(throws: KeyStoreError.self) { try SQLiteKeyStore(path: path) }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains(path) == true)
    }

    @Test func aPathUnderARegularFileIsUnavailable() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.path("plain-file")
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: file))
        let path = file + "/keys.sqlite"

        let error = #expect(throws: KeyStoreError.self) { try SQLiteKeyStore(path: path) }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains(path) == true)
    }

    @Test func errorsNameTheFileButNoStoredValue() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        let store = try SQLiteKeyStore(path: path)
        var key = Fixtures.key()
        key.description = "secret-looking-description"
        try await store.insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
        // A row something else wrote and this version cannot read.
        try await store.execute("UPDATE keys SET state = 'Melted'")

        let unreadable = await #expect(throws: KeyStoreError.self) { try await store.key(id: key.id) }
        #expect(unreadable?.kind == .unavailable)
        #expect(unreadable?.message.contains(path) == true)
        #expect(unreadable?.message.contains("keys") == true)
        #expect(unreadable?.message.contains("Melted") == false)
        #expect(unreadable?.message.contains("secret-looking-description") == false)

        try store.close()
        let closed = await #expect(throws: KeyStoreError.self) { try await store.metadata("anything") }
        #expect(closed?.kind == .unavailable)
        #expect(closed?.message.contains(path) == true)
    }

    // MARK: - Crash durability

    @Test func everyAcknowledgedChangeSurvivesSIGKILL() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("keys.sqlite")
        var acknowledged: [String] = []

        for _ in 0..<5 {
            let probe = try ProbeRun(path: path, count: ProbeRun.operations)
            var lines = try probe.readLines(atLeast: Int.random(in: 200...600))
            // Lines the probe printed after the ones read and before dying were acknowledged too.
            lines += probe.killAndDrain()
            #expect(probe.wasKilled, "the probe must still have been running when killed")
            acknowledged += lines

            let store = try SQLiteKeyStore(path: path)
            try await expectPresent(acknowledged, in: store)
            #expect(try await store.inspect("PRAGMA integrity_check") == ["ok"])
            try store.close()
        }
    }

    /// Checks that every line the probe printed names something in `store`, and that the audit
    /// log is one unbroken chain reaching at least the last acknowledged record.
    private func expectPresent(_ lines: [String], in store: SQLiteKeyStore) async throws {
        var lastAudit: Int64 = 0
        for line in lines {
            let fields = line.split(separator: " ").map(String.init)
            switch (fields.first, fields.count) {
            case ("key", 2):
                let id = try #require(UUID(uuidString: fields[1]))
                #expect(try await store.key(id: id) != nil, "\(line)")
                #expect(try await store.version(keyID: id, number: 1) != nil, "\(line)")
            case ("version", 3):
                let id = try #require(UUID(uuidString: fields[1]))
                let number = try #require(UInt32(fields[2]))
                #expect(try await store.version(keyID: id, number: number) != nil, "\(line)")
                #expect((try await store.key(id: id)?.currentVersion ?? 0) >= number, "\(line)")
            case ("alias", 2):
                #expect(try await store.alias(named: fields[1]) != nil, "\(line)")
            case ("audit", 2):
                lastAudit = max(lastAudit, try #require(Int64(fields[1])))
            default:
                Issue.record("unexpected probe output: \(line)")
            }
        }
        let audit = try await Fixtures.allAudit(of: store)
        #expect(audit.count >= lastAudit)
        #expect(audit.map(\.sequence) == (0..<audit.count).map { Int64($0 + 1) })
        #expect(audit.first.map { $0.previousHash == [UInt8](repeating: 0, count: 32) } ?? true)
        #expect(zip(audit, audit.dropFirst()).allSatisfy { $0.hash == $1.previousHash })
    }
}

// MARK: - Helpers

/// The permission bits of a file.
private func mode(of path: String) throws -> Int {
    let attributes = try FileManager.default.attributesOfItem(atPath: path)
    return try #require(attributes[.posixPermissions] as? Int)
}

/// A version record holding `bytes` as its material.
private func material(_ bytes: [UInt8], key: UUID, version: UInt32) -> KeyVersionRecord {
    KeyVersionRecord(
        keyID: key, version: version, wrappedMaterial: bytes, materialID: String(repeating: "a", count: 64),
        createdAt: Date(), rotationType: version == 1 ? .initial : .onDemand)
}

/// Whether the database file or its -wal or -shm file holds `pattern`.
private func filesContain(_ pattern: [UInt8], path: String) throws -> Bool {
    let needle = Data(pattern)
    for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
        if try Data(contentsOf: URL(fileURLWithPath: file)).range(of: needle) != nil { return true }
    }
    return false
}
