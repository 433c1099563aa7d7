import EnvSealFormat
import Foundation
import Testing
@testable import EnvSealCLI

@Suite struct CreationRulesParsingTests {
    static let config = """
        keys: []
        creation_rules:
          - path: "secrets/prod*.env"
            keys: [alias/app-prod, "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"]
            recipients: ["esr1:abc"]
            context: {app: billing, stage: prod}
            only: ["^DB_", "^API_KEY$"]
            endpoints: ["http://127.0.0.1:8417", "west@https://kms.example"]
            keystore: ./KeyStore
          - path: "*.env"
            except: PUBLIC_
            keystore: /var/lib/envseal
        """

    @Test func readsEveryFieldWithItsLine() throws {
        let config = try ProjectConfig.parse(Self.config, path: "/p/.envseal.yaml")
        #expect(config.rules.count == 2)
        let rule = config.rules[0]
        #expect(rule.number == 1 && rule.line == 3 && rule.path == "secrets/prod*.env")
        #expect(rule.keys == .init(value: ["alias/app-prod", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"], line: 4))
        #expect(rule.recipients == .init(value: ["esr1:abc"], line: 5))
        #expect(rule.context == .init(value: ["app": "billing", "stage": "prod"], line: 6))
        #expect(rule.only == .init(value: "(?:^DB_)|(?:^API_KEY$)", line: 7))
        #expect(rule.except == nil)
        #expect(rule.endpoints == .init(value: ["http://127.0.0.1:8417", "west@https://kms.example"], line: 8))
        #expect(rule.keystore == .init(value: "/p/KeyStore", line: 9))
        let second = config.rules[1]
        #expect(second.number == 2 && second.line == 10 && second.except?.value == "PUBLIC_" && second.only == nil)
        #expect(second.keystore?.value == "/var/lib/envseal" && second.keys == nil && second.context == nil)
    }

    @Test(arguments: [
        ("creation_rules:\n  - path: a\n    key: [k]\n", "c.yaml:3: unknown field key in creation rule 1 (known: path, keys, recipients, context, only, except, endpoints, keystore)"),
        ("creation_rules:\n  - path: a\n  - keys: [k]\n", "c.yaml:3: creation rule 2 needs a path (a glob on the files it applies to)"),
        ("creation_rules:\n  - path: a\n    keys: alias/k\n", "c.yaml:3: creation rule 1: keys must be a list of strings"),
        ("creation_rules:\n  - path: a\n    keys: [[k]]\n", "c.yaml:3: creation rule 1: keys must be a non-empty string"),
        ("creation_rules:\n  - path: [a]\n", "c.yaml:2: creation rule 1: path must be a non-empty string"),
        ("creation_rules:\n  - path: a\n    only: A\n    except: B\n", "c.yaml:4: creation rule 1 has both only and except; give one (the flags --only and --except replace it)"),
        ("creation_rules:\n  - path: a\n    context: [app=billing]\n", "c.yaml:3: creation rule 1: context must be a mapping of strings to strings, like {app: billing}"),
        ("creation_rules:\n  - path: a\n    context:\n      app: [billing]\n", "c.yaml:4: creation rule 1: context value of app must be a string, not a list or mapping"),
        ("creation_rules:\n  - path: a\n    context:\n      app: {x: y}\n", "c.yaml:4: creation rule 1: context value of app must be a string, not a list or mapping"),
        ("creation_rules:\n  - path: a\n    only: \"(\"\n", "c.yaml:3: creation rule 1: only: "),
        ("creation_rules:\n  - path: a\n    only: []\n", "c.yaml:3: creation rule 1: only must not be an empty list"),
        ("creation_rules:\n  - path: a\n    endpoints: [\"ftp://x\"]\n", "c.yaml:3: creation rule 1: endpoint ftp://x is not a URL (http:// or https://), aws, or PROFILE@URL"),
        ("creation_rules:\n  - path: a\n    endpoints:\n      - http://a\n      - \"@http://b\"\n", "c.yaml:5: creation rule 1: endpoint @http://b is not a URL"),
        ("creation_rules:\n  - path: a\n    keystore: {}\n", "c.yaml:3: creation rule 1: keystore must be a non-empty string"),
        ("creation_rules:\n  - path: a\n    keys: [a]\n    keys: [b]\n", "c.yaml:4: field keys is given twice in creation rule 1"),
        ("creation_rules: {path: a}\n", "c.yaml:1: creation_rules must be a list of rules"),
        ("creation_rules:\n  - secrets/*.env\n", "c.yaml:2: creation rule 1 must be a mapping"),
    ])
    func errorsNameTheLine(text: String, message: String) {
        let error = #expect(throws: CLIError.self) { try ProjectConfig.parse(text, path: "c.yaml") }
        #expect(error?.message.hasPrefix(message) == true, "\(error?.message ?? "no error")")
        #expect(error?.exitCode == EnvSealExit.malformedInput)
    }

