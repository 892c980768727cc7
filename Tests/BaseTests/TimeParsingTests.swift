import Base
import Foundation
import Testing

/// RFC 3339 times from outside (query parameters, exhibits' ranges, the command line):
/// every real time parses to the instant Foundation gives it, and nothing that is not a
/// real time parses at all (a lenient parser rolls 30 February into March).
@Suite struct TimeParsingTests {
    @Test func everyRealTimeParsesToItsInstant() {
        var generator = SystemRandomNumberGenerator()
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        for _ in 0..<20_000 {
            // 1900-01-01 … 2199-12-31, to the second.
            let seconds = Int64.random(in: -2_208_988_800...7_258_118_399, using: &generator)
            let text = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            #expect(parseISO8601(text) == seconds * 1_000_000, "\(text)")
            let micros = Int64.random(in: 0...999_999, using: &generator)
            let fraction = String(format: "%06lld", micros)
            #expect(parseISO8601(text.replacingOccurrences(of: "Z", with: ".\(fraction)Z")) == seconds * 1_000_000 + micros)
        }
    }

    @Test func offsetsShiftTheInstant() {
        let utc = parseISO8601("2026-11-30T12:00:00Z")
        #expect(utc != nil)
        #expect(parseISO8601("2026-11-30T13:30:00+01:30") == utc)
        #expect(parseISO8601("2026-11-30T07:00:00-05:00") == utc)
        #expect(parseISO8601("2026-11-30t12:00:00z") == utc)
        #expect(parseISO8601("2026-11-30T12:00:00.5Z") == utc.map { $0 + 500_000 })
        // Digits past the microsecond are dropped, not rounded into the next second.
        #expect(parseISO8601("2026-11-30T12:00:00.999999999Z") == utc.map { $0 + 999_999 })
        #expect(parseISO8601("2024-02-29T00:00:00Z") != nil, "2024 is a leap year")
        #expect(parseISO8601("2000-02-29T00:00:00Z") != nil, "2000 is a leap year")
    }

    @Test func whatIsNotARealTimeIsRefused() {
        for text in [
            "2026-02-30T12:00:00Z", "2026-02-29T12:00:00Z", "1900-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-13-01T00:00:00Z",
            "2026-00-10T00:00:00Z", "2026-01-00T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T12:60:00Z", "2026-12-31T23:59:60Z",
            "2026-01-01T12:00:00+99:99", "2026-01-01T12:00:00+24:00", "2026-01-01T12:00:00+01:60", "2026-01-01T12:00:00+0100",
            "2026-01-01T12:00:00", "2026-01-01 12:00:00Z", "2026-01-01T12:00Z", "2026-1-01T12:00:00Z", "26-01-01T12:00:00Z",
            "2026-01-01T12:00:00.Z", "2026-01-01T12:00:00.1234567890Z", "2026-01-01T12:00:00Z ", " 2026-01-01T12:00:00Z",
            "2026-01-01T12:00:00ZZ", "0000-01-01T00:00:00Z", "２０２６-01-01T12:00:00Z", "", "now", "-2026-01-01T00:00:00Z"
        ] {
            #expect(parseISO8601(text) == nil, "\(text) was taken for a time")
        }
    }
}
