import Foundation
package import Hummingbird
import HummingbirdCore
import HummingbirdTLS
package import NIOCore
import NIOSSL
import KMSWire
package import KeyService
package import Logging
import Metrics
package import Prometheus
import ServiceLifecycle

/// KeyServer serves the key service over HTTP with the AWS KMS JSON 1.1 protocol.
///
/// `POST /` with `X-Amz-Target: TrentService.<Operation>`, authenticated with AWS Signature
/// Version 4, dispatched to ``KeyService/KeyServiceEngine``. Also `GET /healthz` and `/readyz`;
/// `GET /metrics` (Prometheus) only on a listener of its own, when one is configured. This module
/// is the only one that knows HTTP.
package struct KeyServer: Sendable {
    /// How the server listens and what it limits.
    package struct Configuration: Sendable {
        /// The address to bind.
        package var host: String
        package var port: Int
        /// The largest request body accepted (AWS KMS's largest request is a 32 KB policy).
        package var maxBodyBytes: Int
        /// How often due rotations and deletions are performed.
        package var maintenanceInterval: Duration
        /// PEM files of a certificate chain and its private key, to serve HTTPS; `nil` for HTTP.
        package var tls: (certificateChain: String, privateKey: String)?
        /// Requests per second each principal may make on average, and its largest burst; over
        /// it, `ThrottlingException`. `nil`: no limit.
        package var rateLimit: (perSecond: Double, burst: Int)?
        /// How long a connection may stay silent (between requests, or mid-request) before it is closed.
        package var idleTimeout: Duration = .seconds(30)
        /// How long one request may take to arrive, from its first byte to the end of its body;
        /// past it the client gets 408 and the connection is closed, however steadily it sends.
        package var requestTimeout: Duration
        /// Where to serve `GET /metrics`, on a plain-HTTP listener of its own; `nil`: nowhere.
        /// Metrics are never served on the KMS listener, which anyone who can reach the key
        /// service can reach.
        package var metricsAddress: (host: String, port: Int)?
        /// One successful Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
        /// GenerateDataKeyWithoutPlaintext or GenerateRandom in this many gets its request line at
        /// `info` (1: every one); 0, the default: none, they are logged at `debug`. Failed
        /// requests and every other operation are always logged at `info`.
        package var requestLogSample: Int = 0

        package init(
            host: String = "127.0.0.1", port: Int = 8417, maxBodyBytes: Int = 64 * 1024, maintenanceInterval: Duration = .seconds(60),
            tls: (certificateChain: String, privateKey: String)? = nil, rateLimit: (perSecond: Double, burst: Int)? = nil,
            requestTimeout: Duration = .seconds(20), metricsAddress: (host: String, port: Int)? = nil
        ) {
            self.rateLimit = rateLimit
            self.requestTimeout = requestTimeout
            self.metricsAddress = metricsAddress
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.maintenanceInterval = maintenanceInterval
            self.tls = tls
        }
    }

    let engine: KeyServiceEngine
    let endpoint: KMSEndpoint
    let configuration: Configuration
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let requestLog: RequestLog

    /// Creates a server.
    /// - Parameters:
    ///   - engine: The key service.
    ///   - principals: Where signatures are checked against.
    ///   - configuration: Address and limits.
    ///   - registry: The Prometheus registry that `/metrics` shows; bootstrap swift-metrics with a
    ///     `PrometheusMetricsFactory` over the same registry.
    ///   - logger: Where one line per request goes.
    package init(
        engine: KeyServiceEngine, principals: PrincipalDirectory, configuration: Configuration,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.engine = engine
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        let requestLog = RequestLog(logger: logger, sampleEvery: configuration.requestLogSample)
        self.requestLog = requestLog
        self.endpoint = KMSEndpoint(
            engine: engine, principals: principals, maxBodyBytes: configuration.maxBodyBytes, logger: logger,
            secureTransport: configuration.tls != nil, rateLimiter: configuration.rateLimit.map { PrincipalRateLimiter(rate: $0.perSecond, burst: $0.burst) },
            requestLog: requestLog)
    }

    /// Whether a listening address reaches this machine only: `localhost`, `127.0.0.0/8` or
    /// `::1`. Anything else, a host name included, may be reached from the network.
    /// - Parameter host: The address as given to `--listen`.
    /// - Returns: `true` for a loopback address.
    package static func isLoopback(_ host: String) -> Bool {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if bare.lowercased() == "localhost" || bare == "::1" { return true }
        let octets = bare.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// The routes, for tests that drive them without a socket.
    package func router() -> Router<KeyServerRequestContext> {
        let router = Router(context: KeyServerRequestContext.self)
        let endpoint = self.endpoint
        router.post("/") { request, context in
            await endpoint.respond(to: request, from: context.remoteAddress)
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/readyz") { _, _ in
            await endpoint.readiness()
        }
        return router
    }

    /// The metrics listener's one route, `GET /metrics`.
    package func metricsRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let registry = self.registry
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return router
    }

    /// The application: the HTTP(S) server, the metrics listener if configured, and the
    /// maintenance loop, as one service.
    /// - Parameters:
    ///   - onRunning: Called with the bound port once the server listens.
    ///   - onMetricsRunning: Called with the metrics listener's bound port once it listens.
    /// - Throws: ``KeyServerError`` when the TLS certificate or key cannot be read.
    package func application(
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onMetricsRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some ApplicationProtocol {
        // A connection that sends nothing for idleTimeout (a stuck client) is closed, and so is
        // one whose request takes longer than requestTimeout to arrive (a slow sender), so that
        // neither can hold connections for long.
        let http1 = HTTPServerBuilder.http1(
            idleTimeout: configuration.idleTimeout, requestTimeout: configuration.requestTimeout, logger: logger)
        var server = http1
        if let tls = configuration.tls {
            // TLS is the transport's business: it comes from swift-nio-ssl, not from envseal's
            // own cryptography, which stays libsodium's.
            do {
                let chain = try NIOSSLCertificate.fromPEMFile(tls.certificateChain).map { NIOSSLCertificateSource.certificate($0) }
                let key = try NIOSSLPrivateKey(file: tls.privateKey, format: .pem)
                server = try .tls(http1, tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
            } catch {
                throw KeyServerError(description: "cannot use the TLS certificate \(tls.certificateChain) and key \(tls.privateKey): \(error)")
            }
        }
        var services: [any Service] = [
            MaintenanceService(engine: engine, interval: configuration.maintenanceInterval, logger: logger),
            RequestLogWriter(log: requestLog),
        ]
        if let metrics = configuration.metricsAddress {
            services.append(Application(
                router: metricsRouter(),
                server: .http1(
                    idleTimeout: configuration.idleTimeout, requestTimeout: configuration.requestTimeout, logger: logger),
                configuration: .init(address: .hostname(metrics.host, port: metrics.port), serverName: "envseal"),
                onServerRunning: { channel in await onMetricsRunning(channel.localAddress?.port ?? 0) },
                logger: logger))
        }
        return Application(
            router: router(),
            server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "envseal"),
            services: services,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
}

/// Hummingbird's request context plus the peer's address, which the key policy sees as
/// `aws:SourceIp`.
package struct KeyServerRequestContext: RequestContext, RemoteAddressRequestContext {
    /// Hummingbird's storage.
    package var coreContext: CoreRequestContextStorage
    /// The connection's peer; `nil` when there is no network peer (a test without a socket).
    package let remoteAddress: SocketAddress?

    /// Creates the context of a request on `source`'s connection.
    package init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}

/// A server that cannot start. Never holds a secret.
package struct KeyServerError: Error, Sendable, CustomStringConvertible {
    /// What is wrong.
    package let description: String
}

/// Performs due rotations and deletions on a timer until shutdown.
struct MaintenanceService: Service {
    let engine: KeyServiceEngine
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let done = try await engine.performDueWork()
                if done.rotated + done.destroyed > 0 {
                    logger.info("maintenance", metadata: ["rotated": "\(done.rotated)", "destroyed": "\(done.destroyed)"])
                }
            } catch {
                logger.error("maintenance failed", metadata: ["error": "\(error)"])
            }
            // Sleeps until the next run, or until shutdown begins.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
