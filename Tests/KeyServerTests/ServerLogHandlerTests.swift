@testable import KeyServer
import Logging
import Synchronization
import Testing

/// The server's log handler: metadata set on it reaches each written line, and the wrapped
/// handler is not touched until a line is written.
@Suite("server log handler")
struct ServerLogHandlerTests {
    /// Counts metadata changes and keeps each line's metadata.
    final class Recorder: Sendable {
        let metadataSets = Atomic<Int>(0)
        let lines = Mutex<[Logger.Metadata]>([])

        struct Handler: LogHandler {
            let recorder: Recorder
            var logLevel: Logger.Level = .trace
            var metadata: Logger.Metadata = [:] {
                didSet { recorder.metadataSets.add(1, ordering: .relaxed) }
            }
            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }
            func log(event: LogEvent) {
                recorder.lines.withLock { $0.append(metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }) }
            }
        }
    }

    @Test func metadataReachesTheLineAndTheLinesOwnWins() {
        let recorder = Recorder()
        var logger = Logger(label: "test") { _ in ServerLogHandler(wrapping: Recorder.Handler(recorder: recorder)) }
        logger[metadataKey: "hb.request.id"] = "7"
        logger[metadataKey: "shared"] = "handler"
        logger.info("request", metadata: ["shared": "line", "status": "200"])
        #expect(recorder.metadataSets.load(ordering: .relaxed) == 0)
        #expect(recorder.lines.withLock { $0 } == [["hb.request.id": "7", "shared": "line", "status": "200"]])
    }

    @Test func aLineWithoutMetadataAnywhereHasNone() {
        let recorder = Recorder()
        let logger = Logger(label: "test") { _ in ServerLogHandler(wrapping: Recorder.Handler(recorder: recorder)) }
        logger.info("plain")
        #expect(recorder.lines.withLock { $0 } == [[:]])
    }

    @Test func theLevelIsTheWrappedHandlers() {
        var handler = ServerLogHandler(wrapping: Recorder.Handler(recorder: Recorder()))
        handler.logLevel = .error
        #expect(handler.logLevel == .error)
    }
}
