import EnvSeal
import Foundation
import Synchronization
import Testing

/// A key service in memory: wrapped keys are opaque handles bound to their context; calls are
/// counted, and one principal can be refused.
final class FakeKeyService: DataKeyProvider {
    private let state = Mutex<(keys: [[UInt8]: (DataKey, EncryptionContext)], values: [[UInt8]: (SecureBytes, EncryptionContext)], calls: Int)>(([:], [:], 0))
    let refuse: Bool
    static let arn = "arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000001"

    init(refuse: Bool = false) { self.refuse = refuse }

    var calls: Int { state.withLock { $0.calls } }

    private func count() throws {
        state.withLock { $0.calls += 1 }
        if refuse { throw KMSError(.accessDenied, "not allowed") }
    }

    func generateDataKey(keyID: String, context: EncryptionContext) async throws -> GeneratedDataKey {
        let key = DataKey.random()
        let handle = Array(UUID().uuidString.utf8)
        state.withLock { $0.keys[handle] = (key, context) }
        return GeneratedDataKey(dataKey: key, wrapped: handle, keyARN: Self.arn)
    }

    func unwrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, keyID: String?) async throws -> UnwrappedDataKey {
        try count()
        // As KMS: a named key must be the one that wrapped the data key.
        if let keyID, ![Self.arn, String(Self.arn.split(separator: "/").last!), "alias/app"].contains(keyID) {
            throw KMSError(.incorrectKey, "the ciphertext was not encrypted under \(keyID)")
        }
        guard let (key, bound) = state.withLock({ $0.keys[wrapped] }), bound == context else {
            throw KMSError(.invalidCiphertext, "no")
        }
        return UnwrappedDataKey(dataKey: key, keyARN: Self.arn)
    }

    func rewrapDataKey(_ wrapped: [UInt8], context: EncryptionContext, destinationKeyID: String) async throws -> [UInt8] { wrapped }

    func encrypt(_ plaintext: SecureBytes, keyID: String, context: EncryptionContext) async throws -> [UInt8] {
        let handle = Array(UUID().uuidString.utf8)
        state.withLock { $0.values[handle] = (plaintext, context) }
        return handle
    }

    func decrypt(_ ciphertext: [UInt8], context: EncryptionContext) async throws -> SecureBytes {
        try count()
        guard let (value, bound) = state.withLock({ $0.values[ciphertext] }), bound == context else {
            throw KMSError(.invalidCiphertext, "no")
        }
        return value
    }
}

@Suite struct SealedEnvironmentTests {
    static let plain = "DB_PASSWORD=correct-horse-battery\nAPI_KEY=ak_live_0123456789abcdef\nREGION=eu-west-1\n"

