extension KeyPolicy {
    /// Whether a statement's `Principal` names `arn` (conditions are not looked at).
    package func namesPrincipal(_ arn: String) -> Bool {
        statements.contains { $0.principals.contains(.arn(arn)) }
    }

    /// The document with every `Principal` → `AWS` entry that is exactly `arn` replaced by
    /// `uniqueID`, every other byte as it was; `nil` when the document is no valid policy or names
    /// no such principal.
    ///
    /// This is what AWS shows once a principal a key policy names is deleted: its unique id in
    /// place of its ARN, so a principal created later under the same name is not the one the
    /// policy meant. A unique id matches no caller (ids are never reused). Conditions such as
    /// `aws:PrincipalArn` keep the ARN, as in AWS: rewriting a `Deny`'s condition would lift it
    /// from the new principal.
    package static func replacingPrincipal(_ arn: String, with uniqueID: String, in json: String) -> String? {
        guard let policy = try? KeyPolicy(json: json), policy.namesPrincipal(arn) else { return nil }
        var scanner = PrincipalEntryScanner(bytes: Array(json.utf8), target: arn)
        guard let ranges = scanner.scanDocument(), !ranges.isEmpty else { return nil }
        var bytes = Array(json.utf8)
        for range in ranges.reversed() { bytes.replaceSubrange(range, with: Array("\"\(uniqueID)\"".utf8)) }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Finds, in a policy document already known to be valid, the byte ranges of the string tokens
/// at `Statement` → `Principal` → `AWS` (each possibly inside a list) whose value is `target`.
private struct PrincipalEntryScanner {
    let bytes: [UInt8]
    let target: String
    var index = 0
    var found: [Range<Int>] = []

    init(bytes: [UInt8], target: String) {
        self.bytes = bytes
        self.target = target
    }

    /// The ranges in document order, or `nil` when the text is not JSON this scanner follows.
    mutating func scanDocument() -> [Range<Int>]? {
        guard value(path: []) else { return nil }
        skipSpace()
        return index == bytes.count ? found : nil
    }

    mutating func skipSpace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    /// Reads one value; `path` holds the member names leading to it (list levels are not counted).
    mutating func value(path: [String]) -> Bool {
        skipSpace()
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return true }
            while true {
                skipSpace()
                guard let (name, _) = string() else { return false }
                skipSpace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return false }
                index += 1
                guard value(path: path + [name]) else { return false }
                skipSpace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "}") else { return false }
                index += 1
                return true
            }
        case UInt8(ascii: "["):
            index += 1
            skipSpace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return true }
            while true {
                guard value(path: path) else { return false }
                skipSpace()
                guard index < bytes.count else { return false }
                if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                guard bytes[index] == UInt8(ascii: "]") else { return false }
                index += 1
                return true
            }
        case UInt8(ascii: "\""):
            guard let (text, range) = string() else { return false }
            if path == ["Statement", "Principal", "AWS"], text == target { found.append(range) }
            return true
        default:
            // Numbers, true, false, null: none can be a principal; skip to the next delimiter.
            while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                index += 1
            }
            return true
        }
    }

    /// Reads a string token at `index`: its decoded text and its range, quotes included.
    mutating func string() -> (String, Range<Int>)? {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
        let start = index
        index += 1
        var scalars = String.UnicodeScalarView()
        var pendingHigh: UInt32?
        var raw: [UInt8] = []
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll()
        }
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                flush()
                return (String(scalars), start..<index)
            case UInt8(ascii: "\\"):
                flush()
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                let simple: [UInt8: UInt8] = [
                    UInt8(ascii: "\""): 0x22, UInt8(ascii: "\\"): 0x5C, UInt8(ascii: "/"): 0x2F, UInt8(ascii: "b"): 0x08,
                    UInt8(ascii: "f"): 0x0C, UInt8(ascii: "n"): 0x0A, UInt8(ascii: "r"): 0x0D, UInt8(ascii: "t"): 0x09,
                ]
                if let value = simple[escape] {
                    scalars.append(Unicode.Scalar(value))
                    continue
                }
                guard escape == UInt8(ascii: "u"), index + 4 <= bytes.count,
                      let code = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16)
                else { return nil }
                index += 4
                if (0xD800...0xDBFF).contains(code) {
                    pendingHigh = code
                } else if (0xDC00...0xDFFF).contains(code), let high = pendingHigh {
                    pendingHigh = nil
                    guard let scalar = Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)) else { return nil }
                    scalars.append(scalar)
                } else {
                    guard let scalar = Unicode.Scalar(code) else { return nil }
                    scalars.append(scalar)
                }
            default:
                raw.append(byte)
            }
        }
        return nil
    }
}
