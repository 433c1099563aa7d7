import EnvSealFormat
import Testing

@Suite("Dotenv editing")
struct DotenvEditingTests {
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
}
