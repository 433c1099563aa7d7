import CSodium

/// Bytes kept in libsodium guarded memory: key material and plaintext secrets.
///
/// The buffer comes from `sodium_malloc` (guard pages on both sides, a canary, `mlock` where
/// the system allows it, excluded from core dumps where the system supports it), is written
/// once while it is created, is then made read-only with `sodium_mprotect_readonly`, and is
/// zeroed and released by `sodium_free` when the last reference goes (for buffers made together
/// with ``batch(counts:initializingWith:)``, when the last of them goes). The bytes can be read
/// only inside ``withUnsafeBytes(_:)``; `description` never shows them; `==` runs in
/// constant time for equal lengths.
///
/// ```swift
/// let secret = try SecureBytes(copying: Array("hunter2".utf8))
/// let length = secret.withUnsafeBytes { $0.count }
/// ```
public final class SecureBytes: @unchecked Sendable {
    // Why `@unchecked Sendable` is sound: `region`, `pointer` and `count` are `let`s; the memory
    // they name is written only while the buffer (or its batch) is created, before `self` can be
    // shared, and is read-only (enforced by the MMU through sodium_mprotect_readonly) from then
    // until the region's `deinit`, which runs once, when no buffer refers to it any more.
    // Concurrent reads of immutable memory are safe.
    private let region: GuardedRegion
    private let pointer: UnsafeMutableRawPointer
    /// The number of bytes.
    public let count: Int

    private init(region: GuardedRegion, offset: Int, count: Int) {
        self.region = region
        self.pointer = region.base + offset
        self.count = count
    }

    /// Creates a buffer of `count` bytes and lets `body` write them.
    ///
    /// - Parameters:
    ///   - count: The number of bytes, zero or more.
    ///   - body: Writes the initial contents; the buffer is zero-filled before it runs.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had, or what `body` throws (the
    ///   buffer is then zeroed and released).
    public convenience init(
        count: Int,
        initializingWith body: (UnsafeMutableRawBufferPointer) throws(SodiumError) -> Void
    ) throws(SodiumError) {
        guard count >= 0 else { throw .invalidLength("buffer", expected: "0 or more", actual: count) }
        let region = try GuardedRegion(byteCount: count)
        try body(UnsafeMutableRawBufferPointer(start: region.base, count: count))
        region.makeReadOnly()
        self.init(region: region, offset: 0, count: count)
    }

    /// Creates several buffers in one guarded allocation and lets `body` write each.
    ///
    /// One `sodium_malloc` for the lot instead of one per buffer: a guarded allocation costs a
    /// handful of system calls (map, guard pages, lock) and at least three pages, which for a
    /// hundred small values dwarfs the cryptography. The buffers are separate values, each
    /// readable only through itself, but they share one lifetime in memory: the allocation is
    /// zeroed and released when the last of them goes.
    ///
    /// ```swift
    /// let parts = try SecureBytes.batch(counts: [3, 5]) { index, buffer in
    ///     buffer.copyBytes(from: index == 0 ? Array("abc".utf8) : Array("hello".utf8))
    /// }
    /// ```
    /// - Parameters:
    ///   - counts: The size of each buffer, zero or more.
    ///   - body: Writes buffer `index`; each is zero-filled before it runs.
    /// - Returns: The buffers, in the order of `counts`.
    /// - Throws: ``SodiumError`` when guarded memory cannot be had, or what `body` throws (the
    ///   whole allocation is then zeroed and released and no buffer is returned).
    public static func batch(
        counts: [Int],
        initializingWith body: (_ index: Int, _ buffer: UnsafeMutableRawBufferPointer) throws(SodiumError) -> Void
    ) throws(SodiumError) -> [SecureBytes] {
        var offsets: [Int] = []
        offsets.reserveCapacity(counts.count)
        var total = 0
        for count in counts {
            guard count >= 0 else { throw .invalidLength("buffer", expected: "0 or more", actual: count) }
            offsets.append(total)
            let (sum, overflow) = total.addingReportingOverflow(count)
            guard !overflow else { throw .outOfMemory }
            total = sum
        }
        let region = try GuardedRegion(byteCount: total)
        for (index, count) in counts.enumerated() {
            try body(index, UnsafeMutableRawBufferPointer(start: region.base + offsets[index], count: count))
        }
        region.makeReadOnly()
        return counts.indices.map { SecureBytes(region: region, offset: offsets[$0], count: counts[$0]) }
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

/// One `sodium_malloc` allocation, shared by the ``SecureBytes`` carved from it.
final class GuardedRegion: @unchecked Sendable {
    // Why `@unchecked Sendable` is sound: `base` is a `let`; the memory is written only by the
    // creator of the region before it is made read-only and shared, and freed once, in `deinit`.
    let base: UnsafeMutableRawPointer

    /// Allocates `byteCount` zeroed bytes of guarded memory (at least one, so every region has
    /// a real page: sodium_malloc(0) returns a pointer into a guard region).
    init(byteCount: Int) throws(SodiumError) {
        Sodium.ensureInitialized()
        guard let raw = sodium_malloc(max(byteCount, 1)) else { throw .outOfMemory }
        sodium_memzero(raw, max(byteCount, 1))
        base = raw
    }

    /// Makes the region read-only; nothing writes it after this.
    func makeReadOnly() {
        _ = sodium_mprotect_readonly(base)
    }

    deinit {
        // sodium_free zeroes the whole region (read-only or not) before unmapping it.
        sodium_free(base)
    }
}
