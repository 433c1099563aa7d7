/// A dotenv file that renders back to exactly the bytes it was parsed from.
///
/// The file is an ordered list of ``Element``s: trivia (blank lines and comments, kept verbatim)
/// and assignments, which keep every raw piece of their text next to the decoded value. The edits
/// ``set(_:to:)`` and ``remove(_:)`` touch only the lines they change. The grammar is specified in
/// `docs/DOTENV.md`.
///
/// Values are secrets, so `description`, `debugDescription` and the mirror of the file and of its
/// elements show names and positions only.
public struct DotenvFile: Sendable, Equatable {
    /// How a value is quoted in the file.
    public enum Quoting: String, Sendable, Equatable, CaseIterable {
        /// Unquoted: trimmed of surrounding spaces and tabs, ends at a `#` that follows whitespace.
        case none
        /// `'...'`: literal, may span lines.
        case single
        /// `"..."`: decodes `\n \r \t \\ \" \$`, may span lines.
        case double
        /// `` `...` ``: literal, may span lines.
        case backtick
    }

    /// A blank or comment line, kept verbatim.
    public struct Trivia: Sendable, Equatable {
        /// The line without its line ending: spaces and tabs, optionally followed by a `#` comment.
        public internal(set) var text: String
        /// `"\n"`, `"\r\n"`, or `""` on a last line that has none.
        public internal(set) var lineEnding: String
        /// The 1-based line number.
        public internal(set) var line: Int

        /// Whether the line is a comment rather than blank.
        public var isComment: Bool { text.utf8.contains(UInt8(ascii: "#")) }

