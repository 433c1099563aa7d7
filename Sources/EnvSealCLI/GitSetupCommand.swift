import ArgumentParser
import EnvSealFormat
import Foundation

extension GitCommand {
    /// `envseal git setup`: the attributes, drivers and hook of a clone.
    struct Setup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "setup",
            abstract: "Install envseal's diff and merge drivers and pre-commit hook in this git repository (--uninstall removes them).",
            discussion: """
            Writes, each only when missing (running it again changes nothing):
              - .gitattributes at the top of the work tree: `PATTERN diff=envseal merge=envseal` \
            for each --pattern, by default for each of the project config's `sealed` patterns \
            (.envseal.yaml at the top of the work tree or above), else one line per sealed file in the repository (tracked or \
            not ignored, with an ENVSEAL header), anchored with a leading /;
              - the clone's own git config (.git/config, never committed): diff.envseal.textconv, \
            merge.envseal.name and merge.envseal.driver, running this envseal with the key-service \
            options given here (--keystore as an absolute path); no textconv cache, which would \
            keep plaintext in the repository;
              - the pre-commit hook (in core.hooksPath if set), which runs `envseal git pre-commit`. \
            An existing hook of another tool is kept as pre-commit.before-envseal and run first; \
            when it fails, the commit stops there.

            --uninstall removes the lines with `diff=envseal merge=envseal`, the two config \
            sections and the hook, and puts a chained hook back. Commit .gitattributes so that \
            every clone marks the same files; each clone runs `envseal git setup` for the rest.
            """
        )

        @Option(name: .customLong("pattern"), help: ArgumentHelp(
            "A .gitattributes pattern of sealed files (repeatable).",
            discussion: "Default: the project config's `sealed` patterns, else each sealed file in the repository.", valueName: "pattern"))
        var patterns: [String] = []
        @Flag(help: "Remove what setup installed.") var uninstall = false
        @Option(help: "The key store folder the drivers use (default: KeyStore at the top of the work tree).") var keystore: String?
        @Option(help: "The KMS endpoint the drivers use (default: the AWS environment, else the embedded key store).") var endpoint: String?
        @Option(help: "The AWS profile the drivers use.") var profile: String?

        func validate() throws {
            for pattern in patterns where pattern.isEmpty || pattern.contains(where: { $0.isWhitespace }) || pattern.hasPrefix("#") || pattern.hasPrefix("!") {
                throw ValidationError("--pattern \(pattern): a .gitattributes pattern cannot be empty, contain spaces, or start with # or !")
            }
            if uninstall, !patterns.isEmpty || keystore != nil || endpoint != nil || profile != nil {
                throw ValidationError("--uninstall takes no other option")
            }
        }

        func run() throws {
            let repository = try GitRepository.current()
            let hooks = try repository.hooksDirectory()
            if uninstall {
                try Self.removeAttributes(in: repository)
                for section in ["diff.\(GitCommand.driverName)", "merge.\(GitCommand.driverName)"] {
                    // Exit 128 when the section is not there: nothing to remove.
                    _ = try repository.run(["config", "--local", "--remove-section", section], allowing: [0, 128])
                }
                try Self.removeHook(from: hooks)
                print("removed envseal's attributes, drivers and pre-commit hook from \(repository.top)")
                return
            }
            let configured = try ProjectConfig.find(for: repository.top)?.sealedPatterns ?? []
            let chosen = !patterns.isEmpty ? patterns : !configured.isEmpty ? configured : try Self.sealedFiles(in: repository).map { "/" + $0 }
            let added = try Self.addAttributes(chosen, in: repository)
            try repository.setConfig("diff.\(GitCommand.driverName).textconv", driverCommand("textconv"))
            try repository.setConfig("merge.\(GitCommand.driverName).name", "envseal: merge sealed dotenv files variable by variable")
            try repository.setConfig("merge.\(GitCommand.driverName).driver", driverCommand("merge", "%O %A %B %P"))
            let chained = try Self.installHook(in: hooks, command: Self.shellQuoted(Self.executable))
            if chosen.isEmpty {
                warn("no sealed file found and no --pattern given: .gitattributes marks no file yet")
            }
            print("""
                .gitattributes: \(added) line(s) added for \(chosen.count) pattern(s)\(chosen.isEmpty ? "" : ": " + chosen.joined(separator: " "))
                git config: diff.envseal and merge.envseal set
                pre-commit hook: installed in \(hooks)\(chained ? " (the existing hook runs first, as pre-commit.before-envseal)" : "")
                """)
        }

        /// The shell command that runs `envseal git SUBCOMMAND` with the key-service options given
        /// here, then `arguments`: this envseal by its absolute path when it was run by one.
        func driverCommand(_ subcommand: String, _ arguments: String = "") -> String {
            var words = [Self.executable, "git", subcommand]
            if let keystore { words += ["--keystore", URL(fileURLWithPath: keystore).standardizedFileURL.path] }
            if let endpoint { words += ["--endpoint", endpoint] }
            if let profile { words += ["--profile", profile] }
            return (words.map(Self.shellQuoted) + (arguments.isEmpty ? [] : [arguments])).joined(separator: " ")
        }

        /// This envseal: its absolute path when it was run by a path, else its name, found on PATH.
        static var executable: String {
            let invoked = CommandLine.arguments.first ?? "envseal"
            return invoked.contains("/") ? URL(fileURLWithPath: invoked).standardizedFileURL.path : invoked
        }

        static func shellQuoted(_ word: String) -> String {
            let plain = word.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "/._-:@%+=,".unicodeScalars.contains($0) }
            return plain && !word.isEmpty ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
        }

        // MARK: .gitattributes

        /// The sealed files of the repository: tracked, or untracked and not ignored, with a header.
        static func sealedFiles(in repository: GitRepository) throws -> [String] {
            let listed = try repository.run(["ls-files", "-z", "--cached", "--others", "--exclude-standard"])
            var found: Set<String> = []
            for entry in listed.split(separator: 0) {
                let path = String(decoding: entry, as: UTF8.self)
                let full = repository.top + "/" + path
                var info = stat()
                // Sealed files are small text files; anything large or not regular is not one.
                guard lstat(full, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= 1 << 20,
                      let bytes = try? FileIO.readBytes(full), bytes.count >= 8,
                      String(decoding: bytes, as: UTF8.self).contains(SealedFileHeader.variableName + "="),
                      let dotenv = try? DotenvFile.parse(bytes),
                      let header = dotenv.value(of: SealedFileHeader.variableName),
                      (try? SealedFileHeader(parsing: header)) != nil
                else { continue }
                found.insert(path)
            }
            return found.sorted()
        }

        static func attributesPath(_ repository: GitRepository) -> String { repository.top + "/.gitattributes" }

        /// Appends a line per pattern not already there; how many were added.
        static func addAttributes(_ patterns: [String], in repository: GitRepository) throws -> Int {
            let path = attributesPath(repository)
            var text = FileManager.default.fileExists(atPath: path) ? String(decoding: try FileIO.readBytes(path), as: UTF8.self) : ""
            let existing = Set(text.split(whereSeparator: \.isNewline).map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") })
            var added = 0
            for pattern in patterns where !existing.contains("\(pattern) \(GitCommand.attributes)") {
                if !text.isEmpty, !text.hasSuffix("\n") { text += "\n" }
                text += "\(pattern) \(GitCommand.attributes)\n"
                added += 1
            }
            if added > 0 { try FileIO.writeAtomically(Array(text.utf8), to: path) }
            return added
        }

        /// Removes every line that gives a pattern envseal's attributes, and the file if nothing is left.
        static func removeAttributes(in repository: GitRepository) throws {
            let path = attributesPath(repository)
            guard FileManager.default.fileExists(atPath: path) else { return }
            let text = String(decoding: try FileIO.readBytes(path), as: UTF8.self)
            var lines = text.components(separatedBy: "\n")
            let before = lines.count
            lines.removeAll { line in
                let words = line.split(whereSeparator: \.isWhitespace)
                return words.count == 3 && words.dropFirst().joined(separator: " ") == GitCommand.attributes
            }
            guard lines.count != before else { return }
            let remaining = lines.joined(separator: "\n")
            if remaining.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                unlink(path)
            } else {
                try FileIO.writeAtomically(Array(remaining.utf8), to: path)
            }
        }

        // MARK: The hook

        /// The line that marks envseal's hook.
        static let hookMarker = "# envseal pre-commit hook: installed by `envseal git setup`, removed by `envseal git setup --uninstall`."
        /// Where another tool's hook is kept while envseal's runs it.
        static let chainedHookName = "pre-commit.before-envseal"

        static func hookScript(command: String) -> String {
            """
            #!/bin/sh
            \(hookMarker)
            hooks="$(dirname "$0")"
            if [ -x "$hooks/\(chainedHookName)" ]; then
                "$hooks/\(chainedHookName)" "$@" || exit $?
            fi
            exec \(command) git pre-commit

            """
        }

        /// Installs (or refreshes) the hook; whether another hook was chained.
        static func installHook(in hooks: String, command: String) throws -> Bool {
            try FileManager.default.createDirectory(atPath: hooks, withIntermediateDirectories: true)
            let hook = hooks + "/pre-commit"
            let chained = hooks + "/" + chainedHookName
            if FileManager.default.fileExists(atPath: hook), !isOurs(hook) {
                guard !FileManager.default.fileExists(atPath: chained) else {
                    throw CLIError("\(hook) is not envseal's, and \(chained) exists already: cannot chain to both",
                                   hint: "merge them by hand, or remove one", exitCode: EnvSealExit.cannotWrite)
                }
                guard rename(hook, chained) == 0 else { throw FileIO.cannotWrite(chained, errno) }
            }
            try FileIO.writeAtomically(Array(hookScript(command: command).utf8), to: hook)
            guard chmod(hook, 0o755) == 0 else { throw FileIO.cannotWrite(hook, errno) }
            return FileManager.default.fileExists(atPath: chained)
        }

        /// Removes envseal's hook and puts a chained one back.
        static func removeHook(from hooks: String) throws {
            let hook = hooks + "/pre-commit"
            let chained = hooks + "/" + chainedHookName
            guard isOurs(hook) else { return }
            guard unlink(hook) == 0 else { throw FileIO.cannotWrite(hook, errno) }
            if FileManager.default.fileExists(atPath: chained), rename(chained, hook) != 0 { throw FileIO.cannotWrite(hook, errno) }
        }

        static func isOurs(_ hook: String) -> Bool {
            guard let bytes = try? FileIO.readBytes(hook) else { return false }
            return String(decoding: bytes, as: UTF8.self).contains(hookMarker)
        }
    }
}

extension GitRepository {
    /// The hooks folder git uses: core.hooksPath if set, else the repository's hooks folder.
    func hooksDirectory() throws -> String {
        let output = String(decoding: try run(["rev-parse", "--git-path", "hooks"]), as: UTF8.self)
            .trimmingCharacters(in: .newlines)
        return output.hasPrefix("/") ? output : top + "/" + output
    }

    /// Sets a key in the clone's own config.
    func setConfig(_ key: String, _ value: String) throws {
        _ = try run(["config", "--local", key, value])
    }
}
