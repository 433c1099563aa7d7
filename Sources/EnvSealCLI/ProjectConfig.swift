import Foundation
import Yams

/// A project's `.envseal.yaml`, found from a file's folder upward (the first one wins), with the
/// fields `envseal scan` and `envseal git setup` use, and the creation rules that give the
/// commands on sealed files their keys, context, selection and key service
/// (``CreationRule``; docs/CLI.md, "The project config"):
///
/// ```yaml
/// keys:                      # master keys the project's files may be sealed under (ARNs or key IDs)
///   - arn:aws:kms:us-east-1:111122223333:key/1234abcd-…
/// sealed:                    # .gitattributes patterns of the sealed files, for `git setup`
///   - "*.env.sealed"
/// scan:
///   allow:                   # findings `scan` does not report
///     - path: "tests/fixtures/*.env"   # a glob, relative to this file's folder
///       variable: "EXAMPLE_*"          # optional, a glob on the variable name
/// creation_rules:            # the first rule whose path matches the file wins
///   - path: "secrets/prod*.env"
///     keys: [alias/app-prod]
///     context: {app: billing}
/// ```
///
/// A file that does not parse, a field of the wrong type or an unknown field is an error naming
/// the file and line.
struct ProjectConfig: Equatable {
    /// The config's file name.
    static let fileName = ".envseal.yaml"

    /// One allow-list entry of `scan`.
    struct Allowance: Equatable {
        /// A glob on the finding's path, relative to the config's folder.
        let path: String
        /// A glob on the variable, or `nil` for every variable of the file.
        let variable: String?
    }

    /// The file it was read from.
    let path: String
    /// The master keys the project's sealed files may be wrapped under: ARNs or key IDs.
    let keys: [String]
    /// `.gitattributes` patterns of the sealed files.
    let sealedPatterns: [String]
    /// Findings `scan` does not report.
    let allow: [Allowance]
    /// `creation_rules`, in the file's order.
    let rules: [CreationRule]

    /// The folder the config applies from.
    var folder: String { (path as NSString).deletingLastPathComponent }

    /// The config that applies to a file or folder: the first `.envseal.yaml` from its folder up
    /// to the root, or `nil`.
    static func find(for path: String) throws -> ProjectConfig? {
        var isDirectory: ObjCBool = false
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        var folder = FileManager.default.fileExists(atPath: absolute, isDirectory: &isDirectory) && isDirectory.boolValue
            ? absolute : (absolute as NSString).deletingLastPathComponent
        while true {
            let candidate = folder == "/" ? "/" + fileName : folder + "/" + fileName
            if FileManager.default.fileExists(atPath: candidate) { return try load(candidate) }
            if folder == "/" || folder.isEmpty { return nil }
            folder = (folder as NSString).deletingLastPathComponent
        }
    }

    /// Reads and checks a config file.
    static func load(_ path: String) throws -> ProjectConfig {
        let text = String(decoding: try FileIO.readBytes(path), as: UTF8.self)
        return try parse(text, path: path)
    }

    /// Parses a config's text; errors name `path` and the line.
    static func parse(_ text: String, path: String) throws -> ProjectConfig {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            let first = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw CLIError("\(path):\(first)", exitCode: EnvSealExit.malformedInput)
        }
        guard let root else { return ProjectConfig(path: path, keys: [], sealedPatterns: [], allow: [], rules: []) }
        let reader = Reader(path: path)
        let top = try reader.mapping(root, "the config", known: ["keys", "sealed", "scan", "creation_rules"])
        let keys = try top["keys"].map { try reader.strings($0, "keys") } ?? []
        let sealed = try top["sealed"].map { try reader.strings($0, "sealed") } ?? []
        var allow: [Allowance] = []
        if let scan = top["scan"] {
            let fields = try reader.mapping(scan, "scan", known: ["allow"])
            if let list = fields["allow"] {
                guard let entries = list.sequence else { throw reader.error(list, "scan.allow must be a list") }
                for entry in entries {
                    let fields = try reader.mapping(entry, "a scan.allow entry", known: ["path", "variable"])
                    guard let path = fields["path"] else { throw reader.error(entry, "a scan.allow entry needs a path") }
                    allow.append(Allowance(path: try reader.string(path, "scan.allow path"),
                                           variable: try fields["variable"].map { try reader.string($0, "scan.allow variable") }))
                }
            }
        }
        let rules = try top["creation_rules"].map { try CreationRule.parseAll($0, reader: reader) } ?? []
        return ProjectConfig(path: path, keys: keys, sealedPatterns: sealed, allow: allow, rules: rules)
    }

    /// Whether `allow` covers a finding in `file` (any path) on `variable`.
    func allows(file: String, variable: String?) -> Bool {
        let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
        guard absolute.hasPrefix(folder + "/") else { return false }
        let relative = String(absolute.dropFirst(folder.count + 1))
        return allow.contains { entry in
            fnmatch(entry.path, relative, 0) == 0
                && (entry.variable.map { pattern in variable.map { fnmatch(pattern, $0, 0) == 0 } ?? false } ?? true)
        }
    }

    /// Whether a key (an ARN, or a key ID from a wrapped data key) is one `keys` lists.
    func lists(keyARN: String?, keyID: String?) -> Bool {
        keys.contains { listed in
            if let keyARN, listed == keyARN { return true }
            guard let keyID = keyID?.lowercased() else { return false }
            return listed.lowercased() == keyID || listed.lowercased().hasSuffix(":key/" + keyID)
        }
    }

    /// Reads nodes, with errors naming the file and line.
    struct Reader {
        let path: String

        func error(_ node: Node, _ message: String) -> CLIError {
            let line = node.mark.map { ":\($0.line)" } ?? ""
            return CLIError("\(path)\(line): \(message)", exitCode: EnvSealExit.malformedInput)
        }

        /// The node's line, 1-based (0 when Yams gave none).
        func line(_ node: Node) -> Int { node.mark?.line ?? 0 }

        func mapping(_ node: Node, _ what: String, known: [String]) throws -> [String: Node] {
            guard let mapping = node.mapping else { throw error(node, "\(what) must be a mapping") }
            var fields: [String: Node] = [:]
            for (key, value) in mapping {
                guard let name = key.string else { throw error(key, "\(what): a field name must be a string") }
                guard known.contains(name) else {
                    throw error(key, "unknown field \(name) in \(what) (known: \(known.joined(separator: ", ")))")
                }
                guard fields[name] == nil else { throw error(key, "field \(name) is given twice in \(what)") }
                fields[name] = value
            }
            return fields
        }

        func string(_ node: Node, _ what: String) throws -> String {
            guard case .scalar(let scalar) = node, !scalar.string.isEmpty else { throw error(node, "\(what) must be a non-empty string") }
            return scalar.string
        }

        func strings(_ node: Node, _ what: String) throws -> [String] {
            guard let list = node.sequence else { throw error(node, "\(what) must be a list of strings") }
            return try list.map { try string($0, what) }
        }
    }
}