    @Test func endpointValues() {
        #expect(EndpointSpec("http://127.0.0.1:8417") == EndpointSpec(profile: nil, endpoint: "http://127.0.0.1:8417"))
        #expect(EndpointSpec("west@https://kms.example") == EndpointSpec(profile: "west", endpoint: "https://kms.example"))
        #expect(EndpointSpec("https://user@kms.example")?.profile == nil)
        #expect(EndpointSpec("aws") == EndpointSpec(profile: nil, endpoint: "aws"))
        #expect(EndpointSpec("prod@aws") == EndpointSpec(profile: "prod", endpoint: "aws"))
        #expect(EndpointSpec("kms.example") == nil && EndpointSpec("a@b") == nil && EndpointSpec("http://") == nil)
    }
}

@Suite struct CreationRulesMatchingTests {
    @Test func firstMatchingRuleWinsRelativeToTheConfigsFolder() throws {
        let config = try ProjectConfig.parse(CreationRulesParsingTests.config, path: "/p/.envseal.yaml")
        #expect(config.rule(for: "/p/secrets/prod.env")?.number == 1)
        #expect(config.rule(for: "/p/secrets/prod-eu.env")?.number == 1)
        #expect(config.rule(for: "/p/secrets/staging.env")?.number == 2)  // `*` also matches `/`
        #expect(config.rule(for: "/p/app.env")?.number == 2)
        #expect(config.rule(for: "/p/secrets/prod.env.sealed") == nil)
        #expect(config.rule(for: "/elsewhere/secrets/prod.env") == nil)
        #expect(config.rule(for: "/p/./secrets/../secrets/prod.env")?.number == 1)
        #expect(config.rule(for: "-") == nil)
    }
}

