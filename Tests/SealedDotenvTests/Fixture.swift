import EnvSealFormat
import Foundation
import KMSClient
import KMSWire
import KeyService
import SealedDotenv
import SodiumKit
import Synchronization
import Testing

/// The embedded engine as a KMS transport, counting calls by operation.
final class CountingEngineTransport: KMSTransport {
    let engine: KeyServiceEngine
    let principal: Principal
    private let counts = Mutex<[KMSOperation: Int]>([:])

    init(engine: KeyServiceEngine, principal: Principal) {
        self.engine = engine
        self.principal = principal
    }

    func send(_ operation: KMSOperation, body: Data) async throws -> Data {
        counts.withLock { $0[operation, default: 0] += 1 }
        return try await engine.handle(operation, body: body, by: principal)
    }

    func count(_ operation: KMSOperation) -> Int { counts.withLock { $0[operation] ?? 0 } }
    func total() -> Int { counts.withLock { $0.values.reduce(0, +) } }
}

/// An in-memory key service with an admin, a key, and the sealed-file operations over it.
struct Fixture {
    let engine: KeyServiceEngine
    let admin = Principal.user("admin", account: "111122223333", isAdmin: true)
    let transport: CountingEngineTransport
    let sealer: SealedFile
    let keyARN: String
    let directory: URL

    init() async throws {
        let store = InMemoryKeyStore()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-sealed-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let root = try await RootKey.open(.file(directory.appendingPathComponent("root.key").path), store: store)
        engine = KeyServiceEngine(store: store, root: root)
        transport = CountingEngineTransport(engine: engine, principal: admin)
        sealer = SealedFile(provider: KMSDataKeyProvider(client: KMSClient(transport: transport)))
        keyARN = try #require(try await engine.createKey(.init(description: "test"), by: admin).keyMetadata?.arn)
        try FileManager.default.removeItem(at: directory)
    }

    func newKey() async throws -> String {
        try #require(try await engine.createKey(.init(description: "other"), by: admin).keyMetadata?.arn)
    }
}

func parse(_ text: String) throws -> DotenvFile { try DotenvFile.parse(Array(text.utf8)) }
func text(_ file: DotenvFile) -> String { String(decoding: file.render(), as: UTF8.self) }

/// The plaintexts of an opened file as strings (tests only; never printed).
func plaintexts(_ opened: OpenedFile) -> [String: String] {
    opened.values.mapValues { $0.utf8String() ?? "<not utf8>" }
}

/// The error a body threw, or `nil`.
func thrown(_ body: () async throws -> Void) async -> (any Error)? {
    do { try await body(); return nil } catch { return error }
}
