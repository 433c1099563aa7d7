import Foundation
import GRDB
import KeyService

extension SQLiteKeyStore {
    /// The schema's history. Migrations are appended, never edited: a file records the ones
    /// applied to it (GRDB's `grdb_migrations` table) and gets only the missing ones.
    static let migrator: DatabaseMigrator = {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1", migrate: createVersion1)
        migrator.registerMigration("v2-principal-flags", migrate: addPrincipalFlags)
        migrator.registerMigration("v3-principal-identity", migrate: addPrincipalIdentity)
        migrator.registerMigration("v4-key-spec", migrate: addKeySpec)
        migrator.registerMigration("v5-imported-material", migrate: addImportedMaterial)
        return migrator
    }()

    /// Brings the file's schema up to date, refusing a file migrated by a newer envseal.
    static func migrate(_ pool: DatabasePool, path: String) throws {
        do {
            let applied = try pool.read { try migrator.appliedIdentifiers($0) }
            let unknown = applied.subtracting(migrator.migrations)
            guard unknown.isEmpty else {
                throw KeyStoreError(
                    .unavailable,
                    "key store \(path) has schema migrations this envseal does not know "
                        + "(\(unknown.sorted().joined(separator: ", "))): a newer envseal wrote it; refusing to open it")
            }
            do {
                try migrator.migrate(pool)
            } catch {
                // GRDB reads the applied list outside the migration's transaction, so a process
                // that opens a new file at the same moment as another can find v1 applied by
                // the time it holds the lock, and fail. Then the work is done (or further on):
                // one more pass sees the new list. Any other failure repeats and is reported.
                let now = try pool.read { try migrator.appliedIdentifiers($0) }
                guard now != applied else { throw error }
                try migrator.migrate(pool)
            }
        } catch {
            throw translate(error, path: path)
        }
    }

