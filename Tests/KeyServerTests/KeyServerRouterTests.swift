import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import KMSWire
@testable import KeyServer
import KeyService
import KeyStoreFolder
import Logging
import NIOCore
import Prometheus
import SodiumKit
import Testing

/// The router driven in-process, without a socket: authentication, dispatch, errors, probes.
@Suite("key server router")
struct KeyServerRouterTests {
    struct Setup {
        let server: KeyServer
        let admin: SigV4Credentials
        let function: SigV4Credentials
        let directory: URL
    }

    static func setup() async throws -> Setup {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-server-\(UUID().uuidString)")
        let home = try await KeyStoreHome.open(directory.path)
        let admin = try await home.principals.create(name: "admin", isAdmin: true)
        let function = try await home.principals.create(name: "billing-fn")
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = KeyServer(
            engine: home.engine, principals: home.principals, configuration: .init(), registry: PrometheusCollectorRegistry(), logger: logger)
        return Setup(
            server: server,
            admin: SigV4Credentials(accessKeyID: admin.record.accessKeyID, secretAccessKey: admin.secretAccessKey),
            function: SigV4Credentials(accessKeyID: function.record.accessKeyID, secretAccessKey: function.secretAccessKey),
            directory: directory)
    }

    /// A signed KMS request as boto3 would send it.
    static func signed(_ operation: String, _ json: String, _ credentials: SigV4Credentials, date: Date = Date(), region: String = "us-east-1") throws -> (HTTPFields, ByteBuffer) {
        let body = Array(json.utf8)
        let request = SigV4Request(method: "POST", path: "/", headers: [
            .init("Host", "localhost"), .init("Content-Type", KMSJSON.contentType), .init("X-Amz-Target", "TrentService.\(operation)"),
        ], body: body)
        let signed = try SigV4Signer(region: region).sign(request, credentials: credentials, date: date)
        return (fields(signed), ByteBuffer(bytes: body))
    }

    /// The header fields of a signed request as the router sees them from HTTP/1.1: Host is the
    /// request's authority (the test client's is `localhost`), not a field.
    static func fields(_ signed: SigV4Request) -> HTTPFields {
        var fields = HTTPFields()
        for header in signed.headers where header.name.lowercased() != "host" {
            fields.append(HTTPField(name: HTTPField.Name(header.name)!, value: header.value))
        }
        return fields
    }

