import Synchronization

/// A token bucket per principal, so one noisy function cannot starve the rest: each principal
/// may make `rate` requests per second on average, in bursts of up to `burst`. A request over the
/// limit is answered with AWS's `ThrottlingException`, which AWS SDKs and envseal's KMS client
/// back off from and retry.
///
/// Buckets are kept per authenticated principal, so their number is bounded by the principals in
/// the store; unauthenticated requests never reach the limiter.
final class PrincipalRateLimiter: Sendable {
    /// Requests per second, on average.
    let rate: Double
    let burst: Double
    private let buckets = Mutex<[String: (tokens: Double, last: ContinuousClock.Instant)]>([:])

    init(rate: Double, burst: Int) {
        self.rate = rate
        self.burst = Double(max(burst, 1))
    }

    /// Takes one token from `principal`'s bucket; `false` when it is empty.
    func allow(_ principal: String, now: ContinuousClock.Instant = .now) -> Bool {
        buckets.withLock { buckets in
            var bucket = buckets[principal] ?? (tokens: burst, last: now)
            let elapsed = now - bucket.last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * rate)
            bucket.last = now
            let allowed = bucket.tokens >= 1
            if allowed { bucket.tokens -= 1 }
            buckets[principal] = bucket
            return allowed
        }
    }
}
