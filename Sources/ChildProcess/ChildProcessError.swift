import Glibc

/// Why a command could not be started, or its supervision could not be set up.
///
/// Messages name the command by its first word as given, and at most the path it resolved to;
/// never its arguments or its environment, which may carry secrets. Compare ``code``, not the
/// message.
package struct ChildProcessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of failure. Codes may be added; switch with a `default`.
    package struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        /// No executable of that name in the search path, or nothing at the path given.
        package static let commandNotFound = Code(name: "command not found")
        /// Found, but not a regular file we may execute.
        package static let notExecutable = Code(name: "not executable")
        /// The command line or environment cannot be handed to a program: an empty command, a
        /// NUL byte, or a variable name that is empty or contains `=`.
        package static let invalidArgument = Code(name: "invalid argument")
        /// `posix_spawn` or `execve` failed; ``ChildProcessError/errorNumber`` says why.
        package static let spawnFailed = Code(name: "spawn failed")
        /// A system call needed to run or supervise the command failed.
        package static let systemCallFailed = Code(name: "system call failed")

        /// The code's name, for logs.
        package var description: String { name }
    }

    /// What kind of failure this is.
    package let code: Code
    /// The command's first word as given, when the failure concerns a command.
    package let command: String?
    /// The `errno` value, when a system call failed.
    package let errorNumber: Int32?
    /// What the message adds: a resolved path, the failing call, or a fixed reason.
    let detail: String?

    init(_ code: Code, command: String?, errorNumber: Int32? = nil, detail: String? = nil) {
        self.code = code
        self.command = command
        self.errorNumber = errorNumber
        self.detail = detail
    }

    static func systemCall(_ call: String, command: String?, errorNumber: Int32 = errno) -> ChildProcessError {
        ChildProcessError(.systemCallFailed, command: command, errorNumber: errorNumber, detail: call)
    }

    /// What went wrong, lowercase, without a trailing period: `node: command not found`.
    package var description: String {
        let subject = command.map { "\($0): " } ?? ""
        let reason = errorNumber.map { String(cString: strerror($0)) }
        switch code {
        case .commandNotFound:
            return "\(subject)command not found"
        case .notExecutable:
            let path = detail.map { $0 == command ? "" : " (\($0))" } ?? ""
            return "\(subject)permission denied\(path)"
        case .spawnFailed:
            return "\(subject)cannot execute: \(reason ?? "unknown error")"
        case .systemCallFailed:
            return "\(subject)\(detail ?? "system call") failed: \(reason ?? "unknown error")"
        default:
            return "\(subject)\(detail ?? code.description)"
        }
    }
}
