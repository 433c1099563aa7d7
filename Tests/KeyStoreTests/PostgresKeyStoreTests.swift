import Foundation
import KMSWire
import KeyStorePostgres
import SodiumKit
import Testing
@testable import KeyService

/// What only a shared PostgreSQL store must do: several servers ("nodes") on one database, each
/// with its own store and engine, stay correct together. The conformance suite checks every
/// single-store behaviour.
@Suite(
    "PostgreSQL key store across nodes",
    .enabled(if: PostgresTestDatabase.url != nil, Comment(rawValue: PostgresTestDatabase.skipReason)))
struct PostgresKeyStoreTests {
    /// Skipped, saying so in the test report, when this run has no database.
    @Test("the PostgreSQL key store is tested in this run")
    func postgresIsTested() async throws {
        try await PostgresTestDatabase.withStore { (store) async throws in
            #expect(try await store.metadata("none") == nil)
        }
    }

    @Test("nodes starting together migrate once; a schema from a newer envseal is refused")
    func migrations() async throws {
        let configuration = try PostgresTestDatabase.freshConfiguration()
        let stores = try await withThrowingTaskGroup(of: PostgresKeyStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresKeyStore.open(configuration) } }
            return try await group.reduce(into: [PostgresKeyStore]()) { $0.append($1) }
        }
        defer { stores.forEach { $0.close() } }
        #expect(try await stores[0].inspect("SELECT id FROM envseal_migrations ORDER BY id") == PostgresKeyStore.schemaMigrations)

        try await stores[0].execute("INSERT INTO envseal_migrations (id) VALUES ('v99-from-the-future')")
        let error = await #expect(throws: KeyStoreError.self) { try await PostgresKeyStore.open(configuration) }
        #expect(error?.kind == .unavailable)
        try await stores[0].execute("DROP SCHEMA \"\(configuration.schema!)\" CASCADE")
    }

    @Test("principals of a v1 database get unique ids, their grants are bound to them, admins the administrator policy")
    func principalIdentityMigration() async throws {
        let configuration = try PostgresTestDatabase.freshConfiguration()
        let old = try await PostgresKeyStore.open(configuration)
        // Back to the v1 schema, with rows as a v1 envseal wrote them.
        for statement in [
            "DELETE FROM envseal_migrations WHERE id = 'v2-principal-identity'",
            "ALTER TABLE principals DROP COLUMN unique_id, DROP COLUMN identity_policy",
            "ALTER TABLE grants DROP COLUMN grantee_principal_id, DROP COLUMN retiring_principal_id",
            """
            INSERT INTO principals (access_key_id, name, arn, account, wrapped_secret, created_at, is_admin, enabled)
            VALUES ('AKIAADMIN', 'admin', 'arn:aws:iam::111122223333:user/admin', '111122223333', '\\x00', 0, true, true),
                   ('AKIAFN', 'fn', 'arn:aws:iam::111122223333:user/fn', '111122223333', '\\x00', 0, false, true)
            """,
            """
            INSERT INTO grants (id, token, key_id, name, grantee_principal, retiring_principal, operations,
                                encryption_context_subset, encryption_context_equals, issuing_account, created_at, created_by)
            VALUES ('to-fn', 't1', 'K', NULL, 'arn:aws:iam::111122223333:user/fn', 'arn:aws:iam::111122223333:user/admin',
                    '["Decrypt"]', NULL, NULL, '111122223333', 0, 'x'),
                   ('to-nobody', 't2', 'K', NULL, 'arn:aws:iam::111122223333:user/gone', NULL,
                    '["Decrypt"]', NULL, NULL, '111122223333', 0, 'x')
            """,
        ] { try await old.execute(statement) }
        old.close()

        let store = try await PostgresKeyStore.open(configuration)
        defer { store.close() }
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
        let bound = try await store.inspect(
            "SELECT id || ' ' || coalesce(grantee_principal_id, '-') || ' ' || coalesce(retiring_principal_id, '-') FROM grants ORDER BY position")
        #expect(bound == ["to-fn \(fn.uniqueID) \(admin.uniqueID)", "to-nobody - -"])
        try await store.execute("DROP SCHEMA \"\(configuration.schema!)\" CASCADE")
    }

    @Test("an unreachable database is .unavailable, and the message names it without the password")
    func unreachable() async throws {
        var configuration = try PostgresTestDatabase.freshConfiguration()
        configuration.port = 1
        configuration.password = "hunter2-not-shown"
        let error = await #expect(throws: KeyStoreError.self) { try await PostgresKeyStore.open(configuration) }
        #expect(error?.kind == .unavailable)
        #expect(error.map { !"\($0)".contains("hunter2") } == true)
    }

    @Test("a call that gets no connection within the wait is .unavailable; the call holding it finishes")
    func connectionWait() async throws {
        var configuration = try PostgresTestDatabase.freshConfiguration()
        configuration.maximumConnections = 1
        configuration.connectionWait = .seconds(1)
        let busy = try await PostgresKeyStore.open(configuration)  // opening may wait longer
        configuration.connectionWait = .seconds(10)
        let observer = try await PostgresKeyStore.open(configuration)
        defer { busy.close(); observer.close() }

        // Hold busy's only connection for 6 s, and wait until the database runs that statement.
        let marker = "envseal-connection-wait-\(UUID().uuidString)"
        async let held: Void = busy.execute("SELECT pg_sleep(6) /* \(marker) */")
        var running = false
        for _ in 0..<200 where !running {
            running = try await observer.inspect(
                "SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%\(marker)%' AND pid <> pg_backend_pid()") != ["0"]
            if !running { try await Task.sleep(for: .milliseconds(50)) }
        }
        try #require(running)

        let started = ContinuousClock.now
        let error = await #expect(throws: KeyStoreError.self) { _ = try await busy.key(id: UUID()) }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("no connection within") == true)
        #expect(ContinuousClock.now - started < .seconds(5), "it waited for the busy connection")
        try await held
        #expect(try await busy.key(id: UUID()) == nil, "the pool serves again once the connection is back")
        try await observer.execute("DROP SCHEMA \"\(configuration.schema!)\" CASCADE")
    }

    @Test("rotations on two nodes at once get distinct versions and one newest")
    func concurrentVersionsOnTwoNodes() async throws {
        try await PostgresTestDatabase.withStores(2) { (stores) async throws in
            let key = Fixtures.key()
            try await stores[0].insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
            let numbers = try await Fixtures.concurrently(tasks: 8, each: 25) { [stores] in
                let store = stores[Int.random(in: 0...1)]
                return try await store.addVersion(keyID: key.id) { key, number in
                    key.currentVersion = number
                    return Fixtures.version(of: key.id, number)
                }.version
            }
            #expect(Set(numbers) == Set(2...201))
            #expect(try await stores[1].versions(keyID: key.id).map(\.version) == Array(1...201))
            #expect(try await stores[0].key(id: key.id)?.currentVersion == 201)
        }
    }

    @Test("updates of one key from two nodes at once lose nothing")
    func noLostUpdateOnTwoNodes() async throws {
        try await PostgresTestDatabase.withStores(2) { (stores) async throws in
            let key = Fixtures.key()
            try await stores[0].insertKey(key, firstVersion: Fixtures.version(of: key.id, 1))
            _ = try await Fixtures.concurrently(tasks: 8, each: 25) { [stores] in
                try await stores[Int.random(in: 0...1)].updateKey(id: key.id) { $0.onDemandRotationCount += 1 }
            }
            #expect(try await stores[1].key(id: key.id)?.onDemandRotationCount == 200)
        }
    }

    @Test("audit appends from two nodes at once form one chain")
    func oneAuditChainOnTwoNodes() async throws {
        try await PostgresTestDatabase.withStores(2) { (stores) async throws in
            _ = try await Fixtures.concurrently(tasks: 8, each: 40) { [stores] in
                try await stores[Int.random(in: 0...1)].appendAudit { Fixtures.nextAudit(after: $0) }.sequence
            }
            let records = try await Fixtures.allAudit(of: stores[1])
            #expect(records.map(\.sequence) == Array(1...320))
            #expect(Fixtures.isChain(records))
        }
    }

    @Test("a batch lands in one append (one transaction, split past 6,000 rows); the chain verifies across nodes")
    func auditBatchInOneAppend() async throws {
        try await PostgresTestDatabase.withStores(2) { (stores) async throws in
            let chain = AuditChain(root: RootKey(material: KeyMaterial.random()))
            @Sendable func entries(_ count: Int) -> [AuditChain.Entry] {
                (0..<count).map { index in
                    AuditChain.Entry(
                        time: Date(timeIntervalSince1970: 1_800_000_000.125 + Double(index)), principal: "arn:aws:iam::111122223333:user/fn",
                        operation: "Decrypt", keyARN: index.isMultiple(of: 2) ? nil : "arn:aws:kms:us-east-1:111122223333:key/k",
                        context: index.isMultiple(of: 3) ? nil : ["k\(index % 11)": "v/\"\\\u{1}é", "LambdaFunctionName": "billing"],
                        outcome: "Allowed", requestID: "r-\(index)")
                }
            }
            let first = try await stores[0].appendAudit(batch: { try chain.link(entries(1), after: $0) })
            let batch = try await stores[1].appendAudit(batch: { try chain.link(entries(7), after: $0) })
            #expect(batch.map(\.sequence) == Array(2...8))
            // More rows than one statement's parameters can carry: split, still one transaction.
            let large = try await stores[0].appendAudit(batch: { try chain.link(entries(6_500), after: $0) })
            #expect(large.map(\.sequence) == Array(9...6_508))

            #expect(try await stores[1].auditRecords(after: 0, limit: 10) == first + batch + large.prefix(2))
            #expect(try await stores[1].auditRecords(after: 6_500, limit: 10) == Array(large.suffix(8)))
            for range in ["2 AND 8", "9 AND 6508"] {
                let transactions = try await stores[1].inspect("SELECT count(DISTINCT xmin::text)::text FROM audit WHERE sequence BETWEEN \(range)")
                #expect(transactions == ["1"], "records \(range)")
            }
            let verification = try await chain.verify(stores[1])
            #expect(verification.checked == 6_508 && verification.problem == nil)

            // A batch that does not continue the head writes nothing, not even its good first rows.
            let refused = await #expect(throws: KeyStoreError.self) {
                try await stores[1].appendAudit(batch: { head in
                    var records = try chain.link(entries(3), after: head)
                    records[2].sequence += 1
                    return records
                })
            }
            #expect(refused?.kind == .alreadyExists)
            #expect(try await stores[0].auditRecords(after: 6_508, limit: 10) == [])
        }
    }

    @Test("a node with another root key is refused; one with the same key is let in")
    func oneRootOfTrust() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await PostgresTestDatabase.withStores(3) { (stores) async throws in
            _ = try await RootKey.open(.file(directory.path("a/root.key")), store: stores[0])
            await #expect(throws: RootKey.Error.self) {
                try await RootKey.open(.file(directory.path("b/root.key")), store: stores[1])
            }
            try FileManager.default.copyItem(atPath: directory.path("a"), toPath: directory.path("c"))
            _ = try await RootKey.open(.file(directory.path("c/root.key")), store: stores[2])
        }
    }

    @Test("a key made on one node works on the other; rotation, disabling and principals show within a second")
    func enginesOnTwoNodes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        try await PostgresTestDatabase.withStores(2) { (stores) async throws in
            let rootFile = RootKey.Source.file(directory.path("root.key"))
            let a = KeyServiceEngine(store: stores[0], root: try await RootKey.open(rootFile, store: stores[0]))
            let b = KeyServiceEngine(store: stores[1], root: try await RootKey.open(rootFile, store: stores[1]))
            let admin = Principal.user("admin", account: a.configuration.account, isAdmin: true)
            let context = ["LambdaFunctionName": "billing"]

            let key = try #require(try await a.createKey(.init(description: "shared"), by: admin).keyMetadata?.arn)
            let blob = try #require(
                try await a.encrypt(.init(keyId: key, plaintext: Data("shared".utf8), encryptionContext: context), by: admin).ciphertextBlob)
            #expect(try await b.decrypt(.init(ciphertextBlob: blob, encryptionContext: context), by: admin).plaintext == Data("shared".utf8))

            // A rotation on B: A encrypts under the new version within a second.
            _ = try await b.rotateKeyOnDemand(.init(keyId: key), by: admin)
            let rotatedSeen = try await Self.within(.seconds(1.5)) {
                let fresh = try #require(try await a.encrypt(.init(keyId: key, plaintext: Data("x".utf8)), by: admin).ciphertextBlob)
                return fresh[20] == 2
            }
            #expect(rotatedSeen)

            // Disabled on A: B refuses within a second.
            try await a.disableKey(.init(keyId: key), by: admin)
            let refused = try await Self.within(.seconds(1.5)) {
                do {
                    _ = try await b.decrypt(.init(ciphertextBlob: blob, encryptionContext: context), by: admin)
                    return false
                } catch let error as KMSError {
                    return error.type == .disabled
                }
            }
            #expect(refused)
            try await b.enableKey(.init(keyId: key), by: admin)

            // Rotations on both nodes at once: distinct versions, one newest, nothing lost.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for engine in [a, b, a, b, a, b] {
                    group.addTask { _ = try await engine.rotateKeyOnDemand(.init(keyId: key), by: admin) }
                }
                try await group.waitForAll()
            }
            let id = try #require(UUID(uuidString: String(key.split(separator: "/").last!)))
            #expect(try await stores[0].versions(keyID: id).map(\.version) == Array(1...8))
            #expect(try await stores[1].key(id: id)?.currentVersion == 8)

            // A principal disabled through one node is refused by the other within a second.
            let rootA = try await RootKey.open(rootFile, store: stores[0])
            let rootB = try await RootKey.open(rootFile, store: stores[1])
            let directoryA = PrincipalDirectory(store: stores[0], root: rootA, account: a.configuration.account)
            let directoryB = PrincipalDirectory(store: stores[1], root: rootB, account: b.configuration.account)
            let made = try await directoryA.create(name: "billing-fn")
            #expect(try await directoryB.lookUp(accessKeyID: made.record.accessKeyID) != nil)
            try await stores[0].setPrincipalEnabled(accessKeyID: made.record.accessKeyID, false)
            let gone = try await Self.within(.seconds(1.5)) {
                try await directoryB.lookUp(accessKeyID: made.record.accessKeyID) == nil
            }
            #expect(gone)

            // Both nodes appended to the audit log: one chain, which either node verifies.
            #expect(try await a.verifyAudit().problem == nil)
            #expect(try await b.verifyAudit().problem == nil)
        }
    }

    /// Whether `condition` holds at some try within `limit`, trying every 50 ms.
    static func within(_ limit: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// Reading `postgres://` URLs and libpq's variables; no database needed.
@Suite("PostgreSQL key store configuration")
struct PostgresConfigurationTests {
    typealias Configuration = PostgresKeyStore.Configuration

    @Test("a full URL")
    func fullURL() throws {
        let configuration = try Configuration(
            url: "postgres://envseal:s3cret@db.internal:6543/keys?sslmode=verify-full&schema=kms", environment: [:])
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "envseal")
        #expect(configuration.password == "s3cret")
        #expect(configuration.database == "keys")
        #expect(configuration.schema == "kms")
        #expect(configuration.sslMode == .verifyFull)
        #expect(!configuration.displayName.contains("s3cret"))
    }

    @Test("what the URL leaves out comes from PG* variables, then libpq's defaults")
    func environment() throws {
        let fromVariables = try Configuration(
            url: "postgres://", environment: ["PGHOST": "pg", "PGPORT": "5433", "PGUSER": "u", "PGPASSWORD": "p", "PGDATABASE": "d", "PGSSLMODE": "disable"])
        #expect(fromVariables.host == "pg")
        #expect(fromVariables.port == 5433)
        #expect(fromVariables.username == "u")
        #expect(fromVariables.password == "p")
        #expect(fromVariables.database == "d")
        #expect(fromVariables.sslMode == .disable)
        let defaults = try Configuration(url: "postgresql:///", environment: ["USER": "alice"])
        #expect(defaults.host == "localhost")
        #expect(defaults.port == 5432)
        #expect(defaults.username == "alice")
        #expect(defaults.database == "alice")
        #expect(defaults.password == nil)
        #expect(defaults.sslMode == .prefer)
    }

    @Test("a password file in libpq's format; one others may read is refused")
    func passwordFile() throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.path("pgpass")
        try "# comment\nother:5432:*:envseal:wrong\ndb:5432:*:envseal:pa\\:ss\n*:*:*:*:fallback\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let configuration = try Configuration(url: "postgres://envseal@db/keys", environment: ["PGPASSFILE": path])
        #expect(configuration.password == "pa:ss")
        let other = try Configuration(url: "postgres://someone@elsewhere/keys?passfile=\(path)", environment: [:])
        #expect(other.password == "fallback")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: KeyStoreError.self) { try Configuration(url: "postgres://envseal@db/keys", environment: ["PGPASSFILE": path]) }
    }

    @Test("not a postgres URL, an unknown parameter or sslmode")
    func refused() {
        for url in ["mysql://db/keys", "db/keys", "postgres://db/keys?sslmode=sometimes", "postgres://db/keys?pool=3"] {
            #expect(throws: KeyStoreError.self) { try Configuration(url: url, environment: [:]) }
        }
    }
}
