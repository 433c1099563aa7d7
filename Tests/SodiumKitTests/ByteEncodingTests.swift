import Testing
import TestSupport
@testable import SodiumKit

@Suite("hex, base64 and zeroing")
struct ByteEncodingTests {
    @Test("hex is lower case, two digits a byte, and agrees with a reference for every byte")
    func hex() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
        let all = (0...255).map(UInt8.init)
        #expect(Hex.encode(all) == all.hex)
        #expect(Hex.utf8(all) == Array(all.hex.utf8))
    }

    @Test("base64 matches RFC 4648's test vectors in both variants")
    func rfcVectors() throws {
        let vectors: [(String, String, String)] = [
            ("", "", ""), ("f", "Zg==", "Zg"), ("fo", "Zm8=", "Zm8"), ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"), ("fooba", "Zm9vYmE=", "Zm9vYmE"), ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ]
        for (plain, standard, url) in vectors {
            #expect(Base64.encode(Array(plain.utf8), variant: .standard) == standard)
            #expect(Base64.encode(Array(plain.utf8), variant: .urlSafeNoPadding) == url)
            #expect(try Base64.decode(standard, variant: .standard) == Array(plain.utf8))
            #expect(try Base64.decode(url, variant: .urlSafeNoPadding) == Array(plain.utf8))
        }
        #expect(Base64.encode([0xFB, 0xFF], variant: .standard) == "+/8=")
        #expect(Base64.encode([0xFB, 0xFF], variant: .urlSafeNoPadding) == "-_8")
    }

    @Test("random bytes of every length up to 70 round-trip in both variants")
    func roundTrip() throws {
        var random = SplitMix64(seed: 0xB64)
        for length in 0...70 {
            let bytes = random.bytes(length)
            for variant in [Base64.Variant.standard, .urlSafeNoPadding] {
                #expect(try Base64.decode(Base64.encode(bytes, variant: variant), variant: variant) == bytes)
            }
        }
    }

    @Test("decoding refuses non-canonical text: other alphabet, padding, length, spare bits, white space, NUL",
          arguments: [
              ("Zg==", Base64.Variant.urlSafeNoPadding), ("Zg=", .urlSafeNoPadding), ("+/8", .urlSafeNoPadding),
              ("Z", .urlSafeNoPadding), ("Zh", .urlSafeNoPadding), ("AAB", .urlSafeNoPadding), ("Zm9v\n", .urlSafeNoPadding),
              (" Zm9v", .urlSafeNoPadding), ("Zm\u{0}9v", .urlSafeNoPadding), ("Zm9vé", .urlSafeNoPadding),
              ("Zg", .standard), ("Zg=", .standard), ("Zh==", .standard), ("-_8=", .standard), ("Zg==Zg==", .standard),
              ("Zm9v\r\n", .standard), ("Z===", .standard),
          ])
    func refusesNonCanonical(text: String, variant: Base64.Variant) {
        let error = #expect(throws: SodiumError.self) { _ = try Base64.decode(text, variant: variant) }
        #expect(error?.isInvalidParameter == true)
    }

    @Test("decoding refuses every non-ASCII character, wherever it stands")
    func refusesNonASCII() {
        // Found by FuzzSealedFile: U+FFFD inside a sealed value decoded (libsodium 1.0.18 reads the
        // text as signed chars and maps some bytes above 0x7F into the alphabet).
        #expect(throws: SodiumError.self) {
            _ = try Base64.decode("A3X6nh8LTv8a_t5\u{FFFD}EW63SGnFW_x18jxx4JBEkfAgf3n9zw", variant: .urlSafeNoPadding)
        }
        // Every lead and continuation byte UTF-8 has: all two-byte scalars, and three- and four-byte ones.
        let scalars = (0x80...0x7FF).compactMap(Unicode.Scalar.init)
            + [0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x40000, 0x10FFFF].compactMap(Unicode.Scalar.init)
        var accepted: [String] = []
        for scalar in scalars {
            for (prefix, suffix) in [("", "AAA"), ("A", "AA"), ("AA", "A"), ("AAA", ""), ("Zm9v", "Zm9v")] {
                let text = prefix + String(Character(scalar)) + suffix
                for variant in [Base64.Variant.standard, .urlSafeNoPadding] where (try? Base64.decode(text, variant: variant)) != nil {
                    accepted.append("\(Array(text.utf8)) as \(variant)")
                }
            }
        }
        #expect(accepted.isEmpty, "\(accepted.count) accepted, first: \(accepted.prefix(5))")
    }

    @Test("zeroing clears every byte and keeps the count; an empty buffer is fine")
    func zeroing() {
        var bytes: [UInt8] = Array("hunter2 and more".utf8)
        SecureMemory.zero(&bytes)
        #expect(bytes == [UInt8](repeating: 0, count: 16))
        var empty: [UInt8] = []
        SecureMemory.zero(&empty)
        #expect(empty.isEmpty)
        SecureMemory.zero(UnsafeMutableRawBufferPointer(start: nil, count: 0))
    }
}
