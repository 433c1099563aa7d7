import ChildProcess
import Glibc
import Synchronization

/// Keeps the plaintext folder of `envseal edit` from outliving the process, whatever signal ends
/// it, and the editor from outliving it too.
///
/// While armed, every catchable signal whose default action ends the process (and that was not
/// ignored when envseal started, as `nohup` leaves SIGHUP) runs ``handleTerminatingSignal``: it
/// asks the editor to end (SIGHUP for a SIGHUP, SIGTERM for the rest) and waits for it, overwrites
/// and removes the folder, then ends the process by the same signal. A SIGINT or SIGQUIT typed at
/// the terminal while the editor runs is left to the editor, which received it too (as git does).
///
/// The handler runs on whichever thread the kernel picks, between any two instructions, so it
/// uses only async-signal-safe calls, memory prepared by ``arm(folder:)`` and atomics. The main
/// thread and a handler agree through ``state`` on who touches the folder: the main thread claims
/// it for each short read, write or removal (``withFolder(_:)``); a handler on another thread
/// waits for such a claim to end (2 s at most), one on the claiming thread itself takes over.
enum PlaintextGuard {
    private static let idle = 0, armed = 1, busy = 2, cleaning = 3

    /// One of `idle`, `armed`, `busy` (the main thread uses the folder) or `cleaning` (a handler
    /// removes it and then ends the process).
    private static let state = Atomic<Int>(0)
    /// The thread that holds the `busy` claim.
    private static let owner = Atomic<UInt>(0)
    /// The running editor's pid; 0 when none, -1 while it is being started.
    private static let editor = Atomic<Int32>(0)
    /// The folder's address, a C string the handler can use (0: none).
    private static let folder = Atomic<UInt>(0)
    /// The dispositions before ``arm(folder:)``, indexed by signal number, for ``disarm()``.
    // Safe unsynchronized: written by arm(folder:), read by disarm(), both on the main path.
    nonisolated(unsafe) private static let previousActions: UnsafeMutablePointer<sigaction> = {
        let actions = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
        actions.initialize(repeating: sigaction(), count: 65)  // SIG_DFL
        return actions
    }()

    /// Every catchable signal whose default action ends the process.
    static let signals: [Int32] = {
        var signals = [SIGHUP, SIGINT, SIGQUIT, SIGILL, SIGTRAP, SIGABRT, SIGBUS, SIGFPE, SIGUSR1, SIGSEGV, SIGUSR2,
                       SIGPIPE, SIGALRM, SIGTERM, SIGSTKFLT, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF, SIGIO, SIGPWR, SIGSYS]
        // The real-time signals the C library leaves to applications also end a process by default.
        signals += Array(__libc_current_sigrtmin()...__libc_current_sigrtmax())
        return signals
    }()

