/// Byte-level text helpers for SigV4: ASCII case folding, SigV4 white space, hex digits and RFC 3986
/// percent-encoding.
///
/// Everything SigV4 compares or hashes is ASCII or raw UTF-8 bytes, so these work on UTF-8 code
/// units (a `String`'s contiguous UTF-8 storage, or byte arrays), never on `Character`s: no
/// Unicode normalisation, no locale, and no allocation beyond the output buffer, since the
/// verifier runs on every request.
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

    /// SigV4's white space: space and horizontal tab, the only ones an HTTP field value may hold.
    @inline(__always)
    static func isBlank(_ byte: UInt8) -> Bool {
        byte == space || byte == tab
    }

    /// Calls `body` with the UTF-8 bytes of a string (no copy for a native string).
    @inline(__always)
    static func withBytes<R>(_ string: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        var string = string
        return string.withUTF8(body)
    }

    /// Whether two strings are equal when ASCII letters are compared without case (HTTP field names).
    static func equalsIgnoringASCIICase(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        return withBytes(rhs) { matches(lhs, lowercasedOrNot: $0, foldingBoth: true) }
    }

    /// Whether a header name equals a lower-case name, ignoring the header name's ASCII case.
    @inline(__always)
    static func nameMatches(_ name: String, lowercased: ArraySlice<UInt8>) -> Bool {
        guard name.utf8.count == lowercased.count else { return false }
        return lowercased.withUnsafeBufferPointer { matches(name, lowercasedOrNot: $0, foldingBoth: false) }
    }

    private static func matches(_ name: String, lowercasedOrNot other: UnsafeBufferPointer<UInt8>, foldingBoth: Bool) -> Bool {
        withBytes(name) { bytes in
            guard bytes.count == other.count else { return false }
            for index in 0..<bytes.count {
                let right = foldingBoth ? lower(other[index]) : other[index]
                if lower(bytes[index]) != right { return false }
            }
            return true
        }
    }

    /// The UTF-8 bytes of a string with ASCII letters lower-cased (header names for `SignedHeaders`).
    static func lowercasedBytes(_ string: String) -> [UInt8] {
        withBytes(string) { $0.map(lower) }
    }

    /// The range of `bytes[range]` without leading and trailing spaces and tabs.
    static func trimmed(_ range: Range<Int>, in bytes: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        var start = range.lowerBound, end = range.upperBound
        while start < end, isBlank(bytes[start]) { start += 1 }
        while end > start, isBlank(bytes[end - 1]) { end -= 1 }
        return start..<end
    }

    /// The range of `bytes[range]` without leading and trailing spaces and tabs.
    static func trimmed(_ range: Range<Int>, in bytes: [UInt8]) -> Range<Int> {
        bytes.withUnsafeBufferPointer { trimmed(range, in: $0) }
    }

    /// Appends a header value the way SigV4 canonicalises it (the spec's `Trimall`): leading and
    /// trailing white space removed, every inner run of spaces and tabs replaced by one space.
    static func appendTrimmedValue(_ value: String, to out: inout [UInt8]) {
        withBytes(value) { bytes in
            let range = trimmed(0..<bytes.count, in: bytes)
            var previousBlank = false
            for index in range {
                let byte = bytes[index]
                if isBlank(byte) {
                    if !previousBlank { out.append(space) }
                    previousBlank = true
                } else {
                    out.append(byte)
                    previousBlank = false
                }
            }
        }
    }

    private static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

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

    /// Whether a byte is a lower-case hex digit, as SDKs write signatures.
    @inline(__always)
    static func isLowerHex(_ byte: UInt8) -> Bool {
        (byte &- UInt8(ascii: "0") < 10) || (byte &- UInt8(ascii: "a") < 6)
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
