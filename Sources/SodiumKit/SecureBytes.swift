import CSodium

/// Bytes kept in libsodium guarded memory: key material and plaintext secrets.
///
/// The buffer comes from `sodium_malloc` (guard pages on both sides, a canary, `mlock` where
/// the system allows it, excluded from core dumps where the system supports it), is written
/// once while it is created, is then made read-only with `sodium_mprotect_readonly`, and is
/// zeroed and released by `sodium_free` when the last reference goes. The bytes can be read
/// only inside ``withUnsafeBytes(_:)``; `description` never shows them; `==` runs in
/// constant time for equal lengths.
///
/// ```swift
/// let secret = try SecureBytes(copying: Array("hunter2".utf8))
/// let length = secret.withUnsafeBytes { $0.count }
/// ```
public final class SecureBytes: @unchecked Sendable {
    // Why `@unchecked Sendable` is sound: `pointer` and `count` are `let`s; the memory they
    // name is written only inside `init`, before `self` can be shared, and is read-only
    // (enforced by the MMU through sodium_mprotect_readonly) from then until `deinit`, which
    // runs once, when no other reference exists. Concurrent reads of immutable memory are safe.
    private let pointer: UnsafeMutableRawPointer
    /// The number of bytes.
    public let count: Int

    /// Creates a buffer of `count` bytes and lets `body` write them.
    ///
    /// - Parameters:
    ///   - count: The number of bytes, zero or more.
    ///   - body: Writes the initial contents; the buffer is zero-filled before it runs.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had, or what `body` throws (the
    ///   buffer is then zeroed and released).
    public init(
        count: Int,
        initializingWith body: (UnsafeMutableRawBufferPointer) throws(SodiumError) -> Void
    ) throws(SodiumError) {
        Sodium.ensureInitialized()
        guard count >= 0 else { throw .invalidLength("buffer", expected: "0 or more", actual: count) }
        // sodium_malloc(0) is valid but returns a pointer into a guard region; ask for one
        // byte so that every buffer has a real page and the bookkeeping stays uniform.
        guard let raw = sodium_malloc(max(count, 1)) else { throw .outOfMemory }
        let buffer = UnsafeMutableRawBufferPointer(start: raw, count: count)
        sodium_memzero(raw, max(count, 1))
        do {
            try body(buffer)
        } catch {
            sodium_free(raw)
            throw error
        }
        _ = sodium_mprotect_readonly(raw)
        self.pointer = raw
        self.count = count
    }

    /// Copies bytes into guarded memory.
    ///
    /// The source stays where it was: callers holding a secret in an array should overwrite it
    /// once copied.
    /// - Parameter bytes: The bytes to copy.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    public convenience init(copying bytes: some Collection<UInt8>) throws(SodiumError) {
        try self.init(count: bytes.count) { buffer in
            buffer.copyBytes(from: bytes)
        }
    }

    /// Copies the bytes of a raw buffer into guarded memory.
    /// - Parameter bytes: The bytes to copy.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    public convenience init(copying bytes: UnsafeRawBufferPointer) throws(SodiumError) {
        try self.init(count: bytes.count) { buffer in
            if let base = bytes.baseAddress, bytes.count > 0 {
                buffer.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
            }
        }
    }

    /// Copies the UTF-8 bytes of a string into guarded memory.
    /// - Parameter string: The text to copy.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had.
    public convenience init(utf8 string: String) throws(SodiumError) {
        try self.init(copying: string.utf8)
    }

    deinit {
        // sodium_free zeroes the whole region (read-only or not) before unmapping it.
        sodium_free(pointer)
    }

    /// Calls `body` with the bytes; the pointer must not escape the closure.
    /// - Parameter body: Reads the bytes.
    /// - Returns: What `body` returns.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The bytes decoded as UTF-8, or `nil` when they are not valid UTF-8.
    ///
    /// The result is an ordinary `String`: use it only where a plaintext string is required
    /// (handing a value to a child process's environment, say) and keep it short-lived.
    public func utf8String() -> String? {
        withUnsafeBytes { bytes in
            String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self)
        }
    }
}

extension SecureBytes: Equatable {
    /// Compares two buffers in time that depends only on their lengths.
    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        if lhs.count == 0 { return true }
        return sodium_memcmp(lhs.pointer, rhs.pointer, lhs.count) == 0
    }
}

extension SecureBytes: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// A fixed marker with the length only.
    public var description: String { "SecureBytes(\(count) bytes, redacted)" }
    /// A fixed marker with the length only.
    public var debugDescription: String { description }
    /// A mirror with no children, so `dump` shows no bytes.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
