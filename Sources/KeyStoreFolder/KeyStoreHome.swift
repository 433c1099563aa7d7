import Foundation
package import KeyService
import KeyStorePostgres
import KeyStoreSQLite
package import SodiumKit

/// The embedded key store's folder (`KeyStore/` by default): the SQLite database, the root key
/// and the first admin's credentials, opened together. With a PostgreSQL store the database is
/// elsewhere, shared by several servers, and the folder keeps the root key and the credentials.
///
/// Its module, KeyStoreFolder, is the one place that chooses between the SQL stores, for the
/// server, the CLI and tests; it has nothing of HTTP, and the EnvSeal library never depends on it.
package struct KeyStoreHome: Sendable {
    package let directory: String
    /// The store: SQLite in the folder, or PostgreSQL.
    package let store: any KeyStore
    package let engine: KeyServiceEngine
    package let principals: PrincipalDirectory

    /// The SQLite database's name in the folder.
    package static let sqliteFileName = "keystore.sqlite"

    /// The file the first admin's credentials are written to.
    package var adminCredentialsPath: String { directory + "/admin.credentials" }

    /// Opens (creating on first use) the store, the root key and the engine.
    /// - Parameters:
    ///   - directory: The folder.
    ///   - passphrase: Derive the root key from this passphrase instead of `root.key`.
    ///   - configuration: Region, account and clock of the engine.
    ///   - storeURL: A `postgres://` URL: keep the state in that database instead of the folder's
    ///     SQLite file (see ``KeyStorePostgres/PostgresKeyStore/Configuration/init(url:environment:)``).
    /// - Throws: A ``KeyStoreHomeError`` saying what is wrong with the folder, the root key or the store.
    package static func open(
        _ directory: String, passphrase: SecureBytes? = nil, configuration: KeyServiceConfiguration = .init(),
        storeURL: String? = nil
    ) async throws -> KeyStoreHome {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), !isDirectory.boolValue {
            throw KeyStoreHomeError(description: "\(directory) is not a directory")
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw KeyStoreHomeError(description: "cannot create the key store folder \(directory)")
        }
        let store: any KeyStore
        if let storeURL {
            do {
                store = try await PostgresKeyStore.open(try PostgresKeyStore.Configuration(url: storeURL))
            } catch {
                throw KeyStoreHomeError(description: "cannot open the key store: \(error)")
            }
        } else {
            let database = directory + "/" + sqliteFileName
            if let unwritable = [directory, database, database + "-wal", database + "-shm"].first(where: {
                FileManager.default.fileExists(atPath: $0) && access($0, W_OK) != 0
            }) {
                throw KeyStoreHomeError(description: "the key store in \(directory) must be writable, and \(unwritable) is not", isReadOnly: true)
            }
            do {
                store = try SQLiteKeyStore(path: database)
            } catch {
                throw KeyStoreHomeError(description: "cannot open the key store in \(directory): \(error)")
            }
        }
        let source: RootKey.Source = passphrase.map { .passphrase($0, .moderate) } ?? .file(directory + "/root.key")
        let root: RootKey
        do {
            root = try await RootKey.open(source, store: store)
        } catch let error as RootKey.Error {
            throw KeyStoreHomeError(description: error.description)
        } catch {
            throw KeyStoreHomeError(description: "cannot check the root key against the key store: \(error)")
        }
        let principals = PrincipalDirectory(store: store, root: root, account: configuration.account, partition: configuration.partition)
        var configuration = configuration
        configuration.administrators += try await store.principals().filter(\.isAdmin).map(\.arn)
        let engine = KeyServiceEngine(store: store, root: root, configuration: configuration)
        return KeyStoreHome(directory: directory, store: store, engine: engine, principals: principals)
    }

    /// Creates the first admin principal when there is none, writing its credentials to
    /// `admin.credentials` (AWS shared-credentials format, mode 0600).
    /// - Returns: The file's path when it was just written, `nil` when an admin existed.
    package func ensureAdmin(region: String) async throws -> String? {
        guard try await !store.principals().contains(where: \.isAdmin) else { return nil }
        let credentials: PrincipalDirectory.Credentials
        do {
            credentials = try await principals.create(name: "admin", isAdmin: true)
        } catch let error as PrincipalError {
            // Another server on the same PostgreSQL store made it first.
            if try await store.principals().contains(where: \.isAdmin) { return nil }
            throw error
        }
        try Self.writeCredentials(credentials, region: region, to: adminCredentialsPath)
        return adminCredentialsPath
    }

    /// Closes the store's connections or files.
    package func closeStore() {
        try? store.close()
    }

    /// Writes a credentials file: created 0600 before the secret goes in, fsynced.
    package static func writeCredentials(_ credentials: PrincipalDirectory.Credentials, region: String, to path: String) throws {
        guard let text = credentials.sharedCredentialsFile(region: region) else {
            throw KeyStoreHomeError(description: "out of guarded memory")
        }
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyStoreHomeError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let written = text.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        guard written == text.count, fsync(fd) == 0 else { throw KeyStoreHomeError(description: "cannot write \(path)") }
    }
}

/// What is wrong with a key store folder. Never holds a secret.
package struct KeyStoreHomeError: Error, Sendable, CustomStringConvertible {
    /// What is wrong and where.
    package let description: String
    /// The folder or a database file cannot be written, which SQLite needs even to read.
    package let isReadOnly: Bool

    init(description: String, isReadOnly: Bool = false) {
        self.description = description
        self.isReadOnly = isReadOnly
    }
}
