import Foundation
import Hummingbird
@testable import KMSClient
import KMSWire
import Logging
import SodiumKit
import Testing

/// The transport against a scripted local server: retries, errors, deadlines, signatures.
@Suite("HTTP transport")
struct HTTPKMSTransportTests {
    static let accessKeyID = "AKIDSCRIPTEDTEST0001"
    static let secret = "scripted-test-secret-0000000000000000000"

    static func credentials(sessionToken: String? = nil) throws -> SigV4Credentials {
        try SigV4Credentials(accessKeyID: accessKeyID, secretAccessKey: secret, sessionToken: sessionToken)
    }

    /// A transport to `port` with quick backoff, so that tests do not wait.
    static func transport(
        port: Int, maxAttempts: Int = 5, deadline: Duration = .seconds(10), attemptTimeout: Duration = .seconds(5),
        sessionToken: String? = nil, logger: Logger? = nil
    ) throws -> HTTPKMSTransport {
        let configuration = try KMSClientConfiguration(
            endpoint: "http://127.0.0.1:\(port)", region: "us-east-1", credentials: credentials(sessionToken: sessionToken),
            retryPolicy: .init(maxAttempts: maxAttempts, attemptTimeout: attemptTimeout, baseDelay: .milliseconds(20),
                               maxDelay: .milliseconds(100)),
            deadline: deadline)
        return HTTPKMSTransport(configuration: configuration, logger: logger)
    }

    static let listKeys = #"{"Keys":[],"Truncated":false}"#

    @Test("throttled twice, then 200: succeeds on the third attempt, each attempt signed afresh")
    func throttledThenSucceeds() async throws {
        try await ScriptedKMSServer.run([
            .error("ThrottlingException", "Rate exceeded"), .error("ThrottlingException", "Rate exceeded"), .ok(Self.listKeys),
        ]) { port, recorder in
            let client = KMSClient(transport: try Self.transport(port: port))
            let response = try await client.call(KMS.ListKeysRequest())
            #expect(response.keys == [])
            #expect(recorder.requests.count == 3)
            let verifier = SigV4Verifier(region: "us-east-1")
            let secret = try SecureBytes(utf8: Self.secret)
            for request in recorder.requests {
                let identity = try await verifier.verify(request) { $0 == Self.accessKeyID ? secret : nil }
                #expect(identity.accessKeyID == Self.accessKeyID)
            }
        }
    }

