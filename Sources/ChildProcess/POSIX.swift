import Glibc

/// C library calls the Glibc module does not import (`pipe2` and `close_range` are declared only
/// under `_GNU_SOURCE`, `<sys/prctl.h>` is not in the module map), looked up once in the C
/// library the process has already loaded.
enum LibC {
    typealias Pipe2 = @convention(c) (UnsafeMutablePointer<Int32>?, Int32) -> Int32
    typealias CloseRange = @convention(c) (UInt32, UInt32, Int32) -> Int32
    typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>?, Int32) -> Int32
    /// `prctl` is variadic in C; we call it through a fixed five-argument prototype. On x86-64
    /// and AArch64 Linux, integer arguments travel in the same registers either way; the one
    /// difference, %al on x86-64, only tells a variadic callee whether to save vector registers.
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32

    static let pipe2: Pipe2? = symbol("pipe2")
    static let prctl: Prctl? = symbol("prctl")
    /// glibc 2.34 and later.
    static let closeRange: CloseRange? = symbol("close_range")
    /// glibc 2.34 and later: the spawned child closes every descriptor from a number up, with
    /// `close_range`, or one by one as `/proc/self/fd` lists them on kernels before 5.9.
    static let addCloseFrom: AddCloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")

    private static func symbol<T>(_ name: String) -> T? {
        // A null handle is RTLD_DEFAULT: search the objects already loaded.
        guard let address = dlsym(nil, name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}

/// A pipe whose ends are close-on-exec and numbered 3 or above.
///
/// Close-on-exec from creation (`pipe2`), so that no program another thread starts meanwhile
/// inherits an end and holds the pipe open. Above 2, so that an end never lands on a standard
/// stream the caller had closed: it would be mistaken for that stream, and the `dup2` onto the
/// child's fd 1 and 2 could overwrite one end with the other.
func makePipe(command: String?) throws(ChildProcessError) -> (read: Int32, write: Int32) {
    var ends: (Int32, Int32) = (-1, -1)
    let created = withUnsafeMutablePointer(to: &ends) { pair in
        pair.withMemoryRebound(to: Int32.self, capacity: 2) { fds -> Int32 in
            if let pipe2 = LibC.pipe2 { return pipe2(fds, O_CLOEXEC) }
            // Not reached with glibc, which has had pipe2 since 2.9; a short window to leak.
            guard pipe(fds) == 0 else { return -1 }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            return 0
        }
    }
    guard created == 0 else { throw .systemCall("pipe2", command: command) }
    let read = raiseAboveStandardStreams(ends.0)
    let write = raiseAboveStandardStreams(ends.1)
    guard read >= 0, write >= 0 else {
        let error = ChildProcessError.systemCall("fcntl", command: command)
        closeDescriptor(read)
        closeDescriptor(write)
        throw error
    }
    return (read, write)
}

/// Returns `fd` if it is above 2, else a close-on-exec duplicate above 2 (closing `fd`), or -1.
private func raiseAboveStandardStreams(_ fd: Int32) -> Int32 {
    guard fd >= 0, fd <= STDERR_FILENO else { return fd }
    let moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1)
    let saved = errno
    close(fd)
    errno = saved
    return moved
}

/// `CLOSE_RANGE_CLOEXEC` from `<linux/close_range.h>` (Linux 5.11).
private let closeRangeCloseOnExec: Int32 = 1 << 2

/// Marks every descriptor above 2 close-on-exec, so that a program this process executes starts
/// with 0, 1 and 2 only: whatever a library opened without `O_CLOEXEC` (a socket to the key
/// service, an epoll instance) must not reach it.
///
/// Marked rather than closed, so that this process goes on working if the `execve` fails and
/// other threads keep their descriptors. One `close_range` call where the kernel (5.11) and C
/// library (2.34) have it; else each descriptor `/proc/self/fd` lists; else every number below
/// the descriptor limit.
func markDescriptorsCloseOnExec() {
    let first = STDERR_FILENO + 1
    if let closeRange = LibC.closeRange, closeRange(UInt32(first), UInt32.max, closeRangeCloseOnExec) == 0 { return }
    if let directory = opendir("/proc/self/fd") {
        defer { closedir(directory) }
        let own = dirfd(directory)
        while let entry = readdir(directory) {
            let number = withUnsafeBytes(of: entry.pointee.d_name) { name in
                Int32(String(decoding: name.prefix { $0 != 0 }, as: UTF8.self))
            }
            if let number, number >= first, number != own { _ = fcntl(number, F_SETFD, FD_CLOEXEC) }
        }
        return
    }
    let limit = Int32(clamping: min(max(sysconf(Int32(_SC_OPEN_MAX)), 1024), 1 << 20))
    for fd in first..<limit where fcntl(fd, F_GETFD) >= 0 {
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }
}

/// Closes `fd` if it is open. Never retried: on Linux the descriptor is gone even when `close`
/// reports EINTR, and a retry could close a descriptor another thread just opened.
func closeDescriptor(_ fd: Int32) {
    if fd >= 0 { _ = close(fd) }
}

/// Sets `O_NONBLOCK` on a descriptor only we use (a pipe end we created; never a standard stream,
/// whose open file description other processes share).
func setNonBlocking(_ fd: Int32) {
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK) }
}

/// How a full write ended.
enum WriteOutcome {
    case written
    /// The reader has gone (EPIPE). SIGPIPE is blocked in the supervising thread, so this is
    /// reported here instead of killing the process.
    case brokenPipe
    /// Any other failure: a closed descriptor, a full disk, EIO.
    case failed
}

/// Writes all of `bytes` to `fd`, retrying partial writes and EINTR, and waiting for room when
/// `fd` was left non-blocking by someone else.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> WriteOutcome {
    guard let base = bytes.baseAddress else { return .written }
    var offset = 0
    while offset < bytes.count {
        let written = write(fd, base + offset, bytes.count - offset)
        if written > 0 {
            offset += written
            continue
        }
        if written == 0 { return .failed }
        switch errno {
        case EINTR:
            continue
        case EAGAIN, EWOULDBLOCK:
            var entry = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&entry, 1, -1)
        case EPIPE:
            return .brokenPipe
        default:
            return .failed
        }
    }
    return .written
}

/// Zeroes `count` bytes at `pointer` in a way the optimiser keeps even right before a free.
func wipe(_ pointer: UnsafeMutableRawPointer, count: Int) {
    explicit_bzero(pointer, count)
}
