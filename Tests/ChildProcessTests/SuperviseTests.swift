import Foundation
import Testing

@testable import ChildProcess

/// Supervision in this process, with files in place of our fd 1 and 2. Serialized: supervisions
/// in one process take turns anyway, and the signal-state test must not see another test's.
@Suite("supervise", .serialized)
struct SuperviseTests {
    @Test("the exit status passes through", arguments: [0, 1, 42, 255] as [Int32])
    func exitStatus(status: Int32) throws {
        let run = try capture(["sh", "-c", "exit \(status)"])
        #expect(run.termination == .exited(status))
        #expect(run.termination.exitCode == status)
    }

    @Test("death by a signal is reported as such, and as 128 + N", arguments: [SIGKILL, SIGTERM, SIGHUP])
    func killedBySignal(signal: Int32) throws {
        let run = try capture(["sh", "-c", "kill -\(signal) $$; sleep 5"])
        #expect(run.termination == .signaled(signal))
        #expect(run.termination.exitCode == 128 + signal)
    }

    @Test("stdout and stderr each go through their own filter to their own descriptor")
    func streamsThroughTheirFilters() throws {
        let run = try capture(
            ["sh", "-c", "printf 'to out\\n'; printf 'to err\\n' >&2"],
            stdout: RecordingFilter(trailer: Array("[end out]".utf8)),
            stderr: RecordingFilter(trailer: Array("[end err]".utf8)))
        #expect(run.termination == .exited(0))
        #expect(run.stdout.text == "to out\n")
        #expect(run.stderr.text == "to err\n")
        // Upper case: what was written is what the filter returned, not what the child wrote.
        #expect(run.writtenToStdout == "TO OUT\n[end out]")
        #expect(run.writtenToStderr == "TO ERR\n[end err]")
        #expect(run.stdout.finishCount == 1)
        #expect(run.stderr.finishCount == 1)
    }

    @Test("interleaved writes on both streams arrive complete and in order on each")
    func interleaved() throws {
        let script = "for i in 1 2 3 4 5 6 7 8 9 10; do echo out$i; echo err$i >&2; done"
        let run = try capture(["sh", "-c", script])
        #expect(run.stdout.text == (1...10).map { "out\($0)\n" }.joined())
        #expect(run.stderr.text == (1...10).map { "err\($0)\n" }.joined())
        #expect(run.writtenToStdout == run.stdout.text.uppercased())
    }

    @Test("megabytes on both streams at once do not deadlock")
    func largeOutput() throws {
        let size = 6 * 1024 * 1024
        let script = "head -c \(size) /dev/zero >&2 & head -c \(size) /dev/zero; wait"
        let run = try capture(
            ["sh", "-c", script],
            stdout: RecordingFilter(keepsBytes: false), stderr: RecordingFilter(keepsBytes: false))
        #expect(run.termination == .exited(0))
        #expect(run.stdout.byteCount == size)
        #expect(run.stderr.byteCount == size)
    }

    @Test("all the child wrote before exiting is delivered, however slowly our output takes it")
    func outputLeftInThePipe() throws {
        // The child grows its pipe to 1 MiB, fills it and exits; the filter takes 20 ms a chunk,
        // so reading what is left takes far longer than the grace period after the exit.
        let size = 1024 * 1024
        let run = try capture(
            [ProbeRun.executable.path, "fill-pipe", "\(size)"],
            stdout: RecordingFilter(keepsBytes: false, delay: .milliseconds(20)))
        #expect(run.termination == .exited(0))
        #expect(run.stdout.byteCount == size)
        #expect(run.stdout.chunkCount >= 8)
    }

    @Test("output written in parts with pauses arrives complete, as it comes")
    func splitWrites() throws {
        let run = try capture(["sh", "-c", "printf 'hel'; sleep 0.1; printf 'lo, '; sleep 0.1; printf 'world\\n'"])
        #expect(run.stdout.text == "hello, world\n")
        #expect(run.writtenToStdout == "HELLO, WORLD\n")
        // Read as it came rather than collected at the end.
        #expect(run.stdout.chunkCount >= 2)
    }

    @Test("the child gets exactly the environment given, nothing of ours")
    func exactEnvironment() throws {
        setenv("CHILDPROCESS_TEST_INHERITED", "should not be seen", 1)
        let environment = ["ONE": "1", "SPACES": "two words", "EQUALS": "a=b", "EMPTY": ""]
        let run = try capture(["/usr/bin/env"], environment: environment)
        #expect(run.termination == .exited(0))
        let lines = run.stdout.text.split(separator: "\n").map(String.init).sorted()
        #expect(lines == ["EMPTY=", "EQUALS=a=b", "ONE=1", "SPACES=two words"])
    }

    @Test("a command is found in the PATH of the environment given, not in ours")
    func searchesTheGivenPath() throws {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("childprocess-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("childprocess-test-greet")
        try "#!/bin/sh\necho greetings\n".write(to: script, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script.path)

        let run = try capture(["childprocess-test-greet"], environment: ["PATH": "/nonexistent:\(directory.path)"])
        #expect(run.stdout.text == "greetings\n")
        #expect(throws: ChildProcessError.self) {
            try capture(["childprocess-test-greet"], environment: ["PATH": "/usr/bin:/bin"])
        }
    }

