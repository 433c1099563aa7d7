/// Hex helpers for test vectors.
extension Array where Element == UInt8 {
    init(hex: String) {
        let chars = Array(hex.utf8)
        precondition(chars.count % 2 == 0, "odd hex length")
        self = stride(from: 0, to: chars.count, by: 2).map { i in
            UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16)!
        }
    }

    var hex: String { map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined() }
}
