import ArgumentParser
import EnvSealFormat
import Foundation
import KMSClient

/// Where a setting of a command came from: `config show` prints it, and precedence is decided
/// by it (flag > environment > project config > default).
enum SettingSource: Equatable, CustomStringConvertible {
    /// A command-line option, such as `--key`.
    case flag(String)
    /// An environment variable, such as `AWS_ENDPOINT_URL_KMS`.
    case environment(String)
    /// A field of a creation rule: the config file and the field's line.
    case config(file: String, line: Int)
    /// Nothing set it.
    case byDefault

    var description: String {
        switch self {
        case .flag(let name): "flag \(name)"
        case .environment(let name): "environment \(name)"
        case .config(let file, let line): "\(file):\(line)"
        case .byDefault: "default"
        }
    }

    /// One word for JSON: flag, environment, config or default.
    var kind: String {
        switch self {
        case .flag: "flag"
        case .environment: "environment"
        case .config: "config"
        case .byDefault: "default"
        }
    }
}

/// A setting's value and where it came from.
struct Setting<Value> {
    let value: Value
    let source: SettingSource
}

extension Setting: Equatable where Value: Equatable {}

/// The key service a command on a file talks to, chosen as one unit: `--endpoint` (flag), else
/// `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL` (environment), else `--keystore` (flag), else the
/// matching creation rule's `endpoints`, else its `keystore`, else the embedded store in
/// `./KeyStore` (default). A rule is used only when no flag or variable names a key service.
struct KeyServiceChoice {
    /// The KMS endpoints (`--endpoint` values); empty when the embedded store answers.
    let endpoints: Setting<[String]>
    /// The embedded store's folder, used when `endpoints` is empty.
    let keystore: Setting<String>

    /// Whether a KMS endpoint, rather than the embedded store, answers.
    var isRemote: Bool { !endpoints.value.isEmpty }

    static func resolve(
        endpointFlags: [String], keystoreFlag: String?, rule: ProjectConfig.CreationRule?, configPath: String?, environment: [String: String]
    ) -> KeyServiceChoice {
        func fromConfig(_ line: Int) -> SettingSource { .config(file: configPath ?? ProjectConfig.fileName, line: line) }
        let keystore: Setting<String> =
            if let keystoreFlag { Setting(value: keystoreFlag, source: .flag("--keystore")) }
            else if let folder = rule?.keystore { Setting(value: folder.value, source: fromConfig(folder.line)) }
            else { Setting(value: KeyStoreOptions.defaultFolder, source: .byDefault) }
        let endpoints: Setting<[String]>
        if !endpointFlags.isEmpty {
            endpoints = Setting(value: endpointFlags, source: .flag("--endpoint"))
        } else if let name = ["AWS_ENDPOINT_URL_KMS", "AWS_ENDPOINT_URL"].first(where: { name in
            // The client's own test of what counts as set, one variable at a time.
            KMSClientConfiguration.endpointIsConfigured(in: environment.filter { $0.key == name })
        }) {
            endpoints = Setting(value: [environment[name]!], source: .environment(name))
        } else if keystoreFlag == nil, let configured = rule?.endpoints, !configured.value.isEmpty {
            endpoints = Setting(value: configured.value, source: fromConfig(configured.line))
        } else {
            endpoints = Setting(value: [], source: keystoreFlag != nil ? .flag("--keystore") : .byDefault)
        }
        return KeyServiceChoice(endpoints: endpoints, keystore: keystore)
    }

    /// The endpoints, each split into its credentials profile (`PROFILE@URL`) and URL; a value
    /// of another form is passed on as it is, for the client to check.
    func endpointSpecs() -> [EndpointSpec] {
        endpoints.value.map { EndpointSpec($0) ?? EndpointSpec(profile: nil, endpoint: $0) }
    }
}

/// What a command that seals a file is given on its command line, field by field.
struct CreationFlags {
    /// `--key` values.
    var keys: [String] = []
    /// `--recipient` values.
    var recipients: [String] = []
    /// `--context` pairs, `key=value`.
    var context: [String] = []
    /// `--only`.
    var only: String?
    /// `--except`.
    var except: String?
}

/// What applies when a file is sealed: each field from its flag when one was given, else from the
/// first creation rule of the project config whose path matches the file, else its default.
/// `only` and `except` are one field: either flag replaces the rule's selection.
struct CreationSettings {
    /// The config found from the file's folder upward.
    let config: ProjectConfig?
    /// The rule of `config` that matched the file.
    let rule: ProjectConfig.CreationRule?
    /// Master keys: key IDs, ARNs, alias names or alias ARNs.
    let keys: Setting<[String]>
    /// Recovery recipients, in their text form.
    let recipients: Setting<[String]>
    /// The encryption context.
    let context: Setting<[String: String]>
    /// The regular expression of the names to seal, or `nil` for all.
    let only: Setting<String?>
    /// The regular expression of the names to leave plain, or `nil` for none.
    let except: Setting<String?>
    /// The key service.
    let service: KeyServiceChoice

