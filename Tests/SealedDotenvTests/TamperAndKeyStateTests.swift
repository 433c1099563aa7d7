import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import KeyService
import SealedDotenv
import SodiumKit
import Testing

/// Every way a sealed file can be changed behind envseal's back, and every way its key can stop
/// working, with the error each must give.
@Suite struct TamperAndKeyStateTests {
    static let plain = "DB_PASSWORD=correct-horse-battery\nAPI_KEY=ak_live_0123456789\nREGION=eu-west-1\n"

    func sealed(_ f: Fixture, context: EncryptionContext = .empty) async throws -> DotenvFile {
        try await f.sealer.seal(try parse(Self.plain), keyID: f.keyARN, context: context,
                                selection: try VariableSelection(only: "PASSWORD|KEY", except: nil))
    }

    func formatError(_ f: Fixture, _ file: DotenvFile) async -> FormatError.Reason? {
        (await thrown { _ = try await f.sealer.open(file) } as? FormatError)?.reason
    }

    func replacing(_ file: DotenvFile, _ name: String, with value: String) throws -> DotenvFile {
        var copy = file
        try copy.set(name, to: value)
        return copy
    }

    @Test func editedByteInASealedValue() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        var value = Array(file.value(of: "API_KEY")!)
        let index = value.count - 3
        value[index] = value[index] == "A" ? "B" : "A"
        let tampered = try replacing(file, "API_KEY", with: String(value))
        #expect(await formatError(f, tampered) == .changedVariable(name: "API_KEY"))
    }

    @Test func valueMovedToAnotherName() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        let tampered = try replacing(file, "API_KEY", with: file.value(of: "DB_PASSWORD")!)
        #expect(await formatError(f, tampered) == .changedVariable(name: "API_KEY"))
    }

    @Test func valuePastedFromAnotherFile() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        let other = try await sealed(f)  // same plaintexts, another data key
        let tampered = try replacing(file, "DB_PASSWORD", with: other.value(of: "DB_PASSWORD")!)
        #expect(await formatError(f, tampered) == .changedVariable(name: "DB_PASSWORD"))
    }

    @Test func sealedVariableRemoved() async throws {
        let f = try await Fixture()
        var file = try await sealed(f)
        file.remove("DB_PASSWORD")
        #expect(await formatError(f, file) == .missingVariable(name: "DB_PASSWORD"))
    }

    @Test func sealedVariableAdded() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        let tampered = try replacing(file, "EXTRA_SECRET", with: file.value(of: "API_KEY")!)
        #expect(await formatError(f, tampered) == .unlistedVariable(name: "EXTRA_SECRET"))
    }

    @Test func coveredPlainVariableChanged() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        let tampered = try replacing(file, "REGION", with: "us-east-1")
        #expect(await formatError(f, tampered) == .changedVariable(name: "REGION"))
        var removed = file
        removed.remove("REGION")
        #expect(await formatError(f, removed) == .missingVariable(name: "REGION"))
    }

    @Test func sealedValueReplacedByPlaintext() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        let tampered = try replacing(file, "DB_PASSWORD", with: "hunter2")
        #expect(await formatError(f, tampered) == .changedVariable(name: "DB_PASSWORD"))
    }

    @Test func tamperedFileIsNeverReMACed() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        let tampered = try replacing(file, "REGION", with: "us-east-1")
        let error = await thrown { _ = try await f.sealer.set("API_KEY", to: try SecureBytes(utf8: "new-value-1234"), in: tampered) }
        #expect((error as? FormatError)?.reason == .changedVariable(name: "REGION"))
        let rotate = await thrown { _ = try await f.sealer.rotate(tampered) }
        #expect((rotate as? FormatError)?.isTampering == true)
    }

    @Test func wrongContextIsRefusedByTheKeyService() async throws {
        let f = try await Fixture()
        let file = try await sealed(f, context: try EncryptionContext(["app": "billing"]))
        // Rebuild the header with another context but the same wrapped key: the key service
        // refuses to unwrap, before any MAC is checked.
        let header = try SealedFileHeader(parsing: file.value(of: "ENVSEAL")!)
        let forged = try SealedFileHeader.make(
            keyARN: nil, context: try EncryptionContext(["app": "payroll"]), wrappedDataKey: header.kmsSlots[0].wrappedDataKey,
            variables: .init(sealed: ["DB_PASSWORD": file.value(of: "DB_PASSWORD")!, "API_KEY": file.value(of: "API_KEY")!],
                             covered: ["REGION": "eu-west-1"]),
            keys: try SealedFileKeys(dataKey: .random()))
        let tampered = try replacing(file, "ENVSEAL", with: forged.text)
        let error = await thrown { _ = try await f.sealer.open(tampered) }
        #expect((error as? KMSError)?.type == .invalidCiphertext)
    }

    @Test func disabledKey() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        try await f.engine.disableKey(.init(keyId: f.keyARN), by: f.admin)
        let error = await thrown { _ = try await f.sealer.open(file) }
        #expect((error as? KMSError)?.type == .disabled)
        try await f.engine.enableKey(.init(keyId: f.keyARN), by: f.admin)
        #expect(await thrown { _ = try await f.sealer.open(file) } == nil)
    }

    @Test func keyPendingDeletion() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        _ = try await f.engine.scheduleKeyDeletion(.init(keyId: f.keyARN, pendingWindowInDays: 7), by: f.admin)
        let error = await thrown { _ = try await f.sealer.open(file) }
        #expect((error as? KMSError)?.type == .kmsInvalidState)
    }

    @Test func callerWithoutPermission() async throws {
        let f = try await Fixture()
        let file = try await sealed(f)
        let stranger = Principal.user("stranger", account: "444455556666")
        let sealer = SealedFile(provider: KMSDataKeyProvider(client: .init(transport: CountingEngineTransport(engine: f.engine, principal: stranger))))
        let error = await thrown { _ = try await sealer.open(file) }
        #expect((error as? KMSError)?.type == .accessDenied)
    }
}
