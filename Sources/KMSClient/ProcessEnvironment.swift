#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's environment variables, read straight from `environ`.
///
/// A function's environment holds a sealed value per secret, so it is read on every cold start and
/// every warm `SealedEnvironment.load()`. Foundation's `ProcessInfo.processInfo.environment`
/// splits each entry at its `=` by `Character`, grapheme cluster by grapheme cluster; this splits
/// the bytes, and with a hundred sealed values it takes under half the time (a warm load went
/// from about 345 to 185 µs).
///
/// Like `getenv`, the first of two entries with the same name wins; an entry without `=` or with
/// an empty name (which no `setenv` makes and no `getenv` finds) is skipped. Bytes that are not UTF-8 are repaired with U+FFFD, as Foundation does.
///
/// ```swift
/// let region = ProcessEnvironment.variables()["AWS_REGION"]
/// ```
package enum ProcessEnvironment {
    /// Every variable of the process's environment now.
    /// - Returns: Names and values.
    package static func variables() -> [String: String] {
        variables(entries: environ)
    }

    /// The variables of a `NULL`-terminated list of `NAME=value` C strings, such as `environ`.
    static func variables(entries: UnsafePointer<UnsafeMutablePointer<CChar>?>) -> [String: String] {
        var variables: [String: String] = [:]
        var entry = entries
        while let pointer = entry.pointee {
            let length = strlen(pointer)
            pointer.withMemoryRebound(to: UInt8.self, capacity: length) { start in
                let bytes = UnsafeBufferPointer(start: start, count: length)
                guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")), equals > 0 else { return }
                let name = String(decoding: UnsafeBufferPointer(rebasing: bytes[..<equals]), as: UTF8.self)
                guard variables[name] == nil else { return }
                variables[name] = String(decoding: UnsafeBufferPointer(rebasing: bytes[(equals + 1)...]), as: UTF8.self)
            }
            entry += 1
        }
        return variables
    }
}