    /// The set of ``signals``, blocked while the handler runs and while the editor starts.
    static var signalSet: sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }

    /// Installs the handler for `folder`, which holds no plaintext yet.
    /// - Throws: ``CLIError`` when the C library lacks what the handler needs.
    static func arm(folder path: String) throws {
        guard FolderEraser.isAvailable else {
            throw CLIError("cannot guard the plaintext: the C library has no getdents64 (glibc 2.30 or later is needed)")
        }
        precondition(state.load(ordering: .acquiring) == idle, "one plaintext folder at a time")
        folder.store(UInt(bitPattern: strdup(path)), ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = handleTerminatingSignal
        // SA_RESTART: other threads, interrupted by a signal that is then ignored, must not see
        // EINTR. SA_ONSTACK: a stack overflow must still be able to clean up.
        action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK
        action.sa_mask = signalSet
        state.store(armed, ordering: .releasing)
        for signal in signals {
            var previous = sigaction()
            guard sigaction(signal, nil, &previous) == 0 else { continue }
            previousActions[Int(signal)] = previous
            if unsafeBitCast(previous.__sigaction_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) { continue }
            sigaction(signal, &action, nil)
        }
    }

    /// Overwrites and removes the folder, then puts the previous dispositions back.
    static func disarm() {
        withFolder {
            if let path = UnsafePointer<CChar>(bitPattern: folder.load(ordering: .acquiring)) { FolderEraser.erase(path) }
        }
        state.store(idle, ordering: .releasing)
        for signal in signals {
            var previous = previousActions[Int(signal)]
            sigaction(signal, &previous, nil)
        }
    }

    /// Runs `body`, which reads, writes or removes the folder, where no handler removes it at
    /// the same time. If a handler is removing it already, waits here for the process to end.
    static func withFolder<T>(_ body: () throws -> T) rethrows -> T {
        owner.store(UInt(pthread_self()), ordering: .releasing)
        guard state.compareExchange(expected: armed, desired: busy, ordering: .acquiringAndReleasing).exchanged else {
            while true { pause() }
        }
        defer {
            // A handler that waited too long has taken the folder over and will end the process.
            if !state.compareExchange(expected: busy, desired: armed, ordering: .acquiringAndReleasing).exchanged {
                while true { pause() }
            }
        }
        return try body()
    }

    /// Says an editor is about to start; call with the guarded signals blocked on this thread.
    static func editorStarting() { editor.store(-1, ordering: .releasing) }

    /// Says which editor runs (0: none, it did not start or it has ended and is not yet reaped).
    static func editorRunning(_ pid: pid_t) { editor.store(pid, ordering: .releasing) }

    /// Ends the process by `signal`, by its default action. (Not through a crash handler the
    /// runtime may have had there: it reports every signal as a crash and ends by another one.)
    fileprivate static func die(by signal: Int32) -> Never {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = SIG_DFL
        sigaction(signal, &action, nil)
        var only = sigset_t()
        sigemptyset(&only)
        sigaddset(&only, signal)
        pthread_sigmask(SIG_UNBLOCK, &only, nil)
        raise(signal)
        _exit(128 + signal)
    }

    /// Asks the editor to end, and waits up to 5 seconds for it, then kills it. It is not reaped:
    /// the main thread may be waiting for it, and its pid stays reserved meanwhile.
    fileprivate static func stopEditor(because signal: Int32) {
        var pid = editor.load(ordering: .acquiring)
        while pid == -1 {
            // Being started on another thread, which has our signals blocked until it knows.
            var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&pause, nil)
            pid = editor.load(ordering: .acquiring)
        }
        guard pid > 0 else { return }
        kill(pid, signal == SIGHUP ? SIGHUP : SIGTERM)
        for attempt in 0..<600 {
            if attempt == 500 { kill(pid, SIGKILL) }
            var info = siginfo_t()
            let waited = waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT)
            // ECHILD: the main thread reaped it; a pid in `info`: it has exited.
            if waited != 0 ? errno != EINTR : info._sifields._sigchld.si_pid == pid { return }
            var pause = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&pause, nil)
        }
    }

    /// What the handler does, in order: decide whether the signal is the editor's, claim the
    /// folder, stop the editor, erase the folder, end the process.
    fileprivate static func handle(_ signal: Int32, fromTerminal: Bool) {
        if signal == SIGINT || signal == SIGQUIT, fromTerminal, editor.load(ordering: .acquiring) != 0 { return }
        let me = UInt(pthread_self())
        var waited = 0
        while true {
            let current = state.load(ordering: .acquiring)
            // A claim of this very thread was interrupted: it cannot go on, so take it over; so
            // too a claim that has lasted 2 s (a read stuck on a FIFO the editor left, say).
            if current == armed || (current == busy && (owner.load(ordering: .acquiring) == me || waited >= 2000)) {
                guard state.compareExchange(expected: current, desired: cleaning, ordering: .acquiringAndReleasing).exchanged
                else { continue }
                stopEditor(because: signal)
                if let path = UnsafePointer<CChar>(bitPattern: folder.load(ordering: .acquiring)) { FolderEraser.erase(path) }
                die(by: signal)
            }
            if current == busy {
                // The main thread's claim lasts one short file operation.
                var pause = timespec(tv_sec: 0, tv_nsec: 1_000_000)
                nanosleep(&pause, nil)
                waited += 1
                continue
            }
            if current == cleaning {
                // Another thread is cleaning up and will end the process.
                while true { pause() }
            }
            die(by: signal)
        }
    }
}

/// The signal handler; see ``PlaintextGuard``.
private func handleTerminatingSignal(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    let savedErrno = errno
    PlaintextGuard.handle(signal, fromTerminal: info.map { $0.pointee.si_code == SI_KERNEL } ?? false)
    errno = savedErrno
}

/// Overwrites every regular file under a folder with zeros and removes everything in it, then
/// the folder itself, with async-signal-safe calls only and memory allocated in advance, so that
/// a signal handler can do it.
enum FolderEraser {
    private typealias GetDents64 = @convention(c) (Int32, UnsafeMutableRawPointer?, Int) -> Int
    private static let getdents64: GetDents64? = dlsym(nil, "getdents64").map { unsafeBitCast($0, to: GetDents64.self) }
    private static let maximumDepth = 4
    private static let listingSize = 8192
    private static let memorySize = maximumDepth * listingSize + 4096
    /// One listing buffer per depth, then a page of zeros to overwrite with.
    // Safe unsynchronized: only PlaintextGuard erases with it, one eraser at a time (its state
    // machine: disarm and the signal handler exclude each other). Every other caller brings
    // memory of its own (``eraseWithOwnMemory(_:)``).
    nonisolated(unsafe) private static let memory: UnsafeMutableRawPointer = makeMemory()

