@testable import EnvSealCLI
import Testing

/// `audit tail`'s text form: what a caller put in a record cannot break a line, split a field or
/// reach the terminal as a control sequence.
@Suite("audit tail: escaping record text")
struct AuditTextTests {
    @Test("control characters, separators and backslashes are escaped; other text is kept", arguments: [
        ("plain arn:aws:kms é ✓", "", "plain arn:aws:kms é ✓"),
        ("a\tb\nc\rd", "", "a\\tb\\nc\\rd"),
        ("\u{1B}[31m\u{0}\u{7F}", "", "\\x1b[31m\\x00\\x7f"),
        ("\u{9B}2J\u{85}", "", "\\u009b2J\\u0085"),
        ("\u{2028}\u{2029}\u{202E}\u{2066}", "", "\\u2028\\u2029\\u202e\\u2066"),
        ("back\\slash\\n", "", "back\\\\slash\\\\n"),
        ("k,v=w", ",=", "k\\x2cv\\x3dw"),
        ("k,v=w", "", "k,v=w"),
    ])
    func escapes(text: String, also: String, expected: String) {
        #expect(AuditText.escape(text, also: also) == expected)
    }
}
