import ArgumentParser
@testable import EnvSealCLI
import Testing

/// `envseal exec`'s hand-written parser against ArgumentParser's: the same options on every form
/// the fast one accepts, and `nil` (ArgumentParser decides) on everything else.
@Suite("envseal exec: the fast argument parser")
struct FastExecArgumentsTests {
    static let remote = ["AWS_ENDPOINT_URL_KMS": "http://127.0.0.1:8417"]

    /// What ArgumentParser makes of the same arguments.
    func parsed(_ arguments: [String]) throws -> FastExecArguments {
        let command = try #require(try ExecCommand.parseAsRoot(arguments) as? ExecCommand)
        #expect(command.service.store.keystore == "KeyStore" && command.service.store.storeURL == nil)
        #expect(command.service.store.accountID == "111122223333" && !command.service.store.passphrase)
        var expected = try #require(FastExecArguments(["--", "x"], environment: Self.remote))
        expected.options = command.options
        #expect(command.service.endpoint.count <= 1)
        expected.endpoint = command.service.endpoint.first
        expected.profile = command.service.profile
        expected.region = command.service.store.regionOption
        return expected
    }

    @Test(arguments: [
        ["--file", ".env.sealed", "--", "node", "server.js"],
        ["--file=.env.sealed", "--", "node", "server.js", "--port", "8080"],
        ["--redact", "--", "python", "handler.py"],
        ["--redact", "--pristine", "--strict", "--file", "f", "--", "/bin/true"],
        ["--min-length", "12", "--redact", "--", "sh", "-c", "echo $TOKEN"],
        ["--min-length=3", "--function", "billing-fn", "--", "cmd"],
        ["--endpoint", "http://127.0.0.1:9000", "--profile", "deploy", "--region", "eu-west-1", "--", "cmd"],
        ["--endpoint=aws", "--region=us-east-2", "--", "cmd", "--", "more"],
        ["--", "cmd", "--file", "not-envseals"],
        ["--file", "f", "--allow-unsealed", "--", "cmd"],
        ["--file", "f", "--expect-context", "app=billing", "--expect-context=stage=prod", "--expect-key", "alias/billing", "--", "cmd"],
        ["--expect-key=arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "--", "cmd"],
    ])
    func agreesWithArgumentParser(arguments: [String]) throws {
        let fast = try #require(FastExecArguments(arguments, environment: Self.remote))
        #expect(fast == (try parsed(arguments)))
    }

    @Test(arguments: [
        ["--help"], ["-h"], ["--file", "f"], ["--file", "f", "--"], [],
        ["--unknown", "--", "cmd"], ["node", "--", "cmd"],
        ["--file", "a", "--file", "b", "--", "cmd"],
        ["--redact", "--redact", "--", "cmd"],
        ["--redact=true", "--", "cmd"],
        ["--file", "--", "cmd"], ["--file", "-x", "--", "cmd"], ["--file=", "--", "cmd"],
        ["--min-length", "0", "--", "cmd"], ["--min-length", "many", "--", "cmd"],
        ["--lambda-variables", "A", "B", "--", "cmd"],
        ["--keystore", "ks", "--", "cmd"], ["--passphrase", "--", "cmd"], ["--account-id", "123456789012", "--", "cmd"],
        ["--store", "postgres://u@h/db", "--", "cmd"],
        ["--allow-unsealed=yes", "--", "cmd"], ["--allow-unsealed", "--allow-unsealed", "--", "cmd"],
        ["--expect-key", "a", "--expect-key", "b", "--", "cmd"],
        ["--expect-context", "nokey", "--", "cmd"], ["--expect-context", "a=1", "--expect-context", "a=2", "--", "cmd"],
        ["--expect-context", "--", "cmd"],
    ])
    func leavesEverythingElseToArgumentParser(arguments: [String]) {
        #expect(FastExecArguments(arguments, environment: Self.remote) == nil)
    }

    @Test func theEmbeddedStoreIsLeftToArgumentParser() throws {
        #expect(FastExecArguments(["--file", "f", "--", "cmd"], environment: [:]) == nil)
        #expect(FastExecArguments(["--file", "f", "--", "cmd"], environment: ["AWS_ENDPOINT_URL_KMS": ""]) == nil)
        let explicit = try #require(FastExecArguments(["--endpoint", "http://k", "--", "cmd"], environment: [:]))
        #expect(explicit.endpoint == "http://k")
        #expect(FastExecArguments(["--", "cmd"], environment: ["AWS_ENDPOINT_URL": "http://k"]) != nil)
    }
}
