/// A string pattern with IAM's two wildcards: `*` matches any run of characters (including none),
/// `?` matches exactly one character.
///
/// There is no escape syntax, as in IAM: a `*` or `?` in a pattern is always a wildcard. A
/// "character" is a Unicode scalar, so `?` matches `é` (two UTF-8 bytes) as one character. (IAM
/// runs on Java and counts UTF-16 code units, which differs only for characters outside the Basic
/// Multilingual Plane.)
///
/// Matching is case-sensitive unless the pattern is made with `ignoringCase: true`, which folds
/// ASCII letters only. That is what action names need (`kms:decrypt` matches `kms:Decrypt`), and
/// they are ASCII.
///
/// Matching never backtracks: the pattern is split at its `*`s into parts; the first part must
/// match at the start, the last at the end, and each part in between is found at its leftmost
/// position after the previous one (which is always the right choice when `*` is the only
/// variable-length wildcard). Inner parts are searched in one pass over the text: with
/// Knuth–Morris–Pratt when they have no `?`, and with the bit-parallel Shift-And algorithm when
/// they do (up to 64 characters; a longer part with `?` is tried position by position, costing
/// at most the text length times its length). So matching takes time linear in the text for any
/// pattern a policy plausibly holds, uses no regular expressions, and allocates nothing.
package struct WildcardPattern: Sendable, Hashable, CustomStringConvertible {
    /// The pattern as written.
    package let pattern: String
    /// Whether ASCII letters match regardless of case.
    package let ignoresCase: Bool

    /// The pattern split at `*`: one part when it has no `*`, and empty parts around leading,
    /// trailing or doubled stars.
    private let parts: [Part]
    /// The pattern is nothing but `*`s, so it matches every string.
    private let matchesEverything: Bool

    /// A run of the pattern between two `*`s. A class, so matching passes references around
    /// instead of copying (and retaining) the arrays inside; immutable, hence `Sendable`.
    fileprivate final class Part: Sendable {
        /// UTF-8 bytes of the run (ASCII-folded to lower case when ignoring case), with
        /// ``anyCharacter`` where the pattern has `?`.
        let units: [UInt16]
        /// The Knuth–Morris–Pratt failure function of `units`; empty when they contain `?`.
        let failure: [Int]
        /// Whether some unit is `?`.
        let hasAnyCharacter: Bool
        /// Whether text bytes are ASCII-folded before comparing (the units already are).
        let ignoresCase: Bool
        /// The Shift-And tables, for a part with `?` of at most 64 characters.
        let shiftAnd: ShiftAnd?

        init(units: [UInt16], hasAnyCharacter: Bool, ignoresCase: Bool) {
            self.units = units
            self.hasAnyCharacter = hasAnyCharacter
            self.ignoresCase = ignoresCase
            self.failure = hasAnyCharacter ? [] : Self.failureFunction(units)
            self.shiftAnd = hasAnyCharacter ? Self.shiftAndTables(units, ignoresCase: ignoresCase) : nil
        }

        /// Whether a pattern unit (never ``anyCharacter``) matches a text byte.
        @inline(__always)
        func unit(_ unit: UInt16, matches byte: UInt8) -> Bool {
            UInt16(ignoresCase ? WildcardPattern.foldASCII(byte) : byte) == unit
        }
    }

    /// Shift-And tables for one part: bit `i` of a mask is set when the part's `i`th character
    /// accepts the text character the mask is for. Sparse (only the characters the part names),
    /// so a policy full of short `?` parts stays small in memory.
    fileprivate struct ShiftAnd: Sendable {
        /// The distinct characters (Unicode scalar values) the part names, and their masks; an
        /// ASCII letter of a case-folding part is listed in both cases.
        let characters: [UInt32]
        let masks: [UInt64]
        /// Positions of `?`, which accept every character; included in every mask above.
        let anyMask: UInt64
        /// The bit of the part's last character: set in the state when the whole part matched.
        let accept: UInt64

        /// The mask for a text character.
        @inline(__always)
        func mask(for character: UInt32) -> UInt64 {
            for index in characters.indices where characters[index] == character { return masks[index] }
            return anyMask
        }
    }

    /// The unit that stands for `?`: outside the byte range, so no byte equals it.
    fileprivate static let anyCharacter: UInt16 = 0x100

    /// Compiles a pattern.
    ///
    /// - Parameters:
    ///   - pattern: The pattern; `*` and `?` are wildcards.
    ///   - ignoringCase: Whether ASCII letters match regardless of case.
    package init(_ pattern: String, ignoringCase: Bool = false) {
        self.pattern = pattern
        self.ignoresCase = ignoringCase
        var parts: [Part] = []
        var units: [UInt16] = []
        var hasAny = false
        for byte in pattern.utf8 {
            switch byte {
            case UInt8(ascii: "*"):
                parts.append(Part(units: units, hasAnyCharacter: hasAny, ignoresCase: ignoringCase))
                units.removeAll(keepingCapacity: true)
                hasAny = false
            case UInt8(ascii: "?"):
                units.append(Self.anyCharacter)
                hasAny = true
            default:
                units.append(UInt16(ignoringCase ? Self.foldASCII(byte) : byte))
            }
        }
        parts.append(Part(units: units, hasAnyCharacter: hasAny, ignoresCase: ignoringCase))
        self.parts = parts
        self.matchesEverything = parts.count > 1 && parts.allSatisfy { $0.units.isEmpty }
    }

    /// Whether the pattern has no wildcard at all, so it matches only itself.
    package var isLiteral: Bool { parts.count == 1 && !parts[0].hasAnyCharacter }

    /// Whether the pattern matches every string (it is made of `*`s only).
    package var isUniversal: Bool { matchesEverything }

    /// The pattern as written.
    package var description: String { pattern }

    /// Whether `text` matches the whole pattern.
    package func matches(_ text: String) -> Bool {
        if matchesEverything { return true }
        return Self.withUTF8(text) { matches($0) }
    }

    /// Whether the UTF-8 bytes of a string match the whole pattern.
    ///
    /// The bytes must be a whole string or a slice of one that starts and ends on character
    /// boundaries (a slice between two ASCII delimiters qualifies).
    func matches(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        if matchesEverything { return true }
        let count = text.count
        if parts.count == 1 {
            // Without `?` a match has exactly the pattern's length: a cheap early exit.
            if !parts[0].hasAnyCharacter, parts[0].units.count != count { return false }
            return Self.matchForward(parts[0], text, at: 0, limit: count) == count
        }
        guard let prefixEnd = Self.matchForward(parts[0], text, at: 0, limit: count),
              let suffixStart = Self.matchBackward(parts[parts.count - 1], text, end: count, lowerBound: prefixEnd)
        else { return false }
        var position = prefixEnd
        for index in 1 ..< parts.count - 1 where !parts[index].units.isEmpty {
            guard let end = Self.firstMatch(of: parts[index], in: text, from: position, limit: suffixStart) else { return false }
            position = end
        }
        return true
    }
}

