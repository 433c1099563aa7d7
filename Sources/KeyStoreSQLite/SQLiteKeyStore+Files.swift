import Foundation
import KeyService

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SQLiteKeyStore {
    /// Creates the database file with mode 0600 (and its directory with mode 0700) unless it
    /// exists; returns whether it created the file.
    ///
    /// The file is created here rather than by SQLite so that its mode never depends on the
    /// process's umask, not even for an instant: `O_EXCL` makes the creation atomic when several
    /// processes open a new store at once, and `fchmod` sets the mode the umask may have narrowed
    /// or the file system may have widened.
    static func createFileIfMissing(at path: String) throws -> Bool {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw KeyStoreError(.unavailable, "cannot create the directory of the key store \(path): \(reason(error))")
        }
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            let code = errno
            if code == EEXIST { return false }
            throw KeyStoreError(.unavailable, "cannot create the key store \(path): \(String(cString: strerror(code)))")
        }
        defer { closeDescriptor(descriptor) }
        guard fchmod(descriptor, 0o600) == 0 else {
            let code = errno
            throw KeyStoreError(.unavailable, "cannot set the mode of the key store \(path): \(String(cString: strerror(code)))")
        }
        return true
    }

    /// Sets mode 0600 on the `-wal` and `-shm` files of a database this process created.
    ///
    /// SQLite already gives them the database file's mode; this makes the guarantee not depend
    /// on that detail of its Unix VFS. Files of an existing database are left as they are, since
    /// an operator may have chosen another mode for all three on purpose.
    static func restrictSidecarFiles(of path: String) throws {
        for suffix in ["-wal", "-shm"] {
            let sidecar = path + suffix
            if chmod(sidecar, 0o600) != 0 {
                let code = errno
                if code == ENOENT { continue }
                throw KeyStoreError(.unavailable, "cannot set the mode of \(sidecar): \(String(cString: strerror(code)))")
            }
        }
    }

    /// The operating system's reason for a Foundation file error, without Foundation's framing.
    private static func reason(_ error: any Error) -> String {
        let nsError = error as NSError
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        return nsError.localizedDescription
    }
}

/// `close(2)`, out of the reach of ``SQLiteKeyStore/close()``, which hides it inside the class.
private func closeDescriptor(_ descriptor: Int32) {
    _ = close(descriptor)
}
