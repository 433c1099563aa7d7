import EnvSeal
import Foundation
import Testing

/// Loading a sealed *file*: every variable must be covered by the header, a file without one is
/// refused unless the caller allows unsealed input, and the caller may pin the context and key.
@Suite struct SealedFileLoadingTests {
    static let plain = "DB_PASSWORD=correct-horse-battery\nAPI_KEY=ak_live_0123456789abcdef\nREGION=eu-west-1\n"

    /// Writes `text` to a new temporary file; the caller removes it.
    static func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-load-\(UUID().uuidString)").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func variables(_ path: String) throws -> [String: String] {
        let file = try DotenvFile.parse(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        return Dictionary(file.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
    }

    static func sealedText(_ service: FakeKeyService, context: EncryptionContext = .empty) async throws -> String {
        let file = try await SealedFile(provider: service).seal(
            try DotenvFile.parse(Array(plain.utf8)), keyID: "alias/app", context: context,
            selection: try VariableSelection(only: "PASSWORD|KEY", except: nil))
        return String(decoding: file.render(), as: UTF8.self)
    }

    static func loadError(_ source: SealedEnvironment.Source, _ service: FakeKeyService,
                          _ options: SealedEnvironment.Options = .init(maxAge: .zero)) async -> SealedEnvironment.LoadError? {
        await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: source, provider: service, options: options)
        }
    }

    @Test func aVariableTheHeaderDoesNotCoverIsTampering() async throws {
        let service = FakeKeyService()
        let path = try Self.write(try await Self.sealedText(service) + "LD_PRELOAD=./evil.so\nPATH=./evil:/usr/bin:/bin\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let error = await Self.loadError(.file(path), service)
        #expect(error?.cause == .tampered)
        #expect(error?.variable == "LD_PRELOAD")
        #expect(error?.description.contains("LD_PRELOAD") == true)
        #expect(service.calls == 0, "refused before the key service is asked")
    }

    @Test func aCachedFileIsNotServedToAFileWithAVariableAdded() async throws {
        let service = FakeKeyService()
        let sealed = try await Self.sealedText(service)
        let path = try Self.write(sealed)
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try await SealedEnvironment.load(from: .file(path), provider: service)
        try Data((sealed + "PATH=./evil:/usr/bin\n").utf8).write(to: URL(fileURLWithPath: path))
        let error = await Self.loadError(.file(path), service, .init())
        #expect(error?.variable == "PATH")
        // Nor is an environment opened from the same header served to the file.
        SealedEnvironment.clearCache()
        _ = try await SealedEnvironment.load(from: .variables(try Self.variables(path)), provider: service)
        #expect(await Self.loadError(.file(path), service, .init())?.variable == "PATH")
        SealedEnvironment.clearCache()
    }

    @Test func aFileWithoutAHeaderIsRefusedUnlessUnsealedInputIsAllowed() async throws {
        let service = FakeKeyService()
        let path = try Self.write("API_KEY=attacker-value\nREGION=eu-west-1\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(await Self.loadError(.file(path), service)?.cause == .notSealed)

        let loaded = try await SealedEnvironment.load(from: .file(path), provider: service, options: .init(maxAge: .zero, allowUnsealed: true))
        #expect(loaded.secrets.isEmpty)
        #expect(loaded.plain == ["API_KEY": "attacker-value", "REGION": "eu-west-1"])
        #expect(loaded.keyARN == nil)
        #expect(service.calls == 0)
    }

    @Test func sealedValuesWithoutAHeaderAreAlwaysRefused() async throws {
        let service = FakeKeyService()
        let stripped = try await Self.sealedText(service).split(separator: "\n").filter { !$0.hasPrefix("ENVSEAL=") }
            .joined(separator: "\n") + "\n"
        let path = try Self.write(stripped)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for options in [SealedEnvironment.Options(maxAge: .zero), .init(maxAge: .zero, allowUnsealed: true)] {
            let error = await Self.loadError(.file(path), service, options)
            #expect(error?.cause == .tampered)
            #expect(error?.variable == "API_KEY")
        }
        // In a process environment too.
        #expect(await Self.loadError(.variables(try Self.variables(path)), service, .init(maxAge: .zero, allowUnsealed: true))?.variable == "API_KEY")
    }

    @Test func aLambdaModeFileMayHoldOnlyItsNamedVariables() async throws {
        let service = FakeKeyService()
        var plain = DotenvFile()
        try plain.set("SECRET", to: "value-0123456789")
        let sealed = try await SealedFile(provider: service).sealForLambda(plain, keyID: "k", functionName: "billing-fn", selection: .all)
        let path = try Self.write(String(decoding: sealed.render(), as: UTF8.self) + "LD_PRELOAD=./evil.so\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let lambda = SealedEnvironment.Options(maxAge: .zero, lambdaVariables: ["SECRET"], functionName: "billing-fn")
        let error = await Self.loadError(.file(path), service, lambda)
        #expect(error?.cause == .tampered)
        #expect(error?.variable == "LD_PRELOAD")
        var allowing = lambda
        allowing.allowUnsealed = true
        let loaded = try await SealedEnvironment.load(from: .file(path), provider: service, options: allowing)
        #expect(loaded["SECRET"]?.revealed() == "value-0123456789")
        #expect(loaded.plain["LD_PRELOAD"] == "./evil.so")
    }

    @Test func theExpectedContextAndKeyArePinned() async throws {
        let service = FakeKeyService()
        let path = try Self.write(try await Self.sealedText(service, context: try EncryptionContext(["app": "billing"])))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let keyID = String(FakeKeyService.arn.split(separator: "/").last!)
        for key in [FakeKeyService.arn, keyID, "alias/app"] {
            let options = SealedEnvironment.Options(maxAge: .zero, expectedContext: ["app": "billing"], expectedKey: key)
            let loaded = try await SealedEnvironment.load(from: .file(path), provider: service, options: options)
            #expect(loaded["API_KEY"]?.revealed() == "ak_live_0123456789abcdef")
        }
        let calls = service.calls
        let context = await Self.loadError(.file(path), service, .init(maxAge: .zero, expectedContext: ["app": "payroll"]))
        #expect(context?.cause == .tampered)
        #expect(context?.description.contains("payroll") == true)
        #expect(service.calls == calls, "a context mismatch is refused before the key service is asked")
        for key in ["alias/payroll", "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000002"] {
            let error = await Self.loadError(.file(path), service, .init(maxAge: .zero, expectedKey: key))
            #expect(error?.cause == .tampered)
        }
        // Expectations are part of the cache's key: a warm entry opened without them is not served.
        _ = try await SealedEnvironment.load(from: .file(path), provider: service)
        #expect(await Self.loadError(.file(path), service, .init(expectedContext: ["app": "payroll"]))?.cause == .tampered)
        SealedEnvironment.clearCache()
    }
}
