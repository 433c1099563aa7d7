import Foundation
import Testing
import EnvSeal

@Suite("Redaction: streaming")
struct RedactionStreamingTests {
    static let secret = "hunter2-Sw0rdfish-éé-😀-tail"
    static let text = "start ✓ user=alice password=\(secret) and again \(secret)✓ base64 "
        + "\(Data(secret.utf8).base64EncodedString()) end"
    static let expected = "start ✓ user=alice password=<redacted> and again <redacted>✓ base64 <redacted> end"

    @Test("a secret split across two writes is caught at every split position")
    func everySplit() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", Self.secret)])
        let input = Array(Self.text.utf8)
        var failures: [Int] = []
        for cut in 0...input.count {
            let streamed = RedactionFixture.stream(patterns, input, cuts: [cut])
            if streamed.output != Array(Self.expected.utf8) { failures.append(cut) }
        }
        #expect(failures.isEmpty, "wrong output when split at \(failures)")
    }

    @Test("byte by byte: same output, and every piece emitted is valid UTF-8")
    func byteByByte() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", Self.secret)])
        let input = Array(Self.text.utf8)
        let streamed = RedactionFixture.stream(patterns, input, cuts: Array(0..<input.count))
        let exact = streamed.output == Array(Self.expected.utf8)
        let difference = RedactionFixture.firstDifference(streamed.output, Array(Self.expected.utf8))
        #expect(exact, "byte-by-byte output differs at \(difference ?? -1)")
        let invalid = streamed.pieces.indices.filter { String(validating: streamed.pieces[$0], as: UTF8.self) == nil }
        #expect(invalid.isEmpty, "pieces \(invalid) cut a character")
    }

    @Test("the String overloads carry state from one write to the next")
    func stringPieces() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", Self.secret)])
        var redactor = patterns.makeRedactor()
        let halves = [String(Self.text.prefix(40)), String(Self.text.dropFirst(40))]
        let output = halves.map { redactor.redact($0) }.joined() + String(decoding: redactor.finish(), as: UTF8.self)
        let exact = output == Self.expected
        #expect(exact)
    }

    @Test("bytes that cannot begin a pattern are emitted at once; a possible beginning is held back, no more")
    func minimalHoldback() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", "Sw0rdfish-42")])
        var redactor = patterns.makeRedactor()
        // `#` and space begin no form of this secret (nor do its base64, hex, URL or JSON forms).
        redactor.expect("## # ", for: "## # ")
        #expect(redactor.heldBackByteCount == 0)
        redactor.expect("# ", for: "# Sw0rd")
        #expect(redactor.heldBackByteCount == 5)
        redactor.expect("", for: "fi")
        #expect(redactor.heldBackByteCount == 7)
        // Not the secret after all: everything goes out.
        redactor.expect("Sw0rdfi#", for: "#")
        #expect(redactor.heldBackByteCount == 0)
        // The whole secret, then a byte that ends it: the marker goes out at once.
        redactor.expect("<redacted>#", for: "Sw0rdfish-42#")
        #expect(redactor.heldBackByteCount == 0)
        redactor.expectFinish("")
    }

    @Test("a complete secret that no longer secret extends is emitted without waiting for more input")
    func completeMatchNotHeld() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", "Sw0rdfish-42")])
        var redactor = patterns.makeRedactor()
        redactor.expect("x <redacted>", for: "x Sw0rdfish-42")
        #expect(redactor.heldBackByteCount == 0)
    }

    @Test("a partial character is held back until it is complete, even with nothing to scrub")
    func partialCharacterHeld() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", "Sw0rdfish-42")])
        var redactor = patterns.makeRedactor()
        let euro = Array("€".utf8)
        redactor.expect("#", for: Array("#".utf8) + euro.prefix(2))
        #expect(redactor.heldBackByteCount == 2)
        redactor.expect("€#", for: Array(euro.suffix(1)) + Array("#".utf8))
    }

    @Test("finish emits what was held back and readies the redactor for another stream")
    func finishFlushes() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", "Sw0rdfish-42")])
        var redactor = patterns.makeRedactor()
        redactor.expect("tail ", for: "tail Sw0rd")
        redactor.expectFinish("Sw0rd")
        #expect(redactor.heldBackByteCount == 0)
        redactor.expect("fish-42 <redacted>", for: "fish-42 Sw0rdfish-42")
        redactor.expectFinish("")
    }

    @Test("filter(_:) and finish() behave as redact(_:) and finish()")
    func filterShape() throws {
        let patterns = try RedactionFixture.patterns([("PASSWORD", "Sw0rdfish-42")])
        var redactor = patterns.makeRedactor()
        let input = Array("a Sw0rdfish-42 b Sw0rd".utf8)
        var output = input.withUnsafeBytes { redactor.filter($0) }
        output += redactor.finish()
        let exact = output == Array("a <redacted> b Sw0rd".utf8)
        #expect(exact)
    }

    @Test("large input in uneven chunks")
    func largeChunks() throws {
        let patterns = try RedactionFixture.patterns([("A", "first-secret-value"), ("B", "second/secret+value")])
        let line = "2025-01-01T00:00:00Z INFO request path=/api/v1/users status=200 token=first-secret-value\n"
        let input = Array(String(repeating: line, count: 2000).utf8)
        let scrubbedLine = line.replacingOccurrences(of: "first-secret-value", with: "<redacted>")
        let expected = Array(String(repeating: scrubbedLine, count: 2000).utf8)
        let cuts = Array(stride(from: 0, to: input.count, by: 4093))
        let streamed = RedactionFixture.stream(patterns, input, cuts: cuts)
        let exact = streamed.output == expected
        #expect(exact, "output differs at \(RedactionFixture.firstDifference(streamed.output, expected) ?? -1)")
    }
}

extension Redactor {
    /// Writes `input` and records an issue unless exactly `expected` comes out. The issue says
    /// where the output differs and never shows it: it may hold a secret.
    mutating func expect(_ expected: String, for input: String, sourceLocation: SourceLocation = #_sourceLocation) {
        expect(expected, for: Array(input.utf8), sourceLocation: sourceLocation)
    }

    mutating func expect(_ expected: String, for input: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        RedactionFixture.expectSame(redact(input), Array(expected.utf8), sourceLocation: sourceLocation)
    }

    /// Finishes and records an issue unless exactly `expected` comes out.
    mutating func expectFinish(_ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        RedactionFixture.expectSame(finish(), Array(expected.utf8), sourceLocation: sourceLocation)
    }
}
