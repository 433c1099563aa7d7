import Foundation

/// Where a command writes its output (`-o OUT`), decided before any work is done.
///
/// `-` is standard output. A regular file, or a name not yet taken, is replaced atomically
/// (``FileIO/writeAtomically(_:to:isPrivate:)``) after following every symlink to the file it
/// names, so a symlink stays a symlink, as with `sed -i --follow-symlinks` and sops. A character
/// device or a FIFO is written into, never replaced: `-o /dev/null` discards, a FIFO feeds its
/// reader. A directory, socket or block device is refused (73), and so is a read-only file unless
/// forced.
struct OutputTarget {
    enum Destination: Equatable {
        case standardOutput
        /// A regular file (existing or not) at this path, which names no symlink.
        case file(String)
        /// A character device or FIFO, opened by the name given.
        case stream(String)
    }

    /// The name as the user gave it, for messages.
    let name: String
    let destination: Destination

    /// - Parameters:
    ///   - name: `-o`'s value.
    ///   - force: Replace a read-only file.
    ///   - input: The command's input file (`-`: standard input); writing over it is refused (64).
    ///   - sameFileHint: What to do instead, when the output is the input.
    init(_ name: String, force: Bool, input: String?, sameFileHint: String? = nil) throws {
        self.name = name
        guard name != "-" else {
            destination = .standardOutput
            return
        }
        guard !name.isEmpty else { throw CLIError("-o needs a file name", exitCode: EnvSealExit.usage) }
        var info = stat()
        guard stat(name, &info) == 0 else {
            // Nothing there yet, or a dangling symlink: the file is created where the links lead.
            guard errno == ENOENT else { throw FileIO.cannotWrite(name, errno) }
            destination = .file(try FileIO.followSymlinks(name))
            return
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            if let input, FileIO.isSameFile(info, as: input) {
                throw CLIError("-o \(name) is the input file \(input == "-" ? "(standard input)" : input); writing it would destroy the input",
                               hint: sameFileHint, exitCode: EnvSealExit.usage)
            }
            let path = try FileIO.followSymlinks(name)
            if !force { try FileIO.refuseReadOnly(name, path: path, info: info) }
            destination = .file(path)
        case S_IFCHR, S_IFIFO:
            destination = .stream(name)
        default:
            throw FileIO.notWritable(name, info)
        }
    }

    /// Writes `bytes` there; `isPrivate` makes a new or replaced file 0600; without `replacing`, an
    /// existing regular file is refused (73) rather than replaced, atomically.
    func write(_ bytes: [UInt8], isPrivate: Bool = false, replacing: Bool = true) throws {
        switch destination {
        case .standardOutput:
            try FileIO.writeStandardOutput(bytes)
        case .file(let path):
            try FileIO.writeAtomically(bytes, to: path, isPrivate: isPrivate, replacing: replacing)
        case .stream(let path):
            try FileIO.writeStream(bytes, to: path, name: name)
        }
    }
}
