/// The forms in which a secret shows up in output, each registered as a pattern to scrub: as it
/// is (and line by line), base64 and base64url at each of the three alignments, URL-encoded, JSON
/// string-escaped and hex, as the encoders named on ``URLStyle`` and ``JSONStyle`` write them.
/// Forms shorter than the minimum length are dropped. docs/REDACTION.md says what each covers.
enum SecretForms {
    /// Calls `register` with every form of `value`; the buffer passed is valid only during the call.
    static func forEach(
        of value: UnsafeBufferPointer<UInt8>,
        minimumLength: Int,
        scratch: WipedBuffer<UInt8>,
        register: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        func emit(_ build: (WipedBuffer<UInt8>) -> Void) {
            build(scratch)
            if scratch.count >= minimumLength { register(scratch.elements) }
            scratch.removeAll()
        }
        guard value.count >= minimumLength else { return }
        register(value)
        registerLines(of: value, minimumLength: minimumLength, register: register)
        for alphabet in Base64Alphabet.allCases {
            for offset in 0..<3 {
                for shape in Base64Run.Shape.allCases {
                    emit { Base64Run(value: value, offset: offset, shape: shape).write(alphabet, to: $0) }
                }
            }
        }
        for uppercase in [false, true] {
            emit { out in
                let digits = uppercase ? hexUpper : hexLower
                for byte in value {
                    out.append(digits[Int(byte >> 4)])
                    out.append(digits[Int(byte & 15)])
                }
            }
        }
        if value.contains(where: { byte in URLStyle.all.contains { !$0.keeps(byte) } }) {
            for style in URLStyle.all {
                for uppercase in [true, false] { emit { style.write(value, uppercaseHex: uppercase, to: $0) } }
            }
        }
        if value.contains(where: { JSONStyle.mayEscape($0) }) {
            let validUTF8 = isValidUTF8(value)
            for style in JSONStyle.all where validUTF8 || !style.decodesScalars {
                emit { style.write(value, to: $0) }
            }
        }
    }

