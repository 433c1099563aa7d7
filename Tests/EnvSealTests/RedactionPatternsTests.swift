import Testing
import TestSupport
import EnvSeal

@Suite("Redaction: patterns")
struct RedactionPatternsTests {
    @Test("values shorter than the minimum are skipped and reported by name only")
    func shortValuesSkipped() throws {
        let patterns = try RedactionFixture.patterns(
            [("PORT", "8080"), ("TOKEN", "long-enough-token"), ("FLAG", "true")]
        )
        #expect(patterns.skippedNames == ["PORT", "FLAG"])
        #expect(patterns.names == ["TOKEN"])
        patterns.expect("port 8080 flag true token long-enough-token", becomes: "port 8080 flag true token <redacted>")
        let description = patterns.description
        let namesShown = description.contains("PORT")
        let valuesShown = description.contains("8080") || description.contains("long-enough-token")
        #expect(namesShown && !valuesShown)
    }

    @Test("the minimum length is configurable", arguments: [(4, true), (5, false)])
    func minimumLength(minimum: Int, scrubbed: Bool) throws {
        let patterns = try RedactionFixture.patterns([("PIN", "8080")], minimumLength: minimum)
        patterns.expect("pin 8080", becomes: scrubbed ? "pin <redacted>" : "pin 8080")
        #expect(patterns.skippedNames == (scrubbed ? [] : ["PIN"]))
    }

    @Test("a multi-line secret is caught whole and line by line; short lines are not scrubbed")
    func multiLine() throws {
        let key = "-----BEGIN KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0B\nAQEFAASCBKcwggSjAgEAAo\nend\n-----END KEY-----"
        let patterns = try RedactionFixture.patterns([("KEY", key)])
        patterns.expect("key: \(key) done", becomes: "key: <redacted> done")
        patterns.expect("line MIIEvQIBADANBgkqhkiG9w0B only", becomes: "line <redacted> only")
        patterns.expect("[AQEFAASCBKcwggSjAgEAAo]", becomes: "[<redacted>]")
        patterns.expect("-----BEGIN KEY-----", becomes: "<redacted>")
        patterns.expect("the end", becomes: "the end")
    }

    @Test("among overlapping secrets the longest match at the leftmost start wins")
    func longestWins() throws {
        let patterns = try RedactionFixture.patterns(
            [("SHORT", "abcdefgh"), ("LONG", "abcdefghijkl"), ("OTHER", "fghijklmnop")],
            marker: .variableName
        )
        patterns.expect("x abcdefghijkl y", becomes: "x <redacted:LONG> y")
        patterns.expect("x abcdefghij y", becomes: "x <redacted:SHORT>ij y")
        // Leftmost first: OTHER starts later than LONG, and overlaps it.
        patterns.expect("abcdefghijklmnop", becomes: "<redacted:LONG>mnop")
        patterns.expect("zzfghijklmnop", becomes: "zz<redacted:OTHER>")
    }

    @Test("markers: the standard one, the variable name, a custom text; the same for every encoding")
    func markers() throws {
        let secret = "value-of-the-token"
        let encoded = "dmFsdWUtb2YtdGhlLXRva2Vu"
        let cases: [(RedactionMarker, String)] = [
            (.standard, "<redacted>"), (.variableName, "<redacted:API_TOKEN>"), (.text("***"), "***"),
        ]
        for (marker, text) in cases {
            let patterns = try RedactionFixture.patterns([("API_TOKEN", secret)], marker: marker)
            patterns.expect("\(secret) \(encoded)", becomes: "\(text) \(text)")
        }
    }

    @Test("a value given under two names is matched once, under the first name")
    func duplicateValues() throws {
        let patterns = try RedactionFixture.patterns(
            [("FIRST", "same-value-twice"), ("SECOND", "same-value-twice")],
            marker: .variableName
        )
        patterns.expect("same-value-twice", becomes: "<redacted:FIRST>")
    }

    @Test("no secrets: input passes through unchanged")
    func empty() throws {
        let patterns = try RedactionFixture.patterns([])
        #expect(patterns.patternCount == 0)
        patterns.expect("anything at all ✓", becomes: "anything at all ✓")
        var redactor = patterns.makeRedactor()
        redactor.expect("abc", for: "abc")
        redactor.expectFinish("")
    }

    @Test("built from Secret values and from a dictionary, in the order of the names")
    func otherInitializers() throws {
        let fromSecrets = try RedactionPatterns(
            secrets: ["B_TOKEN": try Secret("second-secret-value"), "A_TOKEN": try Secret("first-secret-value")]
        )
        #expect(fromSecrets.names == ["A_TOKEN", "B_TOKEN"])
        fromSecrets.expect("first-secret-value second-secret-value", becomes: "<redacted> <redacted>")
        let fromBytes = try RedactionPatterns(
            secrets: ["PW": try SecureBytes(utf8: "p@ssw0rd!!"), "PIN": try SecureBytes(utf8: "1234")]
        )
        #expect(fromBytes.skippedNames == ["PIN"])
        fromBytes.expect("p@ssw0rd!!", becomes: "<redacted>")
    }

    @Test("every form is registered, and a thousand secrets compile")
    func manySecrets() throws {
        var rng = SplitMix64(seed: 7)
        let characters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_.")
        let secrets = (0..<1000).map { index in
            ("S\(index)", String((0..<16 + index % 32).map { _ in rng.pick(characters) }))
        }
        let patterns = try RedactionFixture.patterns(secrets)
        #expect(patterns.names.count == 1000)
        #expect(patterns.patternCount > 10 * 1000)
        patterns.expect("a \(secrets[999].1) b \(secrets[0].1)", becomes: "a <redacted> b <redacted>")
    }
}

extension RedactionPatterns {
    /// Records an issue unless redacting `input` gives exactly `expected`; the issue never shows
    /// the output, which may hold a secret.
    func expect(_ input: String, becomes expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        RedactionFixture.expectSame(Array(redact(input).utf8), Array(expected.utf8), sourceLocation: sourceLocation)
    }
}
