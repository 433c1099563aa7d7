import SodiumKit
import Synchronization

/// Request ids shaped like AWS's: a UUID, 8-4-4-4-12 lowercase hex digits.
package enum RequestID {
    /// A new request id from libsodium's CSPRNG, written into one 36-byte string: cheaper than
    /// `UUID().uuidString.lowercased()`, which formats uppercase and then copies to lowercase.
    ///
    /// The random bytes come from a pool refilled 4 KiB at a time: `randombytes_buf` is one
    /// `getrandom` system call per request otherwise, about a twentieth of an in-memory Decrypt.
    /// Request ids are public (they go into responses and the audit log), so holding the next
    /// ones in ordinary memory exposes nothing; each pool byte is handed out once.
    package static func make() -> String {
        let random = pool.withLock { $0.next() }
        return String(unsafeUninitializedCapacity: 36) { out in
            var index = 0
            withUnsafeBytes(of: random) { bytes in
                for (position, byte) in bytes.enumerated() {
                    if position == 4 || position == 6 || position == 8 || position == 10 {
                        out[index] = UInt8(ascii: "-")
                        index += 1
                    }
                    out[index] = hexDigits[Int(byte >> 4)]
                    out[index + 1] = hexDigits[Int(byte & 0x0F)]
                    index += 2
                }
            }
            return index
        }
    }

    /// Random bytes fetched ahead, 16 per request id.
    private struct Pool {
        var bytes: [UInt8] = []
        var offset = 0

        mutating func next() -> (UInt64, UInt64) {
            if offset + 16 > bytes.count {
                bytes = SecureRandom.bytes(count: 4096)
                offset = 0
            }
            defer { offset += 16 }
            return bytes.withUnsafeBytes { raw in
                (raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self), raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            }
        }
    }

    private static let pool = Mutex(Pool())

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