        /// Compares bytes, not canonically equivalent text, because rendering writes bytes.
        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.line == rhs.line && sameBytes(lhs.text, rhs.text) && sameBytes(lhs.lineEnding, rhs.lineEnding)
        }
    }

    /// A `NAME=value` assignment with every raw piece of its text.
    ///
    /// Concatenating ``leadingWhitespace``, ``exportPrefix``, ``name``, ``separator``, ``rawValue``,
    /// ``trailing`` and ``lineEnding`` gives the exact text of the assignment.
    public struct Assignment: Sendable, Equatable {
        /// Spaces and tabs before the name (or before `export`).
        public internal(set) var leadingWhitespace: String
        /// `export` and the whitespace after it, or `""`.
        public internal(set) var exportPrefix: String
        /// The variable name, matching `[A-Za-z_][A-Za-z0-9_.-]*`.
        public internal(set) var name: String
        /// The `=` with the spaces and tabs around it.
        public internal(set) var separator: String
        /// The value as written, including its quotes; may span lines when quoted.
        public internal(set) var rawValue: String
        /// Whitespace and an optional `#` comment after the value.
        public internal(set) var trailing: String
        /// `"\n"`, `"\r\n"`, or `""` on a last line that has none.
        public internal(set) var lineEnding: String
        /// The decoded value.
        public internal(set) var value: String
        /// How ``rawValue`` is quoted.
        public internal(set) var quoting: Quoting
        /// The 1-based line where the assignment starts.
        public internal(set) var line: Int

        /// Whether the assignment has an `export` prefix.
        public var isExported: Bool { !exportPrefix.isEmpty }

        /// Whether ``rawValue`` is the spelling ``DotenvFile/set(_:to:keepingQuotes:)`` writes for
        /// ``value`` on this line with `keepingQuotes`, so the value alone gives the line back.
        ///
        /// Sealing stores the value alone for such assignments, and the exact spelling for the
        /// others (`"\u00e9"`, `K=${X}`, `A=abc#def`), so that opening gives back the same bytes.
        public var hasCanonicalSpelling: Bool {
            // The common case without a parse: plain characters, written as they are either way.
            if quoting == .none, rawValue.utf8.allSatisfy(DotenvFile.isUnquotedSafe) { return true }
            let written = DotenvFile.encodedValue(value, quoted: quoting, trailing: trailing) ?? DotenvFile.encodedValue(value).raw
            return sameBytes(written, rawValue)
        }

        /// Compares bytes, not canonically equivalent text, because rendering writes bytes.
        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.line == rhs.line && lhs.quoting == rhs.quoting
                && sameBytes(lhs.leadingWhitespace, rhs.leadingWhitespace)
                && sameBytes(lhs.exportPrefix, rhs.exportPrefix)
                && sameBytes(lhs.name, rhs.name)
                && sameBytes(lhs.separator, rhs.separator)
                && sameBytes(lhs.rawValue, rhs.rawValue)
                && sameBytes(lhs.trailing, rhs.trailing)
                && sameBytes(lhs.lineEnding, rhs.lineEnding)
                && sameBytes(lhs.value, rhs.value)
        }
    }

    /// One piece of the file: trivia or an assignment.
    public enum Element: Sendable, Equatable {
        /// A blank or comment line.
        case trivia(Trivia)
        /// An assignment, which may span several lines.
        case assignment(Assignment)

        /// The 1-based line where the element starts.
        public var line: Int {
            switch self {
            case .trivia(let trivia): trivia.line
            case .assignment(let assignment): assignment.line
            }
        }

        /// The assignment, if this element is one.
        public var assignment: Assignment? {
            if case .assignment(let assignment) = self { assignment } else { nil }
        }

        var lineEnding: String {
            switch self {
            case .trivia(let trivia): trivia.lineEnding
            case .assignment(let assignment): assignment.lineEnding
            }
        }
    }

    /// Why ``set(_:to:)`` refused an edit: one of the static members below. Like
    /// ``DotenvError``, it never quotes the name or value.
    ///
    /// A struct rather than an enum so that a reason can be added without breaking a `switch`
    /// elsewhere; compare with `==` or match with `case .invalidName:` (and a `default:`).
    public struct EditError: Error, Sendable, Hashable, CustomStringConvertible {
        /// The reason's name, as the static member is spelled: `invalidName`.
        public let name: String
        /// A short English explanation that quotes neither name nor value.
        public let description: String

        private init(_ name: String, _ description: String) {
            self.name = name
            self.description = description
        }

        /// The name does not match `[A-Za-z_][A-Za-z0-9_.-]*`.
        public static let invalidName = EditError("invalidName", "invalid variable name (names match [A-Za-z_][A-Za-z0-9_.-]*)")
        /// The value contains a NUL character, which no environment variable can hold.
        public static let nulCharacterInValue = EditError("nulCharacterInValue", "value contains a NUL character")
        /// A spelling given to ``DotenvFile/set(spellings:)`` is not exactly one dotenv value.
        public static let invalidSpelling = EditError("invalidSpelling", "the spelling is not exactly one dotenv value")

    }

    /// Whether the file starts with a UTF-8 byte order mark, which rendering writes back.
    public private(set) var hasByteOrderMark: Bool
    /// The lines of the file in order.
    public private(set) var elements: [Element]

    /// Creates an empty file.
    public init() {
        self.init(hasByteOrderMark: false, elements: [])
    }

    init(hasByteOrderMark: Bool, elements: [Element]) {
        self.hasByteOrderMark = hasByteOrderMark
        self.elements = elements
    }

    /// The assignments in file order, duplicates included.
    public var assignments: [Assignment] {
        elements.compactMap(\.assignment)
    }

    /// The distinct variable names in order of first appearance.
    public var names: [String] {
        var seen: Set<String> = []
        return assignments.map(\.name).filter { seen.insert($0).inserted }
    }

    /// Looks up the value a dotenv loader would use for a name.
    ///
    /// - Parameter name: The variable name.
    /// - Returns: The decoded value of the last assignment to `name` (later ones win), or `nil`.
    public func value(of name: String) -> String? {
        for element in elements.reversed() {
            if let assignment = element.assignment, assignment.name == name { return assignment.value }
        }
        return nil
    }

    /// Lists the names that are assigned more than once.
    ///
    /// - Returns: Each such name once, in order of first appearance.
    public func duplicateNames() -> [String] {
        var counts: [String: Int] = [:]
        for assignment in assignments { counts[assignment.name, default: 0] += 1 }
        return names.filter { counts[$0, default: 0] > 1 }
    }

    /// The dominant line ending: `"\n"` or `"\r\n"`.
    ///
    /// Every line feed in the file counts, including those inside multi-line values. A tie goes to
    /// the first line ending in the file; a file without line feeds gives `"\n"`.
    public var lineEnding: String {
        let bytes = render()
        var crlf = 0
        var lf = 0
        var first: String?
        for index in bytes.indices where bytes[index] == DotenvParser.lf {
            let isCRLF = index > bytes.startIndex && bytes[index - 1] == DotenvParser.cr
            if isCRLF { crlf += 1 } else { lf += 1 }
            if first == nil { first = isCRLF ? "\r\n" : "\n" }
        }
        if crlf != lf { return crlf > lf ? "\r\n" : "\n" }
        return first ?? "\n"
    }

    /// Checks a variable name against `[A-Za-z_][A-Za-z0-9_.-]*`.
    ///
    /// - Parameter name: The candidate name.
    /// - Returns: Whether ``set(_:to:)`` accepts the name.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, DotenvParser.isNameStart(first) else { return false }
        return name.utf8.dropFirst().allSatisfy(DotenvParser.isNameContinuation)
    }

    /// Sets a variable, editing the file as little as possible.
    ///
    /// If the name is assigned, the value of its last assignment is replaced and the rest of that
    /// line (indentation, `export`, spacing, comment, line ending) is kept; earlier duplicates stay.
    /// Otherwise `NAME=value` is appended with the dominant ``lineEnding``, after giving a last line
    /// that lacks one a line ending. The value is written unquoted when it only has characters from
    /// `A-Z a-z 0-9 _ - . / : + = @ , %`, else single-quoted when it has no `'`, CR, LF or `\\`
    /// and does not end in `\`, else double-quoted with `\\ \" \n \r \t` escaped (a value ending
    /// in `\` goes unquoted when it can). It always parses back to exactly `value`, and python-dotenv
    /// reads the same value (docs/DOTENV.md, section 5).
    ///
    /// With `keepingQuotes`, a replaced value keeps the quoting of the value it replaces when that
    /// quoting can hold it exactly for both readers (unquoted, `'…'`, or `"…"` with only `\\` and
    /// `\"` escaped and line breaks written as they are; never backticks, which python-dotenv
    /// keeps as part of the value).
    ///
    /// - Parameters:
    ///   - name: The variable name.
    ///   - value: The new value.
    ///   - keepingQuotes: Keep the replaced value's quoting where it fits.
    /// - Throws: ``EditError/invalidName`` or ``EditError/nulCharacterInValue``; the file is then unchanged.
    public mutating func set(_ name: String, to value: String, keepingQuotes: Bool = false) throws(EditError) {
        try set([(name, value)], keepingQuotes: keepingQuotes)
    }

    /// Sets several variables at once, as ``set(_:to:keepingQuotes:)`` would one after another,
    /// in one pass over the file however many there are.
    ///
    /// - Parameters:
    ///   - values: Names and new values, applied in order (a name given twice ends with its last value).
    ///   - keepingQuotes: Keep each replaced value's quoting where it fits.
    /// - Throws: The first pair's ``EditError`` (see ``check(_:_:)``); the file is then unchanged.
    public mutating func set(_ values: [(name: String, value: String)], keepingQuotes: Bool = false) throws(EditError) {
        for (name, value) in values { try Self.check(name, value) }
        apply(values.map { ($0.name, $0.value, nil) }, keepingQuotes: keepingQuotes)
    }

    /// Sets variables to values written exactly as given: each spelling becomes the assignment's
    /// ``Assignment/rawValue`` (quotes, escapes and inner line breaks included), as it came from a
    /// file. Otherwise as ``set(_:keepingQuotes:)``, in one pass.
    ///
    /// - Parameter spellings: Names and spellings, such as `"it's \$5"` or `abc#def`.
    /// - Throws: ``EditError/invalidName``, ``EditError/nulCharacterInValue``, or
    ///   ``EditError/invalidSpelling`` when a spelling is not exactly one value (see
    ///   ``value(ofSpelling:)``); the file is then unchanged.
    public mutating func set(spellings: [(name: String, spelling: String)]) throws(EditError) {
        var edits: [(String, String, (raw: String, quoting: Quoting)?)] = []
        edits.reserveCapacity(spellings.count)
        for (name, spelling) in spellings {
            guard let (value, quoting) = Self.value(ofSpelling: spelling.utf8) else { throw .invalidSpelling }
            try Self.check(name, value)
            edits.append((name, value, (spelling, quoting)))
        }
        apply(edits, keepingQuotes: false)
    }

    /// Decodes one value as it is written after `NAME=`: its quotes, escapes and inner line breaks.
    ///
    /// - Parameter spelling: The bytes of an ``Assignment/rawValue``.
    /// - Returns: The decoded value and its quoting, or `nil` unless the bytes are exactly one
    ///   value (nothing before or after it, no line break outside quotes).
    public static func value(ofSpelling spelling: some Collection<UInt8>) -> (value: String, quoting: Quoting)? {
        // Plain characters (a sealed text, say) are an unquoted value as they are.
        if !spelling.isEmpty, spelling.allSatisfy(isUnquotedSafe) { return (String(decoding: spelling, as: UTF8.self), .none) }
        guard let parsed = try? DotenvFile.parse(Array("X=".utf8) + spelling), parsed.elements.count == 1,
              let only = parsed.assignments.first, only.trailing.isEmpty, only.lineEnding.isEmpty,
              only.rawValue.utf8.elementsEqual(spelling)
        else { return nil }
        return (only.value, only.quoting)
    }

    /// Writes each value (with its spelling when given, else as `keepingQuotes` chooses) into the
    /// last assignment of its name, or appends it.
    private mutating func apply(_ edits: [(name: String, value: String, spelling: (raw: String, quoting: Quoting)?)], keepingQuotes: Bool) {
        var lastIndex: [String: Int] = [:]
        for (index, element) in elements.enumerated() {
            if let name = element.assignment?.name { lastIndex[name] = index }
        }
        // Appending the dominant line ending keeps it dominant, so it is worked out once — and
        // again after a last line without one was given one, which can change the count.
        var appendEnding: String?
        for (name, value, spelling) in edits {
            var (rawValue, quoting) = spelling ?? Self.encodedValue(value)
            if let index = lastIndex[name], case .assignment(var assignment) = elements[index] {
                if spelling == nil, keepingQuotes, let kept = Self.encodedValue(value, quoted: assignment.quoting, trailing: assignment.trailing) {
                    rawValue = kept
                    quoting = assignment.quoting
                }
                assignment.rawValue = rawValue
                assignment.quoting = quoting
                assignment.value = value
                if quoting == .none { Self.separateComment(of: &assignment) }
                elements[index] = .assignment(assignment)
            } else {
                let ending = appendEnding ?? lineEnding
                appendEnding = ending
                if let last = elements.indices.last, elements[last].lineEnding.isEmpty {
                    appendEnding = nil
                    switch elements[last] {
                    case .trivia(var trivia):
                        Self.endLine(&trivia.text, &trivia.lineEnding, with: ending)
                        elements[last] = .trivia(trivia)
                    case .assignment(var assignment):
                        Self.endLine(&assignment.trailing, &assignment.lineEnding, with: ending)
                        elements[last] = .assignment(assignment)
                    }
                }
                elements.append(.assignment(Assignment(
                    leadingWhitespace: "", exportPrefix: "", name: name, separator: "=",
                    rawValue: rawValue, trailing: "", lineEnding: ending,
                    value: value, quoting: quoting, line: 0
                )))
                lastIndex[name] = elements.count - 1
            }
        }
        renumberLines()
    }

    /// Checks that a name and a value can be set: the name matches ``isValidName(_:)`` and the
    /// value has no NUL character.
    /// - Throws: ``EditError/invalidName`` or ``EditError/nulCharacterInValue``.
    public static func check(_ name: String, _ value: String) throws(EditError) {
        guard isValidName(name) else { throw .invalidName }
        guard !value.utf8.contains(0) else { throw .nulCharacterInValue }
    }

    /// Whether the last line ends with a line ending (`true` for an empty file).
    public var endsWithLineEnding: Bool { elements.last.map { !$0.lineEnding.isEmpty } ?? true }

    /// Removes the line ending of the last line, so the file ends without one.
    public mutating func removeFinalLineEnding() {
        guard let last = elements.indices.last else { return }
        switch elements[last] {
        case .trivia(var trivia):
            trivia.lineEnding = ""
            elements[last] = .trivia(trivia)
        case .assignment(var assignment):
            assignment.lineEnding = ""
            elements[last] = .assignment(assignment)
        }
    }

    /// Removes every assignment to a name, with its lines; comments above it stay.
    ///
    /// - Parameter name: The variable name; a name that is not assigned changes nothing.
    public mutating func remove(_ name: String) {
        elements.removeAll { $0.assignment?.name == name }
        renumberLines()
    }

    /// Removes every assignment whose name `shouldBeRemoved` picks, with its lines; comments
    /// stay. One pass over the file, however many names go.
    ///
    /// - Parameter shouldBeRemoved: Whether to remove a name's assignments.
    public mutating func removeAll(where shouldBeRemoved: (String) throws -> Bool) rethrows {
        try elements.removeAll { try $0.assignment.map { try shouldBeRemoved($0.name) } ?? false }
        renumberLines()
    }

    /// Splits blanks between separator and trailing as the parser would for a new unquoted value,
    /// so that the edited file equals its reparse.
    ///
    /// A comment glued to a closing quote (`A="x"# c`) would otherwise become part of the value.
    private static func separateComment(of assignment: inout Assignment) {
        let trailing = assignment.trailing.utf8
        if assignment.rawValue.isEmpty {
            // With an empty value the parser gives every blank after `=` to the separator.
            let blanks = trailing.prefix(while: DotenvParser.isBlank)
            assignment.separator += String(decoding: blanks, as: UTF8.self)
            assignment.trailing = String(decoding: trailing.dropFirst(blanks.count), as: UTF8.self)
            let separatorEndsInBlank = assignment.separator.utf8.last.map(DotenvParser.isBlank) ?? false
            if assignment.trailing.utf8.first == DotenvParser.hash, !separatorEndsInBlank {
                assignment.separator += " "
            }
        } else if trailing.first == DotenvParser.hash {
            // The blanks the parser gave the separator of an empty value go back before the
            // comment, so that emptying the value again restores the line exactly.
            let separator = assignment.separator.utf8
            let blanks = separator.reversed().prefix(while: DotenvParser.isBlank).count
            if blanks > 0 {
                assignment.separator = String(decoding: separator.dropLast(blanks), as: UTF8.self)
                assignment.trailing = String(decoding: separator.suffix(blanks), as: UTF8.self) + assignment.trailing
            } else {
                assignment.trailing = " " + assignment.trailing
            }
        }
    }

    /// Gives a last line its line ending. A lone CR that ends a comment there makes a CRLF with
    /// an added LF, so it moves into the line ending, where the parser would put it.
    private static func endLine(_ text: inout String, _ lineEnding: inout String, with ending: String) {
        if ending == "\n", text.utf8.last == DotenvParser.cr {
            text = String(decoding: text.utf8.dropLast(), as: UTF8.self)
            lineEnding = "\r\n"
        } else {
            lineEnding = ending
        }
    }

    private mutating func renumberLines() {
        var line = 1
        for index in elements.indices {
            switch elements[index] {
            case .trivia(var trivia):
                trivia.line = line
                line += trivia.lineEnding.isEmpty ? 0 : 1
                elements[index] = .trivia(trivia)
            case .assignment(var assignment):
                assignment.line = line
                line += assignment.rawValue.utf8.count(where: { $0 == DotenvParser.lf })
                line += assignment.lineEnding.isEmpty ? 0 : 1
                elements[index] = .assignment(assignment)
            }
        }
    }
}

