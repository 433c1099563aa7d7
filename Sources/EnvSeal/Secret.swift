public import SodiumKit

/// A value that can be kept as a ``Secret``: it converts to and from its bytes.
public protocol SecretRepresentable: Sendable {
    /// Creates the value from secret bytes, or `nil` when they do not form one.
    init?(secretBytes: UnsafeRawBufferPointer)
    /// Calls `body` with the value's bytes.
    func withSecretBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension String: SecretRepresentable {
    /// Decodes UTF-8; `nil` for invalid UTF-8.
    public init?(secretBytes: UnsafeRawBufferPointer) {
        guard let text = String(validating: secretBytes.bindMemory(to: UInt8.self), as: UTF8.self) else { return nil }
        self = text
    }

    /// The UTF-8 bytes.
    public func withSecretBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var copy = self
        return try copy.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
    }
}

extension Array: SecretRepresentable where Element == UInt8 {
    /// Copies the bytes.
    public init?(secretBytes: UnsafeRawBufferPointer) { self = Array(secretBytes) }

    /// The bytes.
    public func withSecretBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withUnsafeBytes(body)
    }
}

/// A secret value that never shows itself.
///
/// The plaintext lives in libsodium guarded memory and is reachable only through
/// ``revealed()`` or ``withRevealedBytes(_:)``. `description`, `debugDescription`, string
/// interpolation, `dump`, `Mirror` and `Encodable` all produce ``redactionMarker`` instead, so a
/// secret that slips into a log line, an error or a JSON response shows nothing.
///
/// ```swift
/// let password = try Secret("hunter2")
/// print("connecting with \(password)")          // connecting with <redacted>
/// let plaintext: String = password.revealed()   // explicit, and easy to search for
/// ```
public struct Secret<Value: SecretRepresentable>: Sendable {
    /// What every textual form of a secret shows.
    public static var redactionMarker: String { "<redacted>" }

    private let storage: SecureBytes

    /// Keeps a value as a secret, copying its bytes into guarded memory.
    /// - Parameter value: The plaintext; the caller should drop its own copy soon after.
    /// - Throws: `SodiumError` when guarded memory cannot be had.
    public init(_ value: Value) throws(SodiumError) {
        let copied: Result<SecureBytes, SodiumError> = value.withSecretBytes { bytes in
            Result { () throws(SodiumError) in try SecureBytes(copying: bytes) }
        }
        storage = try copied.get()
    }

    /// Wraps bytes already in guarded memory; `nil` when they are not a valid `Value`.
    /// - Parameter secureBytes: The plaintext bytes.
    public init?(secureBytes: SecureBytes) {
        guard secureBytes.withUnsafeBytes({ Value(secretBytes: $0) }) != nil else { return nil }
        storage = secureBytes
    }

    /// The plaintext. Use it only where the plaintext itself is needed, and keep it short-lived.
    public func revealed() -> Value {
        // `init` checked that the bytes form a `Value`, and they cannot change since.
        storage.withUnsafeBytes { Value(secretBytes: $0)! }
    }

    /// Calls `body` with the plaintext bytes, without making a copy.
    /// - Parameter body: Reads the bytes; the pointer must not escape.
    /// - Returns: What `body` returns.
    public func withRevealedBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }

    /// The plaintext's length in bytes (not secret in itself, as it shows in ciphertext too).
    public var byteCount: Int { storage.count }
}

extension Secret: Equatable {
    /// Compares plaintexts in constant time.
    public static func == (lhs: Secret, rhs: Secret) -> Bool { lhs.storage == rhs.storage }
}

extension Secret: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Always ``redactionMarker``.
    public var description: String { Self.redactionMarker }
    /// Always ``redactionMarker``.
    public var debugDescription: String { Self.redactionMarker }
    /// A mirror with no children, so `dump` and reflection show nothing.
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

extension Secret: Encodable {
    /// Encodes ``redactionMarker``, never the plaintext.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Self.redactionMarker)
    }
}
