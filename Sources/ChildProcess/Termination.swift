/// How a child process ended.
package enum Termination: Sendable, Equatable {
    /// The child exited with this status, 0 to 255.
    case exited(Int32)
    /// The child was killed by the signal with this number.
    case signaled(Int32)

    /// The shell's convention for `$?`: the exit status, or 128 + N for death by signal N.
    ///
    /// A wrapper that exits with this code looks, to a shell script testing `$?`, like the
    /// command it ran.
    package var exitCode: Int32 {
        switch self {
        case .exited(let status): status
        case .signaled(let signal): 128 + signal
        }
    }

    /// Decodes a status from `waitpid` called without `WUNTRACED` or `WCONTINUED`, so the child
    /// either exited or was killed. The layout is Linux's (`WIFEXITED` and friends are macros
    /// the Glibc module does not import): the low 7 bits hold the killing signal, or 0 for an
    /// exit whose status is in bits 8 to 15; bit 7 says whether a core was dumped.
    init(waitStatus status: Int32) {
        let signal = status & 0x7f
        self = signal == 0 ? .exited((status >> 8) & 0xff) : .signaled(signal)
    }
}
