import SodiumKit

/// Request ids shaped like AWS's: a UUID, 8-4-4-4-12 lowercase hex digits.
package enum RequestID {
    /// A new request id from libsodium's CSPRNG, written into one 36-byte string: cheaper than
    /// `UUID().uuidString.lowercased()`, which formats uppercase and then copies to lowercase.
    package static func make() -> String {
        let random = SecureRandom.bytes(count: 16)
        return String(unsafeUninitializedCapacity: 36) { out in
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

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)
}
