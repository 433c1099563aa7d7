import Foundation
import Testing
@testable import EnvSealCLI

@Suite struct ProjectConfigTests {
    @Test func readsKeysPatternsAndAllowList() throws {
        let config = try ProjectConfig.parse("""
            keys:
              - arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
            sealed: ["*.env.sealed"]
            scan:
              allow:
                - path: "fixtures/*.env"
                  variable: "EXAMPLE_*"
                - path: "docs/sample.env"
            """, path: "/p/.envseal.yaml")
        #expect(config.sealedPatterns == ["*.env.sealed"])
        #expect(config.allow == [.init(path: "fixtures/*.env", variable: "EXAMPLE_*"), .init(path: "docs/sample.env", variable: nil)])
        #expect(config.allows(file: "/p/fixtures/a.env", variable: "EXAMPLE_TOKEN"))
        #expect(!config.allows(file: "/p/fixtures/a.env", variable: "TOKEN"))
        #expect(config.allows(file: "/p/docs/sample.env", variable: "ANY"))
        #expect(!config.allows(file: "/elsewhere/docs/sample.env", variable: "ANY"))
        #expect(config.lists(keyARN: nil, keyID: "1234ABCD-12AB-34CD-56EF-1234567890AB"))
        #expect(!config.lists(keyARN: nil, keyID: "00000000-0000-0000-0000-000000000000"))
    }

    @Test func errorsNameTheLine() {
        let unknown = #expect(throws: CLIError.self) {
            try ProjectConfig.parse("keys: []\nscan:\n  allow:\n    - path: a\n      varible: B\n", path: "c.yaml")
        }
        #expect(unknown?.message == "c.yaml:5: unknown field varible in a scan.allow entry (known: path, variable)")
        #expect(unknown?.exitCode == 65)
        let top = #expect(throws: CLIError.self) { try ProjectConfig.parse("keys: []\ncreation_rule: []\n", path: "c.yaml") }
        #expect(top?.message.hasPrefix("c.yaml:2: unknown field creation_rule ") == true)
        let type = #expect(throws: CLIError.self) { try ProjectConfig.parse("keys: alias/app\n", path: "c.yaml") }
        #expect(type?.message == "c.yaml:1: keys must be a list of strings")
        let syntax = #expect(throws: CLIError.self) { try ProjectConfig.parse("keys:\n  - a\n - b: [\n", path: "c.yaml") }
        #expect(syntax?.message.hasPrefix("c.yaml:3:") == true)
    }

    @Test func foundFromTheFilesFolderUpward() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-config-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("a/b"), withIntermediateDirectories: true)
        try Data("sealed: [x]\n".utf8).write(to: root.appendingPathComponent(".envseal.yaml"))
        let found = try ProjectConfig.find(for: root.appendingPathComponent("a/b/app.env").path)
        #expect(found?.sealedPatterns == ["x"])
        try Data("sealed: [y]\n".utf8).write(to: root.appendingPathComponent("a/.envseal.yaml"))
        #expect(try ProjectConfig.find(for: root.appendingPathComponent("a/b/app.env").path)?.sealedPatterns == ["y"])
    }
}

@Suite struct SecretScannerTests {
    @Test func rulesAndPlaceholders() {
        #expect(SecretScanner.secretRule(name: "DB_PASSWORD", value: "hunter2hunter2")?.rule == "name")
        #expect(SecretScanner.secretRule(name: "DB_PASSWORD", value: "${DB_PASSWORD}") == nil)
        #expect(SecretScanner.secretRule(name: "DB_PASSWORD", value: "es1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA") == nil)
        #expect(SecretScanner.secretRule(name: "KEY_ID", value: "AKIA2345672345672345")?.rule == "token")
        #expect(SecretScanner.secretRule(name: "X", value: "AKIAIOSFODNN7EXAMPLE") == nil)
        #expect(SecretScanner.secretRule(name: "URL", value: "postgres://u:pw12345@h/db")?.rule == "url-password")
        #expect(SecretScanner.secretRule(name: "URL", value: "postgres://u@h/db") == nil)
        #expect(SecretScanner.secretRule(name: "PUBLIC_KEY", value: "MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=") == nil)
        #expect(SecretScanner.secretRule(name: "BLOB", value: "Zk3q9LmP2xVr7TnB8cWd5YhJ4gFs6")?.rule == "entropy")
    }

    @Test func findingsNeverHoldTheValue() throws {
        var scanner = SecretScanner()
        let findings = try scanner.scan([("app.env", Array("A=1\nAPI_TOKEN=s3cr3t-value-123\n".utf8))])
        #expect(findings.count == 1)
        #expect(findings[0].text == "app.env:2: API_TOKEN: its name says it is a secret, and its value is not sealed")
        #expect(!findings[0].text.contains("s3cr3t"))
    }
}
