/// Reads big-endian fields from bytes, throwing instead of trapping at the end.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    // One copy from contiguous storage (Data, an array) rather than element by element.
    init(_ bytes: some Collection<UInt8>) { self.bytes = bytes.withContiguousStorageIfAvailable { Array($0) } ?? Array(bytes) }

    var remaining: Int { bytes.count - offset }

    // The fixed-size fields read in place: no array per field.
    mutating func u8(_ field: String) throws(FormatError) -> UInt8 {
        guard remaining >= 1 else { throw FormatError(.truncated(field: field)) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16(_ field: String) throws(FormatError) -> Int {
        guard remaining >= 2 else { throw FormatError(.truncated(field: field)) }
        defer { offset += 2 }
        return Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
    }

    mutating func u32(_ field: String) throws(FormatError) -> UInt32 {
        guard remaining >= 4 else { throw FormatError(.truncated(field: field)) }
        defer { offset += 4 }
        return UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
    }

    mutating func take(_ count: Int, _ field: String) throws(FormatError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw FormatError(.truncated(field: field)) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// The next `count` bytes as a view of the reader's copy, not a new array.
    mutating func slice(_ count: Int, _ field: String) throws(FormatError) -> ArraySlice<UInt8> {
        guard count >= 0, count <= remaining else { throw FormatError(.truncated(field: field)) }
        defer { offset += count }
        return bytes[offset..<offset + count]
    }

    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(bytes[offset...])
    }

    func expectEnd() throws(FormatError) {
        guard remaining == 0 else { throw FormatError(.trailingBytes(count: remaining)) }
    }
}

/// Appends big-endian fields.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: Int) {
        precondition((0...0xFFFF).contains(value), "u16 field out of range")
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func u32(_ value: UInt32) {
        bytes.append(UInt8(value >> 24))
        bytes.append(UInt8((value >> 16) & 0xFF))
        bytes.append(UInt8((value >> 8) & 0xFF))
        bytes.append(UInt8(value & 0xFF))
    }

    mutating func append(_ more: some Sequence<UInt8>) { bytes += more }
}