/// Precedence: flag > environment > project config > default, field by field.
@Suite struct CreationSettingsTests {
    let root: URL

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("secrets"), withIntermediateDirectories: true)
        try Data(CreationRulesParsingTests.config.utf8).write(to: root.appendingPathComponent(".envseal.yaml"))
    }

    var configPath: String { root.appendingPathComponent(".envseal.yaml").path }
    var prod: String { root.appendingPathComponent("secrets/prod.env").path }

    func resolve(_ file: String, _ flags: CreationFlags = .init(), endpoint: String? = nil, keystore: String? = nil,
                 environment: [String: String] = [:]) throws -> CreationSettings {
        try CreationSettings.resolve(file: file, flags: flags, endpointFlags: endpoint.map { [$0] } ?? [], keystoreFlag: keystore, environment: environment)
    }

    @Test func theRuleAppliesWithoutFlags() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let settings = try resolve(prod)
        #expect(settings.config?.path == configPath && settings.rule?.number == 1)
        #expect(settings.keys.value.count == 2 && settings.keys.source == .config(file: configPath, line: 4))
        #expect(settings.recipients.value == ["esr1:abc"])
        #expect(settings.context.value == ["app": "billing", "stage": "prod"] && settings.context.source == .config(file: configPath, line: 6))
        #expect(settings.only.value == "(?:^DB_)|(?:^API_KEY$)" && settings.except.value == nil && settings.except.source == .byDefault)
        #expect(settings.service.isRemote && settings.service.endpoints.source == .config(file: configPath, line: 8))
        #expect(settings.service.keystore.value == root.appendingPathComponent("KeyStore").path)
        #expect(try settings.encryptionContext().dictionary == ["app": "billing", "stage": "prod"])
    }

    @Test func flagsWinFieldByField() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let settings = try resolve(prod, CreationFlags(keys: ["alias/other"], context: ["team=x"], except: "PUBLIC"))
        #expect(settings.keys.value == ["alias/other"] && settings.keys.source == .flag("--key"))
        #expect(settings.context.value == ["team": "x"] && settings.context.source == .flag("--context"))
        // --only and --except are one field: either replaces the rule's selection.
        #expect(settings.only.value == nil && settings.only.source == .flag("--except"))
        #expect(settings.except.value == "PUBLIC" && settings.except.source == .flag("--except"))
        #expect(settings.recipients.source == .config(file: configPath, line: 5))
        #expect(try settings.keyIDs(for: prod) == ["alias/other"])
    }

    @Test func keyServicePrecedence() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let byFlag = try resolve(prod, endpoint: "http://flag:1", environment: ["AWS_ENDPOINT_URL_KMS": "http://env:1"]).service
        #expect(byFlag.endpoints.value == ["http://flag:1"] && byFlag.endpoints.source == .flag("--endpoint"))
        let byEnvironment = try resolve(prod, environment: ["AWS_ENDPOINT_URL": "http://any:1", "AWS_ENDPOINT_URL_KMS": "http://env:1"]).service
        #expect(byEnvironment.endpoints.value == ["http://env:1"] && byEnvironment.endpoints.source == .environment("AWS_ENDPOINT_URL_KMS"))
        let general = try resolve(prod, environment: ["AWS_ENDPOINT_URL_KMS": "", "AWS_ENDPOINT_URL": "http://any:1"]).service
        #expect(general.endpoints.source == .environment("AWS_ENDPOINT_URL"))
        let byKeystoreFlag = try resolve(prod, keystore: "ks").service
        #expect(!byKeystoreFlag.isRemote && byKeystoreFlag.keystore.value == "ks" && byKeystoreFlag.endpoints.source == .flag("--keystore"))
        let byConfig = try resolve(prod).service
        #expect(byConfig.isRemote && byConfig.endpoints.value.count == 2)
        let storeByConfig = try resolve(root.appendingPathComponent("app.env").path).service
        #expect(!storeByConfig.isRemote && storeByConfig.keystore == Setting(value: "/var/lib/envseal", source: .config(file: configPath, line: 12)))
        let byDefault = try resolve(FileManager.default.temporaryDirectory.appendingPathComponent("nowhere-\(UUID())/app.env").path).service
        #expect(!byDefault.isRemote && byDefault.keystore.value == "KeyStore" && byDefault.keystore.source == .byDefault)
        #expect(byDefault.endpoints.source == .byDefault)
    }

    @Test func everyKeyAndEndpointOfARuleIsKept() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let settings = try resolve(prod)
        #expect(try settings.keyIDs(for: "secrets/prod.env")
            == ["alias/app-prod", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"])
        // The rule's recipient is checked when used: a mistyped one names the rule's line.
        let recipients = #expect(throws: CLIError.self) { try settings.recoveryRecipients() }
        #expect(recipients?.message.contains("(\(configPath):5)") == true)
        #expect(settings.service.endpointSpecs()
            == [EndpointSpec(profile: nil, endpoint: "http://127.0.0.1:8417"), EndpointSpec(profile: "west", endpoint: "https://kms.example")])
        let one = try resolve(prod, endpoint: "west@http://127.0.0.1:9").service
        #expect(one.endpointSpecs() == [EndpointSpec(profile: "west", endpoint: "http://127.0.0.1:9")])
    }

    @Test func missingKeyNamesTheConfigOrItsAbsence() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        let matched = #expect(throws: CLIError.self) { try resolve(root.appendingPathComponent("app.env").path).keyIDs(for: "app.env") }
        #expect(matched?.message == "missing expected argument '--key <key>'" && matched?.exitCode == EnvSealExit.usage)
        #expect(matched?.hint == "rule 2 of \(configPath) (line 10) matches app.env but names no keys; add keys: [KEY] to it")
        let unmatched = #expect(throws: CLIError.self) { try resolve(root.appendingPathComponent("a.txt").path).keyIDs(for: "a.txt") }
        #expect(unmatched?.hint == "no creation rule of \(configPath) matches a.txt; add one with its keys, or give --key KEY")
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("nowhere-\(UUID())/app.env").path
        let none = #expect(throws: CLIError.self) { try resolve(elsewhere).keyIDs(for: "app.env") }
        #expect(none?.hint?.hasPrefix("no .envseal.yaml was found from the file's folder upward") == true)
    }

    @Test func aBadConfigFailsTheCommandWithItsLine() throws {
        defer { try? FileManager.default.removeItem(at: root) }
        try Data("creation_rules:\n  - path: x\n    contxt: {}\n".utf8).write(to: root.appendingPathComponent(".envseal.yaml"))
        let error = #expect(throws: CLIError.self) { try resolve(prod) }
        #expect(error?.message.hasPrefix("\(configPath):3: unknown field contxt in creation rule 1") == true)
    }
}
