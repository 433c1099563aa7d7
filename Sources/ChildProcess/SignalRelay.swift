import Glibc
import Synchronization

/// The signals ``ChildProcess/supervise(command:environment:stdout:stderr:)`` forwards.
let forwardedSignals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]

/// Signals a terminal sends to its whole foreground process group (Ctrl-C, Ctrl-\, a resize),
/// marked `SI_KERNEL`. The child shares our process group and has received such a signal
/// already; forwarding it would deliver it twice, and many programs take a second Ctrl-C as
/// "stop cleaning up, quit now". (A hangup is not in the list: the kernel sends it to the
/// session leader alone, which may be us and not the child.)
let terminalSignals: Set<Int32> = [SIGINT, SIGQUIT, SIGWINCH]

/// The write end of the relay pipe, for the signal handler; -1 until the pipe exists.
private let relayWriteEnd = Atomic<Int32>(-1)

/// The signal handler. It runs on whichever thread the kernel picked, between any two
/// instructions of that thread, so it does only what is async-signal-safe: an atomic load, one
/// one-byte write(2), and saving errno around it. The supervision loop does the rest. (Were the
/// relay ever full, 64 KiB of unread signals, the write would fail and the signal be lost.)
private func relaySignal(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    let fd = relayWriteEnd.load(ordering: .relaxed)
    guard fd >= 0 else { return }
    let savedErrno = errno
    var byte = UInt8(truncatingIfNeeded: signal)
    // RelayEvent.kernelBit, as a literal: a static's first use may run its lazy initializer.
    if let info, info.pointee.si_code == SI_KERNEL { byte |= 0x80 }
    _ = write(fd, &byte, 1)
    errno = savedErrno
}

/// What the relay pipe carries into the supervision loop, one byte each.
enum RelayEvent: Equatable {
    /// Byte 0, written by ``ExitWatch``.
    case childExited
    /// Bytes 1 to 127 are a signal number; bit 7 says the kernel sent it (`SI_KERNEL`).
    case signal(Int32, fromKernel: Bool)

    static let kernelBit: UInt8 = 0x80

    init(byte: UInt8) {
        self = byte == 0 ? .childExited : .signal(Int32(byte & ~Self.kernelBit), fromKernel: byte & Self.kernelBit != 0)
    }
}

/// The self-pipe that carries signals and the child's exit into the supervision loop.
///
/// A handler that writes to a pipe works whichever thread takes the signal. Blocking the
/// signals and reading them from a signalfd would not: `pthread_sigmask` changes one thread, and
/// a Swift process has threads it did not create (the concurrency pool, Dispatch), any of which
/// may take a process-directed signal and run the default action, which for most of these
/// signals kills the whole process.
///
/// One relay per process, created on first use and never closed: a handler that started on
/// another thread just before the caller's dispositions were restored could otherwise write its
/// byte into whatever file had since reused the descriptor number.
struct Relay {
    let read: Int32
    let write: Int32

    /// Creates the pipe (non-blocking both ends: the handler must never wait, the loop drains
    /// until empty) and publishes its write end to the handler.
    static func make() throws(ChildProcessError) -> Relay {
        let ends = try makePipe(command: nil)
        setNonBlocking(ends.read)
        setNonBlocking(ends.write)
        relayWriteEnd.store(ends.write, ordering: .releasing)
        return Relay(read: ends.read, write: ends.write)
    }

    /// Passes every event waiting in the pipe to `body`, in order.
    func drain(_ body: (RelayEvent) -> Void) {
        var bytes = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &bytes) { buffer in
            while true {
                let count = Glibc.read(read, buffer.baseAddress, buffer.count)
                if count > 0 {
                    for byte in buffer[..<count] { body(RelayEvent(byte: byte)) }
                } else if count < 0, errno == EINTR {
                    continue
                } else {
                    return
                }
            }
        }
    }
}

/// The caller's signal state that supervision changes, kept to be put back.
///
/// For the forwarded signals, the dispositions become ``relaySignal`` (process-wide, which is
/// why supervisions never overlap) and the supervising thread unblocks them, so that at least one
/// thread takes them even if the caller blocked them elsewhere. SIGPIPE is blocked in the
/// supervising thread only: a write to a reader that has gone then fails with EPIPE instead of
/// killing the process, without changing SIGPIPE for the caller's other threads.
struct SignalTakeover {
    private var previousActions: [sigaction]
    private var previousMask = sigset_t()

    init() {
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = relaySignal
        // SA_RESTART: the caller's other threads, interrupted by our handler, should not see EINTR.
        action.sa_flags = SA_SIGINFO | SA_RESTART
        sigemptyset(&action.sa_mask)
        for signal in forwardedSignals { sigaddset(&action.sa_mask, signal) }

        previousActions = forwardedSignals.map { signal in
            var previous = sigaction()
            sigaction(signal, &action, &previous)
            return previous
        }
        var forwarded = sigset_t()
        sigemptyset(&forwarded)
        for signal in forwardedSignals { sigaddset(&forwarded, signal) }
        pthread_sigmask(SIG_UNBLOCK, &forwarded, &previousMask)
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &pipeSignal, nil)
    }

    /// Discards a SIGPIPE our writes left pending, then restores this thread's mask and the
    /// dispositions, in that order: a forwarded signal arriving in between is relayed and
    /// dropped, rather than taking the caller's default action on this thread while we still
    /// have it unblocked here.
    func restore() {
        var pipeSignal = sigset_t()
        sigemptyset(&pipeSignal)
        sigaddset(&pipeSignal, SIGPIPE)
        var noWait = timespec(tv_sec: 0, tv_nsec: 0)
        while sigtimedwait(&pipeSignal, nil, &noWait) == SIGPIPE {}
        var mask = previousMask
        pthread_sigmask(SIG_SETMASK, &mask, nil)
        for (signal, previous) in zip(forwardedSignals, previousActions) {
            var previous = previous
            sigaction(signal, &previous, nil)
        }
    }
}
