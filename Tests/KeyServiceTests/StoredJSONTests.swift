import Foundation
import TestSupport
import Testing
@testable import KeyService

/// `StoredJSON.encodeMap` writes an audit record's context without `JSONEncoder`; rows written
/// by either must stay byte-identical, so equal contexts keep equal stored text.
@Suite("stored JSON of a map of strings")
struct StoredJSONTests {
    /// Pieces the random keys and values are made of: every control character, the characters
    /// JSON escapes, a slash, digits (where a numeric sort would differ: "k9" / "k10"), both
    /// cases, DEL, and non-ASCII of one to four UTF-8 bytes, combining marks included.
    static let pieces: [String] = (0..<0x20).map { String(UnicodeScalar(UInt8($0))) } + [
        "\"", "\\", "/", "//", "0", "1", "9", "10", "k", "K", "z", "Z", "a", "A", "_", "-", " ", ":", ",", "{", "}",
        "\u{7F}", "é", "e\u{301}", "É", "ß", "ü", "Ω", "ω", "日本", "\u{2028}", "\u{FEFF}", "\u{FFFD}", "😀", "👍🏽",
        "aws:", "LambdaFunctionName", "k9", "k10",
    ]

    static func reference(_ map: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(map), as: UTF8.self)
    }

    static func randomString(_ random: inout SplitMix64) -> String {
        (0..<Int.random(in: 0...4, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined()
    }

    @Test("is byte for byte JSONEncoder's (sortedKeys, withoutEscapingSlashes) over 5,000 random maps")
    func matchesJSONEncoderOnRandomMaps() throws {
        var random = SplitMix64(seed: 0x656E_7673_6561_6C)
        for _ in 0..<5_000 {
            var map: [String: String] = [:]
            for _ in 0..<Int.random(in: 0...8, using: &random) {
                map[Self.randomString(&random)] = Self.randomString(&random)
            }
            let direct = try StoredJSON.encodeMap(map)
            let expected = try Self.reference(map)
            try #require(direct == expected, "\(Array(expected.utf8)) expected, got \(Array(direct.utf8))")
            #expect(try StoredJSON.decode([String: String].self, from: direct) == map)
        }
    }

    @Test("sorts and escapes as JSONEncoder does", arguments: [
        [:],
        ["": ""],
        ["k10": "a", "k9": "b", "K1": "c", "k1": "d", "_": "e", "a/b": "c/d"],
        ["q\"": "\\", "\u{0}": "\u{1F}", "\u{8}\u{C}\n\r\t": "\u{7F}"],
        ["é": "1", "e\u{301}x": "2", "z": "3", "日本": "4", "😀": "5", "\u{2028}": "\u{FEFF}"],
        ["LambdaFunctionName": "billing", "aws:cloudformation:stack-name": "prod"],
    ] as [[String: String]])
    func matchesJSONEncoderOnEdgeCases(map: [String: String]) throws {
        #expect(try StoredJSON.encodeMap(map) == Self.reference(map))
    }

    @Test("text written by the old encoder reads back as the same context")
    func oldRowsReadBack() throws {
        // What rows written through JSONEncoder hold: byte order of keys, `\u00xx` in lowercase.
        let stored = #"{"K":"1","a/b":"\"q\"","k10":"x","k9":"\u001f\n","é":"ü"}"#
        let context = ["k9": "\u{1F}\n", "k10": "x", "K": "1", "a/b": "\"q\"", "é": "ü"]
        #expect(try StoredJSON.decode([String: String].self, from: stored) == context)
        #expect(try StoredJSON.encodeMap(context) == stored)
    }
}