// MARK: - Matching primitives

extension WildcardPattern {
    /// Patterns are equal when they are written the same and fold case the same; the compiled
    /// parts follow from those.
    package static func == (lhs: WildcardPattern, rhs: WildcardPattern) -> Bool {
        lhs.ignoresCase == rhs.ignoresCase && lhs.pattern == rhs.pattern
    }

    package func hash(into hasher: inout Hasher) {
        hasher.combine(pattern)
        hasher.combine(ignoresCase)
    }
}

extension WildcardPattern.Part {
    /// Builds Shift-And tables over the part's characters, or `nil` when it has more than 64.
    fileprivate static func shiftAndTables(_ units: [UInt16], ignoresCase: Bool) -> WildcardPattern.ShiftAnd? {
        // Decode the units into characters: `?`, or a scalar from its UTF-8 bytes.
        var characters: [UInt32?] = []
        var index = 0
        while index < units.count {
            let unit = units[index]
            if unit == WildcardPattern.anyCharacter {
                characters.append(nil)
                index += 1
                continue
            }
            let length = unit < 0x80 ? 1 : unit < 0xE0 ? 2 : unit < 0xF0 ? 3 : 4
            var scalar = length == 1 ? UInt32(unit) : UInt32(unit) & (0xFF >> (length + 1))
            for offset in 1 ..< length { scalar = scalar << 6 | UInt32(units[index + offset]) & 0x3F }
            characters.append(scalar)
            index += length
        }
        guard characters.count <= 64 else { return nil }
        var names: [UInt32] = []
        var masks: [UInt64] = []
        var anyMask: UInt64 = 0
        func add(_ character: UInt32, _ bit: UInt64) {
            if let slot = names.firstIndex(of: character) {
                masks[slot] |= bit
            } else {
                names.append(character)
                masks.append(bit)
            }
        }
        for (position, character) in characters.enumerated() {
            let bit: UInt64 = 1 << position
            guard let character else {
                anyMask |= bit
                continue
            }
            add(character, bit)
            // The unit is already folded to lower case; the upper-case letter must match it too.
            if ignoresCase, character &- 0x61 < 26 { add(character - 0x20, bit) }
        }
        return WildcardPattern.ShiftAnd(
            characters: names, masks: masks.map { $0 | anyMask }, anyMask: anyMask, accept: 1 << (characters.count - 1)
        )
    }

