import KMSWire
import Logging
import ServiceLifecycle
import Synchronization

/// The one log line per request, written off the request's task.
///
/// A request hands its line (request id, operation, principal, status, outcome) to a bounded
/// queue and goes on; ``RequestLogWriter`` formats and writes the lines in a task of its own. A
/// full queue, or one whose writer has stopped, costs the request its own write: a line is never
/// dropped.
///
/// Failed requests and the control plane (key, alias, policy, grant and tag operations) are
/// logged at `info`, every one. The high-volume cryptographic operations (Encrypt, Decrypt,
/// ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext, GenerateRandom) are logged at
/// `info` only when they fail, or for one success in ``sampleEvery`` (never when it is 0, every one
/// when it is 1); the others are logged at `debug`. The audit log records every one of them either way.
final class RequestLog: Sendable {
    /// One request's line.
    struct Line: Sendable {
        let requestID: String
        let operation: String
        let principal: String
        let status: Int
        let outcome: String
        let level: Logger.Level
    }

    /// The operations a successful call of which is logged at `info` only when sampled.
    static let sampledOperations: Set<String> = [
        KMSOperation.encrypt.rawValue, KMSOperation.decrypt.rawValue, KMSOperation.reEncrypt.rawValue,
        KMSOperation.generateDataKey.rawValue, KMSOperation.generateDataKeyWithoutPlaintext.rawValue,
        KMSOperation.generateRandom.rawValue,
    ]

    /// How many lines may wait for the writer before a request writes its own.
    static let queueCapacity = 4096

    let logger: Logger
    /// One successful cryptographic operation in this many is logged at `info`; 0: none.
    let sampleEvery: Int
    private let successes = Atomic<Int>(0)
    private let continuation: AsyncStream<Line>.Continuation
    /// The lines waiting for ``RequestLogWriter``.
    let lines: AsyncStream<Line>

    /// Creates a request log.
    /// - Parameters:
    ///   - logger: Where the lines go.
    ///   - sampleEvery: One successful cryptographic operation in this many is logged at `info`
    ///     (1: every one); 0 logs none of them at `info`.
    init(logger: Logger, sampleEvery: Int) {
        self.logger = logger
        self.sampleEvery = max(sampleEvery, 0)
        (lines, continuation) = AsyncStream.makeStream(of: Line.self, bufferingPolicy: .bufferingOldest(Self.queueCapacity))
    }

    /// The level a request's line is logged at.
    /// - Parameters:
    ///   - operation: The operation's name (`Unknown` when the request named none).
    ///   - failed: Whether the request failed.
    func level(operation: String, failed: Bool) -> Logger.Level {
        guard !failed, Self.sampledOperations.contains(operation) else { return .info }
        guard sampleEvery > 0 else { return .debug }
        let count = successes.wrappingAdd(1, ordering: .relaxed).newValue
        return count % sampleEvery == 0 ? .info : .debug
    }

    /// Logs one request: queued for the writer, or written here when the queue is full or closed.
    func record(requestID: String, operation: String, principal: String, status: Int, outcome: String) {
        let level = level(operation: operation, failed: status >= 300)
        // Nothing is built for a line the logger would drop.
        guard logger.logLevel <= level else { return }
        let line = Line(
            requestID: requestID, operation: operation, principal: principal, status: status, outcome: outcome, level: level)
        switch continuation.yield(line) {
        case .enqueued: return
        case .dropped, .terminated: write(line)
        @unknown default: write(line)
        }
    }

    /// Writes one line: `request` with its fields as structured metadata.
    func write(_ line: Line) {
        var metadata = Logger.Metadata(minimumCapacity: 5)
        metadata["request_id"] = .string(line.requestID)
        metadata["operation"] = .string(line.operation)
        metadata["principal"] = .string(line.principal)
        metadata["status"] = .stringConvertible(line.status)
        metadata["outcome"] = .string(line.outcome)
        logger.log(level: line.level, "request", metadata: metadata)
    }

    /// Closes the queue: lines still in it are written by the writer; later ones by their requests.
    func finish() { continuation.finish() }
}

/// Writes the queued lines of a ``RequestLog`` until graceful shutdown or cancellation, then the
/// ones left.
struct RequestLogWriter: Service {
    let log: RequestLog

    func run() async {
        // A task of its own, not a child: cancelling this service must not end the iteration
        // (an AsyncStream drops what it buffers when its reader is cancelled); finishing the
        // stream does, once every queued line is written.
        let lines = log.lines
        let log = self.log
        let writer = Task {
            for await line in lines { log.write(line) }
        }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await writer.value
            } onGracefulShutdown: {
                log.finish()
            }
        } onCancel: {
            log.finish()
        }
    }
}
