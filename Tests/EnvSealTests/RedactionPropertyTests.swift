import Testing
import TestSupport
@testable import EnvSeal

// MARK: - A simple reference, and helpers the redaction tests share

/// The specification of redaction, written as plainly as possible: at each position take the
/// longest pattern that starts there (a pattern shared by two secrets belongs to the first), else
/// copy one byte.
struct ReferenceRedactor {
    /// Every pattern once, with its secret's index, longest first.
    let patterns: [(bytes: [UInt8], secret: Int)]
    let markers: [[UInt8]]

    /// The pattern set as `RedactionPatterns` registers it, from the same `SecretForms`.
    init(secrets: [(String, [UInt8])], minimumLength: Int, marker: RedactionMarker) {
        var seen: [[UInt8]: Int] = [:]
        var ordered: [(bytes: [UInt8], secret: Int)] = []
        var markers: [[UInt8]] = []
        let scratch = WipedBuffer<UInt8>()
        for (name, value) in secrets where value.count >= minimumLength {
            let index = markers.count
            markers.append(marker.bytes(forName: name))
            value.withUnsafeBufferPointer { buffer in
                SecretForms.forEach(of: buffer, minimumLength: minimumLength, scratch: scratch) { form in
                    let bytes = Array(form)
                    if seen[bytes] == nil {
                        seen[bytes] = index
                        ordered.append((bytes, index))
                    }
                }
            }
        }
        // Longest first; among equal lengths, the order of registration.
        patterns = ordered.enumerated()
            .sorted { ($0.element.bytes.count, -$0.offset) > ($1.element.bytes.count, -$1.offset) }
            .map(\.element)
        self.markers = markers
    }

    func redact(_ text: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < text.count {
            if let match = patterns.first(where: { text[index...].starts(with: $0.bytes) }) {
                output += markers[match.secret]
                index += match.bytes.count
            } else {
                output.append(text[index])
                index += 1
            }
        }
        return output
    }

    /// The length of the longest suffix of `text` that is a proper prefix of some pattern.
    func longestLiveSuffix(of text: [UInt8]) -> Int {
        let longest = patterns.first?.bytes.count ?? 0
        for length in stride(from: min(text.count, longest - 1), through: 1, by: -1) {
            let suffix = text.suffix(length)
            if patterns.contains(where: { $0.bytes.count > length && $0.bytes.starts(with: suffix) }) { return length }
        }
        return 0
    }
}

enum RedactionFixture {
    static func patterns(
        _ secrets: [(String, String)],
        minimumLength: Int = RedactionPatterns.defaultMinimumLength,
        marker: RedactionMarker = .standard
    ) throws -> RedactionPatterns {
        try RedactionPatterns(
            secrets: secrets.map { (name: $0.0, value: try SecureBytes(utf8: $0.1)) },
            minimumLength: minimumLength,
            marker: marker
        )
    }

    /// Feeds `input` in pieces cut at `cuts` (sorted offsets), then finishes.
    static func stream(
        _ patterns: RedactionPatterns,
        _ input: [UInt8],
        cuts: [Int]
    ) -> (output: [UInt8], pieces: [[UInt8]], held: [Int]) {
        var redactor = patterns.makeRedactor()
        var pieces: [[UInt8]] = []
        var held: [Int] = []
        var start = 0
        for cut in cuts + [input.count] {
            pieces.append(redactor.redact(Array(input[start..<cut])))
            held.append(redactor.heldBackByteCount)
            start = cut
        }
        pieces.append(redactor.finish())
        return (pieces.flatMap { $0 }, pieces, held)
    }

    /// Records an issue unless `actual == expected`, saying where they differ and showing neither.
    static func expectSame(
        _ actual: [UInt8],
        _ expected: [UInt8],
        _ comment: String = "",
        sourceLocation: SourceLocation
    ) {
        guard let index = firstDifference(actual, expected) else { return }
        Issue.record("output differs from the expected one at byte \(index) \(comment)", sourceLocation: sourceLocation)
    }

    /// Where two byte strings first differ, to report a failure without printing either.
    static func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
        a.indices.first { $0 >= b.count || a[$0] != b[$0] } ?? (a.count == b.count ? nil : a.count)
    }
}

// MARK: - Property tests

