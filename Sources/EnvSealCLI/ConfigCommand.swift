import ArgumentParser
import Foundation
import KMSClient

/// `envseal config`: the project config, `.envseal.yaml`.
struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Show what the project config (.envseal.yaml) applies to a file.",
        subcommands: [Show.self]
    )

    /// `envseal config show FILE`: the settings `encrypt` would use for FILE, and where each came from.
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show the keys, recipients, context, selection and key service that apply to FILE, and where each came from.",
            discussion: """
            Reads the first .envseal.yaml from FILE's folder upward and its first creation rule \
            whose path matches FILE. Each setting comes from its flag when one is given (the same \
            flags as encrypt), else for the key service from AWS_ENDPOINT_URL_KMS or \
            AWS_ENDPOINT_URL, else from the rule (FILE:LINE), else its default. Nothing is read \
            from FILE, which need not exist, and no key service is asked.

            Examples:
              envseal config show secrets/prod.env
              envseal config show secrets/prod.env --key alias/other --output json
            """
        )

        @Argument(help: "The file the settings are for (it need not exist).") var file: String
        @Option(help: "Output format: text or json.") var output: OutputFormat = .text
        @OptionGroup var creation: CreationOptions
        @OptionGroup var service: KeyServiceOptions

        func run() async throws {
            let settings = try CreationSettings.resolve(file: file, flags: creation.flags, endpointFlags: service.endpoint,
                                                        keystoreFlag: service.store.keystoreFlag, environment: ProcessEnvironment.variables())
            switch output {
            case .text: print(Self.text(settings, file: file))
            case .json: try JSONOutput.print(Report(settings, file: file))
            }
        }

        static func text(_ settings: CreationSettings, file: String) -> String {
            func line<Value>(_ name: String, _ setting: Setting<Value>, _ show: (Value) -> String) -> String {
                "\(name): \(show(setting.value)) (\(setting.source))"
            }
            func list(_ values: [String]) -> String { values.isEmpty ? "none" : values.joined(separator: ", ") }
            let service = settings.service
            var lines = ["file: \(file)"]
            lines.append("config: \(settings.config?.path ?? "none (no \(ProjectConfig.fileName) from the file's folder upward)")")
            if let rule = settings.rule {
                lines.append("rule: \(rule.number) (line \(rule.line), path \(rule.path))")
            } else if settings.config != nil {
                lines.append("rule: none (no creation rule matches)")
            }
            lines.append(line("keys", settings.keys, list))
            lines.append(line("recipients", settings.recipients, list))
            lines.append(line("context", settings.context) { context in
                context.isEmpty ? "none" : context.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            })
            lines.append(line("only", settings.only) { $0 ?? "none" })
            lines.append(line("except", settings.except) { $0 ?? "none" })
            lines.append(line("endpoints", service.endpoints) { $0.isEmpty ? "none, the embedded key store answers" : list($0) })
            lines.append(line("keystore", service.keystore) { service.isRemote ? "\($0), not used: a KMS endpoint answers" : $0 })
            return lines.joined(separator: "\n")
        }

        /// The JSON form: each setting as `{value, source, from}`.
        struct Report: Encodable {
            struct Rule: Encodable { let number: Int; let line: Int; let path: String }
            struct Entry<Value: Encodable>: Encodable {
                let value: Value
                /// flag, environment, config or default.
                let source: String
                /// The flag, the variable, `FILE:LINE` of the config, or `default`.
                let from: String
                init(_ setting: Setting<Value>) {
                    value = setting.value
                    source = setting.source.kind
                    from = setting.source.description
                }
            }
            let file: String
            let config: String?
            let rule: Rule?
            let keys: Entry<[String]>
            let recipients: Entry<[String]>
            let context: Entry<[String: String]>
            let only: Entry<String?>
            let except: Entry<String?>
            let endpoints: Entry<[String]>
            let keystore: Entry<String>
            /// `endpoints` or `keystore`: which of the two answers.
            let keyService: String

            init(_ settings: CreationSettings, file: String) {
                self.file = file
                config = settings.config?.path
                rule = settings.rule.map { Rule(number: $0.number, line: $0.line, path: $0.path) }
                keys = Entry(settings.keys)
                recipients = Entry(settings.recipients)
                context = Entry(settings.context)
                only = Entry(settings.only)
                except = Entry(settings.except)
                endpoints = Entry(settings.service.endpoints)
                keystore = Entry(settings.service.keystore)
                keyService = settings.service.isRemote ? "endpoints" : "keystore"
            }

            func encode(to encoder: any Encoder) throws {
                // `null` for a missing config, rule or pattern, rather than a missing field.
                enum Key: String, CodingKey { case file, config, rule, keys, recipients, context, only, except, endpoints, keystore, keyService }
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(file, forKey: .file)
                try container.encode(config, forKey: .config)
                try container.encode(rule, forKey: .rule)
                try container.encode(keys, forKey: .keys)
                try container.encode(recipients, forKey: .recipients)
                try container.encode(context, forKey: .context)
                try container.encode(only, forKey: .only)
                try container.encode(except, forKey: .except)
                try container.encode(endpoints, forKey: .endpoints)
                try container.encode(keystore, forKey: .keystore)
                try container.encode(keyService, forKey: .keyService)
            }
        }
    }
}
