import Foundation
import Hummingbird
import KMSWire
import KeyService
import Logging
import NIOCore
import SodiumKit

/// `POST /`: authenticates, decodes, dispatches, and answers one KMS request.
struct KMSEndpoint: Sendable {
    let engine: KeyServiceEngine
    let principals: PrincipalDirectory
    let maxBodyBytes: Int
    let logger: Logger
    /// The one line per request, written off the request's task.
    let requestLog: RequestLog
    let verifier: SigV4Verifier
    let rateLimiter: PrincipalRateLimiter?
    /// Whether the server serves TLS: `aws:SecureTransport` of every request.
    let secureTransport: Bool
    /// Each operation's request counter and duration timer.
    let metrics = RequestMetrics()

    init(
        engine: KeyServiceEngine, principals: PrincipalDirectory, maxBodyBytes: Int, logger: Logger, secureTransport: Bool,
        rateLimiter: PrincipalRateLimiter? = nil, requestLog: RequestLog
    ) {
        self.requestLog = requestLog
        self.secureTransport = secureTransport
        self.rateLimiter = rateLimiter
        self.engine = engine
        self.principals = principals
        self.maxBodyBytes = maxBodyBytes
        self.logger = logger
        self.verifier = SigV4Verifier(region: engine.configuration.region, service: "kms")
    }

    /// - Parameter peer: The connection's remote address, the request's `aws:SourceIp`.
    func respond(to incoming: Request, from peer: SocketAddress?) async -> Response {
        let started = ContinuousClock.now
        let requestID = RequestID.make()
        var operationName = "Unknown"
        var principalARN = "-"
        let outcome: String
        let response: Response
        do {
            var request = incoming
            let body: ByteBuffer
            do {
                body = try await request.collectBody(upTo: maxBodyBytes)
            } catch {
                throw RequestFailure(KMSError(.validation, "the request body is larger than \(maxBodyBytes) bytes"), status: .contentTooLarge)
            }
            let bytes = Data(body.readableBytesView)
            // Read before verification, so a repeated one is refused here, not joined into one value.
            guard request.headers[values: Self.targetField].count < 2 else {
                throw RequestFailure(SigV4Verifier.repeatedHeaderError("X-Amz-Target"))
            }
            guard let target = request.headers[Self.targetField] else {
                throw RequestFailure(KMSError(.unknownOperation, "the request has no X-Amz-Target header"))
            }
            guard let operation = KMSOperation(target: target) else {
                throw RequestFailure(KMSError(.unknownOperation, "\(target) is not an operation of this service"))
            }
            operationName = operation.rawValue
            let principal = try await authenticate(request, body: bytes)
            principalARN = principal.arn
            if let rateLimiter, !rateLimiter.allow(principal.arn) {
                throw RequestFailure(KMSError(.throttling, "Rate exceeded"))
            }
            let origin = RequestOrigin(secureTransport: secureTransport, sourceAddress: peer?.ipAddress)
            let output = try await RequestOrigin.$current.withValue(origin) {
                try await engine.handle(operation, body: bytes, by: principal, requestID: requestID)
            }
            response = Self.json(.ok, output, requestID: requestID)
            outcome = "Allowed"
        } catch let failure as RequestFailure {
            var failed = Self.json(failure.status ?? Self.status(failure.error), failure.error.jsonBody(), requestID: requestID)
            // The rest of an oversized body is never read: the connection is closed after this
            // answer rather than left with the client still sending into it.
            if failure.status == .contentTooLarge { failed.headers[.connection] = "close" }
            response = failed
            outcome = failure.error.type.rawValue
        } catch let error as KMSError {
            response = Self.json(Self.status(error), error.jsonBody(), requestID: requestID)
            outcome = error.type.rawValue
        } catch {
            // Never a crash and never details: an unexpected error is logged here and answered 500.
            logger.error("unexpected failure", metadata: ["request_id": "\(requestID)", "error": "\(type(of: error))"])
            let failure = KMSError(.internalFailure, "internal failure; request id \(requestID)")
            response = Self.json(.internalServerError, failure.jsonBody(), requestID: requestID)
            outcome = failure.type.rawValue
        }
        record(operationName, outcome: outcome, started: started)
        requestLog.record(
            requestID: requestID, operation: operationName, principal: principalARN, status: response.status.code,
            outcome: outcome)
        return response
    }

    /// Checks the SigV4 signature and finds the enabled principal behind the access key.
    func authenticate(_ request: Request, body: Data) async throws -> Principal {
        var headers: [SigV4Request.Header] = []
        // HTTP/1.1's first Host header arrives as the request's authority; any further Host
        // stays among the fields, and the verifier refuses the repetition.
        if let authority = request.head.authority {
            headers.append(.init("Host", authority))
        }
        for field in request.headers { headers.append(.init(field.name.canonicalName, field.value)) }
        let signed = SigV4Request(method: request.method.rawValue, path: request.uri.string, headers: headers, body: body)
        let principals = self.principals
        // The record whose secret the signature is checked against: the principal is the one
        // that secret belongs to, with no second look-up that a concurrent change could answer
        // differently.
        var signer: PrincipalRecord?
        let identity = try await verifier.verify(signed, now: Date()) { accessKeyID in
            guard let (record, secret) = try await principals.lookUp(accessKeyID: accessKeyID) else { return nil }
            signer = record
            return secret
        }
        guard let signer, signer.accessKeyID == identity.accessKeyID else {
            throw KMSError(.unrecognizedClient, "The security token included in the request is invalid.")
        }
        return PrincipalDirectory.principal(signer)
    }

    func readiness() async -> Response {
        do {
            try await engine.checkReady()
            return Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ready\n")))
        } catch {
            return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain"],
                            body: .init(byteBuffer: ByteBuffer(string: "key store unavailable\n")))
        }
    }

    func record(_ operation: String, outcome: String, started: ContinuousClock.Instant) {
        let elapsed = ContinuousClock.now - started
        metrics.record(
            operation: operation, outcome: outcome,
            nanoseconds: elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    /// The header names of every request and response, made once (a name is validated and
    /// lowercased when made).
    private static let targetField = HTTPFields.Element.Name("X-Amz-Target")!
    private static let requestIDField = HTTPFields.Element.Name("x-amzn-RequestId")!

    static func status(_ error: KMSError) -> HTTPResponse.Status {
        HTTPResponse.Status(code: error.httpStatus)
    }

    static func json(_ status: HTTPResponse.Status, _ body: Data, requestID: String) -> Response {
        var headers: HTTPFields = [.contentType: KMSJSON.contentType]
        headers[Self.requestIDField] = requestID
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}

/// A KMS error with a status other than its type's (413 for an oversized body).
struct RequestFailure: Error {
    let error: KMSError
    let status: HTTPResponse.Status?
    init(_ error: KMSError, status: HTTPResponse.Status? = nil) {
        self.error = error
        self.status = status
    }
}