    @Test("a missing command is a typed error naming it, and nothing of the environment")
    func commandNotFound() throws {
        let secret = "s3cr3t-value-for-the-test"
        let error = #expect(throws: ChildProcessError.self) {
            try capture(
                ["envseal-no-such-command", "--password", secret],
                environment: ["TOKEN": secret, "PATH": "/usr/bin:/bin"])
        }
        #expect(error?.code == .commandNotFound)
        #expect(error?.command == "envseal-no-such-command")
        #expect(error.map { !"\($0)".contains(secret) } == true)

        let byPath = #expect(throws: ChildProcessError.self) { try capture(["/nonexistent/tool"]) }
        #expect(byPath?.code == .commandNotFound)
        #expect(byPath?.command == "/nonexistent/tool")
    }

    @Test("a file that is not executable, or a directory, is reported as not executable")
    func notExecutable() throws {
        let file = try ScratchFile()
        let error = #expect(throws: ChildProcessError.self) { try capture([file.url.path]) }
        #expect(error?.code == .notExecutable)
        let directory = #expect(throws: ChildProcessError.self) {
            try capture([FileManager.default.temporaryDirectory.path])
        }
        #expect(directory?.code == .notExecutable)
    }

    @Test("what cannot be passed to a program is refused before anything starts")
    func invalidArguments() throws {
        let cases: [([String], [String: String])] = [
            ([], [:]),
            ([""], [:]),
            (["sh", "-c", "a\u{0}b"], [:]),
            (["sh"], ["A=B": "c"]),
            (["sh"], ["": "c"]),
            (["sh"], ["A": "c\u{0}"]),
        ]
        for (command, environment) in cases {
            let error = #expect(throws: ChildProcessError.self) { try capture(command, environment: environment) }
            #expect(error?.code == .invalidArgument)
        }
    }

    @Test("a grandchild holding the pipes delays the return by the grace period only")
    func grandchildHoldsThePipes() throws {
        let started = ContinuousClock.now
        let run = try capture(["sh", "-c", "sleep 5 & echo started"])
        let elapsed = ContinuousClock.now - started
        #expect(run.termination == .exited(0))
        #expect(run.stdout.text == "started\n")
        #expect(run.stdout.finishCount == 1)
        #expect(elapsed < .seconds(3))
    }

    @Test("a child that closes its stdout early is still supervised to its end")
    func closesStdoutEarly() throws {
        let run = try capture(
            ["sh", "-c", "echo first; exec >&-; sleep 0.3; echo later >&2; exit 7"],
            stdout: RecordingFilter(trailer: Array("[end]".utf8)))
        #expect(run.termination == .exited(7))
        #expect(run.writtenToStdout == "FIRST\n[end]")
        #expect(run.stderr.text == "later\n")
    }

    @Test("a child that writes nothing ends both filters once")
    func silentChild() throws {
        let run = try capture(["true"])
        #expect(run.termination == .exited(0))
        #expect(run.stdout.chunkCount == 0 && run.stderr.chunkCount == 0)
        #expect(run.stdout.finishCount == 1 && run.stderr.finishCount == 1)
    }

    @Test("the caller's signal handlers and this thread's mask are restored")
    func restoresSignalState() throws {
        let before = SignalState.current()
        _ = try capture(["sh", "-c", "echo hi"])
        #expect(SignalState.current() == before)
        _ = #expect(throws: ChildProcessError.self) { try capture(["envseal-no-such-command"]) }
        #expect(SignalState.current() == before)
    }

    @Test("the child starts with an empty signal mask and default dispositions")
    func childSignalState() throws {
        // Block and ignore a forwarded signal here; the child must see neither.
        var usr1 = sigset_t()
        sigemptyset(&usr1)
        sigaddset(&usr1, SIGUSR1)
        var previousMask = sigset_t()
        pthread_sigmask(SIG_BLOCK, &usr1, &previousMask)
        defer { pthread_sigmask(SIG_SETMASK, &previousMask, nil) }
        let run = try capture(["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"])
        let fields = Dictionary(
            uniqueKeysWithValues: run.stdout.text.split(separator: "\n").map { line in
                let parts = line.split(separator: ":")
                return (String(parts[0]), UInt64(parts[1].trimmingCharacters(in: .whitespaces), radix: 16) ?? 0)
            })
        #expect(fields["SigBlk"] == 0)
        let ignored = fields["SigIgn"] ?? .max
        for signal in forwardedSignals + [SIGPIPE] {
            #expect(ignored & (1 << UInt64(signal - 1)) == 0, "signal \(signal) ignored in the child")
        }
    }
}

@Suite("termination")
struct TerminationTests {
    @Test("wait statuses decode to exits and deaths by signal")
    func decodes() {
        #expect(Termination(waitStatus: 0) == .exited(0))
        #expect(Termination(waitStatus: 42 << 8) == .exited(42))
        #expect(Termination(waitStatus: 9) == .signaled(9))
        #expect(Termination(waitStatus: 0x80 | 11) == .signaled(11))  // with a core dump
        #expect(Termination.signaled(2).exitCode == 130)
        #expect(Termination.exited(3).exitCode == 3)
    }
}
