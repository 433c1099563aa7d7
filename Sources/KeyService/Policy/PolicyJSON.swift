/// A JSON value, read by a strict parser of its own rather than Foundation's `JSONSerialization`,
/// which on Linux accepts trailing commas, silently keeps the last of duplicate member names (so
/// `{"Effect": "Deny", "Effect": "Allow"}` would read as an Allow), and turns `true` into the
/// number 1. Numbers keep their text, so a condition value `10` compares as `"10"`.
enum PolicyJSON {
    /// A member of an object, in document order.
    typealias Member = (key: String, value: PolicyJSON)

    case object([Member])
    case array([PolicyJSON])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// Where and why the text is not JSON.
    struct SyntaxError: Error, CustomStringConvertible {
        let line: Int
        let column: Int
        let problem: String

        var description: String { "not valid JSON at line \(line), column \(column): \(problem)" }
    }

    /// Nesting deep enough for any policy (a condition list sits at depth 6) and shallow enough
    /// that the recursive reader cannot exhaust the stack on hostile input.
    static let maximumDepth = 32

    static func parse(_ text: String) throws(SyntaxError) -> PolicyJSON {
        var reader = Reader(bytes: Array(text.utf8))
        return try reader.document()
    }

    /// The value as a condition value string, for strings, numbers and booleans.
    var scalarText: String? {
        switch self {
        case .string(let text), .number(let text): text
        case .bool(let flag): flag ? "true" : "false"
        case .object, .array, .null: nil
        }
    }

    /// A short description for error messages: the string itself, or the kind of value.
    var summary: String {
        switch self {
        case .string(let text): PolicyError.quoted(text)
        case .number(let text): "the number \(text)"
        case .bool(let flag): flag ? "true" : "false"
        case .null: "null"
        case .array: "a list"
        case .object: "an object"
        }
    }
}

extension PolicyJSON {
    /// A recursive-descent reader over UTF-8 bytes (RFC 8259, plus a leading byte order mark).
    private struct Reader {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func document() throws(SyntaxError) -> PolicyJSON {
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
            skipWhitespace()
            let value = try self.value()
            skipWhitespace()
            guard index == bytes.count else { throw failure("unexpected text after the document") }
            return value
        }