    static func json(_ response: TestResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any]) ?? [:]
    }

    @Test("signed requests create a key, encrypt and decrypt; responses carry a request id and a Date")
    func roundTrip() async throws {
        let s = try await Self.setup(); defer { try? FileManager.default.removeItem(at: s.directory) }
        let app = Application(router: s.server.router())
        try await app.test(.router) { client in
            let (h1, b1) = try Self.signed("CreateKey", #"{"Description":"test"}"#, s.admin)
            let created = try await client.execute(uri: "/", method: .post, headers: h1, body: b1)
            #expect(created.status == .ok)
            #expect(created.headers[HTTPField.Name("x-amzn-RequestId")!]?.count == 36)
            let arn = try #require((Self.json(created)["KeyMetadata"] as? [String: Any])?["Arn"] as? String)
            let (h2, b2) = try Self.signed("Encrypt", #"{"KeyId":"\#(arn)","Plaintext":"aGVsbG8=","EncryptionContext":{"a":"b"}}"#, s.admin)
            let encrypted = try await client.execute(uri: "/", method: .post, headers: h2, body: b2)
            #expect(encrypted.status == .ok)
            let blob = try #require(Self.json(encrypted)["CiphertextBlob"] as? String)
            let (h3, b3) = try Self.signed("Decrypt", #"{"CiphertextBlob":"\#(blob)","EncryptionContext":{"a":"b"}}"#, s.admin)
            let decrypted = try await client.execute(uri: "/", method: .post, headers: h3, body: b3)
            #expect(Self.json(decrypted)["Plaintext"] as? String == "aGVsbG8=")
            // Errors: typed JSON, AWS's status codes, the principal named in AccessDenied.
            let (h4, b4) = try Self.signed("Encrypt", #"{"KeyId":"\#(arn)","Plaintext":"aGVsbG8="}"#, s.function)
            let denied = try await client.execute(uri: "/", method: .post, headers: h4, body: b4)
            #expect(denied.status == .badRequest && Self.json(denied)["__type"] as? String == "AccessDeniedException")
            #expect((Self.json(denied)["message"] as? String)?.contains("user/billing-fn") == true)
            let (h5, b5) = try Self.signed("DescribeKey", #"{"KeyId":"alias/none"}"#, s.admin)
            let missing = try await client.execute(uri: "/", method: .post, headers: h5, body: b5)
            #expect(missing.status == .notFound && Self.json(missing)["__type"] as? String == "NotFoundException")
        }
    }

    @Test("bad requests get typed 4xx answers, never a 500", arguments: [
        ("ListKeys", "{not json", "SerializationException"),
        ("ListKeys", #"{"Limit":"ten"}"#, "SerializationException"),
        ("Encrypt", #"{"Plaintext":"aGVsbG8="}"#, "ValidationException"),
        ("Encrypt", #"{"KeyId":"k","Plaintext":"!!notbase64"}"#, "SerializationException"),
        ("Frobnicate", "{}", "UnknownOperationException"),
    ])
    func badRequests(operation: String, body: String, expected: String) async throws {
        let s = try await Self.setup(); defer { try? FileManager.default.removeItem(at: s.directory) }
        let app = Application(router: s.server.router())
        try await app.test(.router) { client in
            let (headers, buffer) = try Self.signed(operation, body, s.admin)
            let response = try await client.execute(uri: "/", method: .post, headers: headers, body: buffer)
            #expect((400..<500).contains(Int(response.status.code)))
            #expect(Self.json(response)["__type"] as? String == expected)
        }
    }

    @Test("authentication failures: no signature, wrong secret, stale date, unknown key, oversized body")
    func authentication() async throws {
        let s = try await Self.setup(); defer { try? FileManager.default.removeItem(at: s.directory) }
        let app = Application(router: s.server.router())
        try await app.test(.router) { client in
            let unsigned = try await client.execute(
                uri: "/", method: .post, headers: [.contentType: KMSJSON.contentType, HTTPField.Name("X-Amz-Target")!: "TrentService.ListKeys"],
                body: ByteBuffer(string: "{}"))
            #expect(Self.json(unsigned)["__type"] as? String == "MissingAuthenticationTokenException")
            let wrong = try SigV4Credentials(accessKeyID: s.admin.accessKeyID, secretAccessKey: "not-the-secret-at-all-000000000000000000")
            let (h1, b1) = try Self.signed("ListKeys", "{}", wrong)
            #expect(Self.json(try await client.execute(uri: "/", method: .post, headers: h1, body: b1))["__type"] as? String == "InvalidSignatureException")
            let (h2, b2) = try Self.signed("ListKeys", "{}", s.admin, date: Date().addingTimeInterval(-600))
            #expect(Self.json(try await client.execute(uri: "/", method: .post, headers: h2, body: b2))["__type"] as? String == "InvalidSignatureException")
            let stranger = try SigV4Credentials(accessKeyID: "AKIAUNKNOWN000000000", secretAccessKey: "x")
            let (h3, b3) = try Self.signed("ListKeys", "{}", stranger)
            #expect(Self.json(try await client.execute(uri: "/", method: .post, headers: h3, body: b3))["__type"] as? String == "UnrecognizedClientException")
            let (h4, b4) = try Self.signed("ListKeys", "{}", s.admin, region: "eu-west-1")
            #expect(Self.json(try await client.execute(uri: "/", method: .post, headers: h4, body: b4))["__type"] as? String == "InvalidSignatureException")
            let (h5, _) = try Self.signed("ListKeys", "{}", s.admin)
            let huge = try await client.execute(uri: "/", method: .post, headers: h5, body: ByteBuffer(repeating: 0x20, count: 70_000))
            #expect(huge.status == .contentTooLarge)
            // The rest of the body is never read: the connection is closed after the answer.
            #expect(huge.headers[.connection] == "close")
        }
    }

    @Test("health and readiness on the KMS listener; metrics only on their own")
    func probes() async throws {
        let s = try await Self.setup(); defer { try? FileManager.default.removeItem(at: s.directory) }
        let app = Application(router: s.server.router())
        try await app.test(.router) { client in
            let health = try await client.execute(uri: "/healthz", method: .get)
            let ready = try await client.execute(uri: "/readyz", method: .get)
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(health.status == .ok && ready.status == .ok)
            #expect(metrics.status == .notFound)
        }
        try await Application(router: s.server.metricsRouter()).test(.router) { client in
            let metrics = try await client.execute(uri: "/metrics", method: .get)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            let kms = try await client.execute(uri: "/", method: .post, body: ByteBuffer(string: "{}"))
            #expect(kms.status == .notFound)
        }
    }
}

@Suite("per-principal rate limit")
struct RateLimitTests {
    // One token every 1,000 s: the test's eight requests cannot earn one back however slow the
    // machine is (at one every 10 s, a loaded CI machine once did), so the counts below are exact. Refilling is tested on the bucket with a clock.
    @Test("over its burst a principal gets ThrottlingException; other principals are not affected")
    func throttling() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("envseal-rate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let home = try await KeyStoreHome.open(directory.path)
        let noisy = try await home.principals.create(name: "noisy", isAdmin: true)
        let quiet = try await home.principals.create(name: "quiet", isAdmin: true)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = KeyServer(engine: home.engine, principals: home.principals,
                               configuration: .init(rateLimit: (perSecond: 0.001, burst: 3)), registry: PrometheusCollectorRegistry(), logger: logger)
        let noisyKey = SigV4Credentials(accessKeyID: noisy.record.accessKeyID, secretAccessKey: noisy.secretAccessKey)
        let quietKey = SigV4Credentials(accessKeyID: quiet.record.accessKeyID, secretAccessKey: quiet.secretAccessKey)
        let app = Application(router: server.router())
        try await app.test(.router) { client in
            var outcomes: [String] = []
            for _ in 0..<8 {
                let (headers, body) = try KeyServerRouterTests.signed("ListKeys", "{}", noisyKey)
                let response = try await client.execute(uri: "/", method: .post, headers: headers, body: body)
                outcomes.append(response.status == .ok ? "ok" : KeyServerRouterTests.json(response)["__type"] as? String ?? "?")
            }
            #expect(outcomes == Array(repeating: "ok", count: 3) + Array(repeating: "ThrottlingException", count: 5), "\(outcomes)")
            let (qh, qb) = try KeyServerRouterTests.signed("ListKeys", "{}", quietKey)
            #expect(try await client.execute(uri: "/", method: .post, headers: qh, body: qb).status == .ok)
        }
    }

    @Test("tokens come back at the configured rate, never beyond the burst")
    func refill() {
        let limiter = PrincipalRateLimiter(rate: 2, burst: 3)
        let start = ContinuousClock.now
        #expect((0..<4).map { _ in limiter.allow("a", now: start) } == [true, true, true, false])
        #expect(!limiter.allow("a", now: start + .milliseconds(400)))
        #expect(limiter.allow("a", now: start + .milliseconds(600)))
        #expect(!limiter.allow("a", now: start + .milliseconds(700)))
        // A long pause refills to the burst and no further.
        let later = start + .seconds(60)
        #expect((0..<4).map { _ in limiter.allow("a", now: later) } == [true, true, true, false])
        #expect(limiter.allow("b", now: later))
    }
}
