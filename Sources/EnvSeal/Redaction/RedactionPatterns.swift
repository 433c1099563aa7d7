public import SodiumKit

/// The secrets to scrub from output, compiled once into a matcher that every ``Redactor`` and
/// ``RedactingLogHandler`` shares.
///
/// Each value is registered as it is and in the forms encoders give it: base64 and base64url
/// (wherever the secret sits in the encoded data, so `base64("user:" + secret)` is caught too),
/// URL-encoding, JSON string escaping and hex; a multi-line value also line by line. Values
/// shorter than ``minimumLength`` are not scrubbed and are listed in ``skippedNames``, so the
/// caller can warn about them by name.
///
/// The set is immutable and `Sendable`; the compiled matcher lives in guarded memory
/// (`SecureBytes`) and is zeroed when the last copy of the set goes. It takes about 12 patterns
/// and 6 KB per secret of 30 bytes (``patternCount``, ``compiledByteCount``), and scans log text
/// at about 1 GB/s whether it holds ten secrets or a thousand.
///
/// ```swift
/// let patterns = try RedactionPatterns(secrets: [
///     (name: "DB_PASSWORD", value: try SecureBytes(utf8: "correct horse battery")),
/// ])
/// for name in patterns.skippedNames {
///     print("envseal: warning: \(name) is too short to be scrubbed from output")
/// }
/// patterns.redact("login with correct horse battery")   // login with <redacted>
/// ```
public struct RedactionPatterns: Sendable {
    /// The default ``minimumLength``: 8 bytes.
    ///
    /// Shorter values (`true`, `8080`, `prod`, `eu-west`) turn up in ordinary output by chance, so
    /// scrubbing them would mangle logs and, worse, point at the value: a marker wherever `8080`
    /// used to be tells the reader the secret is `8080`. Eight bytes is also about the shortest a
    /// real credential is.
    public static let defaultMinimumLength = 8

    /// Values shorter than this many bytes are not scrubbed.
    public let minimumLength: Int
    /// What a secret is replaced with.
    public let marker: RedactionMarker
    /// The names whose values are scrubbed, in the order given.
    public let names: [String]
    /// The names whose values are shorter than ``minimumLength`` and so are not scrubbed.
    ///
    /// Warn about each by name; never print the value.
    public let skippedNames: [String]

    let automaton: PatternAutomaton
    /// The marker's bytes for each scrubbed secret, by index in ``names``.
    let markers: [[UInt8]]

    /// Compiles a set of named secrets.
    ///
    /// - Parameters:
    ///   - secrets: Each variable's name and value. A value given twice is matched once, and its
    ///     first name is the one ``RedactionMarker/variableName`` shows.
    ///   - minimumLength: Values shorter than this many bytes are skipped; at least 1.
    ///   - marker: What each secret is replaced with.
    /// - Throws: `SodiumError` when guarded memory cannot be had.
    public init(
        secrets: [(name: String, value: SecureBytes)],
        minimumLength: Int = defaultMinimumLength,
        marker: RedactionMarker = .standard
    ) throws(SodiumError) {
        try self.init(
            named: secrets.map { secret in (secret.name, { body in secret.value.withUnsafeBytes(body) }) },
            minimumLength: minimumLength,
            marker: marker
        )
    }

