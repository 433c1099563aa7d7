package import Foundation

/// Standard base64 (RFC 4648 §4, padded), as `Data(base64Encoded:)` reads it and
/// `base64EncodedString()` writes it.
package enum KMSBase64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Each byte's 6-bit value, or 0xFF for a byte outside the alphabet.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() {
            table[Int(byte)] = UInt8(value)
        }
        return table
    }()

    /// The bytes of canonical padded base64 (length a multiple of 4, `=` only as the last one or
    /// two characters, unused bits zero), or `nil` for anything else.
    package static func decode(_ text: UnsafeRawBufferPointer) -> Data? {
        let count = text.count
        guard count % 4 == 0 else { return nil }
        guard count > 0 else { return Data() }
        let padding = text[count - 1] != UInt8(ascii: "=") ? 0 : text[count - 2] != UInt8(ascii: "=") ? 1 : 2
        var data = Data(count: count / 4 * 3 - padding)
        let ok = data.withUnsafeMutableBytes { (out: UnsafeMutableRawBufferPointer) -> Bool in
            values.withUnsafeBufferPointer { table -> Bool in
                func quad(_ i: Int) -> UInt32? {
                    let a = table[Int(text[i])], b = table[Int(text[i + 1])]
                    let c = table[Int(text[i + 2])], d = table[Int(text[i + 3])]
                    guard (a | b | c | d) & 0xC0 == 0 else { return nil }
                    return UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                }
                var i = 0, o = 0
                while i + 4 < count {  // every quad but the last, which may be padded
                    guard let word = quad(i) else { return false }
                    out[o] = UInt8(truncatingIfNeeded: word >> 16)
                    out[o + 1] = UInt8(truncatingIfNeeded: word >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: word)
                    i += 4
                    o += 3
                }
                // The last quad, its padding read as zero bits, which must stay unused.
                let a = table[Int(text[i])], b = table[Int(text[i + 1])]
                let c = padding == 2 ? 0 : table[Int(text[i + 2])]
                let d = padding >= 1 ? 0 : table[Int(text[i + 3])]
                guard (a | b | c | d) & 0xC0 == 0 else { return false }
                let word = UInt32(a) << 18 | UInt32(b) << 12 | UInt32(c) << 6 | UInt32(d)
                out[o] = UInt8(truncatingIfNeeded: word >> 16)
                switch padding {
                case 2:
                    return word & 0xFFFF == 0
                case 1:
                    out[o + 1] = UInt8(truncatingIfNeeded: word >> 8)
                    return word & 0xFF == 0
                default:
                    out[o + 1] = UInt8(truncatingIfNeeded: word >> 8)
                    out[o + 2] = UInt8(truncatingIfNeeded: word)
                    return true
                }
            }
        }
        return ok ? data : nil
    }

    /// Appends the padded base64 of `data` to `out`.
    package static func encode(_ data: Data, into out: inout [UInt8]) {
        let length = (data.count + 2) / 3 * 4
        guard length > 0 else { return }
        data.withUnsafeBytes { input in
            alphabet.withUnsafeBufferPointer { table in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: length) { buffer in
                    let count = input.count
                    var i = 0
                    var o = 0
                    while i + 3 <= count {
                        let word = UInt32(input[i]) << 16 | UInt32(input[i + 1]) << 8 | UInt32(input[i + 2])
                        buffer[o] = table[Int(word >> 18 & 63)]
                        buffer[o + 1] = table[Int(word >> 12 & 63)]
                        buffer[o + 2] = table[Int(word >> 6 & 63)]
                        buffer[o + 3] = table[Int(word & 63)]
                        i += 3
                        o += 4
                    }
                    if i < count {
                        let second = i + 1 < count ? UInt32(input[i + 1]) : 0
                        let word = UInt32(input[i]) << 16 | second << 8
                        buffer[o] = table[Int(word >> 18 & 63)]
                        buffer[o + 1] = table[Int(word >> 12 & 63)]
                        buffer[o + 2] = i + 1 < count ? table[Int(word >> 6 & 63)] : UInt8(ascii: "=")
                        buffer[o + 3] = UInt8(ascii: "=")
                    }
                    out.append(contentsOf: UnsafeBufferPointer(buffer))
                }
            }
        }
    }
}