    @Test("the request is a KMS JSON 1.1 POST that the server's SigV4 verifier accepts")
    func requestShapeAndSignature() async throws {
        try await ScriptedKMSServer.run([.ok(#"{"KeyId":"k","Plaintext":"aGVsbG8="}"#)]) { port, recorder in
            let body = Data(#"{"CiphertextBlob":"AAAA"}"#.utf8)
            let answer = try await Self.transport(port: port).send(.decrypt, body: body)
            #expect(String(decoding: answer, as: UTF8.self) == #"{"KeyId":"k","Plaintext":"aGVsbG8="}"#)
            let request = try #require(recorder.requests.first)
            #expect(request.method == "POST" && request.path == "/")
            #expect(request.firstValue(for: "X-Amz-Target") == "TrentService.Decrypt")
            #expect(request.firstValue(for: "Content-Type") == "application/x-amz-json-1.1")
            #expect(request.firstValue(for: "Host") == "127.0.0.1:\(port)")
            #expect(request.body == Array(body))
            #expect(request.firstValue(for: "X-Amz-Security-Token") == nil)
            let authorization = try #require(request.firstValue(for: "Authorization"))
            #expect(authorization.contains("/us-east-1/kms/aws4_request"))
            #expect(authorization.contains("SignedHeaders=content-type;host;x-amz-date;x-amz-target,"))
            let secret = try SecureBytes(utf8: Self.secret)
            let identity = try await SigV4Verifier(region: "us-east-1").verify(request) { $0 == Self.accessKeyID ? secret : nil }
            #expect(identity.credentialScope.hasSuffix("/us-east-1/kms/aws4_request"))
            // The same request under another secret must not verify: the check can fail.
            let other = try SecureBytes(utf8: "another-secret-00000000000000000000000000")
            await #expect(throws: KMSError.self) {
                _ = try await SigV4Verifier(region: "us-east-1").verify(request) { _ in other }
            }
        }
    }

    @Test("a session token is sent as X-Amz-Security-Token and signed")
    func sessionToken() async throws {
        try await ScriptedKMSServer.run([.ok(Self.listKeys)]) { port, recorder in
            _ = try await Self.transport(port: port, sessionToken: "session-token-value").send(.listKeys, body: Data("{}".utf8))
            let request = try #require(recorder.requests.first)
            #expect(request.firstValue(for: "X-Amz-Security-Token") == "session-token-value")
            #expect(request.firstValue(for: "Authorization")?.contains(";x-amz-security-token;") == true)
        }
    }

    @Test("400 ValidationException is thrown at once as the KMSError sent, after one attempt")
    func clientErrorNotRetried() async throws {
        try await ScriptedKMSServer.run([.error("ValidationException", "1 validation error detected")]) { port, recorder in
            let error = await #expect(throws: KMSError.self) {
                _ = try await Self.transport(port: port).send(.listKeys, body: Data("{}".utf8))
            }
            #expect(error == KMSError(.validation, "1 validation error detected"))
            #expect(recorder.requests.count == 1)
        }
    }

    @Test("NotFoundException (404) with a namespaced __type is thrown as sent, not retried")
    func namespacedTypeNotRetried() async throws {
        try await ScriptedKMSServer.run([
            .error("com.amazonaws.kms#NotFoundException", "Alias alias/x is not found.", status: 404),
        ]) { port, recorder in
            let error = await #expect(throws: KMSError.self) {
                _ = try await Self.transport(port: port).send(.describeKey, body: Data(#"{"KeyId":"alias/x"}"#.utf8))
            }
            #expect(error?.type == .notFound)
            #expect(recorder.requests.count == 1)
        }
    }

    @Test("the x-amzn-ErrorType header gives the type when the body has no __type")
    func errorTypeHeader() async throws {
        let reply = ScriptedKMSServer.Reply(
            status: 400, body: #"{"message":"Key 'k' does not exist"}"#,
            headers: [("x-amzn-ErrorType", "NotFoundException:http://internal.amazon.com/coral/com.amazonaws.kms/")])
        try await ScriptedKMSServer.run([reply]) { port, recorder in
            let error = await #expect(throws: KMSError.self) {
                _ = try await Self.transport(port: port).send(.describeKey, body: Data("{}".utf8))
            }
            #expect(error == KMSError(.notFound, "Key 'k' does not exist"))
            #expect(recorder.requests.count == 1)
        }
    }

    @Test("500 KMSInternalException and 429 without a KMS body are retried")
    func serverErrorsRetried() async throws {
        try await ScriptedKMSServer.run([
            .error("KMSInternalException", "internal", status: 500),
            ScriptedKMSServer.Reply(status: 429, body: "slow down"),
            ScriptedKMSServer.Reply(status: 502, body: "<html>bad gateway</html>"),
            .ok(Self.listKeys),
        ]) { port, recorder in
            _ = try await Self.transport(port: port).send(.listKeys, body: Data("{}".utf8))
            #expect(recorder.requests.count == 4)
        }
    }

    @Test("when attempts run out, the last retryable KMSError is thrown")
    func attemptsRunOut() async throws {
        try await ScriptedKMSServer.run([.error("ThrottlingException", "Rate exceeded")]) { port, recorder in
            let error = await #expect(throws: KMSError.self) {
                _ = try await Self.transport(port: port, maxAttempts: 3).send(.listKeys, body: Data("{}".utf8))
            }
            #expect(error?.type == .throttling)
            #expect(recorder.requests.count == 3)
        }
    }