    /// Compiles a set of named secrets, taken in the order of their names.
    ///
    /// - Parameters:
    ///   - secrets: Values by variable name.
    ///   - minimumLength: Values shorter than this many bytes are skipped; at least 1.
    ///   - marker: What each secret is replaced with.
    /// - Throws: `SodiumError` when guarded memory cannot be had.
    public init(
        secrets: [String: SecureBytes],
        minimumLength: Int = defaultMinimumLength,
        marker: RedactionMarker = .standard
    ) throws(SodiumError) {
        try self.init(
            secrets: secrets.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) },
            minimumLength: minimumLength,
            marker: marker
        )
    }

    /// Compiles a set of named ``Secret`` values, taken in the order of their names.
    ///
    /// ```swift
    /// let patterns = try RedactionPatterns(secrets: ["API_TOKEN": try Secret(token)])
    /// ```
    /// - Parameters:
    ///   - secrets: Values by variable name.
    ///   - minimumLength: Values shorter than this many bytes are skipped; at least 1.
    ///   - marker: What each secret is replaced with.
    /// - Throws: `SodiumError` when guarded memory cannot be had.
    public init<Value>(
        secrets: [String: Secret<Value>],
        minimumLength: Int = defaultMinimumLength,
        marker: RedactionMarker = .standard
    ) throws(SodiumError) {
        try self.init(
            named: secrets.sorted { $0.key < $1.key }.map { entry in
                (entry.key, { body in entry.value.withRevealedBytes(body) })
            },
            minimumLength: minimumLength,
            marker: marker
        )
    }

    private init(
        named secrets: [(String, ((UnsafeRawBufferPointer) -> Void) -> Void)],
        minimumLength: Int,
        marker: RedactionMarker
    ) throws(SodiumError) {
        precondition(minimumLength >= 1, "minimumLength must be at least 1")
        var builder = AutomatonBuilder(minimumLength: minimumLength)
        let scratch = WipedBuffer<UInt8>(capacity: 256)
        var names: [String] = []
        var skipped: [String] = []
        for (name, read) in secrets {
            read { value in
                guard value.count >= minimumLength else {
                    skipped.append(name)
                    return
                }
                let index = names.count
                names.append(name)
                SecretForms.forEach(
                    of: value.bindMemory(to: UInt8.self),
                    minimumLength: minimumLength,
                    scratch: scratch
                ) { form in
                    builder.insert(form, secret: index)
                }
            }
        }
        self.automaton = try builder.build()
        self.minimumLength = minimumLength
        self.marker = marker
        self.names = names
        self.skippedNames = skipped
        self.markers = names.map { marker.bytes(forName: $0) }
    }

    /// How many distinct byte strings are matched: every form of every scrubbed secret.
    public var patternCount: Int { automaton.patternCount }

    /// The size of the compiled matcher in guarded memory, in bytes.
    public var compiledByteCount: Int { automaton.storage.count }

    /// A streaming redactor over this set, for one stream.
    public func makeRedactor() -> Redactor { Redactor(patterns: self) }

    /// Replaces every secret in `text`.
    ///
    /// ```swift
    /// let line = patterns.redact("Authorization: Basic \(credentials)")
    /// ```
    /// - Parameter text: Complete text (for text arriving in pieces, use a ``Redactor``).
    /// - Returns: The text with every match replaced by the marker.
    public func redact(_ text: String) -> String {
        redactedIfFound(text) ?? text
    }

    /// Replaces every secret in `bytes`.
    /// - Parameter bytes: Complete input.
    /// - Returns: The input with every match replaced by the marker.
    public func redact(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBytes { redactEntire($0) } ?? bytes
    }
}

extension RedactionPatterns {
    /// `text` with every secret replaced, or `nil` when it holds none.
    func redactedIfFound(_ text: String) -> String? {
        var text = text
        return text.withUTF8 { utf8 in
            redactEntire(UnsafeRawBufferPointer(utf8)).map { String(decoding: $0, as: UTF8.self) }
        }
    }

    /// A whole input scrubbed at once, or `nil` when it holds no secret.
    func redactEntire(_ input: UnsafeRawBufferPointer) -> [UInt8]? {
        var state = ScanState()
        var found: [FoundMatch] = []
        automaton.withView { view in
            view.scan(input, from: 0, state: &state, endOfInput: true, matches: &found)
        }
        guard !found.isEmpty else { return nil }
        return Redactor.assemble(input, matches: found, upTo: input.count, markers: markers)
    }
}

extension RedactionPatterns: CustomStringConvertible {
    /// Counts and names only.
    public var description: String {
        "RedactionPatterns(\(names.count) secrets, \(patternCount) patterns, skipped: \(skippedNames))"
    }
}
