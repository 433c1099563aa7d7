import EnvSealFormat
import SealedDotenv
import Testing

/// Generated dotenv files, every kind of spelling mixed, come back byte for byte from sealing and
/// opening, whichever variables are sealed; a failure names its seed and case to replay it.
@Suite struct SpellingPropertyTests {
    @Test("sealed and decrypted, generated files give back their bytes", arguments: [UInt64(0x5EA1_0001), 0x5EA1_0002])
    func roundTrip(seed: UInt64) async throws {
        let f = try await Fixture()
        var rng = Generator(state: seed)
        var checked = 0
        for index in 0..<400 {
            let text = Self.file(&rng)
            guard let file = try? DotenvFile.parse(Array(text.utf8)), file.duplicateNames().isEmpty, !file.assignments.isEmpty
            else { continue }
            // Half the time only some variables are sealed; the others stay plain and covered.
            let selection = rng.next() % 2 == 0 ? VariableSelection.all : try VariableSelection(only: "[02468]$", except: nil)
            guard let sealed = try? await f.sealer.seal(file, keyID: f.keyARN, context: .empty, selection: selection) else { continue }
            let plain = try await f.sealer.decrypt(sealed)
            #expect(plain.render() == file.render(), "seed \(seed), case \(index)")
            checked += 1
        }
        #expect(checked >= 200)
    }

    /// Lines mixing names, `export`, blanks, every quoting, escapes known and unknown, `$`, `#`,
    /// quotes, Unicode, CRLF and comments; some do not parse and are skipped.
    static func file(_ rng: inout Generator) -> String {
        let pieces = ["a", "Z9", " ", "\t", "#", "$", "${X}", "$(cmd)", "\\", "\\n", "\\$", "\\u00e9", "\\\"", "'", "\"", "`",
                      "é", "日本", "\u{00A0}", "=", ":", "~", "!", "*", "\r\n", "\n", "x y"]
        var lines: [String] = []
        for number in 0..<Int(rng.next() % 6 + 1) {
            let content = (0..<Int(rng.next() % 6)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
            let name = "V\(number)"
            let ending = rng.next() % 4 == 0 ? "\r\n" : "\n"
            let export = rng.next() % 5 == 0 ? "export " : ""
            let separator = ["=", " = ", "=\t", "= "][Int(rng.next() % 4)]
            let comment = ["", " # note", "# glued", "\t#"][Int(rng.next() % 4)]
            switch rng.next() % 5 {
            case 0: lines.append("\(export)\(name)\(separator)\(content)\(comment)\(ending)")
            case 1: lines.append("\(export)\(name)\(separator)'\(content)'\(comment)\(ending)")
            case 2: lines.append("\(export)\(name)\(separator)\"\(content)\"\(comment)\(ending)")
            case 3: lines.append("\(export)\(name)\(separator)`\(content)`\(comment)\(ending)")
            default: lines.append(rng.next() % 2 == 0 ? "# comment \(content)\(ending)" : ending)
            }
        }
        return lines.joined()
    }

    /// SplitMix64: seeded, so a failing case can be replayed.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
