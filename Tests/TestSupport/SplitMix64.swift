/// Helpers shared by the test targets, and only by them.
///
/// SplitMix64: a tiny, fast, seedable generator, so that every property-test failure
/// reproduces from its seed.
package struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    /// A generator that starts from `seed`.
    package init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    package mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `range`.
    package mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    /// `true` with the given probability (0 to 1).
    package mutating func chance(_ probability: Double) -> Bool {
        Double(next() >> 11) / Double(1 << 53) < probability
    }

    /// One of `items`.
    package mutating func pick<T>(_ items: [T]) -> T {
        items[int(0...items.count - 1)]
    }

    /// `count` random bytes.
    package mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// A random mutation of `input`: a bit flipped, a byte inserted or deleted, a truncation, or
    /// a slice duplicated.
    package mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var out = input
        switch int(0...4) {
        case 0 where !out.isEmpty:
            out[int(0...out.count - 1)] ^= UInt8(1 << int(0...7))
        case 1:
            out.insert(UInt8(truncatingIfNeeded: next()), at: int(0...out.count))
        case 2 where !out.isEmpty:
            out.remove(at: int(0...out.count - 1))
        case 3:
            out = Array(out.prefix(int(0...out.count)))
        default:
            if !out.isEmpty {
                let a = int(0...out.count - 1)
                let b = int(a...min(out.count, a + 8))
                out.insert(contentsOf: out[a..<b], at: int(0...out.count))
            }
        }
        return out
    }
}

extension Array where Element == UInt8 {
    /// Bytes from lower- or upper-case hex; traps on odd lengths or other characters (test data).
    package init(hex: String) {
        let chars = Array(hex.utf8)
        precondition(chars.count % 2 == 0, "odd hex length")
        self = stride(from: 0, to: chars.count, by: 2).map { i in
            UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16)!
        }
    }

    /// Lower-case hex.
    package var hex: String { map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}
