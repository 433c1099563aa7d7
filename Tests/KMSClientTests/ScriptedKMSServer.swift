import Foundation
import HTTPTypes
import Hummingbird
import KMSWire
import Logging
import NIOCore
import Synchronization

/// A local HTTP server that answers `POST /` from a script and records what it received.
///
/// It binds 127.0.0.1 on a port the system picks and lives only inside ``run(_:_:)``.
struct ScriptedKMSServer {
    /// One scripted answer.
    struct Reply: Sendable {
        var status: Int
        var body: String
        var headers: [(String, String)] = []

        /// A KMS error as AWS sends it.
        static func error(_ type: String, _ message: String, status: Int = 400) -> Reply {
            Reply(status: status, body: #"{"__type":"\#(type)","message":"\#(message)"}"#,
                  headers: [("Content-Type", KMSJSON.contentType)])
        }

        /// A 200 with a JSON body.
        static func ok(_ body: String) -> Reply {
            Reply(status: 200, body: body, headers: [("Content-Type", KMSJSON.contentType)])
        }
    }

    /// What the server has seen, shared with the test.
    final class Recorder: Sendable {
        private let state = Mutex<[SigV4Request]>([])
        private let replies: [Reply]

        init(_ replies: [Reply]) {
            self.replies = replies
        }

        /// Every request received, as SigV4 sees it.
        var requests: [SigV4Request] { state.withLock { $0 } }

        /// Records a request and picks its reply: the next in the script, the last one forever after.
        func reply(to request: SigV4Request) -> Reply {
            let index = state.withLock { requests in
                requests.append(request)
                return requests.count - 1
            }
            return replies[min(index, replies.count - 1)]
        }
    }

    /// Runs a server that answers with `replies` in order (the last one repeated), for the time of `body`.
    /// - Parameters:
    ///   - replies: The answers, at least one.
    ///   - body: Gets the port and the recorder.
    static func run<T: Sendable>(
        _ replies: [Reply], _ body: @Sendable (_ port: Int, _ recorder: Recorder) async throws -> T
    ) async throws -> T {
        let recorder = Recorder(replies)
        let router = Router()
        router.post("/") { request, _ -> Response in
            var request = request
            let bytes = try await request.collectBody(upTo: 1 << 20)
            var headers: [SigV4Request.Header] = []
            // HTTP/1.1's Host header arrives as the request's authority.
            if let authority = request.head.authority { headers.append(.init("Host", authority)) }
            for field in request.headers { headers.append(.init(field.name.canonicalName, field.value)) }
            let received = SigV4Request(
                method: request.method.rawValue, path: request.uri.string, headers: headers,
                body: Array(bytes.readableBytesView))
            let reply = recorder.reply(to: received)
            var fields = HTTPFields()
            for (name, value) in reply.headers { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
            return Response(
                status: .init(code: reply.status), headers: fields,
                body: .init(byteBuffer: ByteBuffer(string: reply.body)))
        }
        return try await serve(router: router) { port in try await body(port, recorder) }
    }

    /// Serves `router` on 127.0.0.1 for the time of `body`.
    static func serve<T: Sendable>(
        router: Router<BasicRequestContext>, _ body: @Sendable (_ port: Int) async throws -> T
    ) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router,
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
            logger: TestLog.quiet)
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask {
                try await app.runService(gracefulShutdownSignals: [])
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next(), port > 0 else { throw ServerFailed() }
            let result = try await body(port)
            group.cancelAll()
            return result
        }
    }

    struct ServerFailed: Error {}
}

/// Loggers for tests: a silent one, and one that keeps what it is given.
enum TestLog {
    static let quiet: Logger = {
        var logger = Logger(label: "kmsclient-tests")
        logger.logLevel = .critical
        return logger
    }()

    /// A logger whose lines (message and metadata, one string each) land in `capture`.
    static func capturing(_ capture: Capture, level: Logger.Level = .trace) -> Logger {
        var logger = Logger(label: "kmsclient-tests") { _ in CapturingHandler(capture: capture) }
        logger.logLevel = level
        return logger
    }

    /// Log lines, each as `message key=value …`.
    final class Capture: Sendable {
        private let state = Mutex<[String]>([])
        var lines: [String] { state.withLock { $0 } }
        func append(_ line: String) { state.withLock { $0.append(line) } }
    }

    struct CapturingHandler: LogHandler {
        let capture: Capture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            let fields = all.keys.sorted().map { "\($0)=\(all[$0]!)" }.joined(separator: " ")
            capture.append("\(event.level) \(event.message) \(fields)")
        }
    }
}

/// A port on 127.0.0.1 that nothing listens on: bound by the system, then closed.
func closedLocalPort() throws -> Int {
    #if canImport(Glibc)
    let stream = Int32(SOCK_STREAM.rawValue)
    #else
    let stream = SOCK_STREAM
    #endif
    let fd = socket(AF_INET, stream, 0)
    guard fd >= 0 else { throw ScriptedKMSServer.ServerFailed() }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
        }
    }
    guard bound else { throw ScriptedKMSServer.ServerFailed() }
    return Int(UInt16(bigEndian: address.sin_port))
}
