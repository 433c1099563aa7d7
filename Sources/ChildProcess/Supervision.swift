import Glibc
import Synchronization

/// One supervision at a time: signal dispositions are the whole process's. The lock also guards
/// the relay, created by the first supervision.
private let supervisionLock = Mutex<Relay?>(nil)

/// How long to wait, once the child has exited and what it wrote has been delivered, for its
/// pipes to end. Only a process that inherited them (a daemon the child started) can hold them
/// open then, perhaps for ever; a tenth of a second lets such a process finish a last line
/// without making every exit of that kind noticeably slow.
let grandchildGracePeriod: Duration = .milliseconds(100)

/// The loop behind ``ChildProcess/supervise(command:environment:stdout:stderr:)``.
enum Supervision {
    static func run<Out: OutputFilter, Err: OutputFilter>(
        _ launch: LaunchRequest, stdout: inout Out, stderr: inout Err, sinks: (stdout: Int32, stderr: Int32)
    ) throws(ChildProcessError) -> Termination {
        try supervisionLock.withLock { relay throws(ChildProcessError) -> Termination in
            let current: Relay
            if let relay {
                current = relay
            } else {
                current = try Relay.make()
                relay = current
            }
            return try runAlone(launch, relay: current, stdout: &stdout, stderr: &stderr, sinks: sinks)
        }
    }

    private static func runAlone<Out: OutputFilter, Err: OutputFilter>(
        _ launch: LaunchRequest, relay: Relay, stdout: inout Out, stderr: inout Err,
        sinks: (stdout: Int32, stderr: Int32)
    ) throws(ChildProcessError) -> Termination {
        // Signals that reached the previous supervision too late to be forwarded.
        relay.drain { _ in }

        let outPipe = try makePipe(command: launch.name)
        let errPipe: (read: Int32, write: Int32)
        do throws(ChildProcessError) {
            errPipe = try makePipe(command: launch.name)
        } catch {
            closeDescriptor(outPipe.read)
            closeDescriptor(outPipe.write)
            throw error
        }
        setNonBlocking(outPipe.read)
        setNonBlocking(errPipe.read)

        // Before the spawn, so that a signal arriving from here on is relayed, and forwarded once
        // the child exists, instead of killing us.
        let takeover = SignalTakeover()
        defer { takeover.restore() }

        let pid: pid_t
        do throws(ChildProcessError) {
            pid = try spawn(launch, stdout: outPipe.write, stderr: errPipe.write)
        } catch {
            for fd in [outPipe.read, outPipe.write, errPipe.read, errPipe.write] { closeDescriptor(fd) }
            throw error
        }
        // Only the child may hold the write ends, or the read ends would never see end of file.
        closeDescriptor(outPipe.write)
        closeDescriptor(errPipe.write)

        guard let watch = ExitWatch.start(pid: pid, relay: relay.write) else {
            let error = ChildProcessError.systemCall("pthread_create", command: launch.name)
            kill(pid, SIGKILL)
            _ = reap(pid)
            closeDescriptor(outPipe.read)
            closeDescriptor(errPipe.read)
            throw error
        }
        defer { watch.join() }

        let buffer = ReadBuffer()
        var out = Channel(source: outPipe.read, sink: sinks.stdout)
        var err = Channel(source: errPipe.read, sink: sinks.stderr)

        var exited = false
        var descriptors = [pollfd](repeating: pollfd(), count: 3)
        while !exited {
            descriptors[0] = pollfd(fd: out.source, events: Int16(POLLIN), revents: 0)
            descriptors[1] = pollfd(fd: err.source, events: Int16(POLLIN), revents: 0)
            descriptors[2] = pollfd(fd: relay.read, events: Int16(POLLIN), revents: 0)
            // A closed channel has source -1, which poll skips.
            if poll(&descriptors, 3, -1) < 0 {
                // EINTR: our handler ran on this thread and its byte is in the relay. Otherwise
                // ENOMEM, transient; pause rather than spin.
                if errno != EINTR { usleep(10_000) }
                continue
            }
            if descriptors[0].revents != 0 { _ = out.pump(&stdout, buffer: buffer.bytes) }
            if descriptors[1].revents != 0 { _ = err.pump(&stderr, buffer: buffer.bytes) }
            if descriptors[2].revents != 0 {
                relay.drain { event in
                    switch event {
                    case .childExited:
                        exited = true
                    case .signal(let signal, let fromKernel):
                        if exited || (fromKernel && terminalSignals.contains(signal)) { return }
                        // The child is not reaped before the loop ends, so `pid` is still it.
                        kill(pid, signal)
                    }
                }
            }
        }
        let status = reap(pid)

        // Everything the child wrote before exiting is in the pipes now: deliver all of it,
        // however long our own output takes to take it.
        out.deliverBuffered(&stdout, buffer: buffer.bytes)
        err.deliverBuffered(&stderr, buffer: buffer.bytes)
        // Anything more can only come from a process that inherited the pipes.
        let deadline = ContinuousClock.now.advanced(by: grandchildGracePeriod)
        while out.isOpen || err.isOpen {
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else { break }
            descriptors[0] = pollfd(fd: out.source, events: Int16(POLLIN), revents: 0)
            descriptors[1] = pollfd(fd: err.source, events: Int16(POLLIN), revents: 0)
            if poll(&descriptors, 2, milliseconds(remaining)) < 0 {
                if errno != EINTR { break }
                continue
            }
            if descriptors[0].revents != 0 { _ = out.pump(&stdout, buffer: buffer.bytes) }
            if descriptors[1].revents != 0 { _ = err.pump(&stderr, buffer: buffer.bytes) }
        }
        out.end(&stdout)
        err.end(&stderr)

        if let errorNumber = status.errorNumber {
            throw .systemCall("waitpid", command: launch.name, errorNumber: errorNumber)
        }
        return Termination(waitStatus: status.status)
    }