        func failure(_ problem: String, at position: Int? = nil) -> SyntaxError {
            let position = min(position ?? index, bytes.count)
            var line = 1
            var column = 1
            for byte in bytes[..<position] {
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    column = 1
                } else if byte & 0xC0 != 0x80 {
                    column += 1
                }
            }
            return SyntaxError(line: line, column: column, problem: problem)
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"): index += 1
                default: return
                }
            }
        }

        mutating func value() throws(SyntaxError) -> PolicyJSON {
            guard index < bytes.count else { throw failure("unexpected end of the document") }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): return .number(try number())
            default: throw failure("unexpected character")
            }
        }

        mutating func enter() throws(SyntaxError) {
            depth += 1
            guard depth <= PolicyJSON.maximumDepth else { throw failure("nested more than \(PolicyJSON.maximumDepth) levels deep") }
            index += 1
            skipWhitespace()
        }

        mutating func object() throws(SyntaxError) -> PolicyJSON {
            try enter()
            var members: [Member] = []
            var names = Set<String>()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                depth -= 1
                return .object(members)
            }
            while true {
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw failure("expected a member name in double quotes") }
                let nameStart = index
                let name = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
                index += 1
                skipWhitespace()
                let value = try self.value()
                guard names.insert(name).inserted else {
                    throw failure("duplicate member name \(PolicyError.quoted(name))", at: nameStart)
                }
                members.append((key: name, value: value))
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end of the document in an object") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                } else if bytes[index] == UInt8(ascii: "}") {
                    index += 1
                    depth -= 1
                    return .object(members)
                } else {
                    throw failure("expected ',' or '}' in an object")
                }
            }
        }

        mutating func array() throws(SyntaxError) -> PolicyJSON {
            try enter()
            var items: [PolicyJSON] = []
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                depth -= 1
                return .array(items)
            }
            while true {
                items.append(try value())
                skipWhitespace()
                guard index < bytes.count else { throw failure("unexpected end of the document in a list") }
                if bytes[index] == UInt8(ascii: ",") {
                    index += 1
                    skipWhitespace()
                } else if bytes[index] == UInt8(ascii: "]") {
                    index += 1
                    depth -= 1
                    return .array(items)
                } else {
                    throw failure("expected ',' or ']' in a list")
                }
            }
        }

        mutating func literal(_ word: StaticString) throws(SyntaxError) {
            let count = word.utf8CodeUnitCount
            let matches = word.withUTF8Buffer { expected in
                index + count <= bytes.count && bytes[index ..< index + count].elementsEqual(expected)
            }
            guard matches else { throw failure("unexpected character") }
            index += count
        }

        mutating func number() throws(SyntaxError) -> String {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard isDigit() else { throw failure("expected a digit") }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
            } else {
                while isDigit() { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard isDigit() else { throw failure("expected a digit after the decimal point") }
                while isDigit() { index += 1 }
            }
            if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard isDigit() else { throw failure("expected a digit in the exponent") }
                while isDigit() { index += 1 }
            }
            return String(decoding: bytes[start ..< index], as: UTF8.self)
        }

        func isDigit() -> Bool {
            index < bytes.count && bytes[index] &- UInt8(ascii: "0") < 10
        }

        /// Reads a string literal; `index` is at its opening quote.
        mutating func string() throws(SyntaxError) -> String {
            index += 1
            let start = index
            // Most strings have no escapes: slice them straight out of the input.
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    defer { index += 1 }
                    return String(decoding: bytes[start ..< index], as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") { break }
                guard byte >= 0x20 else { throw failure("control character in a string (escape it)") }
                index += 1
            }
            var text = Array(bytes[start ..< index])
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    return String(decoding: text, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    try escape(into: &text)
                case 0 ..< 0x20:
                    throw failure("control character in a string (escape it)")
                default:
                    text.append(byte)
                    index += 1
                }
            }
            throw failure("unterminated string")
        }

        /// Reads one escape sequence; `index` is at its backslash.
        mutating func escape(into text: inout [UInt8]) throws(SyntaxError) {
            let start = index
            index += 1
            guard index < bytes.count else { throw failure("unterminated string") }
            let letter = bytes[index]
            index += 1
            switch letter {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(letter)
            case UInt8(ascii: "b"): text.append(0x08)
            case UInt8(ascii: "f"): text.append(0x0C)
            case UInt8(ascii: "n"): text.append(0x0A)
            case UInt8(ascii: "r"): text.append(0x0D)
            case UInt8(ascii: "t"): text.append(0x09)
            case UInt8(ascii: "u"):
                var value = try hexQuad()
                if 0xD800 ..< 0xDC00 ~= value {
                    // A high surrogate must be followed by an escaped low one; together they are one scalar.
                    guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                        throw failure("unpaired UTF-16 surrogate in \\u escape", at: start)
                    }
                    index += 2
                    let low = try hexQuad()
                    guard 0xDC00 ..< 0xE000 ~= low else { throw failure("unpaired UTF-16 surrogate in \\u escape", at: start) }
                    value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
                } else if 0xDC00 ..< 0xE000 ~= value {
                    throw failure("unpaired UTF-16 surrogate in \\u escape", at: start)
                }
                // Every value left is a valid scalar: surrogates were handled above.
                UTF8.encode(Unicode.Scalar(value)!) { text.append($0) }
            default:
                throw failure("invalid escape sequence", at: start)
            }
        }

        mutating func hexQuad() throws(SyntaxError) -> UInt32 {
            guard index + 4 <= bytes.count else { throw failure("expected four hex digits after \\u") }
            var value: UInt32 = 0
            for byte in bytes[index ..< index + 4] {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0") ... UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a") ... UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A") ... UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure("expected four hex digits after \\u")
                }
                value = value << 4 | UInt32(digit)
            }
            index += 4
            return value
        }
    }
}
