// The device's clock (ONVIF Core §8.3.9 GetSystemDateAndTime, which a device answers
// without authentication): a UsernameToken's creation time must be the device's, or it
// refuses the token, and a camera's clock is often minutes or years off.

import Base

public enum DeviceTime {
    public static let action = "GetSystemDateAndTime"

    public static let request = #"<tds:GetSystemDateAndTime xmlns:tds="http://www.onvif.org/ver10/device/wsdl"/>"#

    /// The device's UTC time, in microseconds since the Unix epoch, from its reply.
    public static func parse(_ reply: [UInt8]) throws -> Int64 {
        let response = try Soap.responseBody(
            reply, action: action, expected: (OnvifNamespace.device, "GetSystemDateAndTimeResponse"))
        let tt = OnvifNamespace.schema
        // The response's child is in the device namespace, what it holds in the schema's.
        guard let utc = response.child(OnvifNamespace.device, "SystemDateAndTime")?.child(tt, "UTCDateTime") else {
            throw OnvifError.malformed(action: action, reason: "no SystemDateAndTime/UTCDateTime")
        }
        func field(_ group: String, _ name: String, _ range: ClosedRange<Int>) throws -> Int {
            guard let text = utc.path(tt, group, name)?.text, let value = Int(text), range.contains(value) else {
                throw OnvifError.malformed(action: action, reason: "UTCDateTime \(group)/\(name) missing or outside \(range)")
            }
            return value
        }
        let year = try field("Date", "Year", 1970...9999), month = try field("Date", "Month", 1...12)
        let day = try field("Date", "Day", 1...31)
        guard day <= daysIn(month: month, year: year) else {
            throw OnvifError.malformed(action: action, reason: "UTCDateTime \(year)-\(month)-\(day) does not exist")
        }
        let hour = try field("Time", "Hour", 0...23), minute = try field("Time", "Minute", 0...59)
        let second = try field("Time", "Second", 0...60) // a leap second is read as :59 below
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59))
        return seconds * 1_000_000
    }

    /// The device's clock minus ours, from its time and ours when its reply came.
    public static func offset(deviceMicros: Int64, localMicros: Int64) -> Int64 {
        deviceMicros &- localMicros
    }

    /// A UsernameToken's creation time: our clock moved by the device's offset, to the
    /// second, within 1970…9999 (what xsd:dateTime and a device can take).
    public static func created(localMicros: Int64, offsetMicros: Int64) -> String {
        let latest: Int64 = 253_402_300_799_999_999
        let (sum, overflow) = localMicros.addingReportingOverflow(offsetMicros)
        let micros = overflow ? (offsetMicros > 0 ? latest : 0) : Swift.min(Swift.max(sum, 0), latest)
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let (y, m, d) = civil(fromDays: days)
        let rest = Int(seconds - days * 86_400)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(y)-\(two(m))-\(two(d))T\(two(rest / 3600)):\(two(rest / 60 % 60)):\(two(rest % 60))Z"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The inverse of `daysFromCivil`.
    static func civil(fromDays days: Int64) -> (Int64, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = Int(doy - (153 * mp + 2) / 5 + 1)
        let month = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
