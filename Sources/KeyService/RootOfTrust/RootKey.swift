import EnvSealFormat
import Foundation
package import SodiumKit

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The root of trust: the key that wraps every master key's material and every principal's
/// secret. It never leaves guarded memory and is never stored unwrapped anywhere but its file.
///
/// Two sources: a random 32-byte file (the default, `KeyStore/root.key`, mode 0600), or a
/// passphrase stretched with Argon2id under a salt kept in the store. Either way the store holds a
/// check value sealed under the root key, so a wrong key or passphrase is refused before anything
/// is written.
package struct RootKey: Sendable {
    let material: KeyMaterial

    /// Where to take the root key from.
    package enum Source: Sendable {
        /// A file of 32 random bytes, created (mode 0600) when missing.
        case file(String)
        /// A passphrase, stretched with Argon2id; the salt and cost live in the store.
        case passphrase(SecureBytes, Argon2id.Parameters)
    }

    /// An error finding or checking the root key. Never holds key bytes.
    package struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        /// What went wrong and where, with what to do.
        package let description: String
    }

    init(material: KeyMaterial) { self.material = material }

    /// Loads the root key from its source and checks it against the store.
    /// - Parameters:
    ///   - source: The file or passphrase.
    ///   - store: The key store it must match.
    /// - Returns: The root key.
    /// - Throws: ``Error`` for a missing, unreadable, too-open or wrong-sized file, a key or
    ///   passphrase that does not match the store; or the store's error.
    package static func open(_ source: Source, store: some KeyStore) async throws -> RootKey {
        let root: RootKey
        switch source {
        case .file(let path):
            root = RootKey(material: try loadOrCreateFile(path))
        case .passphrase(let passphrase, let parameters):
            let fresh = try JSONEncoder().encode(StoredKDF(salt: Argon2id.Salt.random().bytes, parameters: parameters))
            let stored = try await store.setMetadataIfAbsent(MetadataName.passphraseKDF, Array(fresh))
            let kdf = try JSONDecoder().decode(StoredKDF.self, from: Data(stored))
            let salt = try Argon2id.Salt(bytes: kdf.salt)
            root = RootKey(material: try Argon2id.deriveKey(passphrase: passphrase, salt: salt, parameters: kdf.parameters).key)
        }
        try await root.checkAgainst(store, source: source)
        return root
    }

    /// Seals the check value on first use; on later uses, opens it or refuses.
    func checkAgainst(_ store: some KeyStore, source: Source) async throws {
        let plaintext = try SecureBytes(utf8: Self.checkPlaintext)
        let fresh = try CiphertextBlob.seal(plaintext, key: material, keyID: Self.rootID, keyVersion: 1, context: Self.checkContext)
        let stored = try await store.setMetadataIfAbsent(MetadataName.rootCheck, fresh.bytes)
        guard let blob = try? CiphertextBlob(parsing: stored), let opened = try? blob.open(key: material, context: Self.checkContext),
              opened == plaintext else {
            switch source {
            case .file(let path):
                throw Error(description: "the root key in \(path) does not match this key store: it was made with another root key")
            case .passphrase:
                throw Error(description: "wrong passphrase: it does not open this key store")
            }
        }
    }

    /// Wraps secret bytes (key material, a principal's secret) for storage.
    /// - Parameters:
    ///   - secret: What to wrap.
    ///   - id: The owner's id (the key's id), bound into the wrap.
    ///   - version: The key version (1 for non-key secrets).
    ///   - purpose: What the secret is, bound into the wrap so one kind cannot pass for another.
    func wrap(_ secret: SecureBytes, id: UUID, version: UInt32, purpose: String) throws -> [UInt8] {
        try CiphertextBlob.seal(secret, key: material, keyID: id, keyVersion: version, context: Self.context(purpose)).bytes
    }

    /// Unwraps what ``wrap(_:id:version:purpose:)`` made, checking the owner, version and purpose.
    func unwrap(_ wrapped: [UInt8], id: UUID, version: UInt32, purpose: String) throws -> SecureBytes {
        let blob = try CiphertextBlob(parsing: wrapped)
        guard blob.keyID == id, blob.keyVersion == version else {
            throw FormatError(.authenticationFailed(what: "wrapped \(purpose)"))
        }
        return try blob.open(key: material, context: Self.context(purpose))
    }

    /// The subkey of the root key for one purpose.
    ///
    /// Deriving 32 bytes from a valid root key fails only when guarded memory runs out. A stand-in
    /// key would silently break what the subkey protects (a random audit key makes the chain
    /// unverifiable), so a failure stops the process instead.
    func subkey(_ purpose: RootSubkey) -> SubKey {
        do {
            return try KeyDerivation.derive(from: material, id: purpose.rawValue, context: KeyDerivation.Context("esroot01"))
        } catch {
            preconditionFailure("cannot derive the root key's \(purpose) subkey: \(error)")
        }
    }

    static func context(_ purpose: String) -> EncryptionContext {
        do {
            return try EncryptionContext(["envseal:purpose": purpose])
        } catch {
            // An empty context would let one kind of wrapped secret pass for another.
            preconditionFailure("the wrapping context for \(purpose) is invalid: \(error)")
        }
    }

    static let rootID = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
    static let checkPlaintext = "envseal root key check v1"
    static let checkContext = context("root-check")

    struct StoredKDF: Codable {
        let salt: [UInt8]
        let parameters: Argon2id.Parameters
    }

    /// Reads the root key file, or creates it when missing. Refuses a file others can read.
    static func loadOrCreateFile(_ path: String) throws -> KeyMaterial {
        let fd = openFile(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 && errno == ENOENT {
            return try createFile(path)
        }
        guard fd >= 0 else {
            throw Error(description: "cannot read the root key \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw Error(description: "cannot stat the root key \(path)") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw Error(description: "the root key \(path) is open to other users (mode \(String(mode, radix: 8))): run chmod 600 \(path)")
        }
        guard info.st_size == off_t(SymmetricKeyLength.bytes) else {
            throw Error(description: "the root key \(path) is \(info.st_size) bytes, not \(SymmetricKeyLength.bytes): it is not an envseal root key")
        }
        var complete = true
        let bytes = try SecureBytes(count: SymmetricKeyLength.bytes) { buffer in
            var done = 0
            while done < buffer.count {
                let n = read(fd, buffer.baseAddress! + done, buffer.count - done)
                guard n > 0 else {
                    complete = false
                    return
                }
                done += n
            }
        }
        // A partial read is released (and zeroed) with `bytes`; say what happened, and where.
        guard complete else { throw Error(description: "cannot read the root key \(path): the read stopped early") }
        return try KeyMaterial(secureBytes: bytes)
    }

    static func createFile(_ path: String) throws -> KeyMaterial {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let fd = openFile(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw Error(description: "cannot create the root key \(path): \(String(cString: strerror(errno)))")
        }
        let key = KeyMaterial.random()
        let written = key.secureBytes.withUnsafeBytes { write(fd, $0.baseAddress!, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == SymmetricKeyLength.bytes, synced == 0 else {
            unlink(path)
            throw Error(description: "cannot write the root key \(path)")
        }
        // Make the new directory entry durable too.
        let dirfd = openFile(directory.isEmpty ? "." : directory, O_RDONLY | O_DIRECTORY)
        if dirfd >= 0 {
            fsync(dirfd)
            close(dirfd)
        }
        return key
    }
}

/// The subkeys of the root key, one id each (in the KDF context `esroot01`). An id belongs to its
/// purpose for good: stores hold MACs made under these keys, and reusing an id for another purpose
/// would give two purposes one key.
enum RootSubkey: UInt64, Sendable {
    /// The audit chain's MAC key.
    case auditChain = 1
    /// The MAC key behind each key version's KeyMaterialId.
    case keyMaterialID = 2
    /// The MAC key of pagination markers.
    case paginationMarker = 3
    /// The MAC key of GetParametersForImport's import tokens, and of imported material's
    /// KeyMaterialId.
    case importToken = 4
}

/// `open(2)`, which ``RootKey/open(_:store:)`` hides inside `RootKey`; named here so that no
/// call needs the C library's module name.
private func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
    open(path, flags, mode)
}

/// Names of the store's metadata entries.
enum MetadataName {
    static let rootCheck = "root.check"
    static let passphraseKDF = "root.passphrase-kdf"
}
