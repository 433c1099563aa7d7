import EnvSealFormat
import Testing

@Suite("Dotenv parsing and rendering")
struct DotenvTests {
    // MARK: - Structure and round trip

    @Test("An empty file has no elements, renders empty and defaults to LF")
    func emptyFile() throws {
        let file = try DotenvFile.parse("")
        #expect(file.elements.isEmpty)
        #expect(file.render().isEmpty)
        #expect(file.lineEnding == "\n")
        #expect(!file.hasByteOrderMark)
        #expect(file == DotenvFile())
    }

    @Test("An assignment keeps every raw piece of its line")
    func rawPieces() throws {
        let file = try DotenvFile.parse("  export\t KEY = value  # note\r\n")
        let assignment = try #require(file.assignments.first)
        #expect(assignment.leadingWhitespace == "  ")
        #expect(assignment.exportPrefix == "export\t ")
        #expect(assignment.name == "KEY")
        #expect(assignment.separator == " = ")
        #expect(assignment.rawValue == "value")
        #expect(assignment.trailing == "  # note")
        #expect(bytes(assignment.lineEnding) == bytes("\r\n"))
        #expect(assignment.value == "value")
        #expect(assignment.quoting == .none)
        #expect(assignment.isExported)
        #expect(assignment.line == 1)
    }

    @Test(
        "Files round-trip byte for byte",
        arguments: [
            "",
            "A=1",
            "A=1\n",
            "\n\n\n",
            "# only a comment",
            "  # indented comment\n\t\n",
            "KEY = value\n",
            "export  A=1\r\n",
            "A=abc # note\nB='x' # note\nC=\"y\"# note\nD=`z`   \n",
            "A=\"multi\nline\"\r\nB='also\r\nmulti'\n",
            "\u{FEFF}A=1\r\n",
            "A=1\nB=2\r\nC=3",
            "A=  spaced value  \t\n",
            "A=\"\\n\\t\\\\\\\"\\$\\q\"\n",
            "URL=\"https://example.com/#frag\" # docs\n",
            "EMOJI=🔑\nNAME='日本語'\n",
            "A=\nB= \nC= # c\n",
        ]
    )
    func roundTrip(_ text: String) throws {
        let file = try DotenvFile.parse(text)
        #expect(file.render() == bytes(text))
        #expect(bytes(file.renderString()) == bytes(text))
    }

    @Test("Parsing a String, an Array and an ArraySlice gives the same file")
    func parseEntryPoints() throws {
        let text = "\u{FEFF}A=1\r\nB='x'\n"
        let fromString = try DotenvFile.parse(text)
        #expect(try DotenvFile.parse(bytes(text)) == fromString)
        #expect(try DotenvFile.parse(bytes("xx" + text).dropFirst(2)) == fromString)
        #expect(fromString.hasByteOrderMark)
        #expect(fromString.renderString().unicodeScalars.first == "\u{FEFF}")
    }

    @Test("Line numbers count the lines of multi-line values and trivia")
    func lineNumbers() throws {
        let file = try DotenvFile.parse("A=1\n# c\nB=\"x\r\ny\nz\"\r\n\nC=3")
        #expect(file.elements.map(\.line) == [1, 2, 3, 6, 7])
        #expect(file.assignments.map(\.line) == [1, 3, 7])
    }

    // MARK: - Names and export

    @Test(
        "export is a prefix only when a name follows it",
        arguments: [
            ("export A=1", "A", true),
            ("export\tA=1", "A", true),
            ("export   A = 1", "A", true),
            ("export=1", "export", false),
            ("export =1", "export", false),
            ("export export=1", "export", true),
            ("exporter=1", "exporter", false),
            ("EXPORT A=1x", "", false),
        ]
    )
    func exportPrefix(text: String, name: String, exported: Bool) throws {
        if name.isEmpty {
            #expect(parseError(text)?.kind == .missingEquals)
            return
        }
        let assignment = try #require(try DotenvFile.parse(text).assignments.first)
        #expect(assignment.name == name)
        #expect(assignment.isExported == exported)
    }

