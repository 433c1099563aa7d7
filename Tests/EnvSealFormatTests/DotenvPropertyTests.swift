import EnvSealFormat
import Testing
import TestSupport

/// Seeded property tests for the dotenv parser: totality, byte-exact rendering, decoding against an
/// independent model, and the `set`/`remove` edits. Each test is split into two seeded halves so
/// they run in parallel; a failure names its seed and case so it can be replayed.
@Suite("Dotenv properties")
struct DotenvPropertyTests {
    private static let seeds: [UInt64] = [0xD07E_0001, 0xD07E_0002]

    @Test("Random bytes parse or throw a sane error, and parsed files render back", arguments: seeds)
    func randomBytes(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var failures = FailureLog(property: "random bytes", seed: seed)
        var outcomes = Outcomes()
        for index in 0..<25_000 {
            let input = (0..<rng.int(0...48)).map { _ in rng.byte() }
            failures.check(totality(input, &outcomes), index: index, input: input)
        }
        outcomes.expect(parsedAtLeast: 200, kinds: [.invalidUTF8, .nulCharacter, .invalidName, .missingEquals])
    }

    @Test("Quote-, escape- and newline-heavy token strings parse or throw", arguments: seeds)
    func tokenSoup(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var failures = FailureLog(property: "token soup", seed: seed)
        var outcomes = Outcomes()
        for index in 0..<15_000 {
            let input = soupInput(&rng)
            failures.check(totality(input, &outcomes), index: index, input: input)
        }
        outcomes.expect(parsedAtLeast: 1_000, kinds: Outcomes.syntaxKinds)
    }

    @Test("Mutated valid files parse or throw, and parsed files render back", arguments: seeds)
    func mutatedFiles(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var failures = FailureLog(property: "mutations", seed: seed)
        var outcomes = Outcomes()
        for index in 0..<10_000 {
            var input = generateFile(&rng).bytes
            for _ in 0..<rng.int(1...3) { mutate(&input, &rng) }
            failures.check(totality(input, &outcomes), index: index, input: input)
        }
        outcomes.expect(parsedAtLeast: 1_000, kinds: DotenvError.Kind.allCases)
    }

    @Test("Generated valid files decode to the values they were built from", arguments: seeds)
    func generatedFiles(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var failures = FailureLog(property: "generated files", seed: seed)
        for index in 0..<4_000 {
            let generated = generateFile(&rng)
            failures.check(decodes(generated), index: index, input: generated.bytes)
        }
    }

    @Test("set writes values that parse back exactly; remove removes only its name", arguments: seeds)
    func setAndRemove(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var failures = FailureLog(property: "set and remove", seed: seed)
        for index in 0..<2_500 {
            let generated = generateFile(&rng)
            guard let file = try? DotenvFile.parse(generated.bytes) else {
                failures.check("generated file does not parse", index: index, input: generated.bytes)
                continue
            }
            let existing = file.names
            let name = !existing.isEmpty && rng.chance(0.6) ? rng.pick(existing) : randomName(&rng)
            let value = randomValue(&rng)
            failures.check(setProperty(file, name: name, value: value), index: index, input: generated.bytes)
            failures.check(removeProperty(file, name: name), index: index, input: generated.bytes)
        }
    }
}

// MARK: - Properties; each returns a failure message or nil

/// Parsing returns or throws; a parsed file renders to the input; an error lies inside the input.
private func totality(_ input: [UInt8], _ outcomes: inout Outcomes) -> String? {
    do {
        let file = try DotenvFile.parse(input)
        outcomes.parsed += 1
        return file.render() == input ? nil : "render differs from input"
    } catch {
        outcomes.errors[error.kind, default: 0] += 1
        let lines = input.split(separator: 0x0A, omittingEmptySubsequences: false)
        guard error.line >= 1, error.line <= lines.count else { return "error line \(error.line) out of range" }
        let lineLength = lines[error.line - 1].count
        guard error.column >= 1, error.column <= lineLength + 1 else { return "error column \(error.column) out of range" }
        return nil
    }
}

private func decodes(_ generated: GeneratedFile) -> String? {
    let file: DotenvFile
    do { file = try DotenvFile.parse(generated.bytes) } catch { return "valid file rejected: \(error)" }
    let assignments = file.assignments
    guard assignments.count == generated.entries.count else {
        return "\(assignments.count) assignments, expected \(generated.entries.count)"
    }
    for (assignment, entry) in zip(assignments, generated.entries) {
        guard assignment.name == entry.name, assignment.isExported == entry.export else {
            return "name or export of \(entry.name) differs"
        }
        guard Array(assignment.value.utf8) == entry.value else {
            let expected = String(decoding: entry.value, as: UTF8.self)
            return "value of \(entry.name) is \(String(reflecting: assignment.value)), "
                + "expected \(String(reflecting: expected))"
        }
    }
    return file.render() == generated.bytes ? nil : "render differs from input"
}

