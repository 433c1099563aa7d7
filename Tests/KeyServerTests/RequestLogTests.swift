@testable import KeyServer
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// The request log: which lines reach `info`, and that none is lost, queued or not.
@Suite("request log")
struct RequestLogTests {
    /// Keeps every line a logger emits.
    final class Captured: Sendable {
        let lines = Mutex<[(level: Logger.Level, message: String, metadata: Logger.Metadata)]>([])

        func logger(level: Logger.Level) -> Logger {
            var logger = Logger(label: "test") { _ in Handler(captured: self) }
            logger.logLevel = level
            return logger
        }

        struct Handler: LogHandler {
            let captured: Captured
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                captured.lines.withLock { $0.append((event.level, "\(event.message)", event.metadata ?? [:])) }
            }
        }
    }

    @Test func failuresAndTheControlPlaneAreLoggedAtInfoCryptoSuccessesAtDebug() {
        let log = RequestLog(logger: Logger(label: "test"), sampleEvery: 0)
        #expect(log.level(operation: "Decrypt", failed: false) == .debug)
        #expect(log.level(operation: "GenerateDataKey", failed: false) == .debug)
        #expect(log.level(operation: "Decrypt", failed: true) == .info)
        #expect(log.level(operation: "CreateKey", failed: false) == .info)
        #expect(log.level(operation: "Unknown", failed: true) == .info)
    }

    @Test func oneCryptoSuccessInNIsSampledAtInfo() {
        let log = RequestLog(logger: Logger(label: "test"), sampleEvery: 3)
        let levels = (0..<9).map { _ in log.level(operation: "Decrypt", failed: false) }
        #expect(levels.filter { $0 == .info }.count == 3)
        let every = RequestLog(logger: Logger(label: "test"), sampleEvery: 1)
        #expect((0..<5).allSatisfy { _ in every.level(operation: "Encrypt", failed: false) == .info })
    }

    @Test func theWriterWritesQueuedLinesAndTheRestAfterShutdown() async throws {
        let captured = Captured()
        let log = RequestLog(logger: captured.logger(level: .info), sampleEvery: 0)
        log.record(requestID: "r1", operation: "Decrypt", principal: "p", status: 400, outcome: "AccessDeniedException")
        log.record(requestID: "r2", operation: "Decrypt", principal: "p", status: 200, outcome: "Allowed")
        log.record(requestID: "r3", operation: "CreateKey", principal: "p", status: 200, outcome: "Allowed")
        // Queued, not yet written: the request did not write them itself.
        #expect(captured.lines.withLock { $0.count } == 0)
        let group = ServiceGroup(services: [RequestLogWriter(log: log)], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while captured.lines.withLock({ $0.count }) < 2 { await Task.yield() }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        // After shutdown, a request writes its own line.
        log.record(requestID: "r4", operation: "Decrypt", principal: "p", status: 500, outcome: "KMSInternalException")
        let lines = captured.lines.withLock { $0 }
        #expect(lines.map { $0.metadata["request_id"]?.description } == ["r1", "r3", "r4"])
        #expect(lines.allSatisfy { $0.level == .info && $0.message == "request" })
        #expect(lines[0].metadata["outcome"]?.description == "AccessDeniedException")
        #expect(lines[0].metadata["status"]?.description == "400")
    }

    @Test func cancellingTheWriterStillWritesTheQueuedLines() async {
        let captured = Captured()
        let log = RequestLog(logger: captured.logger(level: .info), sampleEvery: 1)
        for index in 0..<50 {
            log.record(requestID: "r\(index)", operation: "Decrypt", principal: "p", status: 200, outcome: "Allowed")
        }
        let task = Task { await RequestLogWriter(log: log).run() }
        task.cancel()
        await task.value
        #expect(captured.lines.withLock { $0.count } == 50)
    }

    @Test func aFullQueueIsWrittenByTheRequestNotDropped() {
        let captured = Captured()
        let log = RequestLog(logger: captured.logger(level: .info), sampleEvery: 1)
        let total = RequestLog.queueCapacity + 10
        for index in 0..<total {
            log.record(requestID: "r\(index)", operation: "Decrypt", principal: "p", status: 200, outcome: "Allowed")
        }
        // No writer runs: the ones past the queue's capacity were written by their requests.
        #expect(captured.lines.withLock { $0.count } == 10)
        log.finish()
        log.record(requestID: "late", operation: "Decrypt", principal: "p", status: 200, outcome: "Allowed")
        #expect(captured.lines.withLock { $0.last?.metadata["request_id"]?.description } == "late")
    }
}
