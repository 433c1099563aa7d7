import Glibc

/// A command and its environment, checked, resolved to a path, and laid out in C memory as
/// `execve` and `posix_spawn` take them.
///
/// Everything is checked and resolved before any process state is touched, so a bad command
/// fails without side effects. The environment strings hold decrypted secrets: they are built in
/// C memory straight from the caller's strings, with no intermediate Swift copy, and zeroed when
/// the request is released.
final class LaunchRequest {
    /// The command's first word as given, for messages.
    let name: String
    /// The path to execute: `name` itself when it contains a slash, else the PATH match.
    let path: String
    let arguments: CStringArray
    let environment: CStringArray

    /// Searched when neither the given environment nor ours has a PATH: glibc's default
    /// (`confstr(_CS_PATH)`), which is what `execvp` uses in that case.
    static let defaultSearchPath = "/bin:/usr/bin"

    init(command: [String], environment variables: [String: String]) throws(ChildProcessError) {
        guard let first = command.first, !first.isEmpty else {
            throw ChildProcessError(.invalidArgument, command: nil, detail: "empty command")
        }
        name = first
        if command.contains(where: { $0.utf8.contains(0) }) {
            throw ChildProcessError(
                .invalidArgument, command: first.utf8.contains(0) ? nil : first, detail: "an argument contains a NUL byte")
        }
        let malformed = variables.contains { key, value in
            key.isEmpty || key.utf8.contains(0) || key.utf8.contains(UInt8(ascii: "=")) || value.utf8.contains(0)
        }
        if malformed {
            throw ChildProcessError(
                .invalidArgument, command: first,
                detail: "an environment variable has an empty name, a name with '=', or a NUL byte")
        }
        let searchPath = variables["PATH"] ?? getenv("PATH").map { String(cString: $0) } ?? Self.defaultSearchPath
        path = try Self.resolve(first, searchPath: searchPath)
        arguments = CStringArray(command.map { argument in [argument] })
        // Sorted, so that a child sees the same environ order on every run.
        environment = CStringArray(variables.sorted { $0.key < $1.key }.map { [$0.key, "=", $0.value] })
    }

    /// Finds the file `execvp` would run: `name` itself if it contains a slash, else the first
    /// executable regular file `dir/name` for the directories in `searchPath` (an empty entry
    /// meaning the current directory).
    ///
    /// Resolved here rather than left to `posix_spawnp`, so that "not found" and "not executable"
    /// are told apart before anything starts, and `replace` and `supervise` agree.
    static func resolve(_ name: String, searchPath: String) throws(ChildProcessError) -> String {
        if name.contains("/") {
            switch probe(name) {
            case .executable: return name
            case .notExecutable: throw ChildProcessError(.notExecutable, command: name, detail: name)
            case .missing: throw ChildProcessError(.commandNotFound, command: name)
            }
        }
        var deniedPath: String?
        for directory in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let candidate = (directory.isEmpty ? "." : String(directory)) + "/" + name
            switch probe(candidate) {
            case .executable: return candidate
            // Like execvp: remember it, but a later directory may still have an executable one.
            case .notExecutable: deniedPath = deniedPath ?? candidate
            case .missing: continue
            }
        }
        if let deniedPath { throw ChildProcessError(.notExecutable, command: name, detail: deniedPath) }
        throw ChildProcessError(.commandNotFound, command: name)
    }

    private enum Probe { case executable, notExecutable, missing }

    private static func probe(_ path: String) -> Probe {
        var status = stat()
        guard stat(path, &status) == 0 else {
            // A directory on the way that we may not search hides the file: execvp says EACCES.
            return errno == EACCES ? .notExecutable : .missing
        }
        guard status.st_mode & S_IFMT == S_IFREG else { return .notExecutable }
        // AT_EACCESS: with the effective ids, which are what execve checks.
        return faccessat(AT_FDCWD, path, X_OK, AT_EACCESS) == 0 ? .executable : .notExecutable
    }
}

/// A NULL-terminated array of C strings in memory it owns, zeroed before it is freed.
final class CStringArray {
    /// The array, as `execve` and `posix_spawn` take it.
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    private let lengths: [Int]

    /// Each element of `strings` becomes one C string, the concatenation of its parts.
    init(_ strings: [[String]]) {
        pointer = .allocate(capacity: strings.count + 1)
        var lengths: [Int] = []
        lengths.reserveCapacity(strings.count)
        for (index, parts) in strings.enumerated() {
            let length = parts.reduce(0) { $0 + $1.utf8.count }
            let bytes = UnsafeMutablePointer<CChar>.allocate(capacity: length + 1)
            var offset = 0
            for var part in parts {
                part.withUTF8 { utf8 in
                    guard let source = utf8.baseAddress, !utf8.isEmpty else { return }
                    UnsafeMutableRawPointer(bytes + offset).copyMemory(from: source, byteCount: utf8.count)
                    offset += utf8.count
                }
            }
            bytes[length] = 0
            pointer[index] = bytes
            lengths.append(length + 1)
        }
        pointer[strings.count] = nil
        self.lengths = lengths
    }

    deinit {
        for (index, length) in lengths.enumerated() {
            guard let bytes = pointer[index] else { continue }
            wipe(bytes, count: length)
            bytes.deallocate()
        }
        pointer.deallocate()
    }
}
