import KMSClient
import ChildProcess
import Foundation

/// A private folder for plaintext: 0700, in /dev/shm when it exists, emptied and removed by
/// ``destroy()`` or, whatever signal ends the process, by ``PlaintextGuard``.
///
/// The folder is named `envseal-edit-PID-XXXXXX` and holds a lock file, `.lock`, that its
/// process holds locked (`flock`) for as long as it lives; the lock file gets that name only once
/// it is locked. So a folder whose lock can be taken was left by a process that died without
/// cleaning up (SIGKILL, a power cut), and the next edit removes it (``removeAbandoned(in:)``).
final class PrivateWorkspace {
    static let prefix = "envseal-edit-"
    static let lockName = ".lock"

    let directory: String
    let path: String
    /// The lock file, held locked until the process ends; close-on-exec, so the editor does not
    /// hold it after we are gone.
    private let lock: Int32

    /// Where the folder may go, in order of preference: `/dev/shm`, then `TMPDIR`.
    static var candidates: [String] { ["/dev/shm", NSTemporaryDirectory()] }

    /// Makes the folder, in the first of `candidates` that is a writable folder on tmpfs or
    /// ramfs; on a disk only with `allowDisk`.
    init(name: String, allowDisk: Bool = false, candidates: [String] = PrivateWorkspace.candidates) throws {
        let base = try Self.base(among: candidates, allowDisk: allowDisk)
        Self.removeAbandoned(in: base)
        var template = Array("\(base)/\(Self.prefix)\(getpid())-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!).map { String(cString: $0) } }
        guard let created else {
            throw CLIError("cannot make a private folder in \(base): \(String(cString: strerror(errno)))", exitCode: EnvSealExit.cannotWrite)
        }
        directory = created
        path = directory + "/" + (name.isEmpty || name == "-" ? "env" : name)
        let lock = try Self.lock(folder: directory)
        self.lock = lock
        do {
            try PlaintextGuard.arm(folder: directory)
        } catch {
            close(lock)
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
    }

    /// The first of `candidates` that is a writable folder in memory; without one, the first
    /// writable folder when `allowDisk`, else an error saying where the copy would have gone.
    static func base(among candidates: [String], allowDisk: Bool) throws -> String {
        let writable = candidates.map { $0.count > 1 && $0.hasSuffix("/") ? String($0.dropLast()) : $0 }.filter { folder in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory) && isDirectory.boolValue && access(folder, W_OK) == 0
        }
        if let inMemory = writable.first(where: { (try? MemoryFileSystem.holds($0, for: "edit")) == true }) { return inMemory }
        if allowDisk, let first = writable.first { return first }
        throw CLIError("no writable folder in memory for the plaintext copy (tried \(candidates.joined(separator: ", ")))",
                       hint: "mount a tmpfs and point TMPDIR at it, or pass --allow-disk to accept a copy on disk",
                       exitCode: EnvSealExit.cannotWrite)
    }

    /// Makes and locks the lock file of a new, empty private folder, and returns its descriptor
    /// (close-on-exec), which the caller keeps open for as long as the folder lives. On failure
    /// the folder is removed.
    static func lock(folder directory: String) throws -> Int32 {
        let pending = directory + "/" + lockName + ".new"
        let lock = open(pending, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX) == 0, rename(pending, directory + "/" + lockName) == 0 else {
            let reason = String(cString: strerror(errno))
            if lock >= 0 { close(lock) }
            unlink(pending)
            rmdir(directory)
            throw CLIError("cannot lock the private folder \(directory): \(reason)", exitCode: EnvSealExit.cannotWrite)
        }
        return lock
    }

    func write(_ bytes: [UInt8]) throws {
        try PlaintextGuard.withFolder {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw FileIO.cannotWrite(path, errno) }
            defer { close(fd) }
            try FileIO.writeAll(fd, bytes)
        }
    }

    func read() throws -> [UInt8] {
        // Editors often replace the file instead of writing into it: read it by name.
        try PlaintextGuard.withFolder { try FileIO.readBytes(path) }
    }

