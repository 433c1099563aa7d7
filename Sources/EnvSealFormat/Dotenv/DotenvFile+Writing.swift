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

    /// Chooses the quoting ``set(_:to:)`` writes: the plainest form that parses back to `value`.
    ///
    /// Works on bytes, not `Character`s: `"\r\n"` is a single `Character` that `contains("\n")` misses.
    static func encodedValue(_ value: String) -> (raw: String, quoting: Quoting) {
        let bytes = value.utf8
        if bytes.allSatisfy(isUnquotedSafe) { return (value, .none) }
        if !bytes.contains(where: { $0 == DotenvParser.singleQuote || $0 == DotenvParser.lf || $0 == DotenvParser.cr }) {
            return ("'" + value + "'", .single)
        }
        var raw: [UInt8] = [DotenvParser.doubleQuote]
        for byte in bytes {
            switch byte {
            case DotenvParser.backslash: raw += [DotenvParser.backslash, DotenvParser.backslash]
            case DotenvParser.doubleQuote: raw += [DotenvParser.backslash, DotenvParser.doubleQuote]
            case DotenvParser.lf: raw += [DotenvParser.backslash, UInt8(ascii: "n")]
            case DotenvParser.cr: raw += [DotenvParser.backslash, UInt8(ascii: "r")]
            case DotenvParser.tab: raw += [DotenvParser.backslash, UInt8(ascii: "t")]
            // The parser never expands `$`; escaping it keeps shells that source the file from expanding it.
            case UInt8(ascii: "$"): raw += [DotenvParser.backslash, UInt8(ascii: "$")]
            default: raw.append(byte)
            }
        }
        raw.append(DotenvParser.doubleQuote)
        return (String(decoding: raw, as: UTF8.self), .double)
    }

    /// `value` written with a given quoting, or `nil` when that quoting cannot hold it exactly
    /// (checked by parsing the result back, with the line's trailing text after it).
    static func encodedValue(_ value: String, quoted quoting: Quoting, trailing: String) -> String? {
        let raw: String
        switch quoting {
        case .none:
            // Unquoted only without blanks, quotes, comment or shell characters, so that other
            // dotenv readers and shells agree on the value too.
            guard !value.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F || "'\"`#$\\;&|<>(){}*?!~".utf8.contains($0) }) else { return nil }
            raw = value
        case .single: raw = "'" + value + "'"
        case .backtick: raw = "`" + value + "`"
        case .double:
            var bytes: [UInt8] = [DotenvParser.doubleQuote]
            for byte in value.utf8 {
                if byte == DotenvParser.backslash || byte == DotenvParser.doubleQuote { bytes.append(DotenvParser.backslash) }
                bytes.append(byte)
            }
            bytes.append(DotenvParser.doubleQuote)
            raw = String(decoding: bytes, as: UTF8.self)
        }
        guard let parsed = try? DotenvFile.parse(Array("X=\(raw)\(trailing)\n".utf8)),
              parsed.assignments.count == 1, let only = parsed.assignments.first,
              only.value == value, only.quoting == quoting
        else { return nil }
        return raw
    }

    /// ASCII letters, digits and `_ - . / : + = @ , %`: nothing a dotenv parser or a shell treats specially.
    private static func isUnquotedSafe(_ byte: UInt8) -> Bool {
        DotenvParser.isNameContinuation(byte) || "/:+=@,%".utf8.contains(byte)
    }
}
