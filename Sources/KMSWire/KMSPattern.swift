/// A `pattern` constraint of the model, matched against the whole value.
///
/// Smithy defines patterns as unanchored ECMAScript regexes, but AWS enforces them on the whole
/// value (the KMS docs for `Policy` list the allowed characters, which only a full match gives),
/// so this matches the whole string, per Unicode scalar (a CRLF is two characters, as in Java),
/// with ASCII-only `\w`, `\d`, `\s` as in Java.
///
/// Every input pattern of the KMS model is one character class repeated (`^[a-zA-Z0-9:/_-]+$`,
/// `[\u0009\u000A\u000D\u0020-\u00FF]+`, …). Those are matched by ``CharacterClassPattern``, a scan
/// that allocates nothing: `Regex` keeps backtracking state for every character it repeats over,
/// about 120 bytes each, so a 60 KB policy cost 7 MB and 14 ms to check. Any other pattern falls back
/// to `Regex`, compiled again at each check because `Regex` is not `Sendable`.
struct KMSPattern: Sendable {
    /// The model's pattern text, quoted in violation messages.
    let source: String
    /// The pattern as one repeated character class, when it is one.
    let characterClass: CharacterClassPattern?

    init(_ source: String) {
        self.source = source
        self.characterClass = CharacterClassPattern(source)
    }

    /// Whether the pattern compiles as a `Regex` (a test checks every generated pattern).
    var compiles: Bool { (try? Regex(source)) != nil }

    /// Whether the whole `value` matches. A pattern that does not compile matches nothing.
    func matches(_ value: String) -> Bool {
        if let characterClass { return characterClass.matches(value) }
        return regexMatches(value)
    }

    /// The same question answered by `Regex`: the fallback, and the reference the tests compare
    /// ``CharacterClassPattern`` with.
    func regexMatches(_ value: String) -> Bool {
        guard let regex = try? Regex(source) else { return false }
        let configured = regex.matchingSemantics(.unicodeScalar).asciiOnlyCharacterClasses()
        return (try? configured.wholeMatch(in: value)) != nil
    }
}

/// A pattern of the form `^?[class]+$?` or `^?[class]*$?`, matched over the whole value by checking
/// each Unicode scalar against the class's ranges.
///
/// The class may hold literal characters, ranges `a-z`, `\uXXXX` escapes, `\w`, `\d` and `\s`
/// (ASCII only), and escaped punctuation; a `-` first, last, or right after a range is literal, as
/// in ECMAScript. Anything else (negated classes, nested brackets, other escapes, other
/// quantifiers) is not this shape, and the initializer returns `nil`.
struct CharacterClassPattern: Sendable, Equatable {
    /// The scalars the class admits.
    let ranges: [ClosedRange<UInt32>]
    /// Whether the quantifier is `*` (an empty value matches) rather than `+`.
    let allowsEmpty: Bool

    init?(_ pattern: String) {
        var scalars = Array(pattern.unicodeScalars)[...]
        if scalars.first == "^" { scalars = scalars.dropFirst() }
        if scalars.last == "$" { scalars = scalars.dropLast() }
        switch scalars.last {
        case "+": allowsEmpty = false
        case "*": allowsEmpty = true
        default: return nil
        }
        scalars = scalars.dropLast()
        guard scalars.first == "[", scalars.last == "]", scalars.count > 2 else { return nil }
        var body = scalars.dropFirst().dropLast()
        guard body.first != "^" else { return nil }
        var ranges: [ClosedRange<UInt32>] = []
        var previousSingle: UInt32?  // the last atom, when it was one scalar that a `-` may extend
        while let atom = Self.nextAtom(&body) {
            switch atom {
            case .invalid:
                return nil
            case .set(let set):
                ranges += set
                previousSingle = nil
            case .dash:
                if let low = previousSingle, !body.isEmpty {
                    // `a-z`: the range's high end is the next atom, which must be one scalar.
                    guard case .scalar(let high) = Self.nextAtom(&body), low <= high else { return nil }
                    ranges[ranges.count - 1] = low ... high
                    previousSingle = nil
                } else {
                    ranges.append(Self.dash ... Self.dash)
                    previousSingle = Self.dash
                }
            case .scalar(let value):
                ranges.append(value ... value)
                previousSingle = value
            }
        }
        guard !ranges.isEmpty else { return nil }
        self.ranges = ranges
    }

    /// Whether every scalar of `value` is in the class (and there is one, for `+`).
    func matches(_ value: String) -> Bool {
        var sawOne = false
        for scalar in value.unicodeScalars {
            let code = scalar.value
            guard ranges.contains(where: { $0.contains(code) }) else { return false }
            sawOne = true
        }
        return sawOne || allowsEmpty
    }

    private enum Atom {
        /// An unescaped `-`: a range between its neighbours, or itself.
        case dash
        case scalar(UInt32)
        case set([ClosedRange<UInt32>])
        case invalid
    }

    private static func ascii(_ character: Unicode.Scalar) -> UInt32 { character.value }
    private static let word: [ClosedRange<UInt32>] = [ascii("a") ... ascii("z"), ascii("A") ... ascii("Z"), ascii("0") ... ascii("9"), ascii("_") ... ascii("_")]
    private static let dash = ascii("-")
    private static let digit: [ClosedRange<UInt32>] = [ascii("0") ... ascii("9")]
    private static let space: [ClosedRange<UInt32>] = [0x09 ... 0x0D, 0x20 ... 0x20]

    /// Takes the next atom of a class body off its front; `nil` at the end.
    private static func nextAtom(_ body: inout ArraySlice<Unicode.Scalar>) -> Atom? {
        guard let first = body.popFirst() else { return nil }
        switch first {
        case "[", "]":
            return .invalid
        case "-":
            return .dash
        case "\\":
            guard let escaped = body.popFirst() else { return .invalid }
            switch escaped {
            case "w": return .set(word)
            case "d": return .set(digit)
            case "s": return .set(space)
            case "u":
                guard body.count >= 4 else { return .invalid }
                let hex = String(String.UnicodeScalarView(body.prefix(4)))
                body = body.dropFirst(4)
                guard hex.utf8.allSatisfy(\.isHexDigitASCII), let value = UInt32(hex, radix: 16) else { return .invalid }
                return .scalar(value)
            default:
                // Escaped punctuation stands for itself; an escaped letter or digit is some other
                // class or control escape this does not read.
                guard escaped.isASCII, !escaped.properties.isAlphabetic, !("0" ... "9").contains(escaped) else { return .invalid }
                return .scalar(escaped.value)
            }
        default:
            return .scalar(first.value)
        }
    }
}

private extension UInt8 {
    var isHexDigitASCII: Bool {
        (UInt8(ascii: "0") ... UInt8(ascii: "9")).contains(self) || (UInt8(ascii: "a") ... UInt8(ascii: "f")).contains(self | 0x20)
    }
}