private func setProperty(_ original: DotenvFile, name: String, value: String) -> String? {
    var file = original
    do {
        try file.set(name, to: value)
    } catch {
        let expectedError = value.utf8.contains(0) && error == .nulCharacterInValue
        guard expectedError, file == original else { return "set threw \(error)" }
        return nil
    }
    guard !value.utf8.contains(0) else { return "set accepted a NUL" }
    let reparsed: DotenvFile
    do { reparsed = try DotenvFile.parse(file.render()) } catch { return "file after set does not parse: \(error)" }
    guard reparsed == file else { return "file after set differs from its reparse" }
    guard let stored = reparsed.value(of: name), Array(stored.utf8) == Array(value.utf8) else {
        return "set value \(String(reflecting: value)) reads back as \(String(reflecting: reparsed.value(of: name)))"
    }
    for other in original.names where other != name {
        guard reparsed.value(of: other).map({ Array($0.utf8) }) == original.value(of: other).map({ Array($0.utf8) }) else {
            return "set changed \(other)"
        }
    }
    // Replacing changes one element; appending may also give the old last line a line ending.
    let changed = zip(original.elements, file.elements).filter { elementBytes($0) != elementBytes($1) }.count
    let appended = file.elements.count - original.elements.count
    guard changed <= 1, appended == (original.value(of: name) == nil ? 1 : 0) else {
        return "set changed \(changed) elements and appended \(appended)"
    }
    return nil
}

private func removeProperty(_ original: DotenvFile, name: String) -> String? {
    var file = original
    file.remove(name)
    guard let reparsed = try? DotenvFile.parse(file.render()), reparsed == file else {
        return "file after remove does not reparse to itself"
    }
    guard reparsed.value(of: name) == nil else { return "remove left \(name)" }
    let kept = original.elements.filter { $0.assignment?.name != name }
    guard kept.map(elementBytes) == file.elements.map(elementBytes) else { return "remove changed other elements" }
    return nil
}

private func elementBytes(_ element: DotenvFile.Element) -> [UInt8] {
    switch element {
    case .trivia(let trivia):
        Array((trivia.text + trivia.lineEnding).utf8)
    case .assignment(let a):
        Array((a.leadingWhitespace + a.exportPrefix + a.name + a.separator + a.rawValue + a.trailing + a.lineEnding).utf8)
    }
}

// MARK: - Generators

// Generators work on bytes: String concatenation dominates the run time in debug builds.

private struct GeneratedFile {
    var bytes: [UInt8]
    var entries: [(name: String, value: [UInt8], export: Bool)]
}

private let soupTokens: [[UInt8]] = [
    "A", "B_1", "export", "export ", " ", "\t", "=", " = ", "#", " #", "'", "\"", "`", "\\", "\\\"", "\\n",
    "\\\\", "\\$", "\n", "\r\n", "\r", "$", "${X}", "é", "🔑", "\u{FEFF}", "value", "a b", ":",
].map { Array($0.utf8) }

/// Lines that mostly start like assignments, so the quote and escape paths are reached.
private func soupInput(_ rng: inout SplitMix64) -> [UInt8] {
    var bytes: [UInt8] = []
    for _ in 0..<rng.int(1...5) {
        if rng.chance(0.7) { bytes += Array(randomName(&rng).utf8) + blanks(&rng) + [0x3D] + blanks(&rng) }
        bytes += randomTokens(&rng, soupTokens, count: 0...8).joined()
        bytes += rng.pick([[lf], [cr, lf], []])
    }
    return bytes
}

private let valueTokens: [[UInt8]] = [
    "a", "Z", "0", "_", "-", ".", "/", ":", "+", "=", "@", ",", "%", " ", "\t", "\n", "\r\n", "\r", "'", "\"",
    "`", "\\", "\\n", "\\\"", "#", " #", "$", "${X}", "é", "e\u{301}", "🔑", "日本", "\u{FEFF}", "\u{7F}", "\u{1B}",
].map { Array($0.utf8) }

