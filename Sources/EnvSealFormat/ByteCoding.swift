/// Reads big-endian fields from bytes, throwing instead of trapping at the end.
struct ByteReader {
    private let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: some Collection<UInt8>) { self.bytes = Array(bytes) }

    var remaining: Int { bytes.count - offset }

    mutating func u8(_ field: String) throws(FormatError) -> UInt8 {
        try take(1, field)[0]
    }

    mutating func u16(_ field: String) throws(FormatError) -> Int {
        let b = try take(2, field)
        return Int(b[0]) << 8 | Int(b[1])
    }

    mutating func u32(_ field: String) throws(FormatError) -> UInt32 {
        let b = try take(4, field)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }

    mutating func take(_ count: Int, _ field: String) throws(FormatError) -> [UInt8] {
        guard count >= 0, count <= remaining else { throw FormatError(.truncated(field: field)) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
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

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: Int) {
        precondition((0...0xFFFF).contains(value), "u16 field out of range")
        bytes += [UInt8(value >> 8), UInt8(value & 0xFF)]
    }

    mutating func u32(_ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }

    mutating func append(_ more: some Sequence<UInt8>) { bytes += more }
}
