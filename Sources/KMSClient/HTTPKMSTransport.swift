package import AsyncHTTPClient
package import Foundation
package import KMSWire
package import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// Carries KMS requests over HTTP(S), signed with AWS Signature Version 4, with retries and a
/// deadline: to envseal's key server, AWS KMS itself or any KMS-compatible service (moto).
///
/// Each attempt is `POST` to the endpoint with `Content-Type: application/x-amz-json-1.1` and
/// `X-Amz-Target: TrentService.<Operation>`, signed afresh (service `kms`, the configured region;
/// `X-Amz-Security-Token` with a session token). Then:
///
/// - **200**: the body is the answer.
/// - **An error with a KMS error body** (`__type`, or the `x-amzn-ErrorType` header):
///   throttling (`ThrottlingException` and its kin), HTTP 429, 500, 502, 503 and 504
///   (`KMSInternalException`, `ServiceUnavailableException`, …) are retried; any other is thrown
///   at once as the ``KMSError`` the service sent. When the attempts run out, the last one is thrown.
/// - **Anything else**: a retryable status is retried, then ``KMSTransportError/Kind/invalidResponse``
///   naming the endpoint and status; any other status throws that at once.
/// - **No connection, a broken connection, an attempt that times out**: retried.
///
/// Retries wait a random time up to a ceiling that doubles each time ("full jitter", see
/// ``KMSClientConfiguration/RetryPolicy``). Once the configuration's deadline has passed, or
/// the next backoff would pass it, the request ends with
/// ``KMSTransportError/Kind/deadlineExceeded``, or with ``KMSTransportError/Kind/unreachable``
/// (naming the endpoint) when no attempt ever reached the service. Cancelling the calling task
/// stops at once with `CancellationError`.
///
/// The optional logger gets one debug line per retry: operation, attempt, cause and backoff.
/// Bodies, keys and signatures are never logged.
///
/// ```swift
/// let transport = HTTPKMSTransport(configuration: try .resolve(), logger: Logger(label: "kms"))
/// let client = KMSClient(transport: transport)
/// let keys = try await client.call(KMS.ListKeysRequest())
/// ```
package struct HTTPKMSTransport: KMSTransport {
    /// Where requests go, as whom, and how patiently.
    package let configuration: KMSClientConfiguration

    private let httpClient: HTTPClient
    private let logger: Logger?
    private let signer: SigV4Signer
    private let url: String
    private let path: String
    private let host: String

    /// The largest response body accepted (KMS's largest answers, key policies and lists, are
    /// tens of kilobytes).
    static let maxResponseBytes = 4 << 20

    /// The HTTP client of every transport not given one: HTTP/1.1 (as botocore speaks to KMS,
    /// with the signed `Host` header sent as is), redirects not followed (a redirected request
    /// would carry a signature for another host), a failed connection failing its request at once
    /// so that this transport's own backoff and deadline apply, and 3 s to connect. It runs on
    /// one event-loop thread of its own, not on NIO's shared group of one thread per core: a
    /// KMS client's traffic is a few small requests, which one loop multiplexes, and a process
    /// that makes one Decrypt (`envseal exec` at a cold start) should not start and wait for a
    /// thread per core first.
    private static let defaultHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3)), decompression: .disabled)
        configuration.httpVersion = .http1Only
        configuration.connectionPool.retryConnectionEstablishment = false
        // Lives as long as the process, like NIO's shared group: never shut down.
        return HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup(numberOfThreads: 1), configuration: configuration)
    }()

    /// Creates a transport.
    ///
    /// ```swift
    /// let configuration = try KMSClientConfiguration(
    ///     endpoint: "http://127.0.0.1:8417", region: "us-east-1",
    ///     credentials: SigV4Credentials(accessKeyID: id, secretAccessKey: secret))
    /// let transport = HTTPKMSTransport(configuration: configuration)
    /// ```
    /// - Parameters:
    ///   - configuration: Endpoint, region, credentials, retry policy and deadline.
    ///   - httpClient: The client to send with; `nil` for one shared by all transports (see the
    ///     type's documentation). A client of your own should not retry connections itself
    ///   (`retryConnectionEstablishment = false`), or a dead endpoint holds each attempt until it
    ///     times out.
    ///   - logger: Where retries are logged, at debug level; `nil` for silence.
    package init(configuration: KMSClientConfiguration, httpClient: HTTPClient? = nil, logger: Logger? = nil) {
        self.configuration = configuration
        self.httpClient = httpClient ?? Self.defaultHTTPClient
        self.logger = logger
        self.signer = SigV4Signer(region: configuration.region, service: "kms")
        // The configuration has checked the URL: http(s), a host, no query, fragment or user.
        let components = URLComponents(url: configuration.endpoint, resolvingAgainstBaseURL: false)
        let scheme = components?.scheme?.lowercased() ?? "https"
        var host = components?.host ?? ""
        if host.contains(":"), !host.hasPrefix("[") { host = "[\(host)]" }  // IPv6
        if let port = components?.port, port != (scheme == "https" ? 443 : 80) { host += ":\(port)" }
        let path = components?.percentEncodedPath ?? ""
        self.host = host
        self.path = path.isEmpty ? "/" : path
        self.url = "\(scheme)://\(host)\(self.path)"
    }

    /// Sends one request, retrying as the type's documentation says.
    /// - Parameters:
    ///   - operation: The KMS operation.
    ///   - body: The JSON request body.
    /// - Returns: The body of the 200 response.
    /// - Throws: ``KMSError`` as the service sent it; ``KMSTransportError`` of kind `.unreachable`,
    ///   `.deadlineExceeded`, `.invalidResponse` or `.configuration` (the request could not be
    ///   signed); `CancellationError` when the task is cancelled.
    package func send(_ operation: KMSOperation, body: Data) async throws -> Data {
        let clock = ContinuousClock()
        let deadline = clock.now + configuration.deadline
        let policy = configuration.retryPolicy
        var history = History()
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            let now = clock.now
            guard now < deadline else { throw history.deadlineError(endpoint: describedEndpoint, within: configuration.deadline) }
            let request = try signedRequest(operation, body: body)
            let attemptDeadline = min(deadline, now + policy.attemptTimeout)
            let outcome = try await perform(request, until: attemptDeadline)
            let failure: Failure
            switch outcome {
            case .answer(let data): return data
            case .fatal(let error): throw error
            case .retryable(.timeout) where attemptDeadline == deadline:
                // Cut short by the overall deadline: says nothing about the service itself.
                throw history.deadlineError(endpoint: describedEndpoint, within: configuration.deadline)
            case .retryable(let retryable): failure = retryable
            }
            history.record(failure)
            guard attempt < policy.maxAttempts else { throw history.finalError(endpoint: describedEndpoint) }
            let delay = policy.delay(beforeRetry: attempt, random: Double.random(in: 0...1))
            guard clock.now + delay < deadline else {
                throw history.deadlineError(endpoint: describedEndpoint, within: configuration.deadline)
            }
            logger?.debug("retrying KMS request", metadata: [
                "kms_operation": "\(operation.name)", "kms_attempt": "\(attempt)",
                "kms_cause": "\(failure.cause)", "kms_backoff_ms": "\(Self.milliseconds(delay))",
            ])
            try await Task.sleep(for: delay)
        }
    }

    // MARK: - One attempt

    /// What one attempt came to.
    private enum Outcome {
        case answer(Data)
        case fatal(any Error)
        case retryable(Failure)
    }

    /// Why an attempt may be tried again.
    private enum Failure {
        /// The service answered with a KMS error that is worth retrying.
        case service(KMSError, status: UInt)
        /// The service answered with a retryable status and no KMS error.
        case status(UInt)
        /// No connection, or it broke before a response came.
        case connection(String)
        /// The attempt ran out of time.
        case timeout

        /// For the log and error messages: a type, a status or a cause; never a body.
        var cause: String {
            switch self {
            case .service(let error, let status): "\(error.type.rawValue) (HTTP \(status))"
            case .status(let status): "HTTP \(status)"
            case .connection(let cause): cause
            case .timeout: "no answer within the attempt timeout"
            }
        }
    }

    /// What the retries have met so far, to choose the final error.
    private struct History {
        var attempts = 0
        var reachedService = false
        var last: Failure?

        mutating func record(_ failure: Failure) {
            attempts += 1
            last = failure
            if case .connection = failure { return }
            reachedService = true
        }

        /// The attempts ran out.
        func finalError(endpoint: String) -> any Error {
            switch last {
            case .service(let error, _)?:
                return error
            case .status(let status)?:
                return KMSTransportError(.invalidResponse, "the key service at \(endpoint) answered HTTP \(status) "
                    + "without a KMS error, \(attempts) times")
            case .timeout?:
                return KMSTransportError(.deadlineExceeded, "no answer from the key service at \(endpoint) "
                    + "in \(attempts) attempts")
            case .connection(let cause)?:
                return KMSTransportError(.unreachable, "cannot reach the key service at \(endpoint): \(cause)")
            case nil:
                return KMSTransportError(.unreachable, "cannot reach the key service at \(endpoint)")
            }
        }

        /// The deadline passed, or the next backoff would pass it: `.unreachable` when every
        /// attempt so far failed to connect, `.deadlineExceeded` otherwise.
        func deadlineError(endpoint: String, within deadline: Duration) -> KMSTransportError {
            guard reachedService || attempts == 0 else {
                let cause = last.map { ": \($0.cause)" } ?? ""
                return KMSTransportError(.unreachable, "cannot reach the key service at \(endpoint) within "
                    + "\(HTTPKMSTransport.seconds(deadline))\(cause)")
            }
            let cause = last.map { "; last: \($0.cause)" } ?? ""
            return KMSTransportError(.deadlineExceeded, "no answer from the key service at \(endpoint) within "
                + "\(HTTPKMSTransport.seconds(deadline)) (\(attempts) failed attempts\(cause))")
        }
    }

    private var describedEndpoint: String { configuration.endpoint.absoluteString }

    /// The request of one attempt, signed now.
    private func signedRequest(_ operation: KMSOperation, body: Data) throws -> HTTPClientRequest {
        let unsigned = SigV4Request(method: "POST", path: path, headers: [
            .init("Host", host), .init("Content-Type", KMSJSON.contentType), .init("X-Amz-Target", operation.target),
        ], body: body)
        let signed: SigV4Request
        do {
            signed = try signer.sign(unsigned, credentials: configuration.credentials, date: Date())
        } catch {
            throw KMSTransportError(.configuration, "cannot sign the request to \(describedEndpoint): \(error)")
        }
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for header in signed.headers { request.headers.add(name: header.name, value: header.value) }
        // Added after signing, as botocore adds its User-Agent: proxies may rewrite it.
        request.headers.add(name: "User-Agent", value: "envseal-kmsclient")
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    /// Runs one attempt until `deadline`, reading the whole response.
    private func perform(_ request: HTTPClientRequest, until deadline: ContinuousClock.Instant) async throws -> Outcome {
        let client = httpClient
        let remaining = deadline - ContinuousClock.now
        let nioDeadline = NIODeadline.now() + .nanoseconds(Self.nanoseconds(remaining))
        let response: (status: UInt, headers: HTTPHeaders, body: ByteBuffer)
        do {
            // AsyncHTTPClient's deadline covers the wait for the response head only; the race
            // with a timer covers the body too.
            response = try await Self.race(until: deadline) {
                let response = try await client.execute(request, deadline: nioDeadline)
                let body = try await response.body.collect(upTo: Self.maxResponseBytes)
                return (response.status.code, response.headers, body)
            }
        } catch {
            if Task.isCancelled { throw CancellationError() }
            switch error {
            case is AttemptTimedOut:
                return .retryable(.timeout)
            case let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout:
                return .retryable(.timeout)
            case is NIOTooManyBytesError:
                return .fatal(KMSTransportError(.invalidResponse, "the key service at \(describedEndpoint) answered "
                    + "with more than \(Self.maxResponseBytes) bytes"))
            case let error as IOError:
                // A system call's failure (connection refused, reset): its errno in words.
                return .retryable(.connection(String(cString: strerror(error.errnoCode)).lowercased()))
            default:
                // Closed, DNS, TLS: the network's word, which holds no body.
                return .retryable(.connection(String(describing: error)))
            }
        }
        return classify(status: response.status, headers: response.headers, body: Data(response.body.readableBytesView))
    }

    /// A response turned into an answer, an error to throw, or a reason to retry.
    private func classify(status: UInt, headers: HTTPHeaders, body: Data) -> Outcome {
        if status == 200 { return .answer(body) }
        let retryableStatus = [429, 500, 502, 503, 504].contains(status)
        guard let error = Self.kmsError(body: body, headers: headers) else {
            if retryableStatus { return .retryable(.status(status)) }
            return .fatal(KMSTransportError(.invalidResponse, "the key service at \(describedEndpoint) answered "
                + "HTTP \(status) without a KMS error"))
        }
        if retryableStatus || Self.retryableErrorTypes.contains(error.type.rawValue) {
            return .retryable(.service(error, status: status))
        }
        return .fatal(error)
    }

    /// The KMS error in a response: `__type` in the body, or else the `x-amzn-ErrorType` header
    /// (`Type:namespace-url`) with the body's `message`, as botocore reads them.
    static func kmsError(body: Data, headers: HTTPHeaders) -> KMSError? {
        if let error = KMSError(jsonBody: body), !error.type.rawValue.isEmpty { return error }
        guard let header = headers.first(name: "x-amzn-ErrorType") else { return nil }
        let type = KMSErrorType(wireValue: header.trimmingCharacters(in: .whitespaces))
        guard !type.rawValue.isEmpty else { return nil }
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let message = object?["message"] as? String ?? object?["Message"] as? String ?? ""
        return KMSError(type, message)
    }

    /// Error types retried whatever their status: AWS's throttling and transient errors
    /// (botocore's standard retry mode) and KMS's retryable faults.
    static let retryableErrorTypes: Set<String> = [
        "ThrottlingException", "Throttling", "ThrottledException", "RequestThrottledException", "RequestThrottled",
        "TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "BandwidthLimitExceeded",
        "ProvisionedThroughputExceededException", "TransactionInProgressException", "PriorRequestNotComplete",
        "RequestTimeout", "RequestTimeoutException", "InternalFailure", "InternalFailureException",
        "ServiceUnavailable", "ServiceUnavailableException", "KMSInternalException", "DependencyTimeoutException",
    ]

    // MARK: - Helpers

    private struct AttemptTimedOut: Error {}

    /// Runs `body`, giving up with ``AttemptTimedOut`` at `deadline`.
    private static func race<T: Sendable>(
        until deadline: ContinuousClock.Instant, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(until: deadline, clock: .continuous)
                throw AttemptTimedOut()
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
            ? .max : seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }

    static func milliseconds(_ duration: Duration) -> Int64 { nanoseconds(duration) / 1_000_000 }

    static func seconds(_ duration: Duration) -> String {
        let milliseconds = milliseconds(duration)
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : "\(Double(milliseconds) / 1000) s"
    }
}
