import Foundation
import Logging
import Testing
import EnvSeal

/// Records what reaches the wrapped handler: each event, with the handler's own metadata then.
final class EventRecorder: @unchecked Sendable {
    // Why `@unchecked Sendable` is sound: `storage` is only touched under `lock`.
    private let lock = NSLock()
    private var storage: [(event: LogEvent, handlerMetadata: Logger.Metadata)] = []

    var records: [(event: LogEvent, handlerMetadata: Logger.Metadata)] { lock.withLock { storage } }

    func record(_ event: LogEvent, _ metadata: Logger.Metadata) { lock.withLock { storage.append((event, metadata)) } }
}

struct RecordingHandler: LogHandler {
    let recorder: EventRecorder
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) { recorder.record(event, metadata) }
}

struct ConnectionError: Error, CustomStringConvertible {
    let description: String
}

struct Endpoint: CustomStringConvertible, Sendable {
    let description: String
}

@Suite("Redaction: log handler")
struct RedactingLogHandlerTests {
    static let secret = "tok-4f9a-SECRET-value"
    static let encoded = Data(secret.utf8).base64EncodedString()

    static func logger(provider: Logger.MetadataProvider? = nil) throws -> (Logger, EventRecorder) {
        let recorder = EventRecorder()
        let patterns = try RedactionFixture.patterns([("API_TOKEN", secret)])
        var handler = RedactingLogHandler(wrapping: RecordingHandler(recorder: recorder), patterns: patterns)
        handler.metadataProvider = provider
        return (Logger(label: "test", factory: { _ in handler }), recorder)
    }

    static func leaks(_ text: String) -> Bool { text.contains(secret) || text.contains(encoded) }

    @Test("the message and metadata values, nested ones too, are scrubbed; the rest passes through")
    func messageAndMetadata() throws {
        let (logger, recorder) = try Self.logger()
        logger.warning(
            "calling with \(Self.secret) now",
            metadata: [
                "header": "Bearer \(Self.secret)",
                "request": ["auth": ["basic", .string(Self.encoded)], "path": "/v1/items"],
                "endpoint": .stringConvertible(Endpoint(description: "https://u:\(Self.secret)@example.com")),
                "status": "200",
            ],
            source: "client"
        )
        let record = try #require(recorder.records.first)
        let event = record.event
        // Compared outside `#expect`, so that a failure prints no secret.
        let message = event.message.description == "calling with <redacted> now"
        #expect(message)
        let metadata = try #require(event.metadata)
        let leaked = Self.leaks("\(metadata)")
        #expect(!leaked)
        let header = metadata["header"] == "Bearer <redacted>"
        let request = metadata["request"] == ["auth": ["basic", "<redacted>"], "path": "/v1/items"]
        let endpoint = metadata["endpoint"]?.description == "https://u:<redacted>@example.com"
        #expect(header && request && endpoint)
        #expect(metadata["status"] == "200")
        #expect(event.level == .warning)
        #expect(event.source == "client")
        #expect(event.file.hasSuffix("RedactingLogHandlerTests.swift"))
        #expect(event.function == "messageAndMetadata()")
        #expect(event.line > 0)
    }

    @Test("metadata set on the logger is scrubbed before the wrapped handler keeps it")
    func loggerMetadata() throws {
        var (logger, recorder) = try Self.logger()
        logger[metadataKey: "token"] = "\(Self.secret)"
        logger[metadataKey: "user"] = "alice"
        logger.info("hello")
        let record = try #require(recorder.records.first)
        let kept = record.handlerMetadata == ["token": "<redacted>", "user": "alice"]
        let read = logger[metadataKey: "token"] == "<redacted>"
        #expect(kept && read)
    }

    @Test("provided metadata is scrubbed, and the event's own metadata wins over it")
    func providedMetadata() throws {
        let provider = Logger.MetadataProvider { ["trace": "\(Self.secret)", "shared": "provided"] }
        let (logger, recorder) = try Self.logger(provider: provider)
        logger.info("hello", metadata: ["shared": "explicit"])
        let metadata = recorder.records.first?.event.metadata
        let scrubbed = metadata == ["trace": "<redacted>", "shared": "explicit"]
        #expect(scrubbed)
    }

    @Test("the wrapped handler's own provider moves to the redacting handler")
    func wrappedProvider() throws {
        let recorder = EventRecorder()
        var inner = RecordingHandler(recorder: recorder)
        inner.metadataProvider = Logger.MetadataProvider { ["trace": "\(Self.secret)"] }
        let patterns = try RedactionFixture.patterns([("API_TOKEN", Self.secret)])
        let handler = RedactingLogHandler(wrapping: inner, patterns: patterns)
        #expect(handler.metadataProvider != nil)
        Logger(label: "test", factory: { _ in handler }).info("hello")
        let scrubbed = recorder.records.first?.event.metadata == ["trace": "<redacted>"]
        #expect(scrubbed)
    }

    @Test("an error whose description holds a secret is replaced by its scrubbed description")
    func errors() throws {
        let (logger, recorder) = try Self.logger()
        logger.error("failed", error: ConnectionError(description: "refused for \(Self.secret)"))
        logger.error("failed", error: ConnectionError(description: "refused"))
        let errors = recorder.records.map { $0.event.error }
        let scrubbed = (errors[0] as? RedactedError)?.description == "refused for <redacted>"
        #expect(scrubbed)
        #expect((errors[1] as? ConnectionError)?.description == "refused")
    }

    @Test("the level is the wrapped handler's")
    func level() throws {
        var (logger, recorder) = try Self.logger()
        logger.logLevel = .error
        logger.info("dropped")
        logger.error("kept")
        #expect(recorder.records.map(\.event.message.description) == ["kept"])
    }
}
