extension DotenvFile {
    /// Renders the file as bytes.
    ///
    /// For a parsed file these are exactly the parsed bytes; edits change only the lines they touch.
    ///
    /// - Returns: The UTF-8 bytes of the file, starting with the byte order mark if it has one.
    public func render() -> [UInt8] {
        var bytes: [UInt8] = hasByteOrderMark ? DotenvParser.byteOrderMark : []
        for element in elements {
            switch element {
            case .trivia(let trivia):
                bytes.append(contentsOf: trivia.text.utf8)
                bytes.append(contentsOf: trivia.lineEnding.utf8)
            case .assignment(let assignment):
                bytes.append(contentsOf: assignment.leadingWhitespace.utf8)
                bytes.append(contentsOf: assignment.exportPrefix.utf8)
                bytes.append(contentsOf: assignment.name.utf8)
                bytes.append(contentsOf: assignment.separator.utf8)
                bytes.append(contentsOf: assignment.rawValue.utf8)
                bytes.append(contentsOf: assignment.trailing.utf8)
                bytes.append(contentsOf: assignment.lineEnding.utf8)
            }
        }
        return bytes
    }

    /// Renders the file as text.
    ///
    /// - Returns: The text of ``render()``; a byte order mark appears as a leading U+FEFF.
    public func renderString() -> String {
        String(decoding: render(), as: UTF8.self)
    }

    /// Chooses the quoting ``set(_:to:)`` writes: the plainest form that parses back to `value`
    /// here and under python-dotenv (docs/DOTENV.md, section 5).
    ///
    /// Works on bytes, not `Character`s: `"\r\n"` is a single `Character` that `contains("\n")` misses.
    static func encodedValue(_ value: String) -> (raw: String, quoting: Quoting) {
        let bytes = value.utf8
        if bytes.allSatisfy(isUnquotedSafe) { return (value, .none) }
        if singleQuotesHold(bytes) { return ("'" + value + "'", .single) }
        // Quoted, a final backslash is read by python-dotenv as escaping the closing quote; unquoted
        // it is literal everywhere, so a value that can go unquoted does.
        if bytes.last == DotenvParser.backslash, unquotedHolds(value), parsesBack(value, as: .none, trailing: "", to: value) {
            return (value, .none)
        }
        var raw: [UInt8] = [DotenvParser.doubleQuote]
        for byte in bytes {
            switch byte {
            case DotenvParser.backslash: raw += [DotenvParser.backslash, DotenvParser.backslash]
            case DotenvParser.doubleQuote: raw += [DotenvParser.backslash, DotenvParser.doubleQuote]
            case DotenvParser.lf: raw += [DotenvParser.backslash, UInt8(ascii: "n")]
            case DotenvParser.cr: raw += [DotenvParser.backslash, UInt8(ascii: "r")]
            case DotenvParser.tab: raw += [DotenvParser.backslash, UInt8(ascii: "t")]
            // `$` stays as it is: python-dotenv keeps the backslash of `\$`.
            default: raw.append(byte)
            }
        }
        raw.append(DotenvParser.doubleQuote)
        return (String(decoding: raw, as: UTF8.self), .double)
    }

    /// `value` written with a given quoting, or `nil` when that quoting cannot hold it exactly
    /// here and under python-dotenv (checked here by parsing the result back, with the line's
    /// trailing text after it).
    static func encodedValue(_ value: String, quoted quoting: Quoting, trailing: String) -> String? {
        let bytes = value.utf8
        let raw: String
        switch quoting {
        case .none:
            // Unquoted only without blanks, quotes, comment or shell characters, so that other
            // dotenv readers and shells agree on the value too.
            guard !bytes.contains(where: { $0 < 0x21 || $0 == 0x7F || "'\"`#$\\;&|<>(){}*?!~".utf8.contains($0) }),
                  unquotedHolds(value)
            else { return nil }
            raw = value
        case .single:
            // Line breaks as they are, as in the file the value came from; the parse back refuses CRLF.
            guard singleQuotesHold(bytes, allowingLineBreaks: true) else { return nil }
            raw = "'" + value + "'"
        case .backtick:
            // python-dotenv has no backtick quoting: it would keep the backticks in the value.
            return nil
        case .double:
            guard bytes.last != DotenvParser.backslash else { return nil }
            var escaped: [UInt8] = [DotenvParser.doubleQuote]
            for byte in bytes {
                if byte == DotenvParser.backslash || byte == DotenvParser.doubleQuote { escaped.append(DotenvParser.backslash) }
                escaped.append(byte)
            }
            escaped.append(DotenvParser.doubleQuote)
            raw = String(decoding: escaped, as: UTF8.self)
        }
        return parsesBack(raw, as: quoting, trailing: trailing, to: value) ? raw : nil
    }

    /// Whether `raw` followed by `trailing` parses as one value of that quoting equal to `value`.
    private static func parsesBack(_ raw: String, as quoting: Quoting, trailing: String, to value: String) -> Bool {
        guard let parsed = try? DotenvFile.parse(Array("X=\(raw)\(trailing)\n".utf8)),
              parsed.assignments.count == 1, let only = parsed.assignments.first
        else { return false }
        return sameBytes(only.value, value) && only.quoting == quoting
    }

    /// Single quotes hold a value for both grammars when it has no `'` (nor CR or LF, unless
    /// allowed), and nothing python-dotenv decodes there: no `\\` (read as one backslash) and no
    /// final `\` (read as escaping the closing quote).
    private static func singleQuotesHold(_ bytes: String.UTF8View, allowingLineBreaks: Bool = false) -> Bool {
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == DotenvParser.singleQuote { return false }
            if !allowingLineBreaks, byte == DotenvParser.lf || byte == DotenvParser.cr { return false }
            if byte == DotenvParser.backslash, previous == DotenvParser.backslash { return false }
            previous = byte
        }
        return previous != DotenvParser.backslash
    }

    /// An unquoted value reads the same under python-dotenv when it has no line break and no `#`,
    /// does not start with a quote, and neither starts nor ends with whitespace: python-dotenv
    /// trims every Unicode space there (a no-break space, say), not only blanks.
    private static func unquotedHolds(_ value: String) -> Bool {
        let bytes = value.utf8
        guard let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else { return true }
        return !bytes.contains(where: { $0 == DotenvParser.lf || $0 == DotenvParser.cr || $0 == DotenvParser.hash })
            && DotenvParser.quotingOf(first: bytes.first!) == nil
            && !first.properties.isWhitespace && !last.properties.isWhitespace
    }

    /// ASCII letters, digits and `_ - . / : + = @ , %`: nothing a dotenv parser or a shell treats specially.
    static func isUnquotedSafe(_ byte: UInt8) -> Bool {
        DotenvParser.isNameContinuation(byte) || "/:+=@,%".utf8.contains(byte)
    }
}
