public import Logging

/// A swift-log handler that scrubs every secret from a log event, then hands it to another
/// handler.
///
/// It scrubs the message, every metadata value (inside nested dictionaries and arrays too), the
/// metadata from the metadata provider, the logger's own metadata (when it is set) and the
/// description of an attached error, using the secrets and encodings of a ``RedactionPatterns``.
/// Level, source, file, function and line pass through unchanged.
///
/// Install it once at start-up:
///
/// ```swift
/// let patterns = try RedactionPatterns(secrets: environment.secrets)
/// LoggingSystem.bootstrap { label in
///     RedactingLogHandler(wrapping: StreamLogHandler.standardError(label: label), patterns: patterns)
/// }
/// ```
///
/// or with ``bootstrap(patterns:metadataProvider:wrapping:)``.
public struct RedactingLogHandler: LogHandler {
    /// The secrets scrubbed.
    public let patterns: RedactionPatterns
    /// The provider of contextual metadata; what it provides is scrubbed.
    public var metadataProvider: Logger.MetadataProvider?
    private var wrapped: any LogHandler

    /// Wraps a handler.
    ///
    /// The wrapped handler's metadata provider moves to this handler, so that what it provides is
    /// scrubbed before the wrapped handler sees it.
    /// - Parameters:
    ///   - handler: The handler that writes the scrubbed events.
    ///   - patterns: The secrets to scrub.
    public init(wrapping handler: any LogHandler, patterns: RedactionPatterns) {
        var handler = handler
        self.patterns = patterns
        metadataProvider = handler.metadataProvider
        if metadataProvider != nil { handler.metadataProvider = nil }
        if !handler.metadata.isEmpty { handler.metadata = Self.scrub(handler.metadata, patterns) }
        wrapped = handler
    }

    /// The wrapped handler's metadata; values are scrubbed when set.
    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = Self.scrub(newValue, patterns) }
    }

    /// One metadata value of the wrapped handler; scrubbed when set.
    /// - Parameter key: The metadata key.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue.map { Self.scrub($0, patterns) } }
    }

    /// The wrapped handler's level.
    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    /// Scrubs the event and passes it to the wrapped handler.
    ///
    /// Provided metadata is merged under the event's own, as swift-log's handlers do, and the
    /// result is passed as the event's metadata.
    /// - Parameter event: The event as logged.
    public func log(event: LogEvent) {
        var event = event
        let message = event.message.description
        if let scrubbed = patterns.redactedIfFound(message) {
            event.message = Logger.Message(stringLiteral: scrubbed)
        }
        var metadata = event.metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty {
            metadata = provided.merging(metadata ?? [:]) { _, explicit in explicit }
        }
        if let metadata, !metadata.isEmpty {
            event.metadata = Self.scrub(metadata, patterns)
        }
        if let error = event.error, let scrubbed = patterns.redactedIfFound("\(error)") {
            event.error = RedactedError(description: scrubbed)
        }
        wrapped.log(event: event)
    }

    static func scrub(_ metadata: Logger.Metadata, _ patterns: RedactionPatterns) -> Logger.Metadata {
        metadata.mapValues { scrub($0, patterns) }
    }

    static func scrub(_ value: Logger.Metadata.Value, _ patterns: RedactionPatterns) -> Logger.Metadata.Value {
        switch value {
        case .string(let text):
            return patterns.redactedIfFound(text).map { .string($0) } ?? value
        case .stringConvertible(let convertible):
            guard let scrubbed = patterns.redactedIfFound(convertible.description) else { return value }
            var replaced = Logger.Metadata.Value.string(scrubbed)
            let attributes = value.attributes
            if attributes != Logger.MetadataValueAttributes() { replaced.attributes = attributes }
            return replaced
        case .dictionary(let dictionary):
            return .dictionary(scrub(dictionary, patterns))
        case .array(let array):
            return .array(array.map { scrub($0, patterns) })
        }
    }
}

extension RedactingLogHandler {
    /// Bootstraps swift-log so that every logger scrubs `patterns`; call it once, at start-up.
    ///
    /// ```swift
    /// RedactingLogHandler.bootstrap(patterns: patterns)
    /// ```
    /// - Parameters:
    ///   - patterns: The secrets to scrub.
    ///   - metadataProvider: Contextual metadata for every logger; scrubbed too.
    ///   - factory: Makes the handler that writes, for a logger label; standard error by default.
    public static func bootstrap(
        patterns: RedactionPatterns,
        metadataProvider: Logger.MetadataProvider? = nil,
        wrapping factory: @escaping @Sendable (String) -> any LogHandler = { StreamLogHandler.standardError(label: $0) }
    ) {
        LoggingSystem.bootstrap(
            { label, provider in
                var handler = RedactingLogHandler(wrapping: factory(label), patterns: patterns)
                handler.metadataProvider = provider
                return handler
            },
            metadataProvider: metadataProvider
        )
    }
}

/// Stands in for an error logged with a ``RedactingLogHandler`` whose description held a secret:
/// the description, scrubbed.
public struct RedactedError: Error, CustomStringConvertible {
    /// The original error's description with every secret replaced by the marker.
    public let description: String
}