    /// Runs `$VISUAL`, else `$EDITOR`, else `vi`, through the shell (so `code --wait` works), and
    /// returns its exit status (128 + N when it died of signal N).
    ///
    /// A plain command is run with the shell's `exec`, so that the editor is our child itself
    /// and a SIGTERM or SIGHUP we pass on reaches it, not only the shell; one with shell syntax
    /// (`;`, `&`, `|`, redirections, a leading assignment) is run as it is.
    func runEditor() throws -> Int32 {
        let environment = ProcessEnvironment.variables()
        let editor = [environment["VISUAL"], environment["EDITOR"]].compactMap { $0 }.first { !$0.isEmpty } ?? "vi"
        let arguments = ["/bin/sh", "-c", Self.shellCommand(editor), "sh", path]
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // SIGPIPE's default back, which a network library may have set to ignored.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }

        // Until the guard knows the editor's pid, a signal on this thread waits, and a handler
        // on another thread waits for the pid. The editor starts with no signal blocked (this
        // thread may be one of the runtime's, which block most).
        var guarded = PlaintextGuard.signalSet
        var mask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &guarded, &mask)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        PlaintextGuard.editorStarting()
        // The editor gets 0, 1 and 2, not the connection to the key service or our lock.
        ChildProcess.closeDescriptorsOnExec()
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", nil, &attributes, &argv, environ)
        PlaintextGuard.editorRunning(spawned == 0 ? pid : 0)
        pthread_sigmask(SIG_SETMASK, &mask, nil)
        guard spawned == 0 else {
            throw CLIError("cannot start the editor \(editor): \(String(cString: strerror(spawned)))")
        }
        // Wait without reaping first: until it is reaped, the pid cannot be reused, so a handler
        // passing a signal on can only reach the editor.
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            guard errno == EINTR else {
                PlaintextGuard.editorRunning(0)
                throw CLIError("lost the editor: \(String(cString: strerror(errno)))")
            }
        }
        PlaintextGuard.editorRunning(0)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw CLIError("lost the editor: \(String(cString: strerror(errno)))") }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        return status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
    }

    /// The shell command that runs `editor` on the file, `"$1"`.
    static func shellCommand(_ editor: String) -> String {
        let syntax = editor.contains { ";&|<>()`\n".contains($0) }
        let first = editor.split(separator: " ").first ?? ""
        let plain = !syntax && !first.contains("=") && first != "exec"
        return (plain ? "exec " : "") + editor + " \"$1\""
    }

    /// Overwrites and removes the plaintext and everything the editor left beside it (swap and
    /// backup files), and puts the signal dispositions back.
    func destroy() {
        PlaintextGuard.disarm()
        close(lock)
    }

    /// Removes the folders of envseal edits (or, with another `prefix`, of `exec --as-files`)
    /// that ended without cleaning up: ours (same user), named as ours, and with no live process
    /// holding their lock. Each removal is reported.
    static func removeAbandoned(in base: String, prefix: String = prefix, leftBy: String = "envseal edit") {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: base) else { return }
        for name in names where name.hasPrefix(prefix) {
            let parts = name.dropFirst(prefix.count).split(separator: "-", maxSplits: 1)
            guard parts.count == 2, let owner = pid_t(parts[0]) else { continue }
            let folder = base + "/" + name
            var info = stat()
            guard lstat(folder, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == geteuid() else { continue }
            let lock = open(folder + "/" + lockName, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            defer { if lock >= 0 { close(lock) } }
            if lock >= 0 {
                // Held: its process lives. Taken: it is ours now, and stays so while we erase.
                guard flock(lock, LOCK_EX | LOCK_NB) == 0 else { continue }
            } else if kill(owner, 0) == 0 || errno == EPERM {
                // No lock file yet: its process is between making the folder and locking it.
                continue
            }
            FolderEraser.eraseWithOwnMemory(folder)
            warn("removed \(folder), the plaintext an interrupted \(leftBy) left")
        }
    }
}
