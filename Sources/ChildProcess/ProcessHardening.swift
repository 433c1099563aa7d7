import Glibc

/// Settings that keep the secrets in this process's memory from being written out or read by
/// other processes.
package enum ProcessHardening {
    /// `PR_SET_DUMPABLE` from `<sys/prctl.h>`, which the Glibc module does not import.
    static let setDumpable: Int32 = 4

    /// Stops this process from dumping core and from being inspected by the user's other
    /// processes.
    ///
    /// Sets `RLIMIT_CORE` to 0, soft and hard, so that nothing in this process can raise it
    /// again, and clears the dumpable attribute (`prctl(PR_SET_DUMPABLE, 0)`), which also
    /// closes `/proc/<pid>/mem` and `/proc/<pid>/environ` and `ptrace` to processes without
    /// `CAP_SYS_PTRACE`.
    ///
    /// Resource limits are inherited and survive `execve`: a child started by
    /// ``ChildProcess/supervise(command:environment:stdout:stderr:)``, or the program that
    /// ``ChildProcess/replace(command:environment:)`` runs, cannot dump core either. The kernel
    /// resets the dumpable attribute at `execve`, so that program is inspectable again unless it
    /// hardens itself.
    ///
    /// - Throws: ``ChildProcessError`` with code ``ChildProcessError/Code/systemCallFailed``
    ///   when either call fails.
    package static func disableCoreDumps() throws(ChildProcessError) {
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        guard setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &none) == 0 else {
            throw .systemCall("setrlimit(RLIMIT_CORE)", command: nil)
        }
        guard let prctl = LibC.prctl else {
            throw .systemCall("prctl(PR_SET_DUMPABLE)", command: nil, errorNumber: ENOSYS)
        }
        guard prctl(setDumpable, 0, 0, 0, 0) == 0 else {
            throw .systemCall("prctl(PR_SET_DUMPABLE)", command: nil)
        }
    }
}
