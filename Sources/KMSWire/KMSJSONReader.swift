package import Foundation

/// A strict reader of the simple JSON of KMS bodies (what clients send, what the service
/// answers), for the generated fast decoders (`fastDecoded(from:)` in KMSShapes.swift).
///
/// It understands only a subset: one object of known members whose values are strings (with the
/// escapes `\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, no `\u`), canonical padded base64,
/// integers of at most 18 digits without sign tricks (`-0`, `+1`, `01`, fractions and exponents
/// are out), `true`/`false`, arrays of strings, and objects of strings (an encryption context).
/// Every read answers `nil` as soon as the input leaves that subset, valid JSON or not (`null`,
/// an unknown or repeated member, invalid UTF-8, trailing bytes, …): the caller then hands the
/// body to `JSONDecoder`, whose answer, error message included, stays the only one a client sees.
/// So this type never decides that a body is wrong, only that it is plain enough to read here.
///
/// Valid only inside the `withUnsafeBytes` call that made its buffer.
package struct KMSJSONReader {
    private let bytes: UnsafeRawBufferPointer
    private var index = 0

    /// A reader at the start of `bytes`.
    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    // MARK: Structure

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    /// Skips whitespace and consumes `byte`; `false` (nothing consumed) if another byte is next.
    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    /// Consumes the `{` that opens an object.
    package mutating func beginObject() -> Bool {
        consume(UInt8(ascii: "{"))
    }

    /// Moves to the next element of the object or array being read: `true` when one follows
    /// (its separating comma consumed), `false` when `closing` ended the container, `nil` for
    /// anything else. `first` is the caller's state, `true` before the first element.
    package mutating func nextElement(_ first: inout Bool, closing: UInt8) -> Bool? {
        skipWhitespace()
        guard index < bytes.count else { return nil }
        let byte = bytes[index]
        if byte == closing {
            index += 1
            return false
        }
        if first {
            first = false
            return true
        }
        guard byte == UInt8(ascii: ",") else { return nil }
        index += 1
        return true
    }

    /// Reads a member name and its colon: the name's bytes, which are plain ASCII without escapes
    /// (every member name of the model is), or `nil`.
    package mutating func readKey() -> Range<Int>? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let range = start..<index
                index += 1
                return consume(UInt8(ascii: ":")) ? range : nil
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { return nil }
            index += 1
        }
        return nil
    }

    /// Whether the key `range` (from ``readKey()``) is exactly `name`, byte for byte.
    package func key(_ range: Range<Int>, is name: StaticString) -> Bool {
        guard range.count == name.utf8CodeUnitCount else { return false }
        return memcmp(bytes.baseAddress! + range.lowerBound, name.utf8Start, range.count) == 0
    }

    /// Whether only whitespace is left.
    package mutating func isAtEnd() -> Bool {
        skipWhitespace()
        return index == bytes.count
    }

    // MARK: Values

    /// Reads a string's raw content between its quotes: the range, and whether it holds escapes
    /// or non-ASCII bytes. `nil` for a control character or an unterminated string.
    private mutating func stringContent() -> (range: Range<Int>, escaped: Bool, ascii: Bool)? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        guard let base = bytes.baseAddress else { return nil }
        let start = index, end = bytes.count
        var i = start
        var escaped = false
        var high: UInt8 = 0  // the OR of every byte: its top bit tells whether all were ASCII
        // Eight bytes at a time while none of them is a quote, a backslash, a control character
        // or non-ASCII (the usual base64 blob or ARN); the loop below looks at the rest.
        while i + 8 <= end {
            let word = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            if Self.needsAttention(word) { break }
            i += 8
        }
        while i < end {
            let byte = base.load(fromByteOffset: i, as: UInt8.self)
            if byte == UInt8(ascii: "\"") {
                index = i + 1
                return (start..<i, escaped, high < 0x80)
            }
            if byte < 0x20 { return nil }
            if byte == UInt8(ascii: "\\") {
                escaped = true
                i += 2  // the escaped byte is never the closing quote
                continue
            }
            high |= byte
            i += 1
        }
        return nil
    }

    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highs: UInt64 = 0x8080_8080_8080_8080

    /// Whether any byte of `word` is `"`, `\\`, below 0x20 or above 0x7F (the classic
    /// has-zero-byte test, `(x - 0x01…) & ~x & 0x80…`, on `word ^ c` for each byte `c`, and on
    /// `word - 0x20…` for the controls; exact for words of ASCII bytes, whose top bits are zero,
    /// and the top-bit test catches every other word).
    private static func needsAttention(_ word: UInt64) -> Bool {
        if word & highs != 0 { return true }
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let control = (word &- ones &* 0x20) & ~word
        let zeroQuote = (quote &- ones) & ~quote
        let zeroBackslash = (backslash &- ones) & ~backslash
        return (control | zeroQuote | zeroBackslash) & highs != 0
    }

    /// The content of `range` with its simple escapes resolved; `nil` for `\u` or an unknown one.
    private func unescaped(_ range: Range<Int>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var i = range.lowerBound
        while i < range.upperBound {
            let byte = bytes[i]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                i += 1
                continue
            }
            guard i + 1 < range.upperBound else { return nil }
            switch bytes[i + 1] {
            case UInt8(ascii: "\""): out.append(UInt8(ascii: "\""))
            case UInt8(ascii: "\\"): out.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): out.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            default: return nil
            }
            i += 2
        }
        return out
    }

    /// Reads a string; `nil` outside the subset (including invalid UTF-8).
    package mutating func readString() -> String? {
        guard let (range, escaped, ascii) = stringContent() else { return nil }
        if escaped {
            guard let content = unescaped(range) else { return nil }
            return String(validating: content, as: UTF8.self)
        }
        let content = UnsafeRawBufferPointer(rebasing: bytes[range])
        if ascii {
            return String(decoding: content, as: UTF8.self)  // ASCII is always valid UTF-8
        }
        return String(validating: content, as: UTF8.self)
    }

    /// Reads a blob: a string of canonical, padded base64 without escapes.
    package mutating func readData() -> Data? {
        guard let (range, escaped, ascii) = stringContent(), !escaped, ascii else { return nil }
        return KMSBase64.decode(UnsafeRawBufferPointer(rebasing: bytes[range]))
    }

    /// Reads an integer: `0` or an optional `-` and 1–18 digits without a leading zero, not
    /// followed by a fraction or an exponent.
    package mutating func readInt() -> Int? {
        skipWhitespace()
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") {
            negative = true
            index += 1
        }
        let start = index
        var value = 0
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            guard index - start < 18 else { return nil }  // 18 digits never overflow Int
            value = value * 10 + Int(bytes[index] - UInt8(ascii: "0"))
            index += 1
        }
        let digits = index - start
        guard digits > 0 else { return nil }
        if bytes[start] == UInt8(ascii: "0") && (digits > 1 || negative) { return nil }
        if index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"): return nil
            default: break
            }
        }
        return negative ? -value : value
    }

    /// Reads `true` or `false`.
    package mutating func readBool() -> Bool? {
        skipWhitespace()
        if matches("true") { return true }
        if matches("false") { return false }
        return nil
    }

    private mutating func matches(_ literal: StaticString) -> Bool {
        let count = literal.utf8CodeUnitCount
        guard bytes.count - index >= count,
              memcmp(bytes.baseAddress! + index, literal.utf8Start, count) == 0
        else { return false }
        index += count
        return true
    }

    /// Reads an array of strings.
    package mutating func readStringArray() -> [String]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var values: [String] = []
        var first = true
        while true {
            guard let more = nextElement(&first, closing: UInt8(ascii: "]")) else { return nil }
            guard more else { return values }
            guard let value = readString() else { return nil }
            values.append(value)
        }
    }

    /// Reads an object of strings; `nil` if two names are equal as Swift strings (JSONDecoder's
    /// answer to that is its own).
    package mutating func readStringMap() -> [String: String]? {
        guard beginObject() else { return nil }
        var map: [String: String] = [:]
        var first = true
        while true {
            guard let more = nextElement(&first, closing: UInt8(ascii: "}")) else { return nil }
            guard more else { return map }
            guard let name = readString(), consume(UInt8(ascii: ":")),
                  let value = readString(), map.updateValue(value, forKey: name) == nil
            else { return nil }
        }
    }
}
