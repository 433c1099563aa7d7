import CSodium

/// Zeroing that the optimiser may not remove (`sodium_memzero`).
///
/// A plain loop or `memset` over a buffer that is not read again is a dead store the compiler
/// may drop; use this for any copy of a secret outside ``SecureBytes``.
package enum SecureMemory {
    /// Overwrites every byte of `buffer` with zero.
    /// - Parameter buffer: The bytes to clear; an empty buffer is left as it is.
    package static func zero(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        sodium_memzero(base, buffer.count)
    }

    /// Overwrites every element of `bytes` with zero, in place.
    /// - Parameter bytes: The bytes to clear; their count does not change.
    package static func zero(_ bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { zero($0) }
    }
}

/// Lower-case hex through `sodium_bin2hex`, whose time does not depend on the bytes.
package enum Hex {
    /// The hex digits of `bytes`, as UTF-8 bytes (two per input byte).
    /// - Parameter bytes: The bytes to encode.
    /// - Returns: `2 * bytes.count` lower-case hex digits.
    package static func utf8(_ bytes: some Collection<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        guard !input.isEmpty else { return [] }
        Sodium.ensureInitialized()
        // bin2hex writes a terminating NUL after the digits, which is then dropped.
        var out = [UInt8](repeating: 0, count: input.count * 2 + 1)
        input.withUnsafeBufferPointer { bin in
            out.withUnsafeMutableBufferPointer { hex in
                hex.baseAddress!.withMemoryRebound(to: CChar.self, capacity: hex.count) {
                    _ = sodium_bin2hex($0, hex.count, bin.baseAddress!, bin.count)
                }
            }
        }
        out.removeLast()
        return out
    }

    /// The hex digits of `bytes`.
    /// - Parameter bytes: The bytes to encode.
    /// - Returns: `2 * bytes.count` lower-case hex digits.
    package static func encode(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: utf8(bytes), as: UTF8.self)
    }
}

/// Base64 through `sodium_bin2base64` and `sodium_base642bin`: constant-time, and strict when
/// decoding, so every byte string has exactly one accepted spelling.
package enum Base64 {
    /// The alphabet and padding.
    package enum Variant: Sendable {
        /// RFC 4648 §4: `+` and `/`, padded with `=`.
        case standard
        /// RFC 4648 §5 without padding: `-` and `_`, no `=`.
        case urlSafeNoPadding

        var code: Int32 {
            switch self {
            case .standard: sodium_base64_VARIANT_ORIGINAL
            case .urlSafeNoPadding: sodium_base64_VARIANT_URLSAFE_NO_PADDING
            }
        }
    }

    /// Encodes `bytes`.
    /// - Parameters:
    ///   - bytes: The bytes to encode.
    ///   - variant: The alphabet and padding.
    /// - Returns: The base64 text.
    package static func encode(_ bytes: some Collection<UInt8>, variant: Variant) -> String {
        let input = Array(bytes)
        guard !input.isEmpty else { return "" }
        Sodium.ensureInitialized()
        // Room for the padded length and the terminating NUL bin2base64 writes.
        var out = [UInt8](repeating: 0, count: (input.count + 2) / 3 * 4 + 1)
        input.withUnsafeBufferPointer { bin in
            out.withUnsafeMutableBufferPointer { text in
                text.baseAddress!.withMemoryRebound(to: CChar.self, capacity: text.count) {
                    _ = sodium_bin2base64($0, text.count, bin.baseAddress!, bin.count, variant.code)
                }
            }
        }
        return String(decoding: out.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Decodes canonical base64 of `variant`.
    ///
    /// Refuses a character outside the alphabet (white space and non-ASCII included), padding the
    /// variant does not have or missing padding it has, an impossible length, and unused trailing
    /// bits that are not zero (which would give a second spelling of the same bytes).
    /// - Parameters:
    ///   - text: The base64 text.
    ///   - variant: The alphabet and padding.
    /// - Returns: The bytes.
    /// - Throws: ``SodiumError`` (an invalid parameter) when `text` is not canonical base64.
    package static func decode(_ text: some StringProtocol, variant: Variant) throws(SodiumError) -> [UInt8] {
        let input = Array(text.utf8)
        guard !input.isEmpty else { return [] }
        // libsodium reads the text as C chars, signed here, and maps some bytes above 0x7F into
        // the alphabet. Every alphabet is ASCII, so those are refused first; an OR over all the
        // bytes takes the same time wherever such a byte stands.
        guard input.reduce(0, |) < 0x80 else { throw .invalidParameter("not canonical base64") }
        Sodium.ensureInitialized()
        var out = [UInt8](repeating: 0, count: input.count / 4 * 3 + 3)
        var length = 0
        let result = input.withUnsafeBufferPointer { b64 in
            out.withUnsafeMutableBufferPointer { bin in
                b64.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b64.count) {
                    // No characters to ignore and no end pointer: anything left unread is an error.
                    sodium_base642bin(bin.baseAddress!, bin.count, $0, b64.count, nil, &length, nil, variant.code)
                }
            }
        }
        guard result == 0 else { throw .invalidParameter("not canonical base64") }
        out.removeLast(out.count - length)
        return out
    }
}
