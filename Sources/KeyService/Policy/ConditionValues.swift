#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KMSWire

/// The condition keys envseal supplies, and the typed values (numbers, dates, IP ranges) that the
/// numeric, date and IP address operators compare.
///
/// A key policy may use only the keys listed here: a key the engine never supplies would always
/// be evaluated as absent, so `"Deny" … "Bool": {"aws:SecureTransport": "false"}` would deny
/// nothing. The parser refuses any other key, naming it.
enum ConditionKeys {
    /// Every supported key, lowercased, besides the `kms:EncryptionContext:` and
    /// `aws:RequestTag/` families. Where each comes from is in docs/KEY-SERVICE.md.
    static let supported: Set<String> = [
        // Global keys.
        "aws:currenttime", "aws:epochtime", "aws:securetransport", "aws:sourceip", "aws:principalarn",
        "aws:principalaccount", "aws:username", "aws:userid", "aws:requestedregion", "aws:tagkeys",
        // KMS keys of every key operation.
        "kms:calleraccount", "kms:keyspec", "kms:keyusage", "kms:keyorigin", "kms:multiregion", "kms:resourcealiases",
        // kms:ViaService is present only when an AWS service calls on a principal's behalf, which
        // never happens here: it is known, and always absent.
        "kms:viaservice",
        // Per operation.
        "kms:encryptioncontextkeys", "kms:encryptionalgorithm", "kms:macalgorithm", "kms:signingalgorithm", "kms:messagetype",
        "kms:requestalias", "kms:reencryptonsamekey",
        "kms:grantoperations", "kms:grantconstrainttype", "kms:grantisforawsresource", "kms:granteeprincipal",
        "kms:retiringprincipal", "kms:bypasspolicylockoutsafetycheck", "kms:schedulekeydeletionpendingwindowindays",
        "kms:rotationperiodindays", "kms:wrappingalgorithm", "kms:wrappingkeyspec", "kms:expirationmodel", "kms:validto",
    ]

    /// Families of keys with a name of the caller's choosing after the prefix (lowercased).
    static let supportedPrefixes = ["kms:encryptioncontext:", "aws:requesttag/"]

    /// Whether envseal supplies `key` (any case).
    static func isSupported(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return supported.contains(lowered)
            || supportedPrefixes.contains { lowered.hasPrefix($0) && lowered.count > $0.count }
    }
}

// MARK: - Numbers

/// A number of a `Numeric…` condition: decimal text, as JSON or a request writes it.
enum ConditionNumber {
    static func parse(_ text: String) -> Double? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
            || $0 == UInt8(ascii: "+") || $0 | 0x20 == UInt8(ascii: "e") }),
            let value = Double(text), value.isFinite
        else { return nil }
        return value
    }
}

// MARK: - Dates

/// A date of a `Date…` condition, as seconds since 1970: IAM takes ISO 8601 (`2026-12-31`,
/// `2026-12-31T23:59:59Z`, with fractional seconds or a `±hh:mm` offset) or epoch seconds.
enum ConditionDate {
    static func parse(_ text: String) -> Double? {
        // A date always has a '-' after its year; epoch seconds have none but a leading sign.
        if !text.dropFirst().contains("-"), let epoch = ConditionNumber.parse(text) { return epoch }
        let bytes = Array(text.utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[index ..< index + count] {
                guard byte &- UInt8(ascii: "0") < 10 else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }
        func expect(_ character: Character) -> Bool {
            guard index < bytes.count, bytes[index] == character.asciiValue else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
              (1 ... 12).contains(month), (1 ... daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var seconds = Double(daysFromCivil(year: year, month: month, day: day)) * 86_400
        guard index < bytes.count else { return seconds }
        guard expect("T"), let hour = digits(2), expect(":"), let minute = digits(2), hour < 24, minute < 60 else { return nil }
        seconds += Double(hour * 3600 + minute * 60)
        if expect(":") {
            guard let second = digits(2), second < 60 else { return nil }
            seconds += Double(second)
            if expect(".") {
                let start = index
                var fraction = 0.0
                var scale = 0.1
                while index < bytes.count, bytes[index] &- UInt8(ascii: "0") < 10 {
                    fraction += Double(bytes[index] - UInt8(ascii: "0")) * scale
                    scale /= 10
                    index += 1
                }
                guard index > start else { return nil }
                seconds += fraction
            }
        }
        if index == bytes.count || expect("Z") {
            return index == bytes.count ? seconds : nil
        }
        guard index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") else { return nil }
        let sign: Double = bytes[index] == UInt8(ascii: "+") ? 1 : -1
        index += 1
        guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2), index == bytes.count,
              offsetHours < 24, offsetMinutes < 60
        else { return nil }
        // 12:00+02:00 is 10:00Z.
        return seconds - sign * Double(offsetHours * 3600 + offsetMinutes * 60)
    }

    /// `2026-12-07T18:30:05Z`: how the engine supplies `aws:CurrentTime`.
    static func format(epochSeconds: Double) -> String {
        let total = Int(epochSeconds.rounded(.down))
        let days = total >= 0 ? total / 86_400 : (total - 86_399) / 86_400
        let secondOfDay = total - days * 86_400
        let (year, month, day) = civilFromDays(days)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let yearText = String(repeating: "0", count: max(0, 4 - String(year).count)) + String(year)
        return "\(yearText)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay % 3600 / 60)):\(two(secondOfDay % 60))Z"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date: SigV4's calendar, in `Int`.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        Int(ProlepticCalendar.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day)))
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let (year, month, day) = ProlepticCalendar.civilFromDays(Int64(days))
        return (Int(year), Int(month), Int(day))
    }
}

// MARK: - IP addresses

/// An IPv4 or IPv6 address range of an `IpAddress` condition: `203.0.113.0/24`, `2001:db8::/32`,
/// or one address. An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) is read as IPv4.
struct IPRange: Sendable, Equatable {
    /// The address's 4 or 16 bytes.
    let bytes: [UInt8]
    /// How many leading bits must match.
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = Self.address(String(parts[0])) else { return nil }
        let writtenAsIPv6 = parts[0].contains(":")
        var prefix = address.count * 8
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].count <= 3, parts[1].utf8.allSatisfy({ $0 &- UInt8(ascii: "0") < 10 }),
                  let given = Int(parts[1]), given <= (writtenAsIPv6 ? 128 : 32)
            else { return nil }
            // A mapped IPv4 address with an IPv6 prefix keeps only the bits beyond the mapping.
            prefix = writtenAsIPv6 && address.count == 4 ? given - 96 : given
            guard prefix >= 0 else { return nil }
        }
        self.bytes = address
        self.prefix = prefix
    }

    /// Whether `text`, one address, lies in the range.
    func contains(_ text: String) -> Bool {
        guard let address = Self.address(text), address.count == bytes.count else { return false }
        var remaining = prefix
        for (lhs, rhs) in zip(address, bytes) where remaining > 0 {
            let mask: UInt8 = remaining >= 8 ? 0xFF : ~(0xFF >> UInt8(remaining))
            if lhs & mask != rhs & mask { return false }
            remaining -= 8
        }
        return true
    }

    /// The bytes of one address; `nil` when it is not one.
    static func address(_ text: String) -> [UInt8]? {
        guard !text.isEmpty, text.utf8.count <= 64 else { return nil }
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes[0 ..< 10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes[12...]) }
        return bytes
    }
}