    private static func makeMemory() -> UnsafeMutableRawPointer {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: memorySize, alignment: 16)
        memory.initializeMemory(as: UInt8.self, repeating: 0, count: memorySize)
        return memory
    }

    /// Whether erasing can work here; also prepares the memory, so that the handler never runs
    /// a lazy initializer.
    static var isAvailable: Bool {
        _ = memory
        return getdents64 != nil
    }

    /// Erases the folder at `path` with the memory allocated in advance: for PlaintextGuard only
    /// (its signal handler may not allocate). What cannot be removed is left (and found again by
    /// the next edit's sweep, if the folder remains).
    static func erase(_ path: UnsafePointer<CChar>) {
        erase(path, memory: memory)
    }

    /// Erases the folder at `path` with memory of its own, so that it may run beside
    /// PlaintextGuard's eraser or another one: for every caller but PlaintextGuard (never from a
    /// signal handler).
    static func eraseWithOwnMemory(_ path: UnsafePointer<CChar>) {
        let own = makeMemory()
        defer { own.deallocate() }
        erase(path, memory: own)
    }

    private static func erase(_ path: UnsafePointer<CChar>, memory: UnsafeMutableRawPointer) {
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard directory >= 0 else { return }
        eraseContents(of: directory, depth: 0, memory: memory)
        close(directory)
        rmdir(path)
    }

    private static func eraseContents(of directory: Int32, depth: Int, memory: UnsafeMutableRawPointer) {
        guard let getdents64 else { return }
        let buffer = memory + depth * listingSize
        // Entries removed during a listing may make the rest of it skip some: list again from the
        // start until a pass finds nothing.
        for _ in 0..<16 {
            lseek(directory, 0, SEEK_SET)
            var found = false
            while true {
                let count = getdents64(directory, buffer, listingSize)
                guard count > 0 else { break }
                var offset = 0
                while offset < count {
                    // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
                    let entry = buffer + offset
                    let length = Int(entry.load(fromByteOffset: 16, as: UInt16.self))
                    // A record is never empty; one that says so ends the listing, not loops on it.
                    guard length > 0 else { break }
                    offset += length
                    let type = entry.load(fromByteOffset: 18, as: UInt8.self)
                    let name = (entry + 19).assumingMemoryBound(to: CChar.self)
                    if name[0] == 0x2E, name[1] == 0 || (name[1] == 0x2E && name[2] == 0) { continue }
                    found = true
                    remove(name, in: directory, type: type, depth: depth, memory: memory)
                }
            }
            if !found { return }
        }
    }

    private static func remove(_ name: UnsafePointer<CChar>, in directory: Int32, type: UInt8, depth: Int, memory: UnsafeMutableRawPointer) {
        let isDirectory = UInt8(DT_DIR), isRegular = UInt8(DT_REG), isUnknown = UInt8(DT_UNKNOWN)
        if type == isRegular || type == isUnknown { overwrite(name, in: directory, zeros: memory + maximumDepth * listingSize) }
        if type != isDirectory, unlinkat(directory, name, 0) == 0 || errno != EISDIR { return }
        if depth + 1 < maximumDepth {
            let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if child >= 0 {
                eraseContents(of: child, depth: depth + 1, memory: memory)
                close(child)
            }
        }
        unlinkat(directory, name, AT_REMOVEDIR)
    }

    /// Overwrites a regular file with zeros (a symlink or FIFO is not followed or waited on).
    private static func overwrite(_ name: UnsafePointer<CChar>, in directory: Int32, zeros: UnsafeMutableRawPointer) {
        let fd = openat(directory, name, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return }
        var remaining = Int(info.st_size)
        while remaining > 0 {
            let written = write(fd, zeros, min(remaining, 4096))
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { break }
            remaining -= written
        }
        fsync(fd)
    }
}

/// Disables core dumps for a command that holds plaintext (every file command: encrypt, decrypt,
/// get, set, unset, edit, rotate, rewrap, verify), warning if it cannot.
func disableCoreDumpsOrWarn() {
    do {
        try ProcessHardening.disableCoreDumps()
    } catch {
        warn("core dumps could not be disabled: \(error)")
    }
}
