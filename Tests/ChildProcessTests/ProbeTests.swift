import Foundation
import Testing

/// Signals and `replace`, which a test cannot aim at the test runner itself: the
/// `childprocess-probe` executable does the supervising or replacing, and these tests drive it.
@Suite("supervise and replace, in a probe process")
struct ProbeTests {
    /// A child that reports each forwarded signal it traps and exits 0 on SIGTERM. The short
    /// sleeps matter: `sh` runs a trap only between commands.
    static let trappingChild = """
        for s in HUP INT QUIT USR1 USR2 WINCH; do trap "echo got-$s" $s; done
        trap 'echo cleaned; exit 0' TERM
        echo ready
        while :; do sleep 0.05; done
        """

    @Test(
        "SIGTERM to the supervisor reaches the child, which cleans up; the supervisor exits 0",
        arguments: [[], ["--on-thread"]])
    func terminate(options: [String]) throws {
        let probe = try ProbeRun(["supervise"] + options + ["--", "sh", "-c", Self.trappingChild])
        try probe.waitFor("ready")
        probe.send(SIGTERM)
        try probe.waitFor("cleaned")
        let ended = try probe.waitForExit()
        #expect(ended.reason == .exit && ended.status == 0)
    }

    @Test("HUP, INT, QUIT, USR1, USR2 and WINCH reach the child")
    func forwardsEachSignal() throws {
        let probe = try ProbeRun(["supervise", "--", "sh", "-c", Self.trappingChild])
        try probe.waitFor("ready")
        let signals = [
            (SIGHUP, "HUP"), (SIGINT, "INT"), (SIGQUIT, "QUIT"), (SIGUSR1, "USR1"), (SIGUSR2, "USR2"), (SIGWINCH, "WINCH"),
        ]
        for (signal, name) in signals {
            probe.send(signal)
            try probe.waitFor("got-\(name)")
        }
        probe.send(SIGTERM)
        try probe.waitFor("cleaned")
        #expect(try probe.waitForExit().status == 0)
    }

    @Test(
        "a child that dies of the forwarded SIGINT gives exit code 130, even if we were started ignoring SIGINT",
        arguments: [false, true])
    func interruptGives130(startIgnoringInterrupt: Bool) throws {
        // `trap '' INT` then exec: the probe starts with SIGINT ignored, as a background job of a
        // script does. It must still take the signal and forward it, and the child must not
        // inherit the ignored disposition.
        let wrapper = startIgnoringInterrupt ? ["/bin/sh", "-c", "trap '' INT; exec \"$@\"", "sh"] : []
        let probe = try ProbeRun(["supervise", "--", "sh", "-c", "echo ready; exec sleep 30"], wrapper: wrapper)
        try probe.waitFor("ready")
        probe.send(SIGINT)
        let ended = try probe.waitForExit()
        #expect(ended.reason == .exit)
        #expect(ended.status == 130)
    }

    @Test(
        "the child gets exactly descriptors 0, 1 and 2, whatever the parent has open without close-on-exec",
        arguments: ["supervise", "replace"])
    func onlyStandardDescriptors(mode: String) throws {
        // --leak-fds opens /dev/null, a socket and an epoll instance without close-on-exec; the
        // probe also has the socket Foundation's Process leaves it and, supervising, its pipes.
        // `ls /proc/$$/fd` lists the shell's descriptors (the `:` keeps sh from exec'ing ls), and
        // `sh -c` opens none of its own.
        let probe = try ProbeRun([mode, "--leak-fds", "--", "sh", "-c", "ls /proc/$$/fd; :"])
        let descriptors = try probe.readToEnd()
        #expect(descriptors == ["0", "1", "2"])
        #expect(try probe.waitForExit().status == 0)
    }

    @Test("replace runs the command in this very process, with exactly the environment given")
    func replaceKeepsThePid() throws {
        let probe = try ProbeRun(
            ["replace", "--", "sh", "-c", "echo pid=$$; echo $ONLY_VARIABLE"],
            environment: ["ONLY_VARIABLE": "alone", "PATH": "/usr/bin:/bin"])
        let lines = try probe.readToEnd()
        #expect(lines == ["pid=\(probe.pid)", "alone"])
        #expect(try probe.waitForExit().status == 0)

        // The probe passes on its environment less HIDDEN: what the child sees is what was given
        // to replace, not the probe's own environ.
        let env = try ProbeRun(
            ["replace", "--without=HIDDEN", "--", "/usr/bin/env"],
            environment: ["ONLY_VARIABLE": "alone", "HIDDEN": "x"])
        #expect(try env.readToEnd() == ["ONLY_VARIABLE=alone"])
    }

