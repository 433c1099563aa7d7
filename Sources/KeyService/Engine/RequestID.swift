import SodiumKit
import Synchronization

/// Request ids shaped like AWS's: a UUID, 8-4-4-4-12 lowercase hex digits.
package enum RequestID {
    /// Random bytes for the next ids, drawn from libsodium's CSPRNG 4 KiB at a time: a request id
    /// is public (it is in the response), so its randomness needs no guarded memory, and one draw
    /// serves 256 ids where a draw per id would cost a system call each.
    private static let pool = Mutex(Pool())

    private struct Pool {
        static let size = 4096
        var bytes = [UInt8](repeating: 0, count: size)
        var used = size

        /// The next 16 random bytes, copied into `out`.
        mutating func take(into out: inout (UInt64, UInt64)) {
            if used + 16 > Self.size {
                bytes = SecureRandom.bytes(count: Self.size)
                used = 0
            }
            withUnsafeMutableBytes(of: &out) { raw in
                bytes.withUnsafeBytes { source in
                    raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[used..<(used + 16)]))
                }
            }
            used += 16
        }
    }

    /// A new request id, written into one 36-byte string: cheaper than
    /// `UUID().uuidString.lowercased()`, which formats uppercase and then copies to lowercase.
    package static func make() -> String {
        var random: (UInt64, UInt64) = (0, 0)
        pool.withLock { $0.take(into: &random) }
        return withUnsafeBytes(of: random) { random in
            String(unsafeUninitializedCapacity: 36) { out in
                var index = 0
                for (position, byte) in random.enumerated() {
                    if position == 4 || position == 6 || position == 8 || position == 10 {
                        out[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    out[index] = hexDigits[Int(byte >> 4)]
                    out[index + 1] = hexDigits[Int(byte & 0x0F)]
                    index += 2
                }
                return index
            }
        }
    }

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
