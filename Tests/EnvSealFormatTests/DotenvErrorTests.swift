import EnvSealFormat
import Testing

@Suite("Dotenv errors")
struct DotenvErrorTests {
    @Test(
        "Errors report kind, line and column in Unicode scalars",
        arguments: [
            ("A\n", DotenvError.Kind.missingEquals, 1, 2),
            ("A=1\nFOO BAR=1\n", .missingEquals, 2, 5),
            ("A # comment\n", .missingEquals, 1, 3),
            ("1A=x\n", .invalidName, 1, 1),
            ("=x\n", .invalidName, 1, 1),
            ("A$B=1\n", .invalidName, 1, 2),
            ("A: 1\n", .invalidName, 1, 2),
            ("é=1\n", .invalidName, 1, 1),
            ("KEY=-----BEGIN\nMIIEv+abc\n", .invalidName, 2, 6),
            ("A=1\nB=\"abc\nC=2\n", .unterminatedDoubleQuote, 2, 3),
            ("X='abc", .unterminatedSingleQuote, 1, 3),
            ("  Y = `abc\n", .unterminatedBacktickQuote, 1, 7),
            ("A=\"abc\\\"\n", .unterminatedDoubleQuote, 1, 3),
            ("A=\"x\"y\n", .unexpectedCharacterAfterQuote, 1, 6),
            ("A='it''s'\n", .unexpectedCharacterAfterQuote, 1, 7),
            ("A=\"l1\nl2\" x\n", .unexpectedCharacterAfterQuote, 2, 5),
            ("A=\"é🔑\"x\n", .unexpectedCharacterAfterQuote, 1, 7),
            ("\u{FEFF}A=\"x\" y\n", .unexpectedCharacterAfterQuote, 1, 7),
            ("A=1\rB=2\n", .bareCarriageReturn, 1, 4),
            ("\rA=1", .bareCarriageReturn, 1, 1),
            ("A=1\r", .bareCarriageReturn, 1, 4),
            ("A\r", .bareCarriageReturn, 1, 2),
            ("A='x'\r", .bareCarriageReturn, 1, 6),
            ("A=a\u{0}b\n", .nulCharacter, 1, 4),
            ("A=1\n# \u{0}\n", .nulCharacter, 2, 3),
        ]
    )
    func errors(text: String, kind: DotenvError.Kind, line: Int, column: Int) {
        #expect(parseError(text) == DotenvError(kind: kind, line: line, column: column))
    }

    @Test(
        "Invalid UTF-8 is located at the first byte of the bad sequence",
        arguments: [
            ([0x41, 0x3D, 0xFF, 0x0A], 1, 3),
            ([0x41, 0x3D, 0x31, 0x0A, 0x42, 0x3D, 0xC3, 0xA9, 0xC3, 0x28], 2, 4),
            ([0x41, 0x3D, 0xC0, 0xAF], 1, 3),
            ([0x41, 0x3D, 0xED, 0xA0, 0x80], 1, 3),
            ([0x41, 0x3D, 0xF4, 0x90, 0x80, 0x80], 1, 3),
            ([0x41, 0x3D, 0xE2, 0x82], 1, 3),
            ([0x23, 0x20, 0x80], 1, 3),
            ([0xFF, 0xFE, 0x41, 0x00], 1, 1),
            ([0xEF, 0xBB, 0xBF, 0x41, 0x3D, 0xFE], 1, 3),
        ] as [([UInt8], Int, Int)]
    )
    func invalidUTF8(input: [UInt8], line: Int, column: Int) {
        #expect(parseError(input) == DotenvError(kind: .invalidUTF8, line: line, column: column))
    }

    @Test("No error description contains any part of a value")
    func errorsNeverQuoteValues() {
        let canary = "CANARY-7f3a9c-s3cr3t"
        let templates = [
            "A=\"\(canary)", "A='\(canary)", "A=`\(canary)", "A=\"\(canary)\"\(canary)", "A='\(canary)'x",
            "A=\(canary)\r\(canary)", "A=\(canary)\nB=\"\(canary)", "\(canary) \(canary)", "A=\(canary)\n\(canary)+x",
            "A=\"\(canary)\n\(canary)\" \(canary)", "# \(canary)\n\(canary)", "A=\(canary)\u{0}\(canary)",
            "export \(canary) \(canary)", "A=1\n\(canary)", "A=\"\\\"\(canary)\\\"", "\u{FEFF}A='\(canary)'\(canary)",
        ]
        var inputs = templates.map(bytes)
        inputs.append(bytes("A=\(canary)") + [0xFF] + bytes(canary))
        inputs.append(bytes("A='\(canary)") + [0xC3] + bytes(canary) + bytes("'"))
        for input in inputs {
            guard let error = parseError(input) else {
                Issue.record("expected an error for template \(inputs.firstIndex(of: input) ?? -1)")
                continue
            }
            for rendered in [error.description, String(describing: error), String(reflecting: error), "\(error)"] {
                #expect(!rendered.contains("CANARY") && !rendered.contains("s3cr3t") && !rendered.contains("7f3a9c"))
            }
        }
    }

    @Test("Every error kind has a description")
    func errorKindDescriptions() {
        for kind in DotenvError.Kind.allCases { #expect(!kind.description.isEmpty) }
    }
}
