package import Foundation

/// Writes one JSON object byte for byte as ``KMSJSON/encoder()`` would, for the generated fast
/// response encoders (`fastEncoded()` in KMSShapes.swift).
///
/// The generator calls the member functions in the order `JSONEncoder`'s `.sortedKeys` writes
/// them on Linux (swift-foundation's JSONWriter: the names' UTF-8 bytes compared
/// lexicographically; the generator also checks that Apple's case-insensitive order agrees, else
/// it leaves the shape to `JSONEncoder`). Strings are escaped as that JSONWriter escapes them
/// with `.withoutEscapingSlashes`: `"` and `\` with a backslash, U+0008, U+0009, U+000A, U+000C
/// and U+000D as `\b`, `\t`, `\n`, `\f`, `\r`, the other C0 controls as `\u00xx` (lowercase
/// hex), and everything else, `/`, DEL and U+2028/U+2029 included, as it is. Blobs are padded
/// base64, integers decimal, booleans `true`/`false`; `nil` members are left out.
package struct KMSJSONWriter {
    private var bytes: [UInt8] = []
    private var first = true

    /// An empty object, opened, with room for `capacity` bytes before it grows.
    package init(capacity: Int = 256) {
        bytes.reserveCapacity(capacity)
        bytes.append(UInt8(ascii: "{"))
    }

    /// The finished object.
    package consuming func finish() -> Data {
        bytes.append(UInt8(ascii: "}"))
        return Data(bytes)
    }

    /// Writes the separator and `"name":`; `name` needs no escaping (member names are ASCII letters,
    /// the generator checks; KMSError adds `__type`).
    private mutating func name(_ name: StaticString) {
        if first {
            first = false
        } else {
            bytes.append(UInt8(ascii: ","))
        }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    /// Writes a string member.
    package mutating func member(_ name: StaticString, _ value: String) {
        self.name(name)
        string(value)
    }

    /// Writes a blob member as base64.
    package mutating func member(_ name: StaticString, _ value: Data) {
        self.name(name)
        bytes.append(UInt8(ascii: "\""))
        KMSBase64.encode(value, into: &bytes)
        bytes.append(UInt8(ascii: "\""))
    }

    /// Writes an integer member.
    package mutating func member(_ name: StaticString, _ value: Int) {
        self.name(name)
        bytes.append(contentsOf: String(value).utf8)
    }

    /// Writes a boolean member.
    package mutating func member(_ name: StaticString, _ value: Bool) {
        self.name(name)
        let literal: StaticString = value ? "true" : "false"
        bytes.append(contentsOf: UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// Writes an array-of-strings member.
    package mutating func member(_ name: StaticString, _ values: [String]) {
        self.name(name)
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            string(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        var value = value
        value.withUTF8 { utf8 in
            guard let base = utf8.baseAddress else { return }
            let count = utf8.count
            var mark = 0
            var index = 0
            while index < count {
                let byte = base[index]
                if byte >= 0x20 && byte != UInt8(ascii: "\"") && byte != UInt8(ascii: "\\") {
                    index += 1
                    continue
                }
                bytes.append(contentsOf: UnsafeBufferPointer(start: base + mark, count: index - mark))
                bytes.append(UInt8(ascii: "\\"))
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): bytes.append(byte)
                case 0x08: bytes.append(UInt8(ascii: "b"))
                case 0x0C: bytes.append(UInt8(ascii: "f"))
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(UInt8(ascii: "u"))
                    bytes.append(UInt8(ascii: "0"))
                    bytes.append(UInt8(ascii: "0"))
                    bytes.append(Self.hexDigit(byte >> 4))
                    bytes.append(Self.hexDigit(byte & 0xF))
                }
                index += 1
                mark = index
            }
            bytes.append(contentsOf: UnsafeBufferPointer(start: base + mark, count: count - mark))
        }
        bytes.append(UInt8(ascii: "\""))
    }

    /// A lowercase hex digit, as Foundation writes `\u001f`.
    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