private let namePool = ["A", "B", "export", "exporter", "KEY", "a.b-c", "_"]
private let nameStart = Array("ABCXYZabcxyz_".utf8)
private let nameRest = Array("ABCXYZabcxyz_019.-".utf8)
private let lf: UInt8 = 0x0A
private let cr: UInt8 = 0x0D

private func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }

private func randomName(_ rng: inout SplitMix64) -> String {
    if rng.chance(0.3) { return rng.pick(namePool) }
    let rest = (0..<rng.int(0...8)).map { _ in rng.pick(nameRest) }
    return String(decoding: [rng.pick(nameStart)] + rest, as: UTF8.self)
}

private func randomTokens(_ rng: inout SplitMix64, _ tokens: [[UInt8]], count: ClosedRange<Int>) -> [[UInt8]] {
    (0..<rng.int(count)).map { _ in rng.pick(tokens) }
}

private func randomValue(_ rng: inout SplitMix64) -> String {
    var value = Array(randomTokens(&rng, valueTokens, count: 0...10).joined())
    if rng.chance(0.01) { value.insert(0, at: rng.int(0...value.count)) }
    return String(decoding: value, as: UTF8.self)
}

private func blanks(_ rng: inout SplitMix64, atLeast minimum: Int = 0) -> [UInt8] {
    (0..<rng.int(minimum...max(minimum, 2))).map { _ in rng.chance(0.7) ? 0x20 : 0x09 }
}

/// Comment text: anything but a line feed (a lone CR is comment text).
private func commentText(_ rng: inout SplitMix64) -> [UInt8] {
    Array(randomTokens(&rng, valueTokens, count: 0...6).filter { !$0.contains(lf) }.joined())
}

/// Builds a valid file and, independently of the parser, the entries it must decode to.
private func generateFile(_ rng: inout SplitMix64) -> GeneratedFile {
    var bytes: [UInt8] = rng.chance(0.1) ? [0xEF, 0xBB, 0xBF] : []
    var entries: [(name: String, value: [UInt8], export: Bool)] = []
    let lineCount = rng.int(0...8)
    for index in 0..<lineCount {
        let ending: [UInt8] = index == lineCount - 1 && rng.chance(0.3) ? [] : rng.chance(0.5) ? [cr, lf] : [lf]
        switch rng.int(0...5) {
        case 0:
            bytes += blanks(&rng) + ending
        case 1:
            bytes += blanks(&rng) + [0x23] + commentText(&rng) + ending
        default:
            let export = rng.chance(0.3) ? Array("export".utf8) + blanks(&rng, atLeast: 1) : []
            let name = randomName(&rng)
            let separator = blanks(&rng) + [0x3D] + blanks(&rng)
            let (raw, value, quoted) = generateValue(&rng, separatorEndsInBlank: isBlank(separator.last ?? 0))
            // After an unquoted value a comment needs a blank before its `#`.
            var trailing = blanks(&rng, atLeast: quoted ? 0 : 1)
            if rng.chance(0.4) { trailing += [0x23] + commentText(&rng) } else if !quoted { trailing = blanks(&rng) }
            bytes += blanks(&rng) + export + Array(name.utf8) + separator + raw + trailing + ending
            entries.append((name, value, !export.isEmpty))
        }
    }
    return GeneratedFile(bytes: bytes, entries: entries)
}

private func generateValue(
    _ rng: inout SplitMix64, separatorEndsInBlank: Bool
) -> (raw: [UInt8], value: [UInt8], quoted: Bool) {
    let tokens = randomTokens(&rng, valueTokens, count: 0...8)
    switch rng.int(0...3) {
    case 0, 1:
        let quote: UInt8 = rng.chance(0.5) ? 0x27 : 0x60
        let content = Array(tokens.filter { $0 != [quote] }.joined())
        return ([quote] + content + [quote], normalizedLineEndings(content), true)
    case 2:
        let value = Array(tokens.joined())
        return (encodeDoubleQuoted(value, &rng), value, true)
    default:
        let raw = unquotedValue(tokens, separatorEndsInBlank: separatorEndsInBlank)
        return (raw, raw, false)
    }
}

private func normalizedLineEndings(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    for byte in bytes {
        if byte == lf, out.last == cr { out.removeLast() }
        out.append(byte)
    }
    return out
}

