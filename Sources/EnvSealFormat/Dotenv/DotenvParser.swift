extension DotenvFile {
    /// Parses dotenv bytes.
    ///
    /// Any byte sequence either parses or throws; a parsed file renders back to the same bytes.
    ///
    /// - Parameter bytes: The file contents, UTF-8 with an optional byte order mark.
    /// - Returns: The parsed file.
    /// - Throws: A ``DotenvError`` locating the first problem; it never quotes the file's text.
    public static func parse(_ bytes: some Collection<UInt8>) throws(DotenvError) -> DotenvFile {
        try DotenvParser(bytes: Array(bytes)).parse()
    }

    /// Parses dotenv text.
    ///
    /// - Parameter text: The file contents; a leading U+FEFF is taken as a byte order mark.
    /// - Returns: The parsed file.
    /// - Throws: A ``DotenvError`` locating the first problem; it never quotes the file's text.
    public static func parse(_ text: String) throws(DotenvError) -> DotenvFile {
        try parse(text.utf8)
    }
}

/// The dotenv parser: an encoding check, then one pass over the lines. `docs/DOTENV.md` is its
/// specification.
///
/// Every element records byte ranges of the input, so rendering the elements gives the input back.
struct DotenvParser {
    static let tab = UInt8(ascii: "\t")
    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let hash = UInt8(ascii: "#")
    static let equals = UInt8(ascii: "=")
    static let backslash = UInt8(ascii: "\\")
    static let singleQuote = UInt8(ascii: "'")
    static let doubleQuote = UInt8(ascii: "\"")
    static let backtick = UInt8(ascii: "`")
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]
    private static let exportKeyword = Array("export".utf8)

    static func isBlank(_ byte: UInt8) -> Bool { byte == space || byte == tab }

    static func isNameStart(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
            || byte == UInt8(ascii: "_")
    }

    static func isNameContinuation(_ byte: UInt8) -> Bool {
        isNameStart(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-")
    }

    private let bytes: [UInt8]
    private let bodyStart: Int

    init(bytes: [UInt8]) {
        self.bytes = bytes
        bodyStart = bytes.starts(with: Self.byteOrderMark) ? Self.byteOrderMark.count : 0
    }

    func parse() throws(DotenvError) -> DotenvFile {
        if let (offset, kind) = firstEncodingProblem() { throw error(kind, at: offset) }
        var elements: [DotenvFile.Element] = []
        var position = bodyStart
        var line = 1
        while position < bytes.count {
            let (element, end) = try parseElement(at: position, line: line)
            elements.append(element)
            line += bytes[position..<end].count(where: { $0 == Self.lf })
            position = end
        }
        return DotenvFile(hasByteOrderMark: bodyStart > 0, elements: elements)
    }

    // MARK: - Lines

    private func parseElement(at start: Int, line: Int) throws(DotenvError) -> (DotenvFile.Element, end: Int) {
        let first = skipBlanks(from: start)
        if isLineEnd(at: first) {
            let trivia = DotenvFile.Trivia(
                text: text(start..<first), lineEnding: text(first..<endOfLineEnding(at: first)), line: line
            )
            return (.trivia(trivia), endOfLineEnding(at: first))
        }
        if bytes[first] == Self.hash {
            let textEnd = endOfComment(from: first)
            let end = endOfLineEnding(at: textEnd)
            let trivia = DotenvFile.Trivia(text: text(start..<textEnd), lineEnding: text(textEnd..<end), line: line)
            return (.trivia(trivia), end)
        }
        if bytes[first] == Self.cr { throw error(.bareCarriageReturn, at: first) }
        return try parseAssignment(lineStart: start, first: first, line: line)
    }

    private func parseAssignment(
        lineStart: Int, first: Int, line: Int
    ) throws(DotenvError) -> (DotenvFile.Element, end: Int) {
        // `export` is a prefix only when a name follows it, so `export=1` and `export =1` assign `export`.
        var nameStart = first
        let keywordEnd = first + Self.exportKeyword.count
        if keywordEnd < bytes.count, bytes[first..<keywordEnd].elementsEqual(Self.exportKeyword),
           Self.isBlank(bytes[keywordEnd])
        {
            let afterBlanks = skipBlanks(from: keywordEnd)
            if afterBlanks < bytes.count, Self.isNameStart(bytes[afterBlanks]) { nameStart = afterBlanks }
        }
        guard Self.isNameStart(bytes[nameStart]) else { throw error(.invalidName, at: nameStart) }
        var nameEnd = nameStart + 1
        while nameEnd < bytes.count, Self.isNameContinuation(bytes[nameEnd]) { nameEnd += 1 }

        let equalsSign = skipBlanks(from: nameEnd)
        guard equalsSign < bytes.count, bytes[equalsSign] == Self.equals else {
            if isBareCarriageReturn(at: equalsSign) { throw error(.bareCarriageReturn, at: equalsSign) }
            // A character glued to the name is a bad name character; after blanks, `=` is missing.
            let kind: DotenvError.Kind = equalsSign == nameEnd && !isLineEnd(at: equalsSign)
                ? .invalidName : .missingEquals
            throw error(kind, at: equalsSign)
        }

        let valueStart = skipBlanks(from: equalsSign + 1)
        let valueEnd: Int
        let trailingEnd: Int
        let quoting: DotenvFile.Quoting
        let value: String
        if valueStart < bytes.count, let quote = Self.quoting(opening: bytes[valueStart]) {
            let close = try closingQuote(quote, openedAt: valueStart)
            valueEnd = close + 1
            trailingEnd = try endOfTrailing(afterQuoteAt: valueEnd)
            quoting = quote
            value = decode(quote, content: valueStart + 1..<close)
        } else {
            (valueEnd, trailingEnd) = try scanUnquoted(from: valueStart)
            quoting = .none
            value = text(valueStart..<valueEnd)
        }
        let end = endOfLineEnding(at: trailingEnd)

        let assignment = DotenvFile.Assignment(
            leadingWhitespace: text(lineStart..<first),
            exportPrefix: text(first..<nameStart),
            name: text(nameStart..<nameEnd),
            separator: text(nameEnd..<valueStart),
            rawValue: text(valueStart..<valueEnd),
            trailing: text(valueEnd..<trailingEnd),
            lineEnding: text(trailingEnd..<end),
            value: value,
            quoting: quoting,
            line: line
        )
        return (.assignment(assignment), end)
    }

    // MARK: - Values

    /// The quoting a value that starts with `byte` has, or `nil` for an unquoted one.
    static func quotingOf(first byte: UInt8) -> DotenvFile.Quoting? { quoting(opening: byte) }

    private static func quoting(opening byte: UInt8) -> DotenvFile.Quoting? {
        switch byte {
        case singleQuote: .single
        case doubleQuote: .double
        case backtick: .backtick
        default: nil
        }
    }

    /// Returns the end of the trimmed value and the end of the trailing whitespace and comment.
    private func scanUnquoted(from start: Int) throws(DotenvError) -> (valueEnd: Int, trailingEnd: Int) {
        var index = start
        while !isLineEnd(at: index) {
            let byte = bytes[index]
            if byte == Self.cr { throw error(.bareCarriageReturn, at: index) }
            // `start` follows the `=`, so `index - 1` is in range; `A=x#y` keeps its `#`.
            if byte == Self.hash, Self.isBlank(bytes[index - 1]) { break }
            index += 1
        }
        var valueEnd = index
        while valueEnd > start, Self.isBlank(bytes[valueEnd - 1]) { valueEnd -= 1 }
        let trailingEnd = isLineEnd(at: index) ? index : endOfComment(from: index)
        return (valueEnd, trailingEnd)
    }

    private func closingQuote(_ quoting: DotenvFile.Quoting, openedAt open: Int) throws(DotenvError) -> Int {
        let quote = bytes[open]
        var index = open + 1
        while index < bytes.count {
            if bytes[index] == quote { return index }
            // Any backslash pair is skipped, so `\"` never closes and `\\` cannot escape the quote.
            index += quoting == .double && bytes[index] == Self.backslash ? 2 : 1
        }
        let kind: DotenvError.Kind = switch quoting {
        case .single: .unterminatedSingleQuote
        case .double: .unterminatedDoubleQuote
        case .backtick, .none: .unterminatedBacktickQuote
        }
        throw error(kind, at: open)
    }

    private func endOfTrailing(afterQuoteAt start: Int) throws(DotenvError) -> Int {
        let index = skipBlanks(from: start)
        if isLineEnd(at: index) { return index }
        if bytes[index] == Self.hash { return endOfComment(from: index) }
        if bytes[index] == Self.cr { throw error(.bareCarriageReturn, at: index) }
        throw error(.unexpectedCharacterAfterQuote, at: index)
    }

    /// Decodes quoted content; a CRLF inside it becomes LF so a value does not depend on the file's line endings.
    private func decode(_ quoting: DotenvFile.Quoting, content: Range<Int>) -> String {
        var decoded: [UInt8] = []
        decoded.reserveCapacity(content.count)
        var index = content.lowerBound
        while index < content.upperBound {
            let byte = bytes[index]
            let next: UInt8? = index + 1 < content.upperBound ? bytes[index + 1] : nil
            if byte == Self.cr, next == Self.lf {
                decoded.append(Self.lf)
                index += 2
            } else if quoting == .double, byte == Self.backslash, let next, let escaped = Self.unescaped(next) {
                decoded.append(escaped)
                index += 2
            } else {
                // An unknown escape keeps its backslash; the next character is then read on its own.
                decoded.append(byte)
                index += 1
            }
        }
        return String(decoding: decoded, as: UTF8.self)
    }

    private static func unescaped(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "n"): lf
        case UInt8(ascii: "r"): cr
        case UInt8(ascii: "t"): tab
        case backslash, doubleQuote, UInt8(ascii: "$"): byte
        default: nil
        }
    }

    // MARK: - Scanning helpers

    private func skipBlanks(from start: Int) -> Int {
        var index = start
        while index < bytes.count, Self.isBlank(bytes[index]) { index += 1 }
        return index
    }

    /// Whether a line ends at `index`: end of input, LF, or CRLF.
    private func isLineEnd(at index: Int) -> Bool {
        index >= bytes.count || bytes[index] == Self.lf
            || (bytes[index] == Self.cr && index + 1 < bytes.count && bytes[index + 1] == Self.lf)
    }

    private func isBareCarriageReturn(at index: Int) -> Bool {
        index < bytes.count && bytes[index] == Self.cr && !isLineEnd(at: index)
    }

    /// Returns where the line ending starts after a comment; a lone CR inside a comment is comment text.
    private func endOfComment(from start: Int) -> Int {
        var index = start
        while index < bytes.count, bytes[index] != Self.lf { index += 1 }
        if index < bytes.count, index > start, bytes[index - 1] == Self.cr { return index - 1 }
        return index
    }

    /// Returns the index after the line ending at `index`, which must be a line end.
    private func endOfLineEnding(at index: Int) -> Int {
        guard index < bytes.count else { return bytes.count }
        return bytes[index] == Self.cr ? index + 2 : index + 1
    }

    private func text(_ range: Range<Int>) -> String {
        String(decoding: bytes[range], as: UTF8.self)
    }

    // MARK: - Encoding and errors

    /// Finds the first NUL or ill-formed UTF-8 sequence (overlong forms, surrogates and values
    /// above U+10FFFF are ill-formed).
    private func firstEncodingProblem() -> (offset: Int, kind: DotenvError.Kind)? {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            if lead == 0 { return (index, .nulCharacter) }
            if lead < 0x80 {
                index += 1
                continue
            }
            let length: Int
            let second: ClosedRange<UInt8>
            switch lead {
            case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
            case 0xE0: (length, second) = (3, 0xA0...0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (length, second) = (3, 0x80...0xBF)
            case 0xED: (length, second) = (3, 0x80...0x9F)
            case 0xF0: (length, second) = (4, 0x90...0xBF)
            case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
            case 0xF4: (length, second) = (4, 0x80...0x8F)
            default: return (index, .invalidUTF8)
            }
            guard index + length <= bytes.count, second.contains(bytes[index + 1]) else {
                return (index, .invalidUTF8)
            }
            for offset in 2..<length where !(0x80...0xBF).contains(bytes[index + offset]) {
                return (index, .invalidUTF8)
            }
            index += length
        }
        return nil
    }

    /// Locates a byte offset; columns count Unicode scalars, which the bytes before `offset` are valid as.
    private func error(_ kind: DotenvError.Kind, at offset: Int) -> DotenvError {
        let start = min(bodyStart, offset)
        var line = 1
        var lineStart = start
        for index in start..<offset where bytes[index] == Self.lf {
            line += 1
            lineStart = index + 1
        }
        let column = 1 + bytes[lineStart..<offset].count(where: { $0 & 0xC0 != 0x80 })
        return DotenvError(kind: kind, line: line, column: column)
    }
}
