/// Scrubs secrets from a byte stream written in pieces: a child process's output, a log file.
///
/// One redactor per stream. Each ``redact(_:)-(UnsafeRawBufferPointer)`` call returns what can be
/// emitted now and holds back only the trailing bytes that may still be the start of a secret
/// (the longest suffix of the input that is a proper prefix of some registered form), so a secret
/// split across two writes is caught. It never cuts a UTF-8 character in two: a partial character
/// at the end of a write waits for the rest. Call ``finish()`` at the end of the stream.
///
/// All secrets and their encodings are found in one pass over the input: a prefilter skips the
/// bytes where no form can begin, and an Aho–Corasick automaton reads the rest. Where matches
/// overlap, the one that starts first wins, and of those the longest, as in a left-to-right
/// search and replace. The work is linear in the input (a secret that overlaps itself, such as
/// `aaaaaaab`, can make some bytes be read again, at most the length of its longest form per match).
///
/// ```swift
/// var redactor = patterns.makeRedactor()
/// while let chunk = try pipe.read() {
///     try output.write(redactor.redact(chunk))
/// }
/// try output.write(redactor.finish())
/// ```
///
/// Its ``filter(_:)`` and ``finish()`` fit a byte-stream filter protocol of that shape.
public struct Redactor: Sendable {
    private let patterns: RedactionPatterns
    /// Input not yet emitted: the held-back tail of the previous writes.
    private var pending: [UInt8] = []
    private var state = ScanState()
    private var found: [FoundMatch] = []

    /// A redactor at the start of a stream.
    /// - Parameter patterns: The secrets to scrub.
    public init(patterns: RedactionPatterns) {
        self.patterns = patterns
    }

    /// How many input bytes are held back, waiting for the next write or ``finish()``.
    public var heldBackByteCount: Int { pending.count }

    /// Scrubs the next piece of the stream.
    ///
    /// - Parameter chunk: The next bytes of the stream.
    /// - Returns: What can be emitted now: all input up to the bytes that may still begin a
    ///   secret, with every secret replaced by the marker. When the input and the secrets are
    ///   valid UTF-8, so is every returned piece.
    public mutating func redact(_ chunk: UnsafeRawBufferPointer) -> [UInt8] {
        process(chunk, endOfInput: false)
    }

    /// Scrubs the next piece of the stream.
    /// - Parameter chunk: The next bytes of the stream.
    /// - Returns: What can be emitted now (see ``redact(_:)-(UnsafeRawBufferPointer)``).
    public mutating func redact(_ chunk: [UInt8]) -> [UInt8] {
        chunk.withUnsafeBytes { process($0, endOfInput: false) }
    }

    /// Scrubs the next piece of a text stream.
    /// - Parameter chunk: The next text of the stream.
    /// - Returns: What can be emitted now; whole characters only.
    public mutating func redact(_ chunk: String) -> String {
        var chunk = chunk
        let bytes = chunk.withUTF8 { process(UnsafeRawBufferPointer($0), endOfInput: false) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Scrubs the next piece of the stream: the same as ``redact(_:)-(UnsafeRawBufferPointer)``.
    /// - Parameter bytes: The next bytes of the stream.
    /// - Returns: What can be emitted now.
    public mutating func filter(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        process(bytes, endOfInput: false)
    }

    /// Ends the stream: scrubs and returns everything held back, and makes the redactor ready
    /// for a new stream.
    /// - Returns: The rest of the output.
    public mutating func finish() -> [UInt8] {
        let rest = process(UnsafeRawBufferPointer(start: nil, count: 0), endOfInput: true)
        state = ScanState()
        return rest
    }

    private mutating func process(_ chunk: UnsafeRawBufferPointer, endOfInput: Bool) -> [UInt8] {
        let resume = pending.count
        pending.append(contentsOf: chunk)
        var state = self.state
        // Moved out rather than copied, so that clearing it reuses its storage.
        var found: [FoundMatch] = []
        swap(&found, &self.found)
        found.removeAll(keepingCapacity: true)
        defer { self.found = found }
        let automaton = patterns.automaton
        let (output, emitted): ([UInt8], Int) = pending.withUnsafeBytes { buffer in
            let safeEnd: Int = automaton.withView { view in
                view.scan(buffer, from: resume, state: &state, endOfInput: endOfInput, matches: &found)
                if endOfInput { return buffer.count }
                return min(state.candidate?.start ?? buffer.count, buffer.count - view.liveLength(state.node))
            }
            let end = endOfInput
                ? safeEnd : Self.characterBoundary(in: buffer, before: safeEnd, after: found.last?.end ?? 0)
            return (Self.assemble(buffer, matches: found, upTo: end, markers: patterns.markers), end)
        }
        if emitted > 0 {
            let remaining = pending.count - emitted
            pending.withUnsafeMutableBytes { buffer in
                if remaining > 0 {
                    buffer.baseAddress!.copyMemory(from: buffer.baseAddress! + emitted, byteCount: remaining)
                }
                // The vacated bytes may hold a secret that was just scrubbed.
                buffer[remaining...].initializeMemory(as: UInt8.self, repeating: 0)
            }
            pending.removeLast(emitted)
            state.anchor -= emitted
            if var candidate = state.candidate {
                candidate.start -= emitted
                candidate.end -= emitted
                state.candidate = candidate
            }
        }
        self.state = state
        return output
    }

    /// The input up to `end`, each match replaced by its secret's marker.
    static func assemble(
        _ input: UnsafeRawBufferPointer,
        matches: [FoundMatch],
        upTo end: Int,
        markers: [[UInt8]]
    ) -> [UInt8] {
        var output: [UInt8] = []
        var copied = 0
        output.reserveCapacity(end + matches.count * (markers.first?.count ?? 0))
        for match in matches {
            output.append(contentsOf: input[copied..<match.start])
            output.append(contentsOf: markers[match.secret])
            copied = match.end
        }
        output.append(contentsOf: input[copied..<end])
        return output
    }

    /// `end`, moved back to the start of a UTF-8 character that `end` would cut, but never before
    /// `floor` (the end of the last replaced match).
    private static func characterBoundary(in buffer: UnsafeRawBufferPointer, before end: Int, after floor: Int) -> Int {
        guard end > floor, buffer[end - 1] >= 0x80 else { return end }
        var lead = end - 1
        while lead > floor, lead > end - 4, buffer[lead] & 0xC0 == 0x80 { lead -= 1 }
        let byte = buffer[lead]
        let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : byte >= 0xC0 ? 2 : 1
        return byte & 0xC0 != 0x80 && end - lead < length ? lead : end
    }
}