    @Test("replace gives the command an empty signal mask, whatever the calling thread blocks")
    func replaceUnblocksSignals() throws {
        let probe = try ProbeRun(["replace", "--block-signals", "--", "grep", "^SigBlk", "/proc/self/status"],
                                 environment: ["PATH": "/usr/bin:/bin"])
        #expect(try probe.readToEnd() == ["SigBlk:\t0000000000000000"])
        #expect(try probe.waitForExit().status == 0)
    }

    @Test("replace with a missing command throws a typed error naming it")
    func replaceCommandNotFound() throws {
        let probe = try ProbeRun(["replace", "--", "envseal-no-such-command"])
        #expect(try probe.readToEnd().isEmpty)
        let ended = try probe.waitForExit()
        #expect(ended.status == 125)
        #expect(probe.errorOutput() == "error: commandNotFound envseal-no-such-command\n")
    }

    @Test("hardening: no core dumps and not dumpable; across replace the limit stays and dumpability comes back")
    func hardening() throws {
        let hardened = try ProbeRun(["report", "--harden"])
        #expect(try hardened.readToEnd() == ["core-limit=0 dumpable=0"])

        let replaced = try ProbeRun(["replace", "--harden", "--", ProbeRun.executable.path, "report"])
        #expect(try replaced.readToEnd() == ["core-limit=0 dumpable=1"])

        let supervised = try ProbeRun(["supervise", "--harden", "--", ProbeRun.executable.path, "report"])
        #expect(try supervised.readToEnd() == ["core-limit=0 dumpable=1"])
    }

    @Test(
        "a Ctrl-C typed at the terminal is not forwarded: the child has it from the terminal already",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/setsid")),
        arguments: [false, true])
    func terminalInterruptNotForwarded(childInOwnGroup: Bool) throws {
        let terminal = try PseudoTerminal()
        // setsid -c: a new session whose controlling terminal is stdin, the pseudo-terminal; the
        // probe and its child are then the terminal's foreground process group, unless the child
        // leaves it. A child that left it shows whether we forward (it then gets one SIGINT, from
        // us); one that stayed shows it gets exactly one either way (though two SIGINTs close
        // together may merge into one, so a regression may slip past that case).
        let child = [ProbeRun.executable.path, "count-interrupts"] + (childInOwnGroup ? ["--own-group"] : [])
        let probe = try ProbeRun(
            ["supervise", "--"] + child, wrapper: ["/usr/bin/setsid", "-w", "-c"], standardInput: terminal.follower)
        try probe.waitFor("ready")
        terminal.type(0x03)  // Ctrl-C
        #expect(try probe.readToEnd() == (childInOwnGroup ? [] : ["int"]))
        #expect(try probe.waitForExit().status == 0)
    }

    @Test(
        "our reader going away neither kills us nor spares the child its SIGPIPE, even if we ignore it",
        arguments: [false, true])
    func brokenPipe(startIgnoringPipe: Bool) throws {
        // Started with SIGPIPE ignored, which the child would inherit across execve unless reset.
        let wrapper = startIgnoringPipe ? ["/bin/sh", "-c", "trap '' PIPE; exec \"$@\"", "sh"] : []
        let probe = try ProbeRun(["supervise", "--", "yes", "envseal"], wrapper: wrapper)
        try probe.waitFor("envseal")
        probe.closeOutput()
        let ended = try probe.waitForExit()
        // Not killed by SIGPIPE itself (that would be .uncaughtSignal), but reporting the child's.
        #expect(ended.reason == .exit)
        #expect(ended.status == 128 + SIGPIPE)
    }
}