    /// `failure[i]`: the length of the longest proper prefix of `units[0...i]` that is also its suffix.
    fileprivate static func failureFunction(_ units: [UInt16]) -> [Int] {
        var failure = [Int](repeating: 0, count: units.count)
        var length = 0
        var index = 1
        while index < units.count {
            if units[index] == units[length] {
                length += 1
                failure[index] = length
                index += 1
            } else if length > 0 {
                length = failure[length - 1]
            } else {
                index += 1
            }
        }
        return failure
    }
}

extension WildcardPattern {
    /// Lower-cases an ASCII letter; every other byte is returned unchanged.
    @inline(__always)
    static func foldASCII(_ byte: UInt8) -> UInt8 {
        byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte
    }

    /// Whether a byte continues a multi-byte UTF-8 sequence (`10xxxxxx`).
    @inline(__always)
    private static func isContinuation(_ byte: UInt8) -> Bool {
        byte & 0xC0 == 0x80
    }

    /// Matches `part` starting at `start`, not reading at or past `limit`; returns where it ends.
    private static func matchForward(
        _ part: Part, _ text: UnsafeBufferPointer<UInt8>, at start: Int, limit: Int
    ) -> Int? {
        var position = start
        for unit in part.units {
            guard position < limit else { return nil }
            if unit == anyCharacter {
                position += 1
                while position < limit, isContinuation(text[position]) { position += 1 }
            } else {
                guard part.unit(unit, matches: text[position]) else { return nil }
                position += 1
            }
        }
        return position
    }

    /// Matches `part` so that it ends exactly at `end`, not reading below `lowerBound`; returns where it starts.
    private static func matchBackward(
        _ part: Part, _ text: UnsafeBufferPointer<UInt8>, end: Int, lowerBound: Int
    ) -> Int? {
        var position = end
        for unit in part.units.reversed() {
            guard position > lowerBound else { return nil }
            if unit == anyCharacter {
                position -= 1
                while position > lowerBound, isContinuation(text[position]) { position -= 1 }
            } else {
                guard part.unit(unit, matches: text[position - 1]) else { return nil }
                position -= 1
            }
        }
        return position
    }

    /// Finds the leftmost occurrence of `part` within `from..<limit`; returns where it ends.
    private static func firstMatch(
        of part: Part, in text: UnsafeBufferPointer<UInt8>, from: Int, limit: Int
    ) -> Int? {
        if let tables = part.shiftAnd {
            return shiftAndMatch(tables, in: text, from: from, limit: limit)
        }
        if part.hasAnyCharacter {
            // A part too long for one machine word: try each start; each character takes at least a byte.
            var start = from
            while start + part.units.count <= limit {
                if let end = matchForward(part, text, at: start, limit: limit) { return end }
                start += 1
                while start < limit, isContinuation(text[start]) { start += 1 }
            }
            return nil
        }
        // Knuth–Morris–Pratt. A run of literal bytes starts with a whole character, and a UTF-8
        // lead byte never equals a continuation byte, so matches can only start on character
        // boundaries, as they must.
        let units = part.units
        var matched = 0
        var position = from
        while position < limit {
            let byte = text[position]
            while matched > 0, !part.unit(units[matched], matches: byte) { matched = part.failure[matched - 1] }
            if part.unit(units[matched], matches: byte) { matched += 1 }
            position += 1
            if matched == units.count { return position }
        }
        return nil
    }
}

// MARK: - ARN patterns

extension WildcardPattern {
    /// A pattern for ARNs, matched component by component as IAM matches the `Resource` element
    /// and the `ArnLike` family of condition operators.
    ///
    /// An ARN has six colon-separated components (`arn:partition:service:region:account:resource`;
    /// the resource may itself contain colons). Each component of the pattern is a
    /// ``WildcardPattern`` matched against the same component of the ARN, so a `*` does not run
    /// across a colon: `arn:aws:kms:*:111122223333:key/*` cannot match a key of another account by
    /// letting the region's `*` swallow the account. A pattern of fewer components whose last
    /// component ends in `*` matches the rest of the ARN, colons included (`arn:aws:kms:*` matches
    /// every KMS ARN), as IAM documents for a `*` at the end of a segment. A pattern that is only
    /// `*` matches everything, ARN or not.
    struct ARN: Sendable, Hashable {
        /// The pattern's components, split at its first five colons.
        private let components: [WildcardPattern]
        /// Whether the last component may absorb further components of the ARN.
        private let lastAbsorbsRest: Bool
        private let matchesEverything: Bool

