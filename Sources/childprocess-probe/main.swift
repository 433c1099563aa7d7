// childprocess-probe: a helper for ChildProcessTests, not a tool. The tests send it signals and
// let it replace itself, which they cannot do to the test runner.
//
//   childprocess-probe supervise [--on-thread] [--harden] -- CMD ARGS…
//       Supervises CMD with the probe's own environment and pass-through filters, then exits
//       with the child's exit code. With --on-thread it supervises on a second thread while the
//       main thread, which the kernel prefers for a process-directed signal, waits with every
//       signal unblocked.
//   childprocess-probe replace [--harden] [--without=NAME] -- CMD ARGS…
//       Replaces itself with CMD, with the probe's own environment less NAME.
//   childprocess-probe report [--harden]
//       Prints `core-limit=<soft limit> dumpable=<0 or 1>`.
//   childprocess-probe count-interrupts [--own-group]
//       Prints `ready`, then `int` for each SIGINT it receives; exits 0 half a second after the
//       first, or after a second without any. With --own-group it first moves to a process
//       group of its own, out of reach of the terminal's signals.
//   childprocess-probe fill-pipe SIZE
//       Grows the pipe on its stdout to SIZE bytes, fills it, and exits 0 at once.
//
// --leak-fds (supervise and replace) first opens descriptors that are not close-on-exec, as a
// library might: /dev/null, a TCP socket and an epoll instance, none of which CMD may inherit.
// --harden calls ProcessHardening.disableCoreDumps() first. On an error the probe prints
// `error: <code> <command>` (code as in ChildProcessError.Code, e.g. commandNotFound) to stderr
// and exits 125.
import ChildProcess
import Foundation
import Synchronization

let interrupted = Atomic<Bool>(false)

func environmentOfThisProcess() -> [String: String] {
    ProcessInfo.processInfo.environment
}

func fail(_ error: ChildProcessError) -> Never {
    let code = switch error.code {
    case .commandNotFound: "commandNotFound"
    case .notExecutable: "notExecutable"
    case .invalidArgument: "invalidArgument"
    case .spawnFailed: "spawnFailed"
    default: "other"
    }
    FileHandle.standardError.write(Data("error: \(code) \(error.command ?? "-")\n".utf8))
    exit(125)
}

func usage() -> Never {
    let text = "usage: childprocess-probe supervise|replace [OPTIONS] -- CMD ARGS… | report | count-interrupts | fill-pipe\n"
    FileHandle.standardError.write(Data(text.utf8))
    exit(64)
}

func report() -> Never {
    var limit = rlimit()
    getrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &limit)
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    let prctl = unsafeBitCast(dlsym(nil, "prctl"), to: Prctl.self)
    let getDumpable: Int32 = 3  // PR_GET_DUMPABLE
    print("core-limit=\(limit.rlim_cur) dumpable=\(prctl(getDumpable, 0, 0, 0, 0))")
    exit(0)
}

func harden() {
    do throws(ChildProcessError) {
        try ProcessHardening.disableCoreDumps()
    } catch {
        fail(error)
    }
}

/// Prints `int` for every SIGINT delivered, from the handler itself so that it is counted the
/// moment it arrives. Exits 0 half a second after the first, or after a second without any.
func countInterrupts(ownGroup: Bool) -> Never {
    if ownGroup { setpgid(0, 0) }
    var action = sigaction()
    action.__sigaction_handler.sa_handler = { _ in
        var line: (UInt8, UInt8, UInt8, UInt8) = (0x69, 0x6e, 0x74, 0x0a)  // "int\n"
        _ = withUnsafeBytes(of: &line) { write(STDOUT_FILENO, $0.baseAddress, 4) }
        interrupted.store(true, ordering: .relaxed)
    }
    sigaction(SIGINT, &action, nil)
    FileHandle.standardOutput.write(Data("ready\n".utf8))
    for _ in 0..<100 where !interrupted.load(ordering: .relaxed) { usleep(10_000) }
    if interrupted.load(ordering: .relaxed) { usleep(500_000) }
    exit(0)
}

func fillPipe(_ size: Int32) -> Never {
    let setPipeSize: Int32 = 1031  // F_SETPIPE_SZ, which the Glibc module does not import
    guard fcntl(STDOUT_FILENO, setPipeSize, size) >= size else { exit(1) }
    let bytes = [UInt8](repeating: UInt8(ascii: "x"), count: Int(size))
    let written = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    exit(written == Int(size) ? 0 : 1)
}

/// Opens descriptors without close-on-exec and leaves them open.
func leakDescriptors() {
    // <sys/epoll.h> is not in the Glibc module; flags 0 is without EPOLL_CLOEXEC.
    typealias EpollCreate1 = @convention(c) (Int32) -> Int32
    let epoll = unsafeBitCast(dlsym(nil, "epoll_create1"), to: EpollCreate1.self)
    let opened = [open("/dev/null", O_RDONLY), socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0), epoll(0)]
    if opened.contains(where: { $0 < 0 }) {
        FileHandle.standardError.write(Data("error: cannot open the descriptors to leak\n".utf8))
        exit(125)
    }
}

/// Runs `body` on a new thread and waits for it on this one with all signals unblocked.
func onSecondThread(_ body: @escaping @Sendable () -> Never) -> Never {
    let thread = Thread { body() }
    thread.start()
    var all = sigset_t()
    sigemptyset(&all)
    pthread_sigmask(SIG_SETMASK, &all, nil)
    while true { pause() }
}

var arguments = Array(CommandLine.arguments.dropFirst())
guard let mode = arguments.first else { usage() }
arguments.removeFirst()
if mode == "report" {
    if arguments == ["--harden"] { harden() }
    report()
}
if mode == "count-interrupts" { countInterrupts(ownGroup: arguments == ["--own-group"]) }
if mode == "fill-pipe", arguments.count == 1, let size = Int32(arguments[0]) { fillPipe(size) }
guard let separator = arguments.firstIndex(of: "--") else { usage() }
let options = Set(arguments[..<separator])
let command = Array(arguments[(separator + 1)...])

if options.contains("--harden") { harden() }
if options.contains("--leak-fds") { leakDescriptors() }
if options.contains("--block-signals") {
    // As on a thread of Swift's cooperative pool, where `envseal exec` calls replace.
    var all = sigset_t()
    sigfillset(&all)
    pthread_sigmask(SIG_BLOCK, &all, nil)
}

switch mode {
case "replace":
    do throws(ChildProcessError) {
        var environment = environmentOfThisProcess()
        for option in options where option.hasPrefix("--without=") {
            environment[String(option.dropFirst("--without=".count))] = nil
        }
        try ChildProcess.replace(command: command, environment: environment)
    } catch {
        fail(error)
    }
case "supervise":
    let supervise: @Sendable () -> Never = {
        var out = PassThroughFilter()
        var err = PassThroughFilter()
        do throws(ChildProcessError) {
            let ended = try ChildProcess.supervise(
                command: command, environment: environmentOfThisProcess(), stdout: &out, stderr: &err)
            exit(ended.exitCode)
        } catch {
            fail(error)
        }
    }
    if options.contains("--on-thread") { onSecondThread(supervise) }
    supervise()
default:
    usage()
}

