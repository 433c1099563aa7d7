import Foundation
import Hummingbird
import KMSWire
import KeyService
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// KeyServer serves the key service over HTTP with the AWS KMS JSON 1.1 protocol.
///
/// `POST /` with `X-Amz-Target: TrentService.<Operation>`, authenticated with AWS Signature
/// Version 4, dispatched to ``KeyService/KeyServiceEngine``. Also `GET /healthz`, `/readyz` and
/// `/metrics` (Prometheus). This module is the only one that knows HTTP.
public struct KeyServer: Sendable {
    /// How the server listens and what it limits.
    public struct Configuration: Sendable {
        /// The address to bind.
        public var host: String
        /// The port to bind.
        public var port: Int
        /// The largest request body accepted (AWS KMS's largest request is a 32 KB policy).
        public var maxBodyBytes: Int
        /// How often due rotations and deletions are performed.
        public var maintenanceInterval: Duration

        /// Creates a configuration.
        public init(host: String = "127.0.0.1", port: Int = 8417, maxBodyBytes: Int = 64 * 1024, maintenanceInterval: Duration = .seconds(60)) {
            self.host = host
            self.port = port
            self.maxBodyBytes = maxBodyBytes
            self.maintenanceInterval = maintenanceInterval
        }
    }

    let engine: KeyServiceEngine
    let endpoint: KMSEndpoint
    let configuration: Configuration
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    /// Creates a server.
    /// - Parameters:
    ///   - engine: The key service.
    ///   - principals: Where signatures are checked against.
    ///   - configuration: Address and limits.
    ///   - registry: The Prometheus registry that `/metrics` shows; bootstrap swift-metrics with a
    ///     `PrometheusMetricsFactory` over the same registry.
    ///   - logger: Where one line per request goes.
    public init(
        engine: KeyServiceEngine, principals: PrincipalDirectory, configuration: Configuration,
        registry: PrometheusCollectorRegistry, logger: Logger
    ) {
        self.engine = engine
        self.configuration = configuration
        self.registry = registry
        self.logger = logger
        self.endpoint = KMSEndpoint(engine: engine, principals: principals, maxBodyBytes: configuration.maxBodyBytes, logger: logger)
    }

    /// The routes, for tests that drive them without a socket.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        let endpoint = self.endpoint
        let registry = self.registry
        router.post("/") { request, _ in
            await endpoint.respond(to: request)
        }
        router.get("/healthz") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain"], body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        router.get("/readyz") { _, _ in
            await endpoint.readiness()
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        return router
    }

    /// The application: the HTTP server plus the maintenance loop, as one service.
    /// - Parameter onRunning: Called with the bound port once the server listens.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            router: router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "envseal"),
            services: [MaintenanceService(engine: engine, interval: configuration.maintenanceInterval, logger: logger)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }
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
