/// An encryption context: string pairs bound to a ciphertext as associated data, never secret.
///
/// Its ``canonicalBytes`` are the AWS Encryption SDK's serialisation: nothing for an empty
/// context, otherwise a 2-byte pair count, then each pair sorted by the UTF-8 bytes of its key,
/// as a 2-byte key length, the key, a 2-byte value length and the value (big-endian lengths).
/// Every length is explicit, so `{"ab":"c"}` and `{"a":"bc"}` never encode alike.
///
/// ```swift
/// let context = try EncryptionContext(["LambdaFunctionName": "billing"])
/// let aad = context.canonicalBytes
/// ```
public struct EncryptionContext: Sendable, Hashable, CustomStringConvertible {
    /// The largest canonical encoding accepted: 8,192 bytes.
    public static let maxCanonicalByteCount = 8192

    /// The pairs, sorted by the UTF-8 bytes of their keys.
    public let pairs: [(key: String, value: String)]

    /// The canonical serialisation (empty for an empty context).
    public let canonicalBytes: [UInt8]

    /// The empty context.
    public static let empty = EncryptionContext(validated: [])

    /// Creates a context from a dictionary.
    ///
    /// Swift dictionaries treat canonically equivalent strings (`"é"` and `"e\u{301}"`) as one
    /// key; use ``init(pairs:)`` where such keys must stay distinct, as AWS KMS keeps them.
    /// - Parameter dictionary: The pairs; keys must be non-empty.
    /// - Throws: ``FormatError`` for an empty key or an encoding over 8,192 bytes.
    public init(_ dictionary: [String: String]) throws(FormatError) {
        try self.init(pairs: dictionary.map { (key: $0.key, value: $0.value) })
    }

    /// Creates a context from pairs in any order, comparing keys byte for byte.
    /// - Parameter pairs: The pairs; keys must be non-empty and unique as UTF-8 bytes.
    /// - Throws: ``FormatError`` for an empty or repeated key or an encoding over 8,192 bytes.
    public init(pairs: [(key: String, value: String)]) throws(FormatError) {
        let sorted = pairs.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        for pair in sorted where pair.key.isEmpty {
            throw FormatError(.invalidContext(reason: "a key is empty"))
        }
        for index in sorted.indices.dropFirst() where sorted[index].key.utf8.elementsEqual(sorted[index - 1].key.utf8) {
            throw FormatError(.invalidContext(reason: "key \"\(sorted[index].key)\" appears twice"))
        }
        let size = sorted.reduce(2) { $0 + 4 + $1.key.utf8.count + $1.value.utf8.count }
        guard sorted.isEmpty || size <= Self.maxCanonicalByteCount else {
            throw FormatError(.invalidContext(reason: "it encodes to \(size) bytes, more than \(Self.maxCanonicalByteCount)"))
        }
        self.init(validated: sorted)
    }

    /// Reads a canonical serialisation.
    /// - Parameter bytes: Bytes written by ``canonicalBytes``.
    /// - Throws: ``FormatError`` when the bytes are truncated, too long, not UTF-8, or not in
    ///   canonical order (unsorted or repeated keys), so each context has one encoding only.
    public init(canonicalBytes bytes: some Collection<UInt8>) throws(FormatError) {
        guard !bytes.isEmpty else {
            self = .empty
            return
        }
        guard bytes.count <= Self.maxCanonicalByteCount else {
            throw FormatError(.invalidContext(reason: "\(bytes.count) bytes is more than \(Self.maxCanonicalByteCount)"))
        }
        var reader = ByteReader(bytes)
        let count = try reader.u16("context pair count")
        guard count > 0 else { throw FormatError(.invalidContext(reason: "an empty context is encoded as no bytes, not a zero count")) }
        var pairs: [(key: String, value: String)] = []
        var previousKey: [UInt8]?
        for index in 0..<count {
            let key = try reader.take(try reader.u16("context key length"), "context key \(index + 1)")
            let value = try reader.take(try reader.u16("context value length"), "context value \(index + 1)")
            guard !key.isEmpty else { throw FormatError(.invalidContext(reason: "key \(index + 1) is empty")) }
            if let previousKey, !previousKey.lexicographicallyPrecedes(key) {
                throw FormatError(.invalidContext(reason: "key \(index + 1) is not in canonical order"))
            }
            guard let keyText = String(validating: key, as: UTF8.self),
                  let valueText = String(validating: value, as: UTF8.self) else {
                throw FormatError(.invalidContext(reason: "pair \(index + 1) is not UTF-8"))
            }
            pairs.append((keyText, valueText))
            previousKey = key
        }
        try reader.expectEnd()
        self.init(validated: pairs)
    }

    private init(validated pairs: [(key: String, value: String)]) {
        self.pairs = pairs
        if pairs.isEmpty {
            canonicalBytes = []
        } else {
            var writer = ByteWriter(capacity: pairs.reduce(2) { $0 + 4 + $1.key.utf8.count + $1.value.utf8.count })
            writer.u16(pairs.count)
            for (key, value) in pairs {
                writer.u16(key.utf8.count)
                writer.append(key.utf8)
                writer.u16(value.utf8.count)
                writer.append(value.utf8)
            }
            canonicalBytes = writer.bytes
        }
    }

    /// The pairs as a dictionary.
    public var dictionary: [String: String] {
        Dictionary(pairs.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
    }

    /// `true` when there are no pairs.
    public var isEmpty: Bool { pairs.isEmpty }

    /// Equal when the canonical bytes are equal: byte-exact, as AWS KMS compares contexts.
    public static func == (lhs: EncryptionContext, rhs: EncryptionContext) -> Bool {
        lhs.canonicalBytes == rhs.canonicalBytes
    }

    /// Hashes the canonical bytes.
    public func hash(into hasher: inout Hasher) { hasher.combine(canonicalBytes) }

    /// The pairs, as a context is not secret.
    public var description: String {
        "{" + pairs.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ") + "}"
    }
}