    /// Resolves the settings for `file` (`-`: standard input, which no rule matches; its key
    /// service still follows the flags and variables).
    static func resolve(
        file: String, flags: CreationFlags, endpointFlags: [String], keystoreFlag: String?, environment: [String: String]
    ) throws -> CreationSettings {
        let config = file == "-" ? nil : try ProjectConfig.find(for: file)
        let rule = config?.rule(for: file)
        func pick<Value>(_ flag: String, given: Bool, _ flagValue: Value, _ field: ProjectConfig.Located<Value>?, _ fallback: Value) -> Setting<Value> {
            if given { return Setting(value: flagValue, source: .flag(flag)) }
            if let field, let config { return Setting(value: field.value, source: .config(file: config.path, line: field.line)) }
            return Setting(value: fallback, source: .byDefault)
        }
        let context = try ContextArgument.parse(flags.context).dictionary
        let selecting = flags.only != nil || flags.except != nil
        let selectionFlag = flags.only != nil ? "--only" : "--except"
        return CreationSettings(
            config: config, rule: rule,
            keys: pick("--key", given: !flags.keys.isEmpty, flags.keys, rule?.keys, []),
            recipients: pick("--recipient", given: !flags.recipients.isEmpty, flags.recipients, rule?.recipients, []),
            context: pick("--context", given: !flags.context.isEmpty, context, rule?.context, [:]),
            only: pick(selectionFlag, given: selecting, flags.only, rule?.only.map { .init(value: $0.value, line: $0.line) }, nil),
            except: pick(selectionFlag, given: selecting, flags.except, rule?.except.map { .init(value: $0.value, line: $0.line) }, nil),
            service: KeyServiceChoice.resolve(endpointFlags: endpointFlags, keystoreFlag: keystoreFlag, rule: rule,
                                              configPath: config?.path, environment: environment))
    }

    /// The encryption context to seal with.
    func encryptionContext() throws -> EncryptionContext {
        do {
            return try EncryptionContext(context.value)
        } catch {
            throw CLIError("context (\(context.source)): \(error)", exitCode: EnvSealExit.usage)
        }
    }

    /// The master keys `file` is sealed under: one header slot each, in order.
    /// - Throws: The usage error of a missing `--key`, naming the config looked for.
    func keyIDs(for file: String) throws -> [String] {
        guard !keys.value.isEmpty else { throw missingKey(file) }
        return keys.value
    }

    /// The recovery recipients to seal for, checked: a mistyped one is refused, naming where it came from.
    func recoveryRecipients() throws -> [RecoveryRecipient] {
        do {
            return try RecoveryRecipientArgument.parse(recipients.value)
        } catch {
            throw CLIError("\(error) (\(recipients.source))", exitCode: EnvSealExit.usage)
        }
    }

    /// `--key` is missing and no rule gives keys: the usage error, with where the config was looked for.
    private func missingKey(_ file: String) -> CLIError {
        let hint: String
        if file == "-" {
            hint = "standard input matches no creation rule; give --key KEY"
        } else if let config, let rule {
            hint = "rule \(rule.number) of \(config.path) (line \(rule.line)) matches \(file) but names no keys; add keys: [KEY] to it"
        } else if let config {
            hint = "no creation rule of \(config.path) matches \(file); add one with its keys, or give --key KEY"
        } else {
            hint = "no \(ProjectConfig.fileName) was found from the file's folder upward; give --key KEY, or write one with creation_rules (docs/CLI.md)"
        }
        return CLIError("missing expected argument '--key <key>'", hint: hint, exitCode: EnvSealExit.usage)
    }
}

/// The options of `encrypt` (and `config show`) that replace fields of a creation rule.
struct CreationOptions: ParsableArguments {
    @Option(help: "The master key: key ID, ARN, alias name or alias ARN; repeat for a file any of several keys opens (default: the keys of FILE's creation rule in .envseal.yaml).")
    var key: [String] = []

    @Option(help: "An encryption-context pair key=value; repeat for more (replaces the creation rule's context).")
    var context: [String] = []

    @Option(help: ArgumentHelp(
        "Seal the file for this recovery recipient too (esr1:…, from `envseal recovery keygen`); repeat for more.",
        discussion: "With no key, the file is sealed for recipients only, and no key service is used.", valueName: "esr1:…"))
    var recipient: [String] = []

    @OptionGroup var selection: SelectionOptions

    /// The flags given, field by field.
    var flags: CreationFlags {
        CreationFlags(keys: key, recipients: recipient, context: context, only: selection.only, except: selection.except)
    }
}
