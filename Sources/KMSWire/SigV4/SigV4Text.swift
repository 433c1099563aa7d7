/// Byte-level text helpers for SigV4: ASCII case folding, SigV4 whitespace, hex and RFC 3986
/// percent-encoding.
///
/// Everything SigV4 compares or hashes is ASCII or raw UTF-8 bytes, so these work on UTF-8 code
/// units and never on `Character`s: no Unicode normalisation, no locale, and no allocation beyond
/// the output buffer (the verifier runs on every request).
enum SigV4Text {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let slash = UInt8(ascii: "/")

    /// Lower-cases an ASCII letter; any other byte is returned as is.
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Whether two strings are equal when ASCII letters are compared without case (HTTP field names).
    static func equalsIgnoringASCIICase(_ lhs: some StringProtocol, _ rhs: some StringProtocol) -> Bool {
        let a = lhs.utf8, b = rhs.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { lower($0) == lower($1) }
    }

    /// The string with ASCII letters lower-cased (header names for `SignedHeaders`).
    static func lowercasedASCII(_ string: some StringProtocol) -> String {
        String(decoding: string.utf8.map(lower), as: UTF8.self)
    }

    /// SigV4's white space: space and horizontal tab, the only ones an HTTP field value may hold.
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// The slice without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> Substring {
        let bytes = text.utf8
        guard let first = bytes.firstIndex(where: { !isBlank($0) }) else { return text[text.endIndex...] }
        let last = bytes.lastIndex(where: { !isBlank($0) })!
        return text[first...last]
    }

    /// Appends a header value the way SigV4 canonicalises it (the spec's `Trimall`): leading and
    /// trailing white space removed, every inner run of spaces and tabs replaced by one space.
    static func appendTrimmedValue(_ value: String, to out: inout [UInt8]) {
        var pendingSpace = false
        var started = false
        for byte in value.utf8 {
            if isBlank(byte) {
                pendingSpace = started
                continue
            }
            if pendingSpace { out.append(space) }
            pendingSpace = false
            started = true
            out.append(byte)
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
    private static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// Appends bytes as lower-case hex, as SigV4 writes hashes and signatures.
    static func appendHex(_ bytes: [UInt8], to out: inout [UInt8]) {
        for byte in bytes {
            out.append(hexDigits[Int(byte >> 4)])
            out.append(hexDigits[Int(byte & 0x0F)])
        }
    }

    /// Bytes as lower-case hex.
    static func hex(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        appendHex(bytes, to: &out)
        return out
    }

    /// Whether a byte is RFC 3986 "unreserved" (`A-Z a-z 0-9 - . _ ~`), which SigV4 never encodes.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }

    /// Appends bytes percent-encoded as SigV4 requires: unreserved bytes (and `/` when
    /// `keepingSlash`) as they are, every other byte as `%XX` with upper-case hex.
    static func appendPercentEncoded(_ bytes: some Sequence<UInt8>, keepingSlash: Bool, to out: inout [UInt8]) {
        for byte in bytes {
            if isUnreserved(byte) || (keepingSlash && byte == slash) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(upperHexDigits[Int(byte >> 4)])
                out.append(upperHexDigits[Int(byte & 0x0F)])
            }
        }
    }

    /// The value of one hex digit, either case, or `nil`.
    @inline(__always)
    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Percent-decodes bytes. A `%` not followed by two hex digits stays a literal `%`, and `+`
    /// stays `+` (it means a space only in HTML forms, not in RFC 3986 query strings).
    static func percentDecoded(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
        guard bytes.contains(UInt8(ascii: "%")) else { return Array(bytes) }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "%"), index + 2 < bytes.endIndex,
               let high = hexValue(bytes[index + 1]), let low = hexValue(bytes[index + 2]) {
                out.append(high << 4 | low)
                index += 3
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}
