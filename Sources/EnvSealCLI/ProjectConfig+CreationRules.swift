import EnvSealFormat
import Foundation
import SealedDotenv
import Yams

extension ProjectConfig {
    /// A value read from the config, with the line it was written on (for `config show` and errors).
    struct Located<Value: Equatable>: Equatable {
        let value: Value
        let line: Int
    }

    /// One entry of `creation_rules`: what applies to the files its `path` glob matches, as
    /// `.sops.yaml`'s creation rules do for sops. The first rule that matches a file wins; each
    /// field is optional, and a flag given on the command line replaces its field.
    ///
    /// ```yaml
    /// creation_rules:
    ///   - path: "secrets/prod*.env"     # a glob, relative to the config's folder (* also matches /)
    ///     keys: [alias/app-prod]        # master keys: key ID, ARN, alias name or alias ARN
    ///     recipients: ["esr1:…"]        # recovery recipients
    ///     context: {app: billing}       # the encryption context, string to string
    ///     only: ["^DB_", "^API_KEY$"]   # or except: regular expressions, as --only/--except
    ///     endpoints: ["http://127.0.0.1:8417", "west@https://kms.example"]   # as --endpoint
    ///     keystore: ./KeyStore          # the embedded store's folder, relative to the config's
    /// ```
    struct CreationRule: Equatable {
        /// The fields a rule may have.
        static let fields = ["path", "keys", "recipients", "context", "only", "except", "endpoints", "keystore"]

        /// The rule's position in `creation_rules`, from 1.
        let number: Int
        /// The line the rule starts on.
        let line: Int
        /// A glob on a file's path relative to the config's folder.
        let path: String
        /// Master keys the file is sealed under.
        var keys: Located<[String]>?
        /// Recovery recipients (their text form, checked where they are used).
        var recipients: Located<[String]>?
        /// The encryption context.
        var context: Located<[String: String]>?
        /// A regular expression on the names to seal: a list is joined into one that matches
        /// where any of its entries does.
        var only: Located<String>?
        /// A regular expression on the names to leave plain, joined as `only`.
        var except: Located<String>?
        /// KMS endpoints, as `--endpoint` takes them: a URL, `aws`, or `PROFILE@URL`.
        var endpoints: Located<[String]>?
        /// The embedded key store's folder, made absolute from the config's folder.
        var keystore: Located<String>?

        /// Reads `creation_rules`: a list of rules.
        static func parseAll(_ node: Node, reader: Reader) throws -> [CreationRule] {
            guard let entries = node.sequence else { throw reader.error(node, "creation_rules must be a list of rules") }
            return try entries.enumerated().map { offset, entry in try parse(entry, number: offset + 1, reader: reader) }
        }

        private static func parse(_ node: Node, number: Int, reader: Reader) throws -> CreationRule {
            let what = "creation rule \(number)"
            let fields = try reader.mapping(node, what, known: Self.fields)
            guard let path = fields["path"] else { throw reader.error(node, "\(what) needs a path (a glob on the files it applies to)") }
            var rule = CreationRule(number: number, line: reader.line(node), path: try reader.string(path, "\(what): path"))
            func located<Value>(_ name: String, _ read: (Node) throws -> Value) throws -> Located<Value>? {
                try fields[name].map { Located(value: try read($0), line: reader.line($0)) }
            }
            rule.keys = try located("keys") { try reader.strings($0, "\(what): keys") }
            rule.recipients = try located("recipients") { try reader.strings($0, "\(what): recipients") }
            rule.context = try located("context") { try readContext($0, what: what, reader: reader) }
            if let only = fields["only"], let except = fields["except"] {
                let second = reader.line(only) > reader.line(except) ? only : except
                throw reader.error(second, "\(what) has both only and except; give one (the flags --only and --except replace it)")
            }
            rule.only = try located("only") { try readPattern($0, "\(what): only", reader: reader) }
            rule.except = try located("except") { try readPattern($0, "\(what): except", reader: reader) }
            rule.endpoints = try located("endpoints") { node in
                let endpoints = try reader.strings(node, "\(what): endpoints")
                for (endpoint, entry) in zip(endpoints, node.sequence ?? []) where EndpointSpec(endpoint) == nil {
                    throw reader.error(entry, "\(what): endpoint \(endpoint) is not a URL (http:// or https://), aws, or PROFILE@URL")
                }
                return endpoints
            }
            rule.keystore = try located("keystore") { node in
                let folder = try reader.string(node, "\(what): keystore")
                let configFolder = (reader.path as NSString).deletingLastPathComponent
                return folder.hasPrefix("/") ? folder : URL(fileURLWithPath: configFolder).appendingPathComponent(folder).standardizedFileURL.path
            }
            return rule
        }

