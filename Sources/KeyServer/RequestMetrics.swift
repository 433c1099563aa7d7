import Metrics
import Synchronization

/// The request counter and duration timer of each operation and outcome, made once and kept.
///
/// Making a `Counter` or `Timer` asks the metrics factory, which looks the series up in its
/// registry by label and dimensions every time; a server answering thousands of requests a second
/// asks once per series instead.
final class RequestMetrics: Sendable {
    private struct Series: Hashable {
        let operation: String
        let outcome: String
    }

    private let counters = Mutex<[Series: Counter]>([:])
    private let timers = Mutex<[String: Timer]>([:])

    /// Counts one request and records how long it took.
    /// - Parameters:
    ///   - operation: The operation's name (`Unknown` when the request named none).
    ///   - outcome: `Allowed` or the error's type.
    ///   - nanoseconds: The request's duration.
    func record(operation: String, outcome: String, nanoseconds: Int64) {
        let series = Series(operation: operation, outcome: outcome)
        let counter = counters.withLock { cached in
            if let counter = cached[series] { return counter }
            let made = Counter(label: "envseal_requests_total", dimensions: [("operation", operation), ("outcome", outcome)])
            cached[series] = made
            return made
        }
        counter.increment()
        let timer = timers.withLock { cached in
            if let timer = cached[operation] { return timer }
            let made = Timer(label: "envseal_request_duration_seconds", dimensions: [("operation", operation)])
            cached[operation] = made
            return made
        }
        timer.recordNanoseconds(nanoseconds)
    }
}
