import Dispatch
import KMSWire

/// Work that takes too long for the caller's executor: RSA key generation takes up to seconds.
///
/// The key server runs each connection's requests on the connection's event loop, so work that
/// long would stall every other connection of that loop. It runs on a Dispatch worker instead,
/// and the caller waits for it without holding its thread.
enum OffThread {
    /// Runs `work` on a Dispatch worker thread and returns what it returns.
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws(KMSError) -> T) async throws(KMSError) -> T {
        let result: Result<T, KMSError> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: Result { () throws(KMSError) -> T in try work() })
            }
        }
        return try result.get()
    }
}