    @Test("Names allow letters, digits, underscores, dots and dashes")
    func validNames() throws {
        let file = try DotenvFile.parse("_=1\na.b-c_D9=2\nA1=3\n")
        #expect(file.names == ["_", "a.b-c_D9", "A1"])
        for name in ["A", "_", "a.b", "A-B", "x9", "_9"] { #expect(DotenvFile.isValidName(name), "\(name)") }
        for name in ["", "9A", ".A", "-A", "A B", "A=B", "é", "A$", "export A", "A\n"] {
            #expect(!DotenvFile.isValidName(name), "\(name)")
        }
    }

    // MARK: - Values

    @Test(
        "Unquoted values are trimmed and end at a # that follows whitespace",
        arguments: [
            ("A=value", "value"),
            ("A = value", "value"),
            ("A=  hello world \t", "hello world"),
            ("A=abc#def", "abc#def"),
            ("A=abc #def", "abc"),
            ("A=abc\t# def", "abc"),
            ("A=#def", "#def"),
            ("A= #def", ""),
            ("A=", ""),
            ("A=   ", ""),
            ("A=b=c==", "b=c=="),
            ("A=it's \"fine\"", "it's \"fine\""),
            ("A=${HOME}/x", "${HOME}/x"),
            ("A=C:\\path\\n", "C:\\path\\n"),
            ("A=postgres://u:p@h:5432/db?ssl=true#frag", "postgres://u:p@h:5432/db?ssl=true#frag"),
            ("A=héllo wörld 🌍", "héllo wörld 🌍"),
        ]
    )
    func unquotedValues(text: String, value: String) throws {
        let assignment = try #require(try DotenvFile.parse(text).assignments.first)
        #expect(bytes(assignment.value) == bytes(value))
        #expect(assignment.quoting == .none)
    }

    @Test(
        "Quoted values decode by their quoting",
        arguments: [
            ("A='x \\n $HOME ${B} \\\\ # y'", "x \\n $HOME ${B} \\\\ # y", DotenvFile.Quoting.single),
            ("A='say \"hi\"'", "say \"hi\"", .single),
            ("A=''", "", .single),
            ("A=\"a\\nb\\tc\\rd\\\\e\\\"f\\$g\"", "a\nb\tc\rd\\e\"f$g", .double),
            ("A=\"\\a\\x\\u0041\\'\\`\"", "\\a\\x\\u0041\\'\\`", .double),
            ("A=\"$HOME ${USER}\"", "$HOME ${USER}", .double),
            ("A=\"abc # not a comment\"", "abc # not a comment", .double),
            ("A=\"C:\\\\\"", "C:\\", .double),
            ("A=\"\"", "", .double),
            ("A=\"it's `x`\"", "it's `x`", .double),
            ("A=`it's \"x\" \\n`", "it's \"x\" \\n", .backtick),
            ("A=``", "", .backtick),
            ("A = 'spaced'  ", "spaced", .single),
            ("A=\"日本語 🔑\"", "日本語 🔑", .double),
        ]
    )
    func quotedValues(text: String, value: String, quoting: DotenvFile.Quoting) throws {
        let assignment = try #require(try DotenvFile.parse(text).assignments.first)
        #expect(bytes(assignment.value) == bytes(value))
        #expect(assignment.quoting == quoting)
        #expect(try DotenvFile.parse(text).render() == bytes(text))
    }

    @Test("Inline comments after values are kept in trailing")
    func inlineComments() throws {
        let file = try DotenvFile.parse("A=abc # one\nB=\"x\"# two\nC='y'  # three\nD=`z`\t#four\nE=abc#no\n")
        #expect(file.assignments.map(\.trailing) == [" # one", "# two", "  # three", "\t#four", ""])
        #expect(file.assignments.map(\.value) == ["abc", "x", "y", "z", "abc#no"])
    }

    @Test("URLs with # fragments keep the fragment in quotes and without a preceding space")
    func urlFragments() throws {
        let file = try DotenvFile.parse(
            "A=\"https://example.com/a#b\" # docs\nB='https://example.com/#/r'\n"
                + "C=https://example.com/#x\nD=https://e.com/ #x\n"
        )
        #expect(file.assignments.map(\.value) == [
            "https://example.com/a#b", "https://example.com/#/r", "https://example.com/#x", "https://e.com/",
        ])
    }

    @Test("Multi-line quoted values keep their newlines and normalise CRLF to LF")
    func multiLineValues() throws {
        let pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----"
        let lf = try DotenvFile.parse("KEY=\"\(pem)\"\nNEXT=1\n")
        #expect(lf.value(of: "KEY") == pem)
        #expect(lf.value(of: "NEXT") == "1")

        let crlfText = "KEY='\(pem.replacing("\n", with: "\r\n"))'\r\nNEXT=1\r\n"
        let crlf = try DotenvFile.parse(crlfText)
        #expect(bytes(try #require(crlf.value(of: "KEY"))) == bytes(pem))
        #expect(crlf.render() == bytes(crlfText))

        let escaped = try DotenvFile.parse("KEY=\"a\\\nb\"\nBT=`x\ny`\n")
        #expect(escaped.value(of: "KEY") == "a\\\nb")
        #expect(escaped.value(of: "BT") == "x\ny")
    }

    @Test("A lone CR inside quotes is kept; inside a comment it is comment text")
    func loneCarriageReturns() throws {
        let file = try DotenvFile.parse("# a\rb\nA='x\ry'\nB=\"x\ry\"\n# end\r")
        #expect(bytes(try #require(file.value(of: "A"))) == bytes("x\ry"))
        #expect(bytes(try #require(file.value(of: "B"))) == bytes("x\ry"))
        #expect(file.render() == bytes("# a\rb\nA='x\ry'\nB=\"x\ry\"\n# end\r"))
    }

    // MARK: - Line endings and byte order mark

    @Test("CRLF line endings are kept per line and stay out of values")
    func crlf() throws {
        let text = "A=1\r\nB=two words\r\nC=3 # c\r\n\r\n# x\r\nD=4\n"
        let file = try DotenvFile.parse(text)
        #expect(file.assignments.map(\.value) == ["1", "two words", "3", "4"])
        #expect(file.assignments.map { bytes($0.lineEnding) } == [bytes("\r\n"), bytes("\r\n"), bytes("\r\n"), bytes("\n")])
        #expect(file.render() == bytes(text))
    }

    @Test(
        "The dominant line ending counts every line feed; ties go to the first",
        arguments: [
            ("", "\n"),
            ("A=1", "\n"),
            ("A=1\r\n", "\r\n"),
            ("A=1\r\nB=2\n", "\r\n"),
            ("A=1\nB=2\r\n", "\n"),
            ("A=1\nB=2\r\nC=3\r\n", "\r\n"),
            ("A='x\r\ny\r\n'\nB=1\n", "\r\n"),
        ]
    )
    func dominantLineEnding(text: String, ending: String) throws {
        #expect(bytes(try DotenvFile.parse(text).lineEnding) == bytes(ending))
    }

    @Test("A byte order mark is kept; U+FEFF elsewhere is not one")
    func byteOrderMark() throws {
        let file = try DotenvFile.parse([0xEF, 0xBB, 0xBF] + bytes("A=1\n"))
        #expect(file.hasByteOrderMark)
        #expect(file.value(of: "A") == "1")
        #expect(file.render() == [0xEF, 0xBB, 0xBF] + bytes("A=1\n"))
        #expect(try DotenvFile.parse("\u{FEFF}").elements.isEmpty)
        #expect(parseError("A=1\n\u{FEFF}B=2\n") == DotenvError(kind: .invalidName, line: 2, column: 1))
    }

    @Test("A missing final newline is kept")
    func missingFinalNewline() throws {
        let file = try DotenvFile.parse("A=1\nB=2")
        #expect(file.assignments.last?.lineEnding == "")
        #expect(file.renderString() == "A=1\nB=2")
    }

    // MARK: - Queries

    @Test("The last assignment wins; duplicates and names are reported in order")
    func duplicates() throws {
        let file = try DotenvFile.parse("A=1\nB=2\nA=3\nC=4\nB=5\nA=6\n")
        #expect(file.value(of: "A") == "6")
        #expect(file.value(of: "B") == "5")
        #expect(file.value(of: "missing") == nil)
        #expect(file.names == ["A", "B", "C"])
        #expect(file.duplicateNames() == ["A", "B"])
        #expect(file.assignments.count == 6)
    }

    @Test("A file like those sops and dotenvx users reported parses as a loader would read it")
    func reportedCases() throws {
        let text = """
            # Production secrets\r
            export DATABASE_URL="postgres://user:p#ss@db:5432/app?sslmode=require" # primary\r
            API_KEY = sk_live_abc123   # Stripe\r
            GREETING=Hello world\r
            EMPTY=\r
            EQUALS=a=b=c\r
            HASHED=abc#def\r
            QUOTED_HASH='value # with hash'\r
            PRIVATE_KEY="-----BEGIN KEY-----\r
            abc\r
            -----END KEY-----"\r
            UNICODE=naïve café ☕\r
            LAST=no newline
            """
        let file = try DotenvFile.parse(text)
        let expected: [(String, String)] = [
            ("DATABASE_URL", "postgres://user:p#ss@db:5432/app?sslmode=require"),
            ("API_KEY", "sk_live_abc123"),
            ("GREETING", "Hello world"),
            ("EMPTY", ""),
            ("EQUALS", "a=b=c"),
            ("HASHED", "abc#def"),
            ("QUOTED_HASH", "value # with hash"),
            ("PRIVATE_KEY", "-----BEGIN KEY-----\nabc\n-----END KEY-----"),
            ("UNICODE", "naïve café ☕"),
            ("LAST", "no newline"),
        ]
        #expect(file.assignments.map(\.name) == expected.map(\.0))
        for (name, value) in expected {
            #expect(bytes(try #require(file.value(of: name))) == bytes(value), "\(name)")
        }
        #expect(file.render() == bytes(text))
        #expect(file.lineEnding == "\r\n")
    }

    // MARK: - Model properties

    @Test("Equality compares bytes, not canonically equivalent text")
    func byteEquality() throws {
        let composed = try DotenvFile.parse("A=\u{E9}\n")
        let decomposed = try DotenvFile.parse("A=e\u{301}\n")
        #expect(composed.value(of: "A") == decomposed.value(of: "A"))
        #expect(composed != decomposed)
        #expect(composed.render() != decomposed.render())
    }

    @Test("Descriptions, debug descriptions and dumps never show values or comments")
    func redaction() throws {
        let secret = "CANARY-s3cr3t"
        let file = try DotenvFile.parse("# \(secret)\nA=\(secret)\nexport B=\"\(secret)\"\n")
        var dumped = ""
        dump(file, to: &dumped)
        let renderings = [
            String(describing: file), String(reflecting: file), "\(file)", dumped,
            String(describing: file.elements), String(reflecting: file.elements),
            String(describing: file.assignments), String(reflecting: file.elements[0]),
        ]
        for rendering in renderings {
            #expect(!rendering.contains(secret))
        }
        #expect(String(describing: file.assignments[0]).contains("A"))
    }
}
