package import Logging

/// A log handler that keeps the metadata set on it as it is, and hands it to the handler it wraps
/// only with a line to write.
///
/// swift-log's `StreamLogHandler` formats its whole metadata every time a key is set, and
/// Hummingbird sets a request id on the logger of every request: a server that writes no line for
/// a successful request still paid for that formatting on each one. Wrapping it in this handler
/// moves the work to the lines actually written, which come out the same.
package struct ServerLogHandler: LogHandler {
    private var wrapped: any LogHandler

    /// Metadata set on this handler, given to the wrapped one with each line.
    package var metadata: Logger.Metadata = [:]

    /// Wraps `handler`, whose own metadata stays as it is.
    /// - Parameter handler: The handler that writes the lines.
    package init(wrapping handler: any LogHandler) {
        wrapped = handler
    }

    package var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    package var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    package subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    package func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty {
            // The line's own metadata wins over the handler's, as with any handler.
            event.metadata = metadata.merging(event.metadata ?? [:]) { _, explicit in explicit }
        }
        wrapped.log(event: event)
    }
}
