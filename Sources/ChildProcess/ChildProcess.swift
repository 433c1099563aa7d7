import Glibc

#if !os(Linux)
#error("ChildProcess is Linux only: it relies on prctl(PR_SET_DUMPABLE) and pipe2")
#endif

/// ChildProcess starts the program `envseal exec -- CMD ARGS…` runs, with the environment
/// envseal decrypted, in one of two ways:
///
/// - ``ChildProcess/replace(command:environment:)``: `execve` in place of envseal. Nothing of
///   envseal stays behind; the program's output is not filtered.
/// - ``ChildProcess/supervise(command:environment:stdout:stderr:)``: the program runs as a
///   child whose stdout and stderr pass through an ``OutputFilter`` (a redactor) on their way
///   to ours, with termination signals forwarded and its exit status returned.
///
/// ``ProcessHardening`` keeps the secrets in envseal's own memory out of core dumps.
///
/// Linux only. It depends on nothing but the C library, through the Glibc module, and the
/// standard library's Synchronization module: no Foundation, no other envseal module. It must
/// never learn what the environment holds; error messages name the command only.
enum ChildProcessDocumentation {}

/// Runs a command with a given environment, in place of this process or under it.
package enum ChildProcess {
    /// Replaces this process with `command`, with exactly `environment` as its environment.
    ///
    /// A command without a slash is searched for like `execvp` does, in the `PATH` of
    /// `environment` if it has one, else in ours, else in `/bin:/usr/bin`. The new program keeps
    /// our pid, descriptors 0, 1 and 2 (every other one is marked close-on-exec first, so no
    /// socket or pipe of ours reaches it), ignored signals and resource limits, as after `exec` in
    /// a shell, but no blocked signal (the calling thread's mask is cleared); so a `RLIMIT_CORE` of 0 set by
    /// ``ProcessHardening/disableCoreDumps()`` stays, but the kernel makes the program dumpable
    /// again.
    ///
    /// ```swift
    /// try ChildProcess.replace(command: ["node", "server.js"], environment: decrypted)
    /// ```
    ///
    /// - Parameters:
    ///   - command: The program and its arguments; `command[0]` is also the program's `argv[0]`.
    ///   - environment: The program's entire environment; nothing of ours is inherited.
    /// - Throws: ``ChildProcessError``: ``ChildProcessError/Code/commandNotFound``,
    ///   ``ChildProcessError/Code/notExecutable``, ``ChildProcessError/Code/invalidArgument``, or
    ///   ``ChildProcessError/Code/spawnFailed`` when `execve` itself fails. It never returns
    ///   otherwise.
    package static func replace(command: [String], environment: [String: String]) throws(ChildProcessError) -> Never {
        let launch = try LaunchRequest(command: command, environment: environment)
        // What this process printed but C stdio still buffers would vanish with the process image.
        fflush(nil)
        markDescriptorsCloseOnExec()
        // The mask survives execve, and the calling thread's is not the process's: a thread of
        // Swift's cooperative pool blocks nearly every signal, which would leave the command deaf
        // to SIGTERM. The command starts with none blocked, as a child of `supervise` does.
        var empty = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, nil)
        // Read errno before `launch` is released: its deinit frees memory, which may change it.
        let failure = withExtendedLifetime(launch) {
            execve(launch.path, launch.arguments.pointer, launch.environment.pointer)
            return errno
        }
        throw ChildProcessError(.spawnFailed, command: launch.name, errorNumber: failure)
    }

    /// Runs `command` as a child, passing its output through filters, and returns how it ended.
    ///
    /// The child gets exactly `environment` (`PATH` search as in
    /// ``replace(command:environment:)``), our stdin, no descriptor but 0, 1 and 2, an empty
    /// signal mask and default dispositions for the forwarded signals and SIGPIPE. Its stdout and stderr are pipes, each
    /// read as soon as data arrives, passed through its own filter, and whatever the filter
    /// returns written at once, in full, to our fd 1 or 2. When our fd 1 or 2 has no reader
    /// (EPIPE), we close that pipe, so the child meets the broken pipe it would have met writing
    /// there directly.
    ///
    /// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH sent to this process are
    /// forwarded to the child; this process does not die of them meanwhile. It works whichever
    /// thread the kernel delivers a signal to, so the caller need not block signals anywhere
    /// first. A SIGINT, SIGQUIT or SIGWINCH from the terminal is not forwarded: the terminal sent
    /// it to the whole foreground process group, child included. Signals arriving after the
    /// child has exited are dropped. The caller's signal dispositions and this thread's signal
    /// mask are restored before returning.
    ///
    /// Blocks the calling thread until the child has exited and its pipes have been read to the
    /// end, the filters finished and their output written. A process the child started may keep the pipes open
    /// after the child is gone: everything already in the pipes when the child exits is
    /// delivered, then we wait at most a tenth of a second for the end of the streams and
    /// stop reading.
    ///
    /// Only one supervision runs at a time in a process (signal dispositions are the whole
    /// process's): a concurrent call waits for the running one to return.
    ///
    /// ```swift
    /// var out = Redactor(secrets), err = Redactor(secrets)
    /// let ended = try ChildProcess.supervise(command: ["node", "server.js"], environment: decrypted,
    ///                                        stdout: &out, stderr: &err)
    /// exit(ended.exitCode)
    /// ```
    ///
    /// - Parameters:
    ///   - command: The program and its arguments; `command[0]` is also the program's `argv[0]`.
    ///   - environment: The child's entire environment; nothing of ours is inherited.
    ///   - stdout: The filter for the child's standard output.
    ///   - stderr: The filter for the child's standard error.
    /// - Returns: How the child ended.
    /// - Throws: ``ChildProcessError`` when the child cannot be started (the codes of
    ///   ``replace(command:environment:)``, with ``ChildProcessError/Code/spawnFailed`` for
    ///   `posix_spawn`), or ``ChildProcessError/Code/systemCallFailed`` when the pipes or the
    ///   thread that waits for the child cannot be had (the child is then killed and reaped) or
    ///   the child was reaped by someone else, as happens when SIGCHLD is ignored.
    package static func supervise<Out: OutputFilter, Err: OutputFilter>(
        command: [String], environment: [String: String], stdout: inout Out, stderr: inout Err
    ) throws(ChildProcessError) -> Termination {
        try supervise(
            command: command, environment: environment, stdout: &stdout, stderr: &stderr,
            outputDescriptors: (STDOUT_FILENO, STDERR_FILENO))
    }

    /// Marks every descriptor above 2 close-on-exec, so that a program this process starts by
    /// other means (`posix_spawn` of its own, say) gets 0, 1 and 2 only: whatever a library
    /// opened without `O_CLOEXEC` (a socket to the key service, an epoll instance) stays here.
    ///
    /// ``replace(command:environment:)`` and ``supervise(command:environment:stdout:stderr:)``
    /// see to this themselves.
    package static func closeDescriptorsOnExec() {
        markDescriptorsCloseOnExec()
    }

    /// ``supervise(command:environment:stdout:stderr:)`` writing to the given descriptors
    /// instead of our fd 1 and 2, so that tests can read what was written.
    static func supervise<Out: OutputFilter, Err: OutputFilter>(
        command: [String], environment: [String: String], stdout: inout Out, stderr: inout Err,
        outputDescriptors: (stdout: Int32, stderr: Int32)
    ) throws(ChildProcessError) -> Termination {
        let launch = try LaunchRequest(command: command, environment: environment)
        return try Supervision.run(launch, stdout: &stdout, stderr: &stderr, sinks: outputDescriptors)
    }
}
