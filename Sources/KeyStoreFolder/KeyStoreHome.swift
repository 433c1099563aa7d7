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
        try Self.writeCredentials(credentials, region: region, to: adminCredentialsPath, replacing: true)
        return adminCredentialsPath
    }

    /// Closes the store's connections or files.
    package func closeStore() {
        try? store.close()
    }

    /// Writes a credentials file whole or not at all: into a new 0600 file beside `path`, fsynced,
    /// then put in place by one link or rename, and the folder fsynced.
    /// - Parameters:
    ///   - credentials: The principal's credentials.
    ///   - region: The region to write beside them.
    ///   - path: Where the file goes. A symbolic link is followed to the file it names.
    ///   - replacing: Replace a regular file already there (the first admin's file, whose old
    ///     keys no admin holds any more); otherwise an existing `path` is an error and nothing is written.
    /// - Throws: ``KeyStoreHomeError`` naming the path; on any error no file was written.
    package static func writeCredentials(
        _ credentials: PrincipalDirectory.Credentials, region: String, to path: String, replacing: Bool = false
    ) throws {
        guard let text = credentials.sharedCredentialsFile(region: region) else {
            throw KeyStoreHomeError(description: "out of guarded memory")
        }
        let target = try credentialsTarget(path, replacing: replacing)
        let folder = (target as NSString).deletingLastPathComponent.isEmpty ? "." : (target as NSString).deletingLastPathComponent
        var template = Array("\(folder)/.\((target as NSString).lastPathComponent).XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw KeyStoreHomeError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
        let temporary = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        var placed = false
        defer {
            close(fd)
            if !placed { unlink(temporary) }
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var offset = 0
        while offset < text.count {
            let written = text.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw KeyStoreHomeError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
            offset += written
        }
        guard fsync(fd) == 0 else { throw KeyStoreHomeError(description: "cannot write \(path): \(String(cString: strerror(errno)))") }
        if replacing {
            guard rename(temporary, target) == 0 else {
                throw KeyStoreHomeError(description: "cannot write \(path): \(String(cString: strerror(errno)))")
            }
        } else {
            // link() never replaces: a file that appeared meanwhile is kept, and this is an error.
            guard link(temporary, target) == 0 else {
                let reason = errno == EEXIST ? "it already exists" : String(cString: strerror(errno))
                throw KeyStoreHomeError(description: "cannot write \(path): \(reason)")
            }
            unlink(temporary)
        }
        placed = true
        let directory = Foundation.open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directory >= 0 {
            fsync(directory)
            close(directory)
        }
    }

    /// The file a credentials file is written to: `path`, or the file its symbolic link names;
    /// checked to be absent, or a regular file when `replacing`.
    /// - Throws: ``KeyStoreHomeError`` when something is there that may not be replaced.
    package static func credentialsTarget(_ path: String, replacing: Bool) throws -> String {
        var target = path
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: path) {
            target = resolved.hasPrefix("/") ? resolved : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(resolved)
        }
        guard let type = try? FileManager.default.attributesOfItem(atPath: target)[.type] as? FileAttributeType else { return target }
        guard replacing else {
            throw KeyStoreHomeError(description: "cannot write credentials to \(path): it already exists (delete it, or choose another path)")
        }
        guard type == .typeRegular else {
            throw KeyStoreHomeError(description: "cannot write credentials to \(path): it is not a regular file")
        }
        return target
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
