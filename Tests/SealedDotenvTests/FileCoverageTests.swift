import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import KeyService
import SealedDotenv
import SodiumKit
import Testing

/// A sealed file's header decides what is trusted: a variable it does not cover is tampering, and
/// a caller can pin the context and key it expects, so another sealed file cannot stand in.
@Suite struct FileCoverageTests {
    static let plain = "DB_PASSWORD=correct-horse-battery\nAPI_KEY=ak_live_0123456789\nREGION=eu-west-1\n"

    func sealed(_ f: Fixture, keyID: String? = nil, context: EncryptionContext = .empty) async throws -> DotenvFile {
        try await f.sealer.seal(try parse(Self.plain), keyID: keyID ?? f.keyARN, context: context,
                                selection: try VariableSelection(only: "PASSWORD|KEY", except: nil))
    }

    func variables(_ file: DotenvFile) -> [String: String] {
        Dictionary(file.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    func error(_ body: () async throws -> Void) async -> (any Error)? { await thrown(body) }

    // MARK: - Item: added variables

    @Test func plainVariablesAddedToASealedFileAreTampering() async throws {
        let f = try await Fixture()
        var file = try await sealed(f)
        try file.set("PATH", to: "./evil:/usr/bin:/bin")
        try file.set("LD_PRELOAD", to: "./evil.so")
        // The first by name is reported, before the key service is asked.
        #expect((await error { _ = try await f.sealer.open(file) } as? FormatError)?.reason == .unlistedVariable(name: "LD_PRELOAD"))
        #expect((await error { _ = try await f.sealer.decrypt(file) } as? FormatError)?.reason == .unlistedVariable(name: "LD_PRELOAD"))
        #expect(f.transport.count(.decrypt) == 0)
        file.remove("LD_PRELOAD")
        let refused = await error { _ = try await f.sealer.open(file) } as? FormatError
        #expect(refused?.reason == .unlistedVariable(name: "PATH"))
        #expect(refused?.isTampering == true)
    }

    @Test func aTamperedFileIsNotReMACedByAnyEdit() async throws {
        let f = try await Fixture()
        var file = try await sealed(f)
        try file.set("LD_PRELOAD", to: "./evil.so")
        let edits: [() async throws -> Void] = [
            { _ = try await f.sealer.set("API_KEY", to: try SecureBytes(utf8: "new-value-0123"), in: file) },
            { _ = try await f.sealer.unset("API_KEY", in: file) },
            { _ = try await f.sealer.rotate(file) },
            { _ = try await f.sealer.rewrap(file) },
        ]
        for edit in edits {
            #expect((await error(edit) as? FormatError)?.reason == .unlistedVariable(name: "LD_PRELOAD"))
        }
    }

    @Test func aProcessEnvironmentLeavesThePlatformsVariablesAlone() async throws {
        let f = try await Fixture()
        var environment = variables(try await sealed(f))
        environment["PATH"] = "/usr/bin:/bin"
        environment["AWS_LAMBDA_FUNCTION_NAME"] = "billing-fn"
        let opened = try await f.sealer.open(environment: environment)
        #expect(plaintexts(opened)["API_KEY"] == "ak_live_0123456789")

        // As a file's variables, the same set is refused.
        let refused = await error { _ = try await f.sealer.open(environment: environment, coverage: .everyVariable) }
        #expect((refused as? FormatError)?.reason == .unlistedVariable(name: "AWS_LAMBDA_FUNCTION_NAME"))

        // A value that looks sealed but is not listed is refused in either form.
        environment["EXTRA"] = environment["API_KEY"]
        let unlisted = await error { _ = try await f.sealer.open(environment: environment) }
        #expect((unlisted as? FormatError)?.reason == .unlistedVariable(name: "EXTRA"))
    }

    // MARK: - Item: which file

    @Test func anExpectedContextMustBeTheHeadersExactly() async throws {
        let f = try await Fixture()
        let billing = try EncryptionContext(["app": "billing", "stage": "prod"])
        let file = try await sealed(f, context: billing)
        _ = try await f.sealer.open(file, expecting: .init(context: billing))
        let decrypts = f.transport.count(.decrypt)

        for other in [try EncryptionContext(["app": "payroll", "stage": "prod"]), try EncryptionContext(["app": "billing"]), .empty] {
            let refused = await error { _ = try await f.sealer.open(file, expecting: .init(context: other)) } as? SealedFileError
            #expect(refused?.kind == .unexpectedContext(found: billing, expected: other))
        }
        // Refused before the key service is asked.
        #expect(f.transport.count(.decrypt) == decrypts)
    }

    @Test func anExpectedKeyMatchesByIDARNOrAlias() async throws {
        let f = try await Fixture()
        let keyID = String(f.keyARN.split(separator: "/").last!)
        try await f.engine.createAlias(.init(aliasName: "alias/billing", targetKeyId: f.keyARN), by: f.admin)
        let file = try await sealed(f)
        for pin in [f.keyARN, keyID, "alias/billing", "arn:aws:kms:us-east-1:111122223333:alias/billing"] {
            let opened = try await f.sealer.open(file, expecting: .init(keyID: pin))
            #expect(opened.keyARN == f.keyARN)
        }

        let other = try await f.newKey()
        let otherID = String(other.split(separator: "/").last!)
        try await f.engine.createAlias(.init(aliasName: "alias/payroll", targetKeyId: other), by: f.admin)
        for pin in [other, otherID, "alias/payroll"] {
            let refused = await error { _ = try await f.sealer.open(file, expecting: .init(keyID: pin)) } as? SealedFileError
            #expect(refused?.kind == .unexpectedKey(expected: pin))
        }
        // A file sealed under the other key is refused when this one is pinned.
        let foreign = try await sealed(f, keyID: other)
        let refused = await error { _ = try await f.sealer.open(foreign, expecting: .init(keyID: keyID)) } as? SealedFileError
        #expect(refused?.kind == .unexpectedKey(expected: keyID))
    }

    /// A key service that ignores Decrypt's KeyId still cannot pass a file of another key under
    /// an id or ARN pin: the ARN the unwrap reports is compared too.
    @Test func theReportedARNIsComparedEvenWhenTheServiceIgnoresTheKeyID() async throws {
        let f = try await Fixture()
        let other = try await f.newKey()
        let lax = SealedFile(provider: KeyIDIgnoringProvider(inner: f.sealer.provider))
        let file = try await sealed(f)
        for pin in [other, String(other.split(separator: "/").last!)] {
            let refused = await error { _ = try await lax.open(file, expecting: .init(keyID: pin)) } as? SealedFileError
            #expect(refused?.kind == .unexpectedKey(expected: pin))
        }
        _ = try await lax.open(file, expecting: .init(keyID: f.keyARN))
    }
}

/// Passes every call through, but drops the key a caller names for Decrypt, as a key service
/// that does not check it would.
struct KeyIDIgnoringProvider: DataKeyProvider {
    let inner: any DataKeyProvider

    func generateDataKey(keyID: String, context: EncryptionContext) async throws -> GeneratedDataKey {
        try await inner.generateDataKey(keyID: keyID, context: context)
    }

    func unwrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, keyID: String?) async throws -> UnwrappedDataKey {
        try await inner.unwrapDataKey(wrapped, context: context, keyID: nil)
    }

    func rewrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, destinationKeyID: String) async throws -> [UInt8] {
        try await inner.rewrapDataKey(wrapped, context: context, destinationKeyID: destinationKeyID)
    }

    func encrypt(_ plaintext: SecureBytes, keyID: String, context: EncryptionContext) async throws -> [UInt8] {
        try await inner.encrypt(plaintext, keyID: keyID, context: context)
    }

    func decrypt(_ ciphertext: [UInt8], context: EncryptionContext) async throws -> SecureBytes {
        try await inner.decrypt(ciphertext, context: context)
    }
}