@Suite("Redaction: random inputs against the reference")
struct RedactionPropertyTests {
    /// Random secrets over a small alphabet (so they overlap and share prefixes), and text made of
    /// random bytes and of whole, partial and encoded forms of those secrets.
    static func makeCase(
        _ rng: inout SplitMix64,
        alphabet: [[UInt8]]
    ) -> (secrets: [(String, [UInt8])], minimumLength: Int, text: [UInt8]) {
        let minimumLength = rng.int(3...6)
        let secrets: [(String, [UInt8])] = (0..<rng.int(1...5)).map { index in
            ("S\(index)", (0..<rng.int(2...12)).flatMap { _ in rng.pick(alphabet) })
        }
        let reference = ReferenceRedactor(secrets: secrets, minimumLength: minimumLength, marker: .standard)
        var text: [UInt8] = []
        for _ in 0..<rng.int(0...30) {
            switch rng.int(0...3) {
            case 0 where !reference.patterns.isEmpty:
                // Whole patterns mostly, else a piece cut between two characters.
                let pattern = rng.pick(reference.patterns).bytes
                let boundaries = (0...pattern.count).filter { $0 == pattern.count || pattern[$0] & 0xC0 != 0x80 }
                let from = rng.chance(0.7) ? 0 : rng.pick(boundaries)
                let to = rng.chance(0.7) ? pattern.count : rng.pick(boundaries.filter { $0 >= from })
                text += pattern[from..<to]
            default:
                for _ in 0..<rng.int(1...4) { text += rng.pick(alphabet) }
            }
        }
        return (secrets, minimumLength, text)
    }

    static func randomCuts(_ rng: inout SplitMix64, count: Int) -> [Int] {
        guard count > 0 else { return [] }
        return Set((0..<rng.int(0...6)).map { _ in rng.int(0...count) }).sorted()
    }

    @Test("ASCII: streamed in random pieces, output equals the reference, holdback never more than needed",
          arguments: 0..<8)
    func ascii(batch: Int) throws {
        var rng = SplitMix64(seed: 0x5EC2E7 &+ UInt64(batch))
        let alphabet = "abc:+/= ".utf8.map { [$0] }
        for iteration in 0..<60 {
            let (secrets, minimumLength, text) = Self.makeCase(&rng, alphabet: alphabet)
            let patterns = try RedactionPatterns(
                secrets: secrets.map { (name: $0.0, value: try SecureBytes(copying: $0.1)) },
                minimumLength: minimumLength
            )
            let reference = ReferenceRedactor(secrets: secrets, minimumLength: minimumLength, marker: .standard)
            let expected = reference.redact(text)
            let oneShot = patterns.redact(text)
            let place = "batch \(batch) case \(iteration)"
            #expect(RedactionFixture.firstDifference(oneShot, expected) == nil, "one-shot, \(place)")
            let cuts = Self.randomCuts(&rng, count: text.count)
            let streamed = RedactionFixture.stream(patterns, text, cuts: cuts)
            #expect(RedactionFixture.firstDifference(streamed.output, expected) == nil, "streamed, \(place)")
            for (cut, held) in zip(cuts + [text.count], streamed.held) {
                #expect(held <= reference.longestLiveSuffix(of: Array(text[..<cut])), "holdback, \(place)")
            }
        }
    }

    @Test("UTF-8: every piece is valid UTF-8 and the whole equals the reference", arguments: 0..<4)
    func utf8(batch: Int) throws {
        var rng = SplitMix64(seed: 0x07F8 &+ UInt64(batch))
        let alphabet = ["a", "b", "é", "😀", "€", " ", "\""].map { Array($0.utf8) }
        for iteration in 0..<40 {
            let (secrets, minimumLength, text) = Self.makeCase(&rng, alphabet: alphabet)
            let patterns = try RedactionPatterns(
                secrets: secrets.map { (name: $0.0, value: try SecureBytes(copying: $0.1)) },
                minimumLength: minimumLength
            )
            let reference = ReferenceRedactor(secrets: secrets, minimumLength: minimumLength, marker: .standard)
            let expected = reference.redact(text)
            let byteByByte = RedactionFixture.stream(patterns, text, cuts: Array(0..<text.count))
            let random = RedactionFixture.stream(patterns, text, cuts: Self.randomCuts(&rng, count: text.count))
            for streamed in [byteByByte, random] {
                let difference = RedactionFixture.firstDifference(streamed.output, expected)
                #expect(difference == nil, "batch \(batch) case \(iteration)")
                let invalid = streamed.pieces.filter { String(validating: $0, as: UTF8.self) == nil }.count
                #expect(invalid == 0, "pieces cutting a character, batch \(batch) case \(iteration)")
            }
        }
    }
}