    /// v4: each key has a key spec (`SYMMETRIC_DEFAULT`, `HMAC_256`, `HMAC_512`); existing keys
    /// are symmetric.
    ///
    /// The table is rebuilt rather than altered, so that the policy stays the last column (an
    /// added column would come after it, and reading it would walk the policy's overflow pages).
    static func addKeySpec(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE keys_v4 (
                id TEXT NOT NULL PRIMARY KEY,
                state TEXT NOT NULL,
                deletion_date REAL,
                rotation_enabled INTEGER NOT NULL,
                next_rotation_date REAL,
                arn TEXT NOT NULL,
                account TEXT NOT NULL,
                description TEXT NOT NULL,
                created_at REAL NOT NULL,
                created_by TEXT NOT NULL,
                deletion_scheduled_by TEXT,
                deleted_at REAL,
                deleted_by TEXT,
                rotation_period_days INTEGER,
                on_demand_rotation_count INTEGER NOT NULL,
                current_version INTEGER NOT NULL,
                key_spec TEXT NOT NULL,
                tags TEXT NOT NULL,
                policy TEXT NOT NULL
            ) STRICT;
            INSERT INTO keys_v4 (id, state, deletion_date, rotation_enabled, next_rotation_date, arn, account, description,
                    created_at, created_by, deletion_scheduled_by, deleted_at, deleted_by, rotation_period_days,
                    on_demand_rotation_count, current_version, key_spec, tags, policy)
                SELECT id, state, deletion_date, rotation_enabled, next_rotation_date, arn, account, description,
                    created_at, created_by, deletion_scheduled_by, deleted_at, deleted_by, rotation_period_days,
                    on_demand_rotation_count, current_version, 'SYMMETRIC_DEFAULT', tags, policy
                FROM keys;
            DROP TABLE keys;
            ALTER TABLE keys_v4 RENAME TO keys;
            CREATE INDEX keys_by_state ON keys (state);
            """)
    }

    /// v3: each principal has a unique id, which grants are bound to, and an identity policy.
    ///
    /// Existing principals get fresh ids, existing grants the id of the principal their ARNs name
    /// now, and existing admins ``PrincipalDirectory/administratorPolicy``, so an admin keeps
    /// using keys whose policies delegate to the account.
    static func addPrincipalIdentity(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE principals ADD COLUMN unique_id TEXT;
            ALTER TABLE principals ADD COLUMN identity_policy TEXT;
            ALTER TABLE grants ADD COLUMN grantee_principal_id TEXT;
            ALTER TABLE grants ADD COLUMN retiring_principal_id TEXT;
            """)
        for accessKeyID in try String.fetchAll(db, sql: "SELECT access_key_id FROM principals") {
            try db.execute(sql: "UPDATE principals SET unique_id = ? WHERE access_key_id = ?",
                           arguments: [PrincipalDirectory.newUniqueID(), accessKeyID])
        }
        try db.execute(sql: "UPDATE principals SET identity_policy = ? WHERE is_admin = 1",
                       arguments: [PrincipalDirectory.administratorPolicy])
        try db.execute(sql: """
            UPDATE grants SET grantee_principal_id = (SELECT unique_id FROM principals WHERE arn = grants.grantee_principal);
            UPDATE grants SET retiring_principal_id = (SELECT unique_id FROM principals WHERE arn = grants.retiring_principal);
            CREATE UNIQUE INDEX principals_by_unique_id ON principals (unique_id);
            CREATE INDEX grants_by_grantee_id ON grants (grantee_principal_id);
            """)
    }

    /// v2: principals can be admins, and can be disabled without being deleted.
    static func addPrincipalFlags(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE principals ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE principals ADD COLUMN enabled INTEGER NOT NULL DEFAULT 1;
            """)
    }

    /// v1: every table.
    ///
    /// - Dates are `REAL` seconds since 2001-01-01 (`Date.timeIntervalSinceReferenceDate`, the
    ///   `Double` a `Date` is), so that a record reads back `==` and SQL compares as Swift does.
    /// - Key ids are upper-case `UUID.uuidString` text, so `ORDER BY id` is the protocol's order.
    /// - Every record is stored as columns, one per field, so that reading a key (which the
    ///   engine does on every cryptographic call) costs no JSON decoding, and a field added to a
    ///   record comes with a migration rather than silently failing to decode old rows. Only
    ///   lists and maps are JSON text: a key's tags (`[{"key":…,"value":…}]`), a grant's
    ///   operations and contexts, an audit record's context. A key's policy (up to 32 KiB) is
    ///   its last column, so that reading the others never touches its overflow pages.
    /// - `grants.position` keeps insertion order (the protocol's "oldest first") in a column,
    ///   since `VACUUM` may renumber implicit rowids.
    /// - No foreign keys: the protocol lets an alias or grant name any key id, as the in-memory
    ///   store does, and the engine checks existence itself.
    /// - `STRICT` tables refuse a value of the wrong type instead of storing it.
    private static func createVersion1(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE metadata (
                name TEXT NOT NULL PRIMARY KEY,
                value BLOB NOT NULL
            ) STRICT;

            CREATE TABLE keys (
                id TEXT NOT NULL PRIMARY KEY,
                state TEXT NOT NULL,
                deletion_date REAL,
                rotation_enabled INTEGER NOT NULL,
                next_rotation_date REAL,
                arn TEXT NOT NULL,
                account TEXT NOT NULL,
                description TEXT NOT NULL,
                created_at REAL NOT NULL,
                created_by TEXT NOT NULL,
                deletion_scheduled_by TEXT,
                deleted_at REAL,
                deleted_by TEXT,
                rotation_period_days INTEGER,
                on_demand_rotation_count INTEGER NOT NULL,
                current_version INTEGER NOT NULL,
                tags TEXT NOT NULL,
                policy TEXT NOT NULL
            ) STRICT;
            CREATE INDEX keys_by_state ON keys (state);

            CREATE TABLE key_versions (
                key_id TEXT NOT NULL,
                version INTEGER NOT NULL,
                wrapped_material BLOB NOT NULL,
                material_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                rotation_type TEXT NOT NULL,
                PRIMARY KEY (key_id, version)
            ) STRICT;

            CREATE TABLE aliases (
                name TEXT NOT NULL PRIMARY KEY,
                key_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            ) STRICT;
            CREATE INDEX aliases_by_key ON aliases (key_id, name);

            CREATE TABLE grants (
                id TEXT NOT NULL PRIMARY KEY,
                position INTEGER NOT NULL UNIQUE,
                token TEXT NOT NULL,
                key_id TEXT NOT NULL,
                name TEXT,
                grantee_principal TEXT NOT NULL,
                retiring_principal TEXT,
                operations TEXT NOT NULL,
                encryption_context_subset TEXT,
                encryption_context_equals TEXT,
                issuing_account TEXT NOT NULL,
                created_at REAL NOT NULL,
                created_by TEXT NOT NULL
            ) STRICT;
            CREATE INDEX grants_by_key ON grants (key_id, position);
            CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, position);

            CREATE TABLE principals (
                access_key_id TEXT NOT NULL PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                arn TEXT NOT NULL,
                account TEXT NOT NULL,
                wrapped_secret BLOB NOT NULL,
                created_at REAL NOT NULL
            ) STRICT;

            CREATE TABLE audit (
                sequence INTEGER PRIMARY KEY,
                time REAL NOT NULL,
                principal TEXT NOT NULL,
                operation TEXT NOT NULL,
                key_arn TEXT,
                encryption_context TEXT,
                outcome TEXT NOT NULL,
                request_id TEXT NOT NULL,
                previous_hash BLOB NOT NULL,
                hash BLOB NOT NULL
            ) STRICT;
            """)
    }
}