    /// Each line of a multi-line value that is at least `minimumLength` long, without its `\r`.
    private static func registerLines(
        of value: UnsafeBufferPointer<UInt8>,
        minimumLength: Int,
        register: (UnsafeBufferPointer<UInt8>) -> Void
    ) {
        guard value.contains(UInt8(ascii: "\n")) else { return }
        var start = 0
        for index in 0...value.count where index == value.count || value[index] == UInt8(ascii: "\n") {
            var end = index
            if end > start, value[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            if end - start >= minimumLength {
                register(UnsafeBufferPointer(rebasing: value[start..<end]))
            }
            start = index + 1
        }
    }

    private static func isValidUTF8(_ value: UnsafeBufferPointer<UInt8>) -> Bool {
        var decoder = UTF8()
        var iterator = value.makeIterator()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

extension SecretForms {
    static let hexLower = Array("0123456789abcdef".utf8)
    static let hexUpper = Array("0123456789ABCDEF".utf8)

    enum Base64Alphabet: CaseIterable {
        case standard, url

        var characters: [UInt8] {
            switch self {
            case .standard: Self.standardCharacters
            case .url: Self.urlCharacters
            }
        }

        private static let common = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
        private static let standardCharacters = Array((common + "+/").utf8)
        private static let urlCharacters = Array((common + "-_").utf8)
    }

    /// The base64 characters fixed by a secret that starts `offset` bytes past a 3-byte boundary.
    ///
    /// Think of the encoder's input as `offset` unknown bytes, then the secret, then unknown bytes.
    /// Character `c` encodes input bits `6c ..< 6c+6`; the secret covers bits `8·offset ..<
    /// 8·(offset+n)`. The characters wholly inside that range are the same whatever surrounds the
    /// secret; the first is `⌈8·offset/6⌉` and the last `⌊8·(offset+n)/6⌋ − 1`.
    struct Base64Run {
        enum Shape: CaseIterable {
            /// Only the characters fixed by the secret: matches wherever the secret sits.
            case stable
            /// Up to the last character, its unknown bits zero: the secret ends the encoded data.
            case atEnd
            /// As `atEnd`, with `=` padding.
            case atEndPadded
        }

        let value: UnsafeBufferPointer<UInt8>
        let offset: Int
        let shape: Shape

        func write(_ alphabet: Base64Alphabet, to out: WipedBuffer<UInt8>) {
            let characters = alphabet.characters
            let bitCount = 8 * (offset + value.count)
            let first = (8 * offset + 5) / 6
            let end = shape == .stable ? bitCount / 6 : (bitCount + 5) / 6
            guard end > first else { return }
            for index in first..<end {
                let bit = 6 * index
                let window = UInt16(byte(at: bit / 8)) << 8 | UInt16(byte(at: bit / 8 + 1))
                out.append(characters[Int((window >> (10 - UInt16(bit % 8))) & 63)])
            }
            if shape == .atEndPadded {
                let total = 4 * ((offset + value.count + 2) / 3)
                for _ in end..<total { out.append(UInt8(ascii: "=")) }
            }
        }

        /// The encoder's input byte at `index`: zero for the unknown bytes around the secret.
        private func byte(at index: Int) -> UInt8 {
            let inner = index - offset
            return inner >= 0 && inner < value.count ? value[inner] : 0
        }
    }

    /// One way of percent-encoding: which bytes stay as they are, and how a space is written.
    struct URLStyle {
        private let kept: [Bool]
        let spaceAsPlus: Bool

        private init(keeping extra: String, spaceAsPlus: Bool) {
            var kept = [Bool](repeating: false, count: 256)
            for byte in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8 { kept[Int(byte)] = true }
            for byte in extra.utf8 { kept[Int(byte)] = true }
            self.kept = kept
            self.spaceAsPlus = spaceAsPlus
        }

        /// RFC 3986 unreserved characters kept (Python's `quote(s, safe="")`).
        static let rfc3986 = URLStyle(keeping: "-._~", spaceAsPlus: false)
        /// As RFC 3986, space as `+` (Go's `url.QueryEscape`, Python's `quote_plus`).
        static let rfc3986Form = URLStyle(keeping: "-._~", spaceAsPlus: true)
        /// JavaScript's `encodeURIComponent`.
        static let uriComponent = URLStyle(keeping: "-._~!'()*", spaceAsPlus: false)
        /// `application/x-www-form-urlencoded` as WHATWG and Java's `URLEncoder` write it.
        static let whatwgForm = URLStyle(keeping: "*-._", spaceAsPlus: true)
        static let all = [rfc3986, rfc3986Form, uriComponent, whatwgForm]

        func keeps(_ byte: UInt8) -> Bool { kept[Int(byte)] }

        func write(_ value: UnsafeBufferPointer<UInt8>, uppercaseHex: Bool, to out: WipedBuffer<UInt8>) {
            let digits = uppercaseHex ? hexUpper : hexLower
            for byte in value {
                if kept[Int(byte)] {
                    out.append(byte)
                } else if byte == UInt8(ascii: " ") && spaceAsPlus {
                    out.append(UInt8(ascii: "+"))
                } else {
                    out.append(UInt8(ascii: "%"))
                    out.append(digits[Int(byte >> 4)])
                    out.append(digits[Int(byte & 15)])
                }
            }
        }
    }

    /// One serializer's way of escaping a string in JSON.
    struct JSONStyle {
        /// `/` as `\/`.
        var escapesSlash = false
        /// Non-ASCII (and DEL) as `\uXXXX`, with surrogate pairs beyond the BMP.
        var asciiOnly = false
        /// ASCII characters written as `\uXXXX` rather than as themselves or a short escape.
        var unicodeEscaped: Set<UInt8> = []
        /// U+2028 and U+2029 as `\u2028`, `\u2029`.
        var escapesLineSeparators = false
        var uppercaseHex = false

        /// JavaScript's `JSON.stringify`, Rust's serde_json, Swift's `JSONEncoder` with `.withoutEscapingSlashes`.
        static let minimal = JSONStyle()
        /// Swift's `JSONEncoder` and `JSONSerialization` by default.
        static let foundation = JSONStyle(escapesSlash: true)
        /// Python's `json.dumps` by default.
        static let python = JSONStyle(asciiOnly: true)
        /// PHP's `json_encode` by default.
        static let php = JSONStyle(escapesSlash: true, asciiOnly: true)
        /// Go's `encoding/json`.
        static let go = JSONStyle(unicodeEscaped: Set("<>&".utf8), escapesLineSeparators: true)
        /// Jackson (Java): upper-case hex for control characters.
        static let jackson = JSONStyle(uppercaseHex: true)
        /// .NET's `System.Text.Json` with its default encoder.
        static let dotnet = JSONStyle(asciiOnly: true, unicodeEscaped: Set("\"&'+<>`".utf8), uppercaseHex: true)
        static let all = [minimal, foundation, python, php, go, jackson, dotnet]

        /// Whether some style writes `byte` other than as itself.
        static func mayEscape(_ byte: UInt8) -> Bool {
            byte < 0x20 || byte >= 0x7F || "\"\\/<>&'+`".utf8.contains(byte)
        }

        /// Whether the style looks at whole characters rather than bytes (it needs valid UTF-8).
        var decodesScalars: Bool { asciiOnly || escapesLineSeparators }

        func write(_ value: UnsafeBufferPointer<UInt8>, to out: WipedBuffer<UInt8>) {
            guard decodesScalars else {
                for byte in value {
                    if byte < 0x80 { writeASCII(byte, to: out) } else { out.append(byte) }
                }
                return
            }
            var decoder = UTF8()
            var iterator = value.makeIterator()
            var position = 0
            while case .scalarValue(let scalar) = decoder.decode(&iterator) {
                let width = UTF8.width(scalar)
                defer { position += width }
                let code = scalar.value
                if code < 0x80 {
                    writeASCII(UInt8(code), to: out)
                } else if asciiOnly || code == 0x2028 || code == 0x2029 {
                    if code > 0xFFFF {
                        writeUnicodeEscape(UInt16(0xD800 + ((code - 0x10000) >> 10)), to: out)
                        writeUnicodeEscape(UInt16(0xDC00 + ((code - 0x10000) & 0x3FF)), to: out)
                    } else {
                        writeUnicodeEscape(UInt16(code), to: out)
                    }
                } else {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: value[position..<position + width]))
                }
            }
        }

        private func writeASCII(_ byte: UInt8, to out: WipedBuffer<UInt8>) {
            func short(_ letter: Character) {
                out.append(UInt8(ascii: "\\"))
                out.append(letter.asciiValue!)
            }
            if unicodeEscaped.contains(byte) {
                writeUnicodeEscape(UInt16(byte), to: out)
                return
            }
            switch byte {
            case UInt8(ascii: "\""): short("\"")
            case UInt8(ascii: "\\"): short("\\")
            case UInt8(ascii: "/") where escapesSlash: short("/")
            case 0x08: short("b")
            case 0x0C: short("f")
            case 0x0A: short("n")
            case 0x0D: short("r")
            case 0x09: short("t")
            case 0..<0x20: writeUnicodeEscape(UInt16(byte), to: out)
            case 0x7F where asciiOnly: writeUnicodeEscape(UInt16(byte), to: out)
            default: out.append(byte)
            }
        }

        private func writeUnicodeEscape(_ unit: UInt16, to out: WipedBuffer<UInt8>) {
            let digits = uppercaseHex ? hexUpper : hexLower
            out.append(UInt8(ascii: "\\"))
            out.append(UInt8(ascii: "u"))
            for shift in stride(from: 12, through: 0, by: -4) {
                out.append(digits[Int((unit >> UInt16(shift)) & 15)])
            }
        }
    }
}
