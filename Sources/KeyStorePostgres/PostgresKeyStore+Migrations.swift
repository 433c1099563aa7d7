import Foundation
import KeyService
import Logging
import PostgresNIO

extension PostgresKeyStore {
    /// The schema's history, oldest first. Migrations are appended, never edited: the database
    /// records the ones applied to it (`envseal_migrations`) and gets only the missing ones.
    static let migrations: [(id: String, sql: String)] = [
        ("v1", version1),
        ("v2-principal-identity", version2),
        ("v3-key-spec", version3),
        ("v4-imported-material", version4),
    ]

    /// The identifiers of the schema's migrations, oldest first.
    package static var schemaMigrations: [String] { migrations.map(\.id) }

    /// An arbitrary constant naming envseal's migration lock among the database's advisory locks.
    static let migrationLock: Int64 = 0x656e_7673_6561_6c01  // "envseal" + 1

    /// Creates the schema when one is configured, then applies the missing migrations in one
    /// transaction under an advisory lock of that schema's, refusing a database migrated by a newer envseal.
    func migrate() async throws {
        let schema = configuration.schema
        let displayName = configuration.displayName
        try await transaction { connection, logger in
            // One lock per schema: stores in other schemas of the database (tests run many at
            // once) migrate side by side instead of queueing behind each other.
            try await connection.query(
                "SELECT pg_advisory_xact_lock(\(Self.migrationLock) # hashtext(\(schema ?? "")::text))", logger: logger)
            if let schema {
                try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: Self.quoted(schema))", logger: logger)
            }
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS envseal_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
                logger: logger)
            var applied = Set<String>()
            for try await id in try await connection.query("SELECT id FROM envseal_migrations", logger: logger).decode(String.self) {
                applied.insert(id)
            }
            let unknown = applied.subtracting(Self.migrations.map(\.id))
            guard unknown.isEmpty else {
                throw KeyStoreError(
                    .unavailable,
                    "key store \(displayName) has schema migrations this envseal does not know "
                        + "(\(unknown.sorted().joined(separator: ", "))): a newer envseal wrote it; refusing to open it")
            }
            for migration in Self.migrations where !applied.contains(migration.id) {
                // One statement at a time: the extended protocol takes one per query. No
                // migration has a semicolon inside a statement.
                for statement in migration.sql.split(separator: ";") where !statement.allSatisfy(\.isWhitespace) {
                    try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
                }
                try await connection.query("INSERT INTO envseal_migrations (id) VALUES (\(migration.id))", logger: logger)
            }
        }
    }

    /// v4: keys of origin `EXTERNAL`, their imported material's expiration, and the wrapping
    /// keys of GetParametersForImport (each private key wrapped under the root key), which any
    /// server on the database may use to finish an import. Existing keys are `AWS_KMS`.
    static let version4 = """
        ALTER TABLE keys ADD COLUMN origin text NOT NULL DEFAULT 'AWS_KMS';
        ALTER TABLE keys ALTER COLUMN origin DROP DEFAULT;
        ALTER TABLE keys ADD COLUMN expiration_model text;
        ALTER TABLE keys ADD COLUMN valid_to double precision;
        CREATE TABLE wrapping_keys (
            id text COLLATE "C" PRIMARY KEY,
            key_id text COLLATE "C" NOT NULL,
            algorithm text NOT NULL,
            spec text NOT NULL,
            wrapped_private_key bytea NOT NULL,
            created_at double precision NOT NULL,
            valid_to double precision NOT NULL
        );
        CREATE INDEX wrapping_keys_by_valid_to ON wrapping_keys (valid_to)
        """

    /// v3: each key has a key spec (`SYMMETRIC_DEFAULT`, `HMAC_256`, `HMAC_512`); existing keys
    /// are symmetric.
    static let version3 = """
        ALTER TABLE keys ADD COLUMN key_spec text NOT NULL DEFAULT 'SYMMETRIC_DEFAULT';
        ALTER TABLE keys ALTER COLUMN key_spec DROP DEFAULT
        """

    /// v2: each principal has a unique id, which grants are bound to, and an identity policy.
    ///
    /// Existing principals get fresh ids (`AIDA` and 16 characters of `A`–`Z`, `2`–`7`: hex digits
    /// with 0, 1, 8, 9 mapped to W, X, Y, Z), existing grants the id of the principal their ARNs
    /// name now, and existing admins ``PrincipalDirectory/administratorPolicy``.
    static let version2 = """
        ALTER TABLE principals ADD COLUMN unique_id text COLLATE "C";
        ALTER TABLE principals ADD COLUMN identity_policy text;
        ALTER TABLE grants ADD COLUMN grantee_principal_id text COLLATE "C";
        ALTER TABLE grants ADD COLUMN retiring_principal_id text COLLATE "C";
        UPDATE principals SET unique_id = 'AIDA' || translate(upper(substr(md5(random()::text || access_key_id), 1, 16)), '0189', 'WXYZ');
        ALTER TABLE principals ALTER COLUMN unique_id SET NOT NULL;
        UPDATE principals SET identity_policy = '\(PrincipalDirectory.administratorPolicy.replacingOccurrences(of: "'", with: "''"))' WHERE is_admin;
        UPDATE grants SET grantee_principal_id = (SELECT unique_id FROM principals WHERE arn = grants.grantee_principal);
        UPDATE grants SET retiring_principal_id = (SELECT unique_id FROM principals WHERE arn = grants.retiring_principal);
        CREATE UNIQUE INDEX principals_by_unique_id ON principals (unique_id);
        CREATE INDEX grants_by_grantee_id ON grants (grantee_principal_id)
        """

    /// v1: every table.
    ///
    /// - Dates are `double precision` seconds since 2001-01-01 (the `Double` a `Date` is), so a
    ///   record reads back `==` and SQL compares as Swift does; `timestamptz` keeps microseconds.
    /// - Key ids are upper-case `UUID.uuidString` text and, like alias names, `COLLATE "C"`, so
    ///   `ORDER BY` is byte order (the protocol's), whatever the database's locale.
    /// - One column per field; only lists and maps (tags, a grant's operations and contexts, an
    ///   audit record's context) are JSON text, as in the SQLite store.
    /// - `grants.position` is an identity column: insertion order without a `max()+1` that two
    ///   servers could compute alike.
    /// - No foreign keys: the protocol lets an alias or grant name any key id.
    static let version1 = """
        CREATE TABLE metadata (
            name text COLLATE "C" PRIMARY KEY,
            value bytea NOT NULL
        );

        CREATE TABLE keys (
            id text COLLATE "C" PRIMARY KEY,
            state text NOT NULL,
            deletion_date double precision,
            rotation_enabled boolean NOT NULL,
            next_rotation_date double precision,
            arn text NOT NULL,
            account text NOT NULL,
            description text NOT NULL,
            created_at double precision NOT NULL,
            created_by text NOT NULL,
            deletion_scheduled_by text,
            deleted_at double precision,
            deleted_by text,
            rotation_period_days bigint,
            on_demand_rotation_count bigint NOT NULL,
            current_version bigint NOT NULL,
            tags text NOT NULL,
            policy text NOT NULL
        );
        CREATE INDEX keys_by_state ON keys (state);

        CREATE TABLE key_versions (
            key_id text COLLATE "C" NOT NULL,
            version bigint NOT NULL,
            wrapped_material bytea NOT NULL,
            material_id text NOT NULL,
            created_at double precision NOT NULL,
            rotation_type text NOT NULL,
            PRIMARY KEY (key_id, version)
        );

        CREATE TABLE aliases (
            name text COLLATE "C" PRIMARY KEY,
            key_id text COLLATE "C" NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL
        );
        CREATE INDEX aliases_by_key ON aliases (key_id, name);

        CREATE TABLE grants (
            id text COLLATE "C" PRIMARY KEY,
            position bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
            token text NOT NULL,
            key_id text COLLATE "C" NOT NULL,
            name text,
            grantee_principal text NOT NULL,
            retiring_principal text,
            operations text NOT NULL,
            encryption_context_subset text,
            encryption_context_equals text,
            issuing_account text NOT NULL,
            created_at double precision NOT NULL,
            created_by text NOT NULL
        );
        CREATE INDEX grants_by_key ON grants (key_id, position);
        CREATE INDEX grants_by_retiring_principal ON grants (retiring_principal, position);

        CREATE TABLE principals (
            access_key_id text COLLATE "C" PRIMARY KEY,
            name text COLLATE "C" NOT NULL UNIQUE,
            arn text NOT NULL,
            account text NOT NULL,
            wrapped_secret bytea NOT NULL,
            created_at double precision NOT NULL,
            is_admin boolean NOT NULL DEFAULT false,
            enabled boolean NOT NULL DEFAULT true
        );

        CREATE TABLE audit (
            sequence bigint PRIMARY KEY,
            time double precision NOT NULL,
            principal text NOT NULL,
            operation text NOT NULL,
            key_arn text,
            encryption_context text,
            outcome text NOT NULL,
            request_id text NOT NULL,
            previous_hash bytea NOT NULL,
            hash bytea NOT NULL
        );
        """
}