/// Encodes a value in double quotes, choosing at random among the encodings that decode to it.
private func encodeDoubleQuoted(_ value: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
    var raw: [UInt8] = [0x22]
    for (index, byte) in value.enumerated() {
        let next = index + 1 < value.count ? value[index + 1] : nil
        switch byte {
        case 0x5C:
            // An unknown escape keeps its backslash, so a backslash before a plain letter may stay bare.
            let bareIsSafe = next.map { Array("abcxyzABCZ019".utf8).contains($0) } ?? false
            raw += bareIsSafe && rng.chance(0.5) ? [0x5C] : [0x5C, 0x5C]
        case 0x22: raw += [0x5C, 0x22]
        case cr: raw += [0x5C, UInt8(ascii: "r")]
        case lf: raw += rng.pick([[0x5C, UInt8(ascii: "n")], [lf], [cr, lf]])
        case 0x09: raw += rng.chance(0.5) ? [0x5C, UInt8(ascii: "t")] : [0x09]
        case 0x24: raw += rng.chance(0.5) ? [0x5C, 0x24] : [0x24]
        default: raw.append(byte)
        }
    }
    raw.append(0x22)
    return raw
}

/// Makes tokens a valid unquoted value: no quote or blank first, no blank last, no `#` after a blank.
private func unquotedValue(_ tokens: [[UInt8]], separatorEndsInBlank: Bool) -> [UInt8] {
    var bytes = Array(tokens.filter { !$0.contains(lf) && !$0.contains(cr) }.joined())
    while let last = bytes.last, isBlank(last) { bytes.removeLast() }
    while let first = bytes.first, isBlank(first) { bytes.removeFirst() }
    for index in bytes.indices.dropFirst() where bytes[index] == 0x23 && isBlank(bytes[index - 1]) {
        bytes[index] = UInt8(ascii: "x")
    }
    if let first = bytes.first, [0x27, 0x22, 0x60].contains(first) || (first == 0x23 && separatorEndsInBlank) {
        bytes.insert(UInt8(ascii: "v"), at: 0)
    }
    return bytes
}

private let interestingBytes = Array("A=#'\"`\\\n\r \texport${}1_.-".utf8)
    + [0xEF, 0xBB, 0xBF, 0xC3, 0xA9, 0x80, 0xFF, 0x00]

private func mutate(_ bytes: inout [UInt8], _ rng: inout SplitMix64) {
    switch rng.int(0...5) {
    case 0 where !bytes.isEmpty: bytes[rng.int(0...bytes.count - 1)] = rng.byte()
    case 1: bytes.insert(rng.byte(), at: rng.int(0...bytes.count))
    case 2 where !bytes.isEmpty: bytes.remove(at: rng.int(0...bytes.count - 1))
    case 3: bytes.removeLast(rng.int(0...bytes.count))
    case 4 where !bytes.isEmpty:
        let start = rng.int(0...bytes.count - 1)
        let slice = bytes[start..<rng.int(start...bytes.count)]
        bytes.insert(contentsOf: slice, at: rng.int(0...bytes.count))
    case 5 where bytes.count >= 2:
        bytes.swapAt(rng.int(0...bytes.count - 1), rng.int(0...bytes.count - 1))
    default: bytes.append(rng.byte())
    }
}

// MARK: - Randomness and reporting

extension SplitMix64 {
    /// Mostly a byte the grammar cares about or printable ASCII, sometimes any byte.
    mutating func byte() -> UInt8 {
        switch int(0...9) {
        case 0...4: pick(interestingBytes)
        case 5...8: UInt8(int(0x20...0x7E))
        default: UInt8(truncatingIfNeeded: next())
        }
    }
}


/// Counts outcomes so a generator that stops reaching the parser's interesting paths is noticed.
private struct Outcomes {
    static let syntaxKinds = DotenvError.Kind.allCases.filter { $0 != .invalidUTF8 && $0 != .nulCharacter }

    var parsed = 0
    var errors: [DotenvError.Kind: Int] = [:]

    func expect(
        parsedAtLeast minimum: Int, kinds: [DotenvError.Kind], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(parsed >= minimum, "too few inputs parsed: \(parsed)", sourceLocation: sourceLocation)
        for kind in kinds {
            #expect(errors[kind, default: 0] > 0, "no input produced \(kind.rawValue)", sourceLocation: sourceLocation)
        }
    }
}

/// Records the first few failures of a property with the seed, case index and input in hex.
private struct FailureLog {
    let property: String
    let seed: UInt64
    private var count = 0

    init(property: String, seed: UInt64) {
        self.property = property
        self.seed = seed
    }

    mutating func check(_ failure: String?, index: Int, input: [UInt8]) {
        guard let failure else { return }
        count += 1
        guard count <= 5 else { return }
        let hex = input.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
        Issue.record("\(property), seed 0x\(String(seed, radix: 16)), case \(index): \(failure); input: \(hex)")
    }
}
