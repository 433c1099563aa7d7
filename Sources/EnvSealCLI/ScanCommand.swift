import ArgumentParser
import EnvSealFormat
import Foundation

/// `envseal scan`: plaintext secrets in dotenv files.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Find dotenv files that hold secrets in plain text, decrypted copies of sealed files, and files sealed under keys the project does not list.",
        discussion: """
        PATH is a file (always scanned) or a folder, searched for dotenv files by name (.env, \
        .env.*, *.env, *.env.*; not in .git, node_modules or .build). Each finding is one line, \
        FILE:LINE: VARIABLE: why, never the value. The project config (.envseal.yaml, from each \
        file's folder upward) lists the keys sealed files may use and an allow-list (docs/CLI.md).

        Exit codes: 0 nothing found, 1 findings, 65 a config that does not parse, 66 a PATH that \
        cannot be read.

        Examples:
          envseal scan
          envseal scan config/ .env.production --output json
        """
    )

    @Argument(help: "Files or folders to scan (default: the current folder).") var paths: [String] = []
    @Option(help: "Output format: text or json.") var output: OutputFormat = .text

    func run() throws {
        var files: [String] = []
        for path in paths.isEmpty ? ["."] : paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw FileIO.cannotRead(path, ENOENT) }
            files += isDirectory.boolValue ? SecretScanner.dotenvFiles(under: path) : [path]
        }
        var scanner = SecretScanner()
        let findings = try scanner.scan(files.map { path in (path, try FileIO.readBytes(path)) })
        switch output {
        case .text:
            for finding in findings { print(finding.text) }
        case .json:
            try JSONOutput.print(findings)
        }
        guard findings.isEmpty else {
            throw CLIError("\(findings.count) finding(s) in \(Set(findings.map(\.file)).count) of \(files.count) file(s) scanned",
                           hint: "seal them with `envseal encrypt`, or allow them in .envseal.yaml (scan.allow)")
        }
        if output == .text { warn("no finding in \(files.count) file(s) scanned") }
    }
}

/// Finds secrets in plain text in dotenv files, by name, by entropy and by the shapes of
/// well-known tokens; decrypted copies of sealed files; and files sealed under a key the project
/// config does not list.
struct SecretScanner {
    /// One finding: where, and why, never the value.
    struct Finding: Encodable, Equatable {
        let file: String
        let line: Int
        let variable: String?
        /// `token`, `url-password`, `name`, `entropy`, `decrypted-copy` or `unlisted-key`.
        let rule: String
        let why: String

        var text: String { "\(file):\(line): \(variable.map { "\($0): " } ?? "")\(why)" }
    }

    /// The configs found, by folder.
    private var configs: [String: ProjectConfig?] = [:]