func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
    lhs.utf8.elementsEqual(rhs.utf8)
}

// Values are secrets: keep them out of print(), string interpolation, dump() and test output.

extension DotenvFile: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// A summary without names or values.
    public var description: String {
        "DotenvFile(\(elements.count) elements, \(assignments.count) assignments)"
    }

    /// The same summary as ``description``.
    public var debugDescription: String { description }

    /// A mirror whose assignments hide their values.
    public var customMirror: Mirror {
        Mirror(self, children: ["hasByteOrderMark": hasByteOrderMark, "elements": elements], displayStyle: .struct)
    }
}

extension DotenvFile.Trivia: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The line number and whether it is a comment; comments can hold commented-out secrets.
    public var description: String {
        "Trivia(line: \(line), \(isComment ? "comment" : "blank"))"
    }

    /// The same summary as ``description``.
    public var debugDescription: String { description }

    /// A mirror without the text.
    public var customMirror: Mirror {
        Mirror(self, children: ["line": line, "isComment": isComment], displayStyle: .struct)
    }
}

extension DotenvFile.Assignment: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The name, line and quoting, with the value redacted.
    public var description: String {
        "Assignment(name: \(name), line: \(line), quoting: \(quoting), value: <redacted>)"
    }

    /// The same summary as ``description``.
    public var debugDescription: String { description }

    /// A mirror without the value or raw text.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: ["name": name, "line": line, "quoting": quoting, "isExported": isExported],
            displayStyle: .struct
        )
    }
}
