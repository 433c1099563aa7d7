import ArgumentParser
import EnvSealFormat
import Foundation
import SealedDotenv
import SodiumKit

/// `envseal git`: sealed files in git repositories — readable diffs, a merge driver, and the
/// setup that installs them with a pre-commit check.
struct GitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "git",
        abstract: "Sealed files in git: readable diffs, a merge driver that merges, a pre-commit check.",
        discussion: """
        Run `envseal git setup` once in each clone; git then calls `textconv` and `merge` itself.

        Examples:
          envseal git setup                      # every sealed file in the repository
          envseal git setup --pattern '*.env.sealed' --keystore ../KeyStore
          envseal git setup --uninstall
        """,
        subcommands: [Setup.self, Textconv.self, Merge.self, PreCommit.self]
    )

    /// The name of the diff and merge drivers, in `.gitattributes` and the git config.
    static let driverName = "envseal"
    /// The attributes `setup` gives a sealed file's pattern.
    static let attributes = "diff=\(driverName) merge=\(driverName)"

    /// `envseal git textconv FILE`: the text `git diff` and `git log -p` compare.
    struct Textconv: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "textconv",
            abstract: "Print a sealed file as git diff should show it: its plaintext, or fingerprints of its sealed values.",
            discussion: """
            With access to the file's key, prints the plain dotenv file (as `decrypt` does). With \
            --no-decrypt, or when the key cannot be used (no key store, the key service does not \
            answer or refuses, the file does not verify), prints the file's names and plain values \
            and, for each sealed value, `sealed:` and a 12-digit fingerprint of its ciphertext, \
            which changes exactly when the value does; the ENVSEAL line becomes `data-key:` and a \
            fingerprint of the wrapped data key. Standard error says once which it printed, and why. \
            A file that is not sealed is printed as it is.

            Examples:
              git config diff.envseal.textconv 'envseal git textconv'
              envseal git textconv --no-decrypt .env.sealed
            """
        )

        @Argument(help: "The file (git passes a temporary copy of one version).") var file: String
        @Flag(help: "Print fingerprints of the sealed values, never the values, without asking the key service.")
        var noDecrypt = false
        @OptionGroup var service: KeyServiceOptions

        func run() async throws {
            disableCoreDumpsOrWarn()
            let dotenv = try FileIO.readDotenv(file)
            let isSealed = dotenv.assignments.contains {
                $0.name == SealedFileHeader.variableName || SealedValue.isSealed($0.value)
            }
            guard isSealed else { return try FileIO.writeStandardOutput(dotenv.render()) }
            if noDecrypt {
                warn("\(file): --no-decrypt: showing fingerprints of the sealed values, not the values")
            } else {
                do {
                    let connection = try await service.connect()
                    let plain = try await connection.sealer.decrypt(dotenv)
                    var bytes = plain.render()
                    defer { bytes.withUnsafeMutableBytes { SecureMemory.zero($0) } }
                    return try FileIO.writeStandardOutput(bytes)
                } catch {
                    let reason = ErrorReport.cliError(error, file: nil).message
                    warn("\(file): no key access (\(reason)): showing fingerprints of the sealed values, not the values")
                }
            }
            let view: DotenvFile
            do {
                view = try SealedFile.fingerprintView(of: dotenv)
            } catch {
                throw ErrorReport.cliError(error, file: file)
            }
            try FileIO.writeStandardOutput(view.render())
        }
    }

    /// `envseal git merge %O %A %B %P`: git's merge driver for sealed files.
    struct Merge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "merge",
            abstract: "Merge two versions of a sealed file against their ancestor, variable by variable (git's merge driver).",
            discussion: """
            Opens and verifies the three versions (they may have different data keys, after a \
            `rotate` on one branch) and merges each variable: added, removed or changed on one \
            side, or changed identically on both. The result is sealed under the current side's \
            data key, with a new header MAC, and written over CURRENT. An unchanged value keeps its \
            exact ciphertext.

            A variable changed differently on both sides (or changed on one, removed on the \
            other) is a conflict: everything else is merged, each conflicting variable keeps the \
            current side's value, a comment line names it (no value, sealed or not, is written into \
            a marker), standard error names the variables, and the exit status is 1, so git leaves \
            the file unmerged. Resolve it with `envseal edit` (the other side's values: \
            `git show MERGE_HEAD:PATH | envseal decrypt -`), remove the comment, then `git add`. \
            Any other failure (a version that does not verify, no key access) leaves CURRENT as it \
            was and exits with its usual code, which git also reports as a conflict.

            Example (what `envseal git setup` configures):
              git config merge.envseal.driver 'envseal git merge %O %A %B %P'
            """
        )

        @Argument(help: "The common ancestor (git's %O; empty when there is none).") var base: String
        @Argument(help: "The current side (git's %A), replaced by the result.") var current: String
        @Argument(help: "The other side (git's %B).") var other: String
        @Argument(help: "The file's path in the repository (git's %P), for messages.") var path: String?
        @OptionGroup var service: KeyServiceOptions

        func run() async throws {
            disableCoreDumpsOrWarn()
            let name = path ?? current
            let baseFile = try FileIO.parseDotenv(FileIO.readBytes(base), from: "\(name) (ancestor)")
            let currentFile = try FileIO.parseDotenv(FileIO.readBytes(current), from: "\(name) (current side)")
            let otherFile = try FileIO.parseDotenv(FileIO.readBytes(other), from: "\(name) (other side)")
            let connection = try await service.connect(for: path)
            let result = try await connection.run(file: name) {
                try await connection.sealer.merge(base: baseFile, current: currentFile, other: otherFile)
            }
            var bytes = result.file.render()
            if !result.isClean {
                let comments = result.conflicts.map {
                    "# envseal merge conflict: \($0) was changed differently on both sides; this side's value is kept here\n"
                }.joined() + (result.slotConflict.map { "# envseal merge conflict: key slots: \($0); this side's slots are kept here\n" } ?? "")
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                let start = bytes.starts(with: bom) ? bom.count : 0
                bytes.insert(contentsOf: Array(comments.utf8), at: start)
            }
            try FileIO.writeAtomically(bytes, to: current)
            if let slotConflict = result.slotConflict {
                throw CLIError(
                    "\(name): merge conflict: key slots: \(slotConflict); the file keeps this side's slots and is left unmerged",
                    hint: "see the other side's slots with `git show MERGE_HEAD:\(name) > other.sealed; envseal keys list other.sealed`, "
                        + "apply them with `envseal keys add/remove \(name)` (remove the conflict comment), then `git add \(name)`",
                    exitCode: EnvSealExit.failure)
            }
            guard result.conflicts.isEmpty else {
                let names = result.conflicts.joined(separator: ", ")
                throw CLIError(
                    "\(name): merge conflict: \(names) changed differently on both sides; the file keeps this side's value of each and is left unmerged",
                    hint: "see the other side's values with `git show MERGE_HEAD:\(name) | envseal decrypt -`, "
                        + "resolve with `envseal edit \(name)` (remove the conflict comment), then `git add \(name)`",
                    exitCode: EnvSealExit.failure)
            }
        }
    }

    /// `envseal git pre-commit`: what the hook `setup` installs runs.
    struct PreCommit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pre-commit",
            abstract: "Refuse a commit that stages a sealed file without its seal, or a dotenv file with plaintext secrets.",
            discussion: """
            Checks the staged version (not the working tree) of every file being committed whose \
            .gitattributes give it diff=envseal: it must parse as dotenv, have an ENVSEAL header \
            listing every variable, and hold only well-formed sealed values where the header says \
            sealed. A decrypted copy saved over the sealed file fails. Then every staged file of \
            those and of the dotenv files by name (.env, .env.*, *.env, *.env.*) is scanned as \
            `envseal scan` scans. Needs no key. Exit 1 names each file and why, never a value; \
            `git commit --no-verify` skips the hook.
            """
        )

        func run() async throws {
            let repository = try GitRepository.current()
            let staged = try repository.run(["diff", "--cached", "--name-only", "-z", "--diff-filter=ACMR"])
            let paths = staged.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            guard !paths.isEmpty else { return }
            let attributes = try repository.run(["check-attr", "--cached", "-z", "diff", "--"] + paths)
            // -z output: path NUL attribute NUL value NUL, for each path.
            let fields = attributes.split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
            var marked: [String] = []
            var index = 0
            while index + 2 < fields.count {
                if fields[index + 2] == GitCommand.driverName { marked.append(fields[index]) }
                index += 3
            }
            var problems: [String] = []
            var blobs: [(path: String, bytes: [UInt8])] = []
            for path in paths where marked.contains(path) || SecretScanner.isDotenvName((path as NSString).lastPathComponent) {
                let blob = try repository.run(["cat-file", "blob", ":" + path])
                if marked.contains(path), let problem = Self.problem(with: blob) { problems.append("\(path): \(problem)") }
                blobs.append((repository.top + "/" + path, blob))
            }
            // The staged versions scanned as `envseal scan` would (named from the top of the work tree).
            var scanner = SecretScanner()
            for finding in try scanner.scan(blobs) {
                problems.append(finding.text.hasPrefix(repository.top + "/") ? String(finding.text.dropFirst(repository.top.count + 1)) : finding.text)
            }
            guard problems.isEmpty else {
                for problem in problems { FileHandle.standardError.write(Data("envseal: \(problem)\n".utf8)) }
                throw CLIError("\(problems.count) problem(s) in the staged files; nothing was committed",
                               hint: "seal them with `envseal encrypt --in-place` (or restore the sealed version), or allow a finding in .envseal.yaml, then `git add` again")
            }
        }

        /// Why staged bytes are not a sealed file, or `nil` when they are one.
        static func problem(with bytes: [UInt8]) -> String? {
            let file: DotenvFile
            do {
                file = try DotenvFile.parse(bytes)
            } catch {
                return "line \(error.line): \(error.kind): not a sealed dotenv file"
            }
            guard let text = file.value(of: SealedFileHeader.variableName) else {
                return "no ENVSEAL header: the file is not sealed (a decrypted copy?)"
            }
            do {
                let header = try SealedFileHeader(parsing: text)
                try header.checkListsEvery(file.names)
                let sealed = Set(header.sealedNames)
                for assignment in file.assignments where sealed.contains(assignment.name) {
                    guard SealedValue.isSealed(assignment.value) else {
                        return "line \(assignment.line): variable \(assignment.name) is listed as sealed but holds a plain value"
                    }
                    _ = try SealedValue.decode(assignment.value, name: assignment.name)
                }
            } catch {
                return "\(error)"
            }
            return nil
        }
    }
}