    /// The dotenv files under a folder, by name, sorted.
    static func dotenvFiles(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if [".git", "node_modules", ".build", ".build-release"].contains(name) {
                walker.skipDescendants()
                continue
            }
            let path = folder == "." ? relative : folder + "/" + relative
            var info = stat()
            guard isDotenvName(name), lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
            found.append(path)
        }
        return found.sorted()
    }

    /// `.env`, `.env.*`, `*.env`, `*.env.*`.
    static func isDotenvName(_ name: String) -> Bool {
        name == ".env" || name.hasPrefix(".env.") || name.hasSuffix(".env") || name.contains(".env.")
    }

    /// Scans files given with their bytes (the staged version, for the pre-commit hook).
    mutating func scan(_ files: [(path: String, bytes: [UInt8])]) throws -> [Finding] {
        var parsed: [(path: String, file: DotenvFile)] = []
        for (path, bytes) in files {
            // Not a dotenv file (a binary, a YAML file named *.env.*): nothing to say about it.
            guard let file = try? DotenvFile.parse(bytes) else { continue }
            parsed.append((path, file))
        }
        var findings: [Finding] = []
        for (path, file) in parsed {
            let config = try config(for: path)
            var own: [Finding] = []
            if let text = file.value(of: SealedFileHeader.variableName), let header = try? SealedFileHeader(parsing: text) {
                own += Self.keyFindings(path: path, file: file, header: header, config: config)
            } else {
                own += Self.copyFindings(path: path, file: file, others: parsed)
            }
            for assignment in file.assignments where assignment.name != SealedFileHeader.variableName {
                if let (rule, why) = Self.secretRule(name: assignment.name, value: assignment.value) {
                    own.append(Finding(file: path, line: assignment.line, variable: assignment.name, rule: rule, why: why))
                }
            }
            findings += own.filter { !(config?.allows(file: path, variable: $0.variable) ?? false) }
        }
        return findings
    }

    private mutating func config(for path: String) throws -> ProjectConfig? {
        let folder = (URL(fileURLWithPath: path).standardizedFileURL.path as NSString).deletingLastPathComponent
        if let cached = configs[folder] { return cached }
        let found = try ProjectConfig.find(for: path)
        configs[folder] = found
        return found
    }

    // MARK: Rules

    /// A sealed file whose data key is wrapped under a key the config does not list. A key is
    /// known from the header's key ARN, or from an envseal key service's wrapped key (which names
    /// its key ID); an AWS KMS blob without an ARN in the header cannot be told offline and is
    /// not reported.
    static func keyFindings(path: String, file: DotenvFile, header: SealedFileHeader, config: ProjectConfig?) -> [Finding] {
        guard let config, !config.keys.isEmpty else { return [] }
        let line = file.assignments.last { $0.name == SealedFileHeader.variableName }?.line ?? 1
        // Every key slot counts: any one of them opens the file.
        return header.kmsSlots.compactMap { slot in
            let keyID = (try? CiphertextBlob(parsing: slot.wrappedDataKey))?.keyID.uuidString.lowercased()
            guard slot.keyARN != nil || keyID != nil, !config.lists(keyARN: slot.keyARN, keyID: keyID) else { return nil }
            return Finding(file: path, line: line, variable: SealedFileHeader.variableName, rule: "unlisted-key",
                           why: "sealed under key \(slot.keyARN ?? keyID!), which \(config.path) does not list in keys")
        }
    }

    /// A plain file that has every variable a sealed file seals: a decrypted copy of it. The
    /// sealed files compared are those scanned and those in the plain file's folder.
    static func copyFindings(path: String, file: DotenvFile, others: [(path: String, file: DotenvFile)]) -> [Finding] {
        let names = Set(file.names)
        guard !names.isEmpty else { return [] }
        var candidates = others.filter { $0.path != path }
        let folder = (path as NSString).deletingLastPathComponent
        let scanned = Set(others.map { URL(fileURLWithPath: $0.path).standardizedFileURL.path })
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: folder.isEmpty ? "." : folder)) ?? [] {
            let sibling = folder.isEmpty ? entry : folder + "/" + entry
            var info = stat()
            guard !scanned.contains(URL(fileURLWithPath: sibling).standardizedFileURL.path),
                  lstat(sibling, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size <= 1 << 20,
                  let bytes = try? FileIO.readBytes(sibling),
                  String(decoding: bytes, as: UTF8.self).contains(SealedFileHeader.variableName + "="),
                  let parsed = try? DotenvFile.parse(bytes)
            else { continue }
            candidates.append((sibling, parsed))
        }
        for (sealedPath, sealed) in candidates {
            guard let text = sealed.value(of: SealedFileHeader.variableName),
                  let header = try? SealedFileHeader(parsing: text), !header.sealedNames.isEmpty,
                  Set(header.sealedNames).isSubset(of: names)
            else { continue }
            let first = file.assignments.first { header.sealedNames.contains($0.name) }!
            return [Finding(file: path, line: first.line, variable: first.name, rule: "decrypted-copy",
                            why: "a plain copy of the sealed file \(sealedPath): it has every variable that file seals")]
        }
        return []
    }

    /// Why a plain value looks like a secret, or `nil`.
    static func secretRule(name: String, value: String) -> (rule: String, why: String)? {
        if value.isEmpty || SealedValue.isSealed(value) { return nil }
        for shape in tokenShapes where value.range(of: shape.pattern, options: .regularExpression) != nil {
            if shape.why.hasPrefix("an AWS access key"), value.hasSuffix("EXAMPLE") { continue }
            return ("token", shape.why)
        }
        if value.range(of: #"^[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"#, options: .regularExpression) != nil,
           let password = value.split(separator: "@").first?.split(separator: ":").last, !isPlaceholder(String(password)) {
            return ("url-password", "the URL holds a password")
        }
        if hasSecretName(name), !isPlaceholder(value), value.count >= 8 {
            return ("name", "its name says it is a secret, and its value is not sealed")
        }
        if value.count >= 24, !value.contains(where: { $0.isWhitespace }), !value.hasPrefix("/"), !value.contains("://"),
           !value.hasPrefix("arn:"), !isPublicName(name), shannonEntropy(value) >= 4.3 {
            return ("entropy", String(format: "a random-looking value (%.1f bits per character) that is not sealed", shannonEntropy(value)))
        }
        return nil
    }

    /// Well-known token shapes (after gitleaks' rules).
    static let tokenShapes: [(pattern: String, why: String)] = [
        (#"\b(A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b"#, "an AWS access key ID"),
        (#"\bgh[pousr]_[0-9A-Za-z]{36}\b"#, "a GitHub token"),
        (#"\bgithub_pat_\w{82}\b"#, "a GitHub fine-grained token"),
        (#"\bxox[baprse]-[0-9]{10,13}-[0-9A-Za-z-]{10,}"#, "a Slack token"),
        (#"\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+"#, "a Slack app token"),
        (#"hooks\.slack\.com/(services|workflows|triggers)/[A-Za-z0-9+/]{20,}"#, "a Slack webhook URL"),
        (#"\b(sk|rk)_(test|live|prod)_[0-9a-zA-Z]{10,99}\b"#, "a Stripe key"),
        (#"-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY( BLOCK)?-----"#, "a private key"),
    ]

    /// Names of secrets: `*_PASSWORD`, `*_TOKEN`, `*_SECRET`, `*_KEY` and their kin; not a
    /// public key, nor a key's ID, file, path or name.
    static func hasSecretName(_ name: String) -> Bool {
        let upper = name.uppercased()
        let words = upper.split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." }).map(String.init)
        guard let last = words.last else { return false }
        if isPublicName(name) { return false }
        if ["ID", "FILE", "PATH", "NAME", "URL", "HOST", "PORT", "USER", "USERNAME", "LENGTH", "TTL", "TIMEOUT", "EXPIRY",
            "ALGORITHM", "HEADER", "PREFIX", "REGION", "ARN", "ALIAS", "DIR", "TYPE", "FORMAT", "VERSION", "ENABLED"].contains(last) {
            return false
        }
        let secretWords: Set<String> = ["PASSWORD", "PASSWD", "PWD", "PASS", "PASSPHRASE", "SECRET", "SECRETS", "TOKEN", "KEY",
                                        "APIKEY", "CREDENTIAL", "CREDENTIALS", "PRIVATE", "AUTH", "SIGNATURE", "SALT", "DSN"]
        return words.contains { secretWords.contains($0) }
    }

    /// Names of what is public by design: a public key, a publishable key.
    static func isPublicName(_ name: String) -> Bool {
        let words = name.uppercased().split(whereSeparator: { $0 == "_" || $0 == "-" || $0 == "." })
        return words.contains { ["PUBLIC", "PUB", "PUBLISHABLE"].contains($0) }
    }

    /// Values that stand for a secret rather than being one.
    static func isPlaceholder(_ value: String) -> Bool {
        let lower = value.lowercased()
        if value.hasPrefix("${") || value.hasPrefix("$(") || (value.hasPrefix("$") && value.dropFirst().allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }) {
            return true
        }
        if value.hasPrefix("<") && value.hasSuffix(">") { return true }
        if Set(lower).count <= 2 { return true }  // xxxxxxxx, ********, 00000000
        let words = ["changeme", "change-me", "change_me", "example", "placeholder", "dummy", "redacted", "your-", "your_",
                     "todo", "replace", "fixme", "notasecret", "not-a-secret", "secret-here", "password-here", "insert"]
        return words.contains { lower.contains($0) } || ["none", "null", "true", "false", "test", "secret", "password"].contains(lower)
    }

    /// Shannon entropy of the characters, in bits per character.
    static func shannonEntropy(_ value: String) -> Double {
        var counts: [Character: Int] = [:]
        for character in value { counts[character, default: 0] += 1 }
        let total = Double(value.count)
        return counts.values.reduce(0) { entropy, count in
            let p = Double(count) / total
            return entropy - p * log2(p)
        }
    }
}