    /// A sealed environment as a function gets it: the sealed file's variables plus others.
    static func sealedVariables(_ service: FakeKeyService) async throws -> [String: String] {
        let file = try await SealedFile(provider: service).seal(
            try DotenvFile.parse(Array(plain.utf8)), keyID: "alias/app", context: .empty,
            selection: try VariableSelection(only: "PASSWORD|KEY", except: nil))
        var variables = Dictionary(file.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        variables["PATH"] = "/usr/bin"
        variables["_X_AMZN_TRACE_ID"] = "Root=1-00000000-000000000000000000000001"
        return variables
    }

    @Test func opensEveryValueWithOneCall() async throws {
        let service = FakeKeyService()
        let variables = try await Self.sealedVariables(service)
        let environment = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero))
        #expect(service.calls == 1)
        #expect(environment["DB_PASSWORD"]?.revealed() == "correct-horse-battery")
        #expect(environment["API_KEY"]?.revealed() == "ak_live_0123456789abcdef")
        #expect(environment["REGION"] == nil)
        #expect(environment.plain["REGION"] == "eu-west-1")
        #expect(environment.plain["ENVSEAL"] == nil)
        #expect(environment.plain["DB_PASSWORD"] == nil, "a sealed value must never be handed out as plain")
        #expect(environment.keyARN == FakeKeyService.arn)
        let child = environment.plaintextEnvironment()
        #expect(child["DB_PASSWORD"] == "correct-horse-battery")
        #expect(child["ENVSEAL"] == nil)
        #expect(child["PATH"] == "/usr/bin")
    }

    /// A value sealed with its spelling (es2:) reaches the function as its value, not as it was written.
    @Test func sealedSpellingsOpenToTheirValues() async throws {
        let service = FakeKeyService()
        let text = "ACCENT=\"\\u00e9\"\nPRICE=\"it's $5 and \\$6\"\nK=${X}\n"
        let file = try await SealedFile(provider: service).seal(
            try DotenvFile.parse(Array(text.utf8)), keyID: "alias/app", context: .empty, selection: .all)
        let variables = Dictionary(file.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        #expect(variables["ACCENT"].map(SealedValue.isSpelling) == true)
        let environment = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero))
        #expect(environment["ACCENT"]?.revealed() == "\\u00e9")
        #expect(environment["PRICE"]?.revealed() == "it's $5 and $6")
        #expect(environment["K"]?.revealed() == "${X}")
    }

    @Test func warmLoadsComeFromTheCacheUntilItExpires() async throws {
        let service = FakeKeyService()
        var variables = try await Self.sealedVariables(service)
        _ = try await SealedEnvironment.load(from: .variables(variables), provider: service)
        variables["_X_AMZN_TRACE_ID"] = "Root=1-00000000-000000000000000000000002"  // changes per invocation
        let warm = try await SealedEnvironment.load(from: .variables(variables), provider: service)
        #expect(service.calls == 1)
        #expect(warm["API_KEY"]?.revealed() == "ak_live_0123456789abcdef")
        // Older than the maximum age given: opened again (sleeping makes the age certain however
        // slow the machine; a test that needed a load within 1 ms would not be).
        try await Task.sleep(for: .milliseconds(5))
        _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .milliseconds(1)))
        #expect(service.calls == 2)
        _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .seconds(300)))
        #expect(service.calls == 2)
    }

    @Test func aChangedValueIsNeverServedFromTheCache() async throws {
        let service = FakeKeyService()
        var variables = try await Self.sealedVariables(service)
        _ = try await SealedEnvironment.load(from: .variables(variables), provider: service)
        variables["REGION"] = "us-east-1"
        let error = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service)
        }
        #expect(error?.cause == .tampered)
        #expect(error?.variable == "REGION")
    }

    @Test func aSealedValueRemovedOrAddedAfterCachingIsNeverServedFromTheCache() async throws {
        let service = FakeKeyService()
        let variables = try await Self.sealedVariables(service)
        _ = try await SealedEnvironment.load(from: .variables(variables), provider: service)
        var removed = variables
        removed["API_KEY"] = nil
        let missing = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(removed), provider: service)
        }
        #expect(missing?.cause == .tampered)
        #expect(missing?.variable == "API_KEY")
        var added = variables
        added["EXTRA_KEY"] = variables["DB_PASSWORD"]
        let extra = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(added), provider: service)
        }
        #expect(extra?.cause == .tampered)
        #expect(extra?.variable == "EXTRA_KEY")
        // The original variables are still served warm.
        let callsBefore = service.calls
        _ = try await SealedEnvironment.load(from: .variables(variables), provider: service)
        #expect(service.calls == callsBefore)
    }

    @Test func tamperingNamesTheVariable() async throws {
        let service = FakeKeyService()
        var variables = try await Self.sealedVariables(service)
        variables["API_KEY"] = variables["DB_PASSWORD"]
        let error = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero))
        }
        #expect(error?.cause == .tampered)
        #expect(error?.variable == "API_KEY")
        #expect(!(error?.description.contains("correct-horse") ?? true))
    }

    @Test func aRefusalCarriesTheKeyServicesErrorType() async throws {
        let variables = try await Self.sealedVariables(FakeKeyService())
        let error = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: FakeKeyService(refuse: true), options: .init(maxAge: .zero))
        }
        #expect(error?.cause == .keyService && error?.keyServiceErrorType == .accessDenied)
    }

    @Test func nothingSealed() async throws {
        let error = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(["A": "1"]), provider: FakeKeyService())
        }
        #expect(error?.cause == .notSealed)
    }

    @Test func lambdaModeDecryptsEachValueConcurrently() async throws {
        let service = FakeKeyService()
        var plain = DotenvFile()
        for i in 0..<25 { try plain.set("SECRET_\(i)", to: "value-\(i)-0123456789") }
        let sealed = try await SealedFile(provider: service).sealForLambda(plain, keyID: "k", functionName: "billing-fn", selection: .all)
        var variables = Dictionary(sealed.assignments.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        variables["AWS_LAMBDA_FUNCTION_NAME"] = "billing-fn"
        let names = (0..<25).map { "SECRET_\($0)" }
        let environment = try await SealedEnvironment.load(
            from: .variables(variables), provider: service, options: .init(maxAge: .zero, lambdaVariables: names))
        #expect(service.calls == 25)
        #expect(environment["SECRET_7"]?.revealed() == "value-7-0123456789")

        variables["AWS_LAMBDA_FUNCTION_NAME"] = "payroll-fn"
        let error = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .variables(variables), provider: service, options: .init(maxAge: .zero, lambdaVariables: names))
        }
        #expect(error?.cause == .keyService && error?.keyServiceErrorType == .invalidCiphertext)
        #expect(error?.variable == "SECRET_0")
    }

    @Test func fromAFileAndNeverPrinted() async throws {
        let service = FakeKeyService()
        let file = try await SealedFile(provider: service).seal(
            try DotenvFile.parse(Array(Self.plain.utf8)), keyID: "k", context: .empty, selection: .all)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-env-\(UUID().uuidString)").path
        try Data(file.render()).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let environment = try await SealedEnvironment.load(from: .file(path), provider: service, options: .init(maxAge: .zero))
        #expect(environment.secrets.count == 3)
        var dumped = ""
        dump(environment, to: &dumped)
        for text in ["\(environment)", String(reflecting: environment), dumped] {
            #expect(!text.contains("correct-horse"))
            #expect(!text.contains("ak_live"))
        }
        let missing = await #expect(throws: SealedEnvironment.LoadError.self) {
            _ = try await SealedEnvironment.load(from: .file(path + ".missing"), provider: service)
        }
        #expect(missing?.cause == .unreadable)
    }
}
