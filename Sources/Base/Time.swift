import Foundation

/// Wall-clock time source, injected so tests can move time. Logic that tests must control
/// takes one of these; only `WallClock.system` reads the system's clock.
public struct WallClock: Sendable {
    public var nowMicros: @Sendable () -> Int64

    public init(nowMicros: @escaping @Sendable () -> Int64) {
        self.nowMicros = nowMicros
    }

    public static let system = WallClock { Int64(Date().timeIntervalSince1970 * 1_000_000) }

    /// A clock that always says `micros` (tests).
    public static func fixed(_ micros: Int64) -> WallClock { WallClock { micros } }
}

/// Formats microseconds since the epoch as ISO 8601 UTC with milliseconds.
public func iso8601(micros: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: Double(micros) / 1_000_000))
}

/// Parses an RFC 3339 time (`2026-11-30T14:05:00Z`, `…:00.250+01:00`; fraction up to 9
/// digits, kept to the microsecond) to microseconds since the epoch. Strict: a day that
/// does not exist (30 February), an hour past 23, an offset past ±23:59, a leap second or
/// anything trailing is refused, where a lenient parser would roll it into another time.
public func parseISO8601(_ text: String) -> Int64? {
    let b = Array(text.utf8)
    var i = 0
    func digits(_ n: Int) -> Int? {
        guard i + n <= b.count else { return nil }
        var v = 0
        for k in i..<(i + n) {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[k]) else { return nil }
            v = v * 10 + Int(b[k] - UInt8(ascii: "0"))
        }
        i += n
        return v
    }
    func expect(_ c: Character...) -> Bool {
        guard i < b.count, c.contains(where: { $0.asciiValue == b[i] }) else { return false }
        i += 1
        return true
    }
    guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2), expect("T", "t"),
        let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2)
    else { return nil }
    guard year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
        hour <= 23, minute <= 59, second <= 59
    else { return nil }
    var micros: Int64 = 0
    if i < b.count, b[i] == UInt8(ascii: ".") {
        i += 1
        let start = i
        while i < b.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b[i]) { i += 1 }
        let count = i - start
        guard (1...9).contains(count) else { return nil }
        for k in 0..<6 { micros = micros * 10 + (k < count ? Int64(b[start + k] - UInt8(ascii: "0")) : 0) }
    }
    var offsetSeconds = 0
    if expect("Z", "z") {
    } else if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
        let sign = b[i] == UInt8(ascii: "-") ? -1 : 1
        i += 1
        guard let oh = digits(2), expect(":"), let om = digits(2), oh <= 23, om <= 59 else { return nil }
        offsetSeconds = sign * (oh * 3600 + om * 60)
    } else {
        return nil
    }
    guard i == b.count else { return nil }
    let days = daysFromCivil(year: year, month: month, day: day)
    let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
    return seconds * 1_000_000 + micros
}

/// Days in `month` of `year` (proleptic Gregorian).
func daysIn(month: Int, year: Int) -> Int {
    switch month {
    case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
    case 4, 6, 9, 11: 30
    default: 31
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
    let y = month <= 2 ? year - 1 : year
    let era = (y >= 0 ? y : y - 399) / 400
    let yoe = y - era * 400
    let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
    return era * 146_097 + doe - 719_468
}
