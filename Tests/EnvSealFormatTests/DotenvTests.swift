import EnvSealFormat
import Testing

@Suite("Dotenv parsing, rendering and editing")
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

    // MARK: - Errors

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

    // MARK: - set

    @Test("set replaces a value and keeps the rest of its line")
    func setKeepsLine() throws {
        var file = try DotenvFile.parse("# c\r\n  export KEY = old  # keep\r\nB=2\r\n")
        try file.set("KEY", to: "new")
        #expect(file.renderString() == "# c\r\n  export KEY = new  # keep\r\nB=2\r\n")
        #expect(file.value(of: "KEY") == "new")
        #expect(try DotenvFile.parse(file.render()) == file)
    }

    @Test(
        "set chooses unquoted, single or double quotes",
        arguments: [
            ("abc", "abc"),
            ("", ""),
            ("p@ss:w/o+r=d,%_-.9", "p@ss:w/o+r=d,%_-.9"),
            ("hello world", "'hello world'"),
            ("a#b", "'a#b'"),
            ("$HOME", "'$HOME'"),
            ("back\\slash", "'back\\slash'"),
            ("tab\there", "'tab\there'"),
            ("\"quoted\"", "'\"quoted\"'"),
            ("héllo", "'héllo'"),
            ("it's", "\"it's\""),
            ("line1\nline2", "\"line1\\nline2\""),
            ("a\r\nb", "\"a\\r\\nb\""),
            ("cr\ronly", "\"cr\\ronly\""),
            // `$` is never escaped: python-dotenv would keep the backslash of `\$`.
            ("x'y\"z\\$\t${V}", "\"x'y\\\"z\\\\$\\t${V}\""),
            // python-dotenv decodes `\\` in single quotes and reads a final `\` as escaping the quote.
            ("two\\\\backslashes", "\"two\\\\\\\\backslashes\""),
            ("C:\\dir\\", "C:\\dir\\"),
            ("it's C:\\", "it's C:\\"),
            ("a b\\", "a b\\"),
            ("it's\n\\", "\"it's\\n\\\\\""),
        ]
    )
    func setQuoting(value: String, raw: String) throws {
        var file = DotenvFile()
        try file.set("K", to: value)
        let assignment = try #require(file.assignments.first)
        #expect(bytes(assignment.rawValue) == bytes(raw))
        let reparsed = try DotenvFile.parse(file.render())
        #expect(bytes(try #require(reparsed.value(of: "K"))) == bytes(value))
        #expect(reparsed == file)
    }

    @Test("set appends with the dominant line ending and ends a last line that lacked one")
    func setAppends() throws {
        let cases: [(String, String)] = [
            ("", "N=v\n"),
            ("A=1\n", "A=1\nN=v\n"),
            ("A=1", "A=1\nN=v\n"),
            ("# c", "# c\nN=v\n"),
            ("A=1\r\nB=2\r\n", "A=1\r\nB=2\r\nN=v\r\n"),
            ("A=1\r\nB=2", "A=1\r\nB=2\r\nN=v\r\n"),
            ("A='x\r\ny'", "A='x\r\ny'\r\nN=v\r\n"),
            ("A=1\n  ", "A=1\n  \nN=v\n"),
            ("\u{FEFF}", "\u{FEFF}N=v\n"),
            ("# x\r", "# x\r\nN=v\n"),
            ("A=1 # x\r", "A=1 # x\r\nN=v\n"),
        ]
        for (before, after) in cases {
            var file = try DotenvFile.parse(before)
            try file.set("N", to: "v")
            #expect(bytes(file.renderString()) == bytes(after), "\(String(reflecting: before))")
            #expect(try DotenvFile.parse(file.render()) == file)
        }
    }

    @Test("set replaces the last of several assignments only")
    func setLastDuplicate() throws {
        var file = try DotenvFile.parse("A=1\nA=2\nB=3\n")
        try file.set("A", to: "x")
        #expect(file.renderString() == "A=1\nA=x\nB=3\n")
        #expect(file.value(of: "A") == "x")
    }

    @Test("set keeps a comment that was glued to a closing quote")
    func setGluedComment() throws {
        let cases: [(String, String, String)] = [
            ("A=\"x\"# c\n", "y", "A=y # c\n"),
            ("A=\"x\"# c\n", "", "A= # c\n"),
            ("A= # c\n", "", "A= # c\n"),
            // The blank the empty value's separator held goes back before the comment.
            ("A= # c\n", "y", "A=y # c\n"),
            ("A='x' # c\n", "y z", "A='y z' # c\n"),
            ("A=x # c\n", "it's", "A=\"it's\" # c\n"),
        ]
        for (before, value, after) in cases {
            var file = try DotenvFile.parse(before)
            try file.set("A", to: value)
            #expect(file.renderString() == after, "\(before)")
            let reparsed = try DotenvFile.parse(file.render())
            #expect(reparsed.value(of: "A") == value)
            #expect(reparsed == file)
        }
    }

    @Test("set renumbers the lines after a multi-line value it replaces")
    func setRenumbers() throws {
        var file = try DotenvFile.parse("A=\"1\n2\n3\"\nB=4\n")
        #expect(file.assignments.map(\.line) == [1, 4])
        try file.set("A", to: "one line")
        #expect(file.assignments.map(\.line) == [1, 2])
        try file.set("A", to: "two\nlines")
        #expect(file.renderString() == "A=\"two\\nlines\"\nB=4\n")
        #expect(try DotenvFile.parse(file.render()) == file)
    }

    @Test("set rejects invalid names and NUL characters and leaves the file unchanged")
    func setRejects() throws {
        let original = try DotenvFile.parse("A=1\n")
        for name in ["", "1A", "A B", "é", "A=B", "export A", "A\n", "A#"] {
            var file = original
            #expect(throws: DotenvFile.EditError.invalidName) { try file.set(name, to: "v") }
            #expect(file == original)
        }
        var file = original
        #expect(throws: DotenvFile.EditError.nulCharacterInValue) { try file.set("A", to: "a\u{0}b") }
        #expect(file == original)
    }

    @Test("setting several variables at once gives the file that setting them one by one gives")
    func setMany() throws {
        let files = ["", "A=1\nA=2\nB=\"x\"# c\n", "A=1\r\nB=2", "# head\nexport C='q' # c\nD=\"1\n2\"\n", "\u{FEFF}# x\r"]
        let edits: [(name: String, value: String)] = [
            ("A", "new a"), ("N1", "v"), ("B", "it's"), ("N2", "two\nlines"), ("N1", "again"), ("C", ""), ("D", "plain"),
        ]
        for text in files {
            for keepingQuotes in [false, true] {
                var oneByOne = try DotenvFile.parse(text)
                for (name, value) in edits { try oneByOne.set(name, to: value, keepingQuotes: keepingQuotes) }
                var atOnce = try DotenvFile.parse(text)
                try atOnce.set(edits, keepingQuotes: keepingQuotes)
                #expect(bytes(atOnce.renderString()) == bytes(oneByOne.renderString()), "\(String(reflecting: text))")
                #expect(atOnce == oneByOne)
                #expect(try DotenvFile.parse(atOnce.render()) == atOnce)
            }
        }
        // One bad pair anywhere leaves the file as it was.
        let original = try DotenvFile.parse("A=1\n")
        var file = original
        #expect(throws: DotenvFile.EditError.nulCharacterInValue) { try file.set([("A", "2"), ("B", "x\u{0}")]) }
        #expect(throws: DotenvFile.EditError.invalidName) { try file.set([("A", "2"), ("1B", "x")]) }
        #expect(file == original)
    }

    // MARK: - remove

    @Test("remove deletes every assignment to a name, multi-line ones included, and keeps comments")
    func remove() throws {
        var file = try DotenvFile.parse("# about A\nA=1\nB=2\nA=\"x\ny\"\r\nC=3")
        file.remove("A")
        #expect(file.renderString() == "# about A\nB=2\nC=3")
        #expect(file.value(of: "A") == nil)
        #expect(file.assignments.map(\.line) == [2, 3])
        #expect(try DotenvFile.parse(file.render()) == file)

        let before = file
        file.remove("MISSING")
        #expect(file == before)
    }

    @Test("removeAll(where:) deletes the picked names in one pass and keeps comments")
    func removeAllWhere() throws {
        var file = try DotenvFile.parse("# about A\nA=1\nB=2\nA=\"x\ny\"\r\nC=3\n")
        file.removeAll { $0 != "B" }
        #expect(file.renderString() == "# about A\nB=2\n")
        #expect(file.assignments.map(\.line) == [2])
        #expect(try DotenvFile.parse(file.render()) == file)

        let before = file
        file.removeAll { _ in false }
        #expect(file == before)
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

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

private func parseError(_ text: String) -> DotenvError? {
    parseError(bytes(text))
}

private func parseError(_ input: [UInt8]) -> DotenvError? {
    do {
        _ = try DotenvFile.parse(input)
        return nil
    } catch {
        return error
    }
}
