import Foundation
import Hummingbird
import KMSClient
import KMSWire
import KeyServer
import KeyService
import KeyStoreFolder
import Logging
import Prometheus
import SodiumKit
import Testing

/// The client against envseal's own key server, running in-process on a throwaway store.
@Suite("live round trip with envseal's key server")
struct KeyServerRoundTripTests {
    /// Starts a key server on 127.0.0.1 over a new store with one admin principal, for the time of `body`.
    static func withServer(
        log: TestLog.Capture,
        _ body: @Sendable (_ endpoint: String, _ admin: SigV4Credentials) async throws -> Void
    ) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-kmsclient-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = try await KeyStoreHome.open(directory.path)
        let created = try await home.principals.create(name: "admin", isAdmin: true)
        let admin = SigV4Credentials(accessKeyID: created.record.accessKeyID, secretAccessKey: created.secretAccessKey)
        let server = KeyServer(
            engine: home.engine, principals: home.principals, configuration: .init(host: "127.0.0.1", port: 0),
            registry: PrometheusCollectorRegistry(), logger: TestLog.capturing(log, level: .info))
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let application = try server.application { port in continuation.yield(port) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.runService(gracefulShutdownSignals: []) }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            try await body("http://127.0.0.1:\(port)", admin)
            group.cancelAll()
        }
    }

    /// The server's one log line per request whose status is `status`.
    static func requests(in log: TestLog.Capture, status: Int) -> Int {
        log.lines.filter { $0.contains(" request ") && $0.contains("status=\(status)") }.count
    }

    @Test("CreateKey, GenerateDataKey and Decrypt through KMSClient over HTTP")
    func roundTrip() async throws {
        let log = TestLog.Capture()
        try await Self.withServer(log: log) { endpoint, admin in
            let configuration = try KMSClientConfiguration(endpoint: endpoint, region: "us-east-1", credentials: admin)
            let client = KMSClient(transport: HTTPKMSTransport(configuration: configuration))
            let created = try await client.call(KMS.CreateKeyRequest(description: "kmsclient round trip"))
            let keyID = try #require(created.keyMetadata?.keyId)
            let context = ["app": "kmsclient-tests"]
            let dataKey = try await client.call(
                KMS.GenerateDataKeyRequest(keyId: keyID, encryptionContext: context, keySpec: .aes256))
            let plaintext = try #require(dataKey.plaintext)
            #expect(plaintext.count == 32)
            let decrypted = try await client.call(
                KMS.DecryptRequest(ciphertextBlob: dataKey.ciphertextBlob, encryptionContext: context))
            // Compared as a Bool, so that a failure prints no key material.
            let same = decrypted.plaintext == plaintext
            #expect(same)
            #expect(decrypted.keyId?.hasSuffix(keyID) == true)
            // Another context does not decrypt: the comparison above can fail.
            let error = await #expect(throws: KMSError.self) {
                _ = try await client.call(
                    KMS.DecryptRequest(ciphertextBlob: dataKey.ciphertextBlob, encryptionContext: ["app": "other"]))
            }
            #expect(error?.type == .invalidCiphertext)
        }
        // At info, the successful CreateKey and the failed Decrypt; the successful GenerateDataKey
        // and Decrypt are logged at debug (the server's default --request-log-sample 0).
        #expect(Self.requests(in: log, status: 200) == 1)
        #expect(Self.requests(in: log, status: 400) == 1)
    }

    @Test("a wrong secret key gets the server's KMSError, after one attempt")
    func wrongSecret() async throws {
        let log = TestLog.Capture()
        try await Self.withServer(log: log) { endpoint, admin in
            let wrong = try SigV4Credentials(accessKeyID: admin.accessKeyID, secretAccessKey: "not-the-secret-0000000000000000000000000")
            let configuration = try KMSClientConfiguration(endpoint: endpoint, region: "us-east-1", credentials: wrong)
            let client = KMSClient(transport: HTTPKMSTransport(configuration: configuration))
            let error = await #expect(throws: KMSError.self) { _ = try await client.call(KMS.ListKeysRequest()) }
            #expect(error?.type == .invalidSignature)
        }
        #expect(Self.requests(in: log, status: 400) == 1)
    }
}
