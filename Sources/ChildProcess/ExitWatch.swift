import Glibc

/// A thread that waits for the child to end and then writes ``RelayEvent/childExited`` to the
/// relay, so that the supervision loop learns of the exit in the same `poll` as output and
/// signals, with no timer.
///
/// It waits with `WNOWAIT`, leaving the child a zombie for the loop to reap: until then the pid
/// cannot be reused, so a signal forwarded to it can never reach another process. The other
/// ways to learn of an exit were worse: a SIGCHLD handler would take over a process-wide
/// disposition other code in the process may rely on, `pidfd_open` needs glibc 2.36 (and the
/// Glibc module does not import it), and polling `waitpid` wakes the process for as long as the
/// child runs.
final class ExitWatch {
    private let pid: pid_t
    private let relay: Int32
    private var thread = pthread_t()

    private init(pid: pid_t, relay: Int32) {
        self.pid = pid
        self.relay = relay
    }

    /// Starts watching `pid`, or returns `nil` with errno set when no thread can be created.
    static func start(pid: pid_t, relay: Int32) -> ExitWatch? {
        let watch = ExitWatch(pid: pid, relay: relay)
        let context = Unmanaged.passRetained(watch).toOpaque()
        let result = pthread_create(&watch.thread, nil, { context in
            let watch = Unmanaged<ExitWatch>.fromOpaque(context!).takeRetainedValue()
            watch.waitAndReport()
            return nil
        }, context)
        guard result == 0 else {
            Unmanaged<ExitWatch>.fromOpaque(context).release()
            errno = result
            return nil
        }
        return watch
    }

    /// Waits for the thread, which ends right after reporting the exit.
    func join() {
        _ = pthread_join(thread, nil)
    }

    private func waitAndReport() {
        var info = siginfo_t()
        // An error other than EINTR (ECHILD: someone else reaped the child) is reported as an
        // exit too; the loop's waitpid then fails and says why.
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0, errno == EINTR {}
        var event: UInt8 = 0
        withUnsafeBytes(of: &event) { _ = writeAll(relay, $0) }
    }
}