    /// Starts the child with fd 1 and 2 on the pipes and no other descriptor above them, an empty signal mask, and default
    /// dispositions for the signals we forward and for SIGPIPE, which the caller may ignore
    /// (ignored dispositions survive `execve`; a child ignoring SIGPIPE would not stop when the
    /// reader of its output goes away).
    private static func spawn(
        _ launch: LaunchRequest, stdout: Int32, stderr: Int32
    ) throws(ChildProcessError) -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in forwardedSignals + [SIGPIPE] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Both ends are above 2 (see makePipe), so neither dup2 overwrites the other's source.
        posix_spawn_file_actions_adddup2(&actions, stdout, STDOUT_FILENO)
        posix_spawn_file_actions_adddup2(&actions, stderr, STDERR_FILENO)
        // The child gets 0, 1 and 2 only. Closed in the child itself where the C library can,
        // which no other thread of ours can race; else marked close-on-exec here beforehand.
        if let addCloseFrom = LibC.addCloseFrom {
            let added = addCloseFrom(&actions, STDERR_FILENO + 1)
            guard added == 0 else { throw ChildProcessError(.spawnFailed, command: launch.name, errorNumber: added) }
        } else {
            markDescriptorsCloseOnExec()
        }

        var pid: pid_t = 0
        let result = posix_spawn(
            &pid, launch.path, &actions, &attributes, launch.arguments.pointer, launch.environment.pointer)
        guard result == 0 else {
            throw ChildProcessError(.spawnFailed, command: launch.name, errorNumber: result)
        }
        return pid
    }

    /// Reaps the child, which has exited already, so this does not wait. Returns its wait
    /// status, or the errno of `waitpid`.
    private static func reap(_ pid: pid_t) -> (status: Int32, errorNumber: Int32?) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return (0, errno) }
        }
        return (status, nil)
    }

    /// `duration` in whole milliseconds for poll, rounded up so that a wait never ends early.
    private static func milliseconds(_ duration: Duration) -> Int32 {
        let (seconds, attoseconds) = duration.components
        let milliseconds = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

/// The buffer reads go through: the size of a default pipe, so one read usually empties one.
/// The child's output may hold secrets before a redactor sees it, so it is zeroed when done.
final class ReadBuffer {
    let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 16)

    deinit {
        wipe(bytes.baseAddress!, count: bytes.count)
        bytes.deallocate()
    }
}

/// One of the child's output streams on its way to ours: the read end of its pipe, our
/// descriptor it goes to, and whether that descriptor still takes output.
struct Channel {
    /// The pipe's read end, or -1 once the stream has ended.
    private(set) var source: Int32
    let sink: Int32
    private var sinkWorks = true

    init(source: Int32, sink: Int32) {
        self.source = source
        self.sink = sink
    }

    var isOpen: Bool { source >= 0 }

    enum PumpResult { case delivered(Int), wouldBlock, ended }

    /// Reads once, at most `limit` bytes, and passes what came through `filter` to the sink; at
    /// end of file (or a read error, which a pipe does not have), ends the stream.
    mutating func pump<F: OutputFilter>(_ filter: inout F, buffer: UnsafeMutableRawBufferPointer, limit: Int = .max)
        -> PumpResult
    {
        guard isOpen else { return .ended }
        while true {
            let count = read(source, buffer.baseAddress, min(buffer.count, limit))
            if count > 0 {
                let output = filter.filter(UnsafeRawBufferPointer(rebasing: buffer[..<count]))
                deliver(output, &filter)
                return .delivered(count)
            }
            if count < 0, errno == EINTR { continue }
            if count < 0, errno == EAGAIN || errno == EWOULDBLOCK { return .wouldBlock }
            end(&filter)
            return .ended
        }
    }

    /// Delivers what is in the pipe now (as `FIONREAD` counts it), and no more: a process that
    /// inherited the pipe and keeps writing could otherwise hold us here for ever.
    mutating func deliverBuffered<F: OutputFilter>(_ filter: inout F, buffer: UnsafeMutableRawBufferPointer) {
        guard isOpen else { return }
        var pending: Int32 = 0
        guard ioctl(source, UInt(FIONREAD), &pending) == 0 else { return }
        var remaining = Int(pending)
        while remaining > 0 {
            guard case .delivered(let count) = pump(&filter, buffer: buffer, limit: remaining) else { return }
            remaining -= count
        }
    }

    /// Ends the stream: finishes the filter, writes what it returns, closes the pipe.
    mutating func end<F: OutputFilter>(_ filter: inout F) {
        guard isOpen else { return }
        let rest = filter.finish()
        if sinkWorks, !rest.isEmpty { _ = rest.withUnsafeBytes { writeAll(sink, $0) } }
        closeDescriptor(source)
        source = -1
    }

    private mutating func deliver<F: OutputFilter>(_ bytes: [UInt8], _ filter: inout F) {
        guard sinkWorks, !bytes.isEmpty else { return }
        switch bytes.withUnsafeBytes({ writeAll(sink, $0) }) {
        case .written:
            break
        case .brokenPipe:
            // Our reader has gone. Closing the child's pipe passes that on: its next write fails
            // with EPIPE or SIGPIPE, as it would had it written to that reader directly.
            sinkWorks = false
            end(&filter)
        case .failed:
            // Not a reader going away (a closed descriptor, a full disk): keep reading, so the
            // child never blocks on a full pipe, and drop the output.
            sinkWorks = false
        }
    }
}