/// The repository around the working directory, and git run in it.
struct GitRepository {
    /// The top of the work tree.
    let top: String

    /// The repository the working directory is in; a clear error outside one.
    static func current() throws -> GitRepository {
        let output = try run(["rev-parse", "--show-toplevel"], in: nil)
        let top = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .newlines)
        guard !top.isEmpty else {
            throw CLIError("not in a git work tree", exitCode: EnvSealExit.usage)
        }
        return GitRepository(top: top)
    }

    /// Runs git at the top of the work tree; its standard output.
    func run(_ arguments: [String], allowing statuses: Set<Int32> = [0]) throws -> [UInt8] {
        try Self.run(arguments, in: top, allowing: statuses)
    }

    /// Runs git; a failure names the command and repeats git's message.
    static func run(_ arguments: [String], in directory: String?, allowing statuses: Set<Int32> = [0]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git"] + arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw CLIError("cannot run git: \(error.localizedDescription)", hint: "install git, or put it on PATH", exitCode: EnvSealExit.configuration)
        }
        // Standard output to its end first: the commands used here write little to standard error,
        // far less than a pipe holds, so git never blocks on it meanwhile.
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorData = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard statuses.contains(process.terminationStatus) else {
            let message = String(decoding: errorData, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            let command = (["git"] + arguments.prefix(3)).joined(separator: " ")
            throw CLIError("\(command) failed (exit \(process.terminationStatus))\(message.isEmpty ? "" : ": " + message)",
                           exitCode: message.contains("not a git repository") ? EnvSealExit.usage : EnvSealExit.failure)
        }
        return Array(data)
    }
}
