/// A policy document parsed once, with the document it was parsed from, as the engine's policy
/// caches hold it.
///
/// A class, so that a request's cache lookup retains one reference instead of copying the
/// parsed policy's arrays, set and strings out of the dictionary (and the document beside them),
/// and evaluates the policy where it lies. Immutable, hence `Sendable`.
final class ParsedPolicy<Value: Sendable>: Sendable {
    /// The document `value` was parsed from.
    let json: String
    /// The parsed policy.
    let value: Value

    init(json: String, value: Value) {
        self.json = json
        self.value = value
    }
}
