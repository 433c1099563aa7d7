import Foundation

/// A SigV4 request time, to the second, in UTC.
///
/// Parsed and printed by hand: the verifier reads one on every request, and Foundation's date
/// formatters are slow and locale-sensitive. Calendar arithmetic is Howard Hinnant's
/// `days_from_civil`/`civil_from_days` (proleptic Gregorian, no time zones, no leap seconds),
/// for years 0000 to 9999, the range the four-digit formats can write.
struct SigV4Timestamp: Sendable, Hashable, Comparable {
    /// Seconds since 1970-01-01T00:00:00Z.
    let secondsSince1970: Int64

    init(secondsSince1970: Int64) {
        self.secondsSince1970 = secondsSince1970
    }

    /// The second a `Date` falls in (rounded down, as botocore's `strftime` truncates).
    /// Returns `nil` outside years 0000–9999.
    init?(_ date: Date) {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds >= Double(Self.minimum), seconds <= Double(Self.maximum) else { return nil }
        self.init(secondsSince1970: Int64(seconds))
    }

    /// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    static let minimum = ProlepticCalendar.daysFromCivil(year: 0, month: 1, day: 1) * 86_400
    static let maximum = ProlepticCalendar.daysFromCivil(year: 9999, month: 12, day: 31) * 86_400 + 86_399

    static func < (lhs: Self, rhs: Self) -> Bool { lhs.secondsSince1970 < rhs.secondsSince1970 }

    var date: Date { Date(timeIntervalSince1970: TimeInterval(secondsSince1970)) }

    // MARK: Parsing

    /// Parses the ISO 8601 basic format of `X-Amz-Date`, exactly `yyyyMMdd'T'HHmmss'Z'` (leading
    /// and trailing spaces or tabs, which HTTP ignores, aside).
    init?(amzDate text: String) {
        guard let parsed = SigV4Text.withBytes(text, { bytes in
            Self.parseAmzDate(bytes, SigV4Text.trimmed(0..<bytes.count, in: bytes))
        }) else { return nil }
        self = parsed
    }

    /// Parses an HTTP `Date` header: the IMF-fixdate of RFC 9110 (`Sun, 30 Aug 2015 12:36:00 GMT`),
    /// also with `UTC`, `+0000` or `-0000` for the zone (Python's `email.utils.formatdate`, which
    /// botocore uses, writes `-0000`), or the ISO 8601 basic format. The weekday must be a
    /// weekday's name but is not checked against the date, which the signature covers anyway.
    init?(httpDate text: String) {
        guard let parsed = SigV4Text.withBytes(text, { bytes -> SigV4Timestamp? in
            let range = SigV4Text.trimmed(0..<bytes.count, in: bytes)
            return Self.parseAmzDate(bytes, range) ?? Self.parseIMFDate(bytes, range)
        }) else { return nil }
        self = parsed
    }

    private static func parseAmzDate(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> SigV4Timestamp? {
        guard range.count == 16, bytes[range.lowerBound + 8] == UInt8(ascii: "T"),
              bytes[range.lowerBound + 15] == UInt8(ascii: "Z")
        else { return nil }
        let at = range.lowerBound
        guard let year = number(bytes, at, 4), let month = number(bytes, at + 4, 2), let day = number(bytes, at + 6, 2),
              let hour = number(bytes, at + 9, 2), let minute = number(bytes, at + 11, 2),
              let second = number(bytes, at + 13, 2)
        else { return nil }
        return SigV4Timestamp(year, month, day, hour, minute, second)
    }

    private static func parseIMFDate(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> SigV4Timestamp? {
        // "Sun, 30 Aug 2015 12:36:00 " is 26 bytes; the zone follows.
        guard range.count >= 29 else { return nil }
        let at = range.lowerBound
        let zone = bytes[(at + 26)..<range.upperBound]
        guard utcZones.contains(where: { $0.elementsEqual(zone) }),
              weekdays.contains(where: { $0.elementsEqual(bytes[at..<(at + 3)]) }),
              bytes[at + 3] == UInt8(ascii: ","), bytes[at + 4] == SigV4Text.space, bytes[at + 7] == SigV4Text.space,
              bytes[at + 11] == SigV4Text.space, bytes[at + 16] == SigV4Text.space,
              bytes[at + 19] == UInt8(ascii: ":"), bytes[at + 22] == UInt8(ascii: ":"),
              bytes[at + 25] == SigV4Text.space,
              let monthIndex = months.firstIndex(where: { $0.elementsEqual(bytes[(at + 8)..<(at + 11)]) }),
              let day = number(bytes, at + 5, 2), let year = number(bytes, at + 12, 4),
              let hour = number(bytes, at + 17, 2), let minute = number(bytes, at + 20, 2),
              let second = number(bytes, at + 23, 2)
        else { return nil }
        return SigV4Timestamp(year, monthIndex + 1, day, hour, minute, second)
    }

    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ count: Int) -> Int? {
        var value = 0
        for index in start..<(start + count) {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// Validates the fields and converts them; `nil` for a day the month does not have or a time
    /// outside 00:00:00–23:59:59.
    private init?(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int, _ second: Int) {
        guard (1...12).contains(month), day >= 1, day <= Self.daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 60
        else { return nil }
        let days = ProlepticCalendar.daysFromCivil(year: Int64(year), month: Int64(month), day: Int64(day))
        self.init(secondsSince1970: days * 86_400 + Int64(hour * 3600 + minute * 60 + second))
    }

    private static let weekdays: [[UInt8]] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].map { Array($0.utf8) }
    private static let months: [[UInt8]] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map { Array($0.utf8) }
    private static let utcZones: [[UInt8]] = ["GMT", "UTC", "+0000", "-0000"].map { Array($0.utf8) }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // MARK: Printing

    /// The ISO 8601 basic format: `20150830T123600Z`. A time outside years 0000–9999 prints as
    /// the nearest end of that range.
    var amzDate: String {
        let seconds = min(max(secondsSince1970, Self.minimum), Self.maximum)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = ProlepticCalendar.civilFromDays(days)
        var out: [UInt8] = []
        out.reserveCapacity(16)
        Self.append(Int(year), width: 4, to: &out)
        Self.append(Int(month), width: 2, to: &out)
        Self.append(Int(day), width: 2, to: &out)
        out.append(UInt8(ascii: "T"))
        Self.append(secondOfDay / 3600, width: 2, to: &out)
        Self.append(secondOfDay / 60 % 60, width: 2, to: &out)
        Self.append(secondOfDay % 60, width: 2, to: &out)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    private static func append(_ value: Int, width: Int, to out: inout [UInt8]) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var rest = value
        while divisor > 0 {
            out.append(UInt8(ascii: "0") + UInt8(rest / divisor))
            rest %= divisor
            divisor /= 10
        }
    }
}

/// The proleptic Gregorian calendar as day counts since 1970-01-01 (Howard Hinnant's algorithms):
/// SigV4's timestamps and the policy engine's date conditions both use it.
package enum ProlepticCalendar {
    /// Days since 1970-01-01 of a proleptic Gregorian date.
    package static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01.
    package static func civilFromDays(_ days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