    @Test("a status without a KMS error is .invalidResponse naming endpoint and status")
    func invalidResponse() async throws {
        try await ScriptedKMSServer.run([ScriptedKMSServer.Reply(status: 403, body: "<html>forbidden</html>")]) { port, recorder in
            let error = await #expect(throws: KMSTransportError.self) {
                _ = try await Self.transport(port: port).send(.listKeys, body: Data("{}".utf8))
            }
            #expect(error?.kind == .invalidResponse)
            #expect(error?.message.contains("127.0.0.1:\(port)") == true && error?.message.contains("403") == true)
            #expect(error?.message.contains("forbidden") == false)
            #expect(recorder.requests.count == 1)
        }
        try await ScriptedKMSServer.run([ScriptedKMSServer.Reply(status: 503, body: "busy")]) { port, recorder in
            let error = await #expect(throws: KMSTransportError.self) {
                _ = try await Self.transport(port: port, maxAttempts: 2).send(.listKeys, body: Data("{}".utf8))
            }
            #expect(error?.kind == .invalidResponse && error?.message.contains("503") == true)
            #expect(recorder.requests.count == 2)
        }
    }

    @Test("always 503 with a short deadline: .deadlineExceeded, after several attempts")
    func deadlineExceeded() async throws {
        try await ScriptedKMSServer.run([.error("ServiceUnavailableException", "busy", status: 503)]) { port, recorder in
            let started = ContinuousClock.now
            let error = await #expect(throws: KMSTransportError.self) {
                _ = try await Self.transport(port: port, maxAttempts: 1000, deadline: .seconds(6))
                    .send(.listKeys, body: Data("{}".utf8))
            }
            #expect(error?.kind == .deadlineExceeded)
            // Backoff starts at 100 ms and is capped at 2 s, so 6 s leave room for several
            // attempts even when a first connection on a loaded machine takes seconds.
            #expect(recorder.requests.count > 1)
            #expect(ContinuousClock.now - started < .seconds(15))
        }
    }

    @Test("a server that never answers: the attempt timeout and the deadline end the wait")
    func hangingServer() async throws {
        let router = Router()
        router.post("/") { _, _ -> Response in
            try await Task.sleep(for: .seconds(3))
            return Response(status: .ok)
        }
        try await ScriptedKMSServer.serve(router: router) { port in
            let started = ContinuousClock.now
            let error = await #expect(throws: KMSTransportError.self) {
                _ = try await Self.transport(port: port, deadline: .seconds(1), attemptTimeout: .milliseconds(300))
                    .send(.listKeys, body: Data("{}".utf8))
            }
            #expect(error?.kind == .deadlineExceeded)
            #expect(ContinuousClock.now - started < .seconds(4))
        }
    }

    @Test("a closed port: .unreachable naming the endpoint")
    func unreachable() async throws {
        let port = try closedLocalPort()
        let error = await #expect(throws: KMSTransportError.self) {
            _ = try await Self.transport(port: port, maxAttempts: 3).send(.listKeys, body: Data("{}".utf8))
        }
        // A refused connection is `.unreachable`; on a machine so loaded that an attempt's own
        // timeout fires first, it is `.deadlineExceeded`. Both name the endpoint (and the CLI
        // maps both to exit 69).
        #expect(error?.kind == .unreachable || error?.kind == .deadlineExceeded)
        #expect(error?.message.contains("http://127.0.0.1:\(port)") == true)
        // Also when the deadline, not the attempt count, ends the retries. On a loaded machine the
        // deadline can cut a connect attempt short, which then counts as a timeout: either kind
        // is right, as long as it names the endpoint.
        let late = await #expect(throws: KMSTransportError.self) {
            _ = try await Self.transport(port: port, maxAttempts: 1000, deadline: .milliseconds(500))
                .send(.listKeys, body: Data("{}".utf8))
        }
        #expect(late?.kind == .unreachable || late?.kind == .deadlineExceeded)
        #expect(late?.message.contains("127.0.0.1:\(port)") == true)
    }

    @Test("retries are logged at debug level with operation, attempt and cause, never a body or a secret")
    func retryLogging() async throws {
        let capture = TestLog.Capture()
        try await ScriptedKMSServer.run([
            .error("ThrottlingException", "Rate exceeded"), .ok(#"{"Plaintext":"cmVzcG9uc2Utc2VjcmV0"}"#),
        ]) { port, _ in
            let transport = try Self.transport(port: port, logger: TestLog.capturing(capture))
            _ = try await transport.send(.decrypt, body: Data(#"{"CiphertextBlob":"cmVxdWVzdC1ib2R5"}"#.utf8))
        }
        let lines = capture.lines
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasPrefix("debug "))
        #expect(line.contains("Decrypt") && line.contains("kms_attempt=1") && line.contains("ThrottlingException"))
        for forbidden in ["cmVxdWVzdC1ib2R5", "cmVzcG9uc2Utc2VjcmV0", Self.secret, "Rate exceeded", "Signature="] {
            #expect(!line.contains(forbidden))
        }
    }

    @Test("the full-jitter backoff stays under a ceiling that doubles up to the maximum")
    func backoffCeiling() {
        let policy = KMSClientConfiguration.RetryPolicy(baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        #expect(policy.maxAttempts == 5 && policy.attemptTimeout == .seconds(5))
        let ceilings = (1...6).map { policy.delay(beforeRetry: $0, random: 1) }
        #expect(ceilings == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .seconds(1), .seconds(1)])
        #expect(policy.delay(beforeRetry: 3, random: 0) == .zero)
        #expect(policy.delay(beforeRetry: 3, random: 0.5) == .milliseconds(200))
        #expect(policy.delay(beforeRetry: 1000, random: 1) == .seconds(1))
        #expect(KMSClientConfiguration.RetryPolicy(maxAttempts: 0).maxAttempts == 1)
        #expect(KMSClientConfiguration.RetryPolicy.none.maxAttempts == 1)
    }
}