        /// Compiles an ARN pattern.
        init(_ pattern: String) {
            let pieces = pattern.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
            components = pieces.map { WildcardPattern(String($0)) }
            lastAbsorbsRest = pieces.count < 6 && (pieces.last?.hasSuffix("*") ?? false)
            matchesEverything = components.count == 1 && components[0].isUniversal
        }

        /// Whether an ARN (or any string) matches.
        func matches(_ text: String) -> Bool {
            if matchesEverything { return true }
            return WildcardPattern.withUTF8(text) { matches($0) }
        }

        /// Whether the UTF-8 bytes of a whole string match.
        func matches(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
            if matchesEverything { return true }
            let count = text.count
            var start = 0
            for (index, component) in components.enumerated() {
                var end = start
                // The sixth component is the rest of the ARN; earlier ones end at the next colon.
                if index == 5 {
                    end = count
                } else {
                    while end < count, text[end] != UInt8(ascii: ":") { end += 1 }
                }
                if index == components.count - 1 {
                    guard end == count || lastAbsorbsRest else { return false }
                    return component.matches(UnsafeBufferPointer(rebasing: text[start ..< count]))
                }
                guard end < count, component.matches(UnsafeBufferPointer(rebasing: text[start ..< end])) else { return false }
                start = end + 1
            }
            return false
        }
    }
}

// MARK: - Byte-level string helpers

extension WildcardPattern {
    /// Runs `body` over the UTF-8 bytes of `text` without copying them when the string is native
    /// (it always is for strings made by Swift code; bridged strings are copied once).
    @inline(__always)
    static func withUTF8<Result>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    /// Whether two strings have the same UTF-8 bytes.
    ///
    /// Policies compare code units as AWS does; Swift's `==` would also equate canonically
    /// equivalent strings (`é` and `e` + combining acute accent), which IAM does not.
    static func sameBytes(_ lhs: String, _ rhs: String) -> Bool {
        guard lhs.utf8.count == rhs.utf8.count else { return false }
        return withUTF8(lhs) { left in
            withUTF8(rhs) { right in
                // A plain loop: `elementsEqual` on buffers goes through the generic Sequence path.
                for index in 0 ..< left.count where left[index] != right[index] { return false }
                return true
            }
        }
    }

    /// Whether two strings are equal ignoring case, as `StringEqualsIgnoreCase` compares.
    ///
    /// ASCII strings (nearly all policy values) are compared byte by byte with ASCII folding and
    /// no allocation; anything else falls back to comparing the strings' Unicode lower-case forms.
    static func equalIgnoringCase(_ lhs: String, _ rhs: String) -> Bool {
        let asciiResult: Bool? = withUTF8(lhs) { left in
            withUTF8(rhs) { right in
                var nonASCII = false
                if left.count == right.count {
                    for index in 0 ..< left.count {
                        let a = left[index], b = right[index]
                        if a | b >= 0x80 { nonASCII = true; break }
                        if foldASCII(a) != foldASCII(b) { return false }
                    }
                    if !nonASCII { return true }
                } else if left.allSatisfy({ $0 < 0x80 }) && right.allSatisfy({ $0 < 0x80 }) {
                    return false
                }
                return nil
            }
        }
        if let asciiResult { return asciiResult }
        return lhs.lowercased() == rhs.lowercased()
    }

    /// Shift-And: one pass over the text's characters, keeping in a bit set which prefixes of the
    /// part end at the current character. Returns where the first full match ends.
    private static func shiftAndMatch(
        _ tables: ShiftAnd, in text: UnsafeBufferPointer<UInt8>, from: Int, limit: Int
    ) -> Int? {
        var state: UInt64 = 0
        var position = from
        while position < limit {
            // Decode one character (the text is valid UTF-8).
            let lead = text[position]
            var scalar = UInt32(lead)
            if lead < 0x80 {
                position += 1
            } else {
                let length = lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4
                scalar &= 0xFF >> (length + 1)
                for offset in 1 ..< length { scalar = scalar << 6 | UInt32(text[position + offset]) & 0x3F }
                position += length
            }
            state = (state << 1 | 1) & tables.mask(for: scalar)
            if state & tables.accept != 0 { return position }
        }
        return nil
    }
}