        /// A string→string mapping that makes a valid encryption context.
        private static func readContext(_ node: Node, what: String, reader: Reader) throws -> [String: String] {
            guard let mapping = node.mapping else {
                throw reader.error(node, "\(what): context must be a mapping of strings to strings, like {app: billing}")
            }
            var context: [String: String] = [:]
            for (key, value) in mapping {
                guard case .scalar(let name) = key, !name.string.isEmpty else {
                    throw reader.error(key, "\(what): a context key must be a non-empty string")
                }
                guard case .scalar(let scalar) = value else {
                    throw reader.error(value, "\(what): context value of \(name.string) must be a string, not a list or mapping")
                }
                guard context.updateValue(scalar.string, forKey: name.string) == nil else {
                    throw reader.error(key, "\(what): context key \(name.string) is given twice")
                }
            }
            do {
                _ = try EncryptionContext(context)
            } catch {
                throw reader.error(node, "\(what): context: \(error)")
            }
            return context
        }

        /// A regular expression, or a list of them joined into one; checked to compile.
        private static func readPattern(_ node: Node, _ what: String, reader: Reader) throws -> String {
            let patterns: [String]
            if case .scalar = node {
                patterns = [try reader.string(node, what)]
            } else {
                guard node.sequence != nil else { throw reader.error(node, "\(what) must be a regular expression or a list of them") }
                patterns = try reader.strings(node, what)
                guard !patterns.isEmpty else { throw reader.error(node, "\(what) must not be an empty list") }
            }
            let joined = patterns.count == 1 ? patterns[0] : patterns.map { "(?:\($0))" }.joined(separator: "|")
            do {
                _ = try VariableSelection(only: joined, except: nil)
            } catch {
                throw reader.error(node, "\(what): \(error)")
            }
            return joined
        }
    }

    /// The first creation rule whose path matches `file`, or `nil` (a file outside the config's
    /// folder, or standard input, matches none).
    func rule(for file: String) -> CreationRule? {
        guard file != "-" else { return nil }
        let absolute = URL(fileURLWithPath: file).standardizedFileURL.path
        guard absolute.hasPrefix(folder + "/") else { return nil }
        let relative = String(absolute.dropFirst(folder.count + 1))
        return rules.first { fnmatch($0.path, relative, 0) == 0 }
    }
}

/// An `--endpoint` value: a URL, `aws` (AWS KMS in the region), or either after `PROFILE@`, which
/// names the shared-credentials profile to sign with.
struct EndpointSpec: Equatable {
    /// The credentials profile, when the value names one.
    let profile: String?
    /// The URL, or `aws`.
    let endpoint: String

    init(profile: String?, endpoint: String) {
        self.profile = profile
        self.endpoint = endpoint
    }

    /// Parses a value; `nil` when it is none of the forms above.
    init?(_ text: String) {
        var profile: String?
        var rest = text
        if !Self.isEndpoint(text), let at = text.firstIndex(of: "@") {
            profile = String(text[..<at])
            rest = String(text[text.index(after: at)...])
            guard !profile!.isEmpty else { return nil }
        }
        guard Self.isEndpoint(rest) else { return nil }
        self.profile = profile
        self.endpoint = rest
    }

    private static func isEndpoint(_ text: String) -> Bool {
        guard text != "aws" else { return true }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else { return false }
        return url.host?.isEmpty == false
    }
}