/// One run of `childprocess-probe`, its stdout read a line at a time with a deadline, so that a
/// failing test fails instead of hanging.
final class ProbeRun {
    /// The probe executable, built beside the test bundle.
    static var executable: URL {
        var directories = [URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        // Where a test runner (xctest on macOS) is argument 0, the bundle's own directory.
        directories += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }.map {
            $0.deletingLastPathComponent()
        }
        for directory in directories {
            let candidate = directory.appendingPathComponent("childprocess-probe")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return URL(fileURLWithPath: "/childprocess-probe-not-found-beside-the-tests")
    }

    private let process = Process()
    private let output = Pipe()
    private let errors = Pipe()
    private var buffer: [UInt8] = []
    private var outputClosed = false

    var pid: Int32 { process.processIdentifier }

    /// Starts the probe with `arguments`, behind `wrapper` (a command that ends by running the
    /// probe) if given.
    init(
        _ arguments: [String], environment: [String: String]? = nil, wrapper: [String] = [],
        standardInput: FileHandle? = nil
    ) throws {
        let command = wrapper + [Self.executable.path] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        if let environment { process.environment = environment }
        process.standardOutput = output
        process.standardError = errors
        if let standardInput { process.standardInput = standardInput }
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    func send(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Reads lines until one equals `line`; throws at end of output or after `timeout`.
    @discardableResult
    func waitFor(_ line: String, timeout: Duration = .seconds(10)) throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var seen: [String] = []
        while let next = try nextLine(deadline: deadline) {
            seen.append(next)
            if next == line { return seen }
        }
        throw TestFailure("the probe's output ended without \"\(line)\"; it printed \(seen)")
    }

    /// Reads the remaining lines, until the output ends.
    func readToEnd(timeout: Duration = .seconds(10)) throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        var lines: [String] = []
        while let next = try nextLine(deadline: deadline) { lines.append(next) }
        return lines
    }

    /// Stops reading the probe's stdout, so that its next write meets a broken pipe.
    func closeOutput() {
        try? output.fileHandleForReading.close()
        outputClosed = true
    }

    func errorOutput() -> String {
        String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Waits for the probe to exit; kills it and throws after `timeout`.
    func waitForExit(timeout: Duration = .seconds(10)) throws -> (reason: Process.TerminationReason, status: Int32) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw TestFailure("the probe did not exit within \(timeout)")
            }
            usleep(10_000)
        }
        return (process.terminationReason, process.terminationStatus)
    }

    private func nextLine(deadline: ContinuousClock.Instant) throws -> String? {
        let fd = output.fileHandleForReading.fileDescriptor
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<end], as: UTF8.self)
                buffer.removeSubrange(...end)
                return line
            }
            guard !outputClosed else { return nil }
            let remaining = ContinuousClock.now.duration(to: deadline)
            guard remaining > .zero else {
                kill(process.processIdentifier, SIGKILL)
                let pending = String(decoding: buffer, as: UTF8.self)
                throw TestFailure("no output from the probe in time; pending: \(pending)")
            }
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let (seconds, attoseconds) = remaining.components
            let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000 + 1)
            guard poll(&entry, 1, milliseconds) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let count = read(fd, &chunk, chunk.count)
            if count < 0, errno == EINTR { continue }
            guard count > 0 else {
                if buffer.isEmpty { return nil }
                defer { buffer.removeAll() }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer += chunk[..<count]
        }
    }
}

/// A pseudo-terminal pair: the test types into the leader, a process in a session whose
/// controlling terminal is the follower receives the signals the terminal generates.
final class PseudoTerminal {
    private let leader: Int32
    let follower: FileHandle

    init() throws {
        // posix_openpt and friends are not in the Glibc module; they are in the C library.
        typealias OpenPT = @convention(c) (Int32) -> Int32
        typealias Unlock = @convention(c) (Int32) -> Int32
        typealias Name = @convention(c) (Int32, UnsafeMutablePointer<CChar>?, Int) -> Int32
        guard let openPT = dlsym(nil, "posix_openpt"), let grant = dlsym(nil, "grantpt"),
            let unlock = dlsym(nil, "unlockpt"), let name = dlsym(nil, "ptsname_r")
        else { throw TestFailure("no pseudo-terminal functions in the C library") }
        leader = unsafeBitCast(openPT, to: OpenPT.self)(O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard leader >= 0 else { throw TestFailure("posix_openpt failed: \(errno)") }
        var path = [CChar](repeating: 0, count: 128)
        guard unsafeBitCast(grant, to: Unlock.self)(leader) == 0, unsafeBitCast(unlock, to: Unlock.self)(leader) == 0,
            unsafeBitCast(name, to: Name.self)(leader, &path, path.count) == 0
        else { throw TestFailure("cannot set up the pseudo-terminal: \(errno)") }
        let followerPath = String(decoding: path.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fd = open(followerPath, O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw TestFailure("cannot open \(followerPath): \(errno)") }
        follower = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Types one byte at the terminal.
    func type(_ byte: UInt8) {
        var byte = byte
        _ = write(leader, &byte, 1)
    }

    deinit { close(leader) }
}
