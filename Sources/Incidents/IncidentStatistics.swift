import Base
import Catalog
import Foundation
import Records

/// The city's figures of its incidents over a month or a year: how many, by category, area
/// (the first camera's), hour of the day and month (in the server's time zone, which should
/// be the city's), status, priority and recipient, and how long from report to the
/// services' notification and acknowledgement (median and 90th percentile), overall and
/// for each recipient. Counts and durations only, by the cameras' areas as they are
/// now: no person, address, description or number (a single incident in a small area and
/// month is still one incident, which the reader of the figures should bear in mind).
public struct IncidentStatistics: Sendable, Encodable, Equatable {
    public struct Count: Sendable, Encodable, Equatable {
        public var key: String
        public var name: String
        public var count: Int
    }

    /// The incidents one recipient was told of, and how long from report to its delivery
    /// and to its acknowledgement.
    public struct RecipientFigure: Sendable, Encodable, Equatable {
        public var key: String
        public var name: String
        public var count: Int
        public var toDelivery: Delay
        public var toAcknowledgement: Delay
    }

    public struct Delay: Sendable, Encodable, Equatable {
        /// Incidents that got there; the rest are not counted in the figures.
        public var count: Int
        public var medianSeconds: Double?
        public var p90Seconds: Double?
    }

    public var from: String
    public var to: String
    public var timeZone: String
    public var total: Int
    public var byCategory: [Count]
    public var byGroup: [Count]
    public var byArea: [Count]
    /// 24 counts, from 00:00–00:59 on, by the local hour the incident was observed.
    public var byHour: [Int]
    /// 12 counts for a year; for a month, the month's count alone.
    public var byMonth: [Int]
    public var byStatus: [Count]
    public var byPriority: [Count]
    public var toNotification: Delay
    public var toAcknowledgement: Delay
    /// By recipient: the reports each service was sent (dispatch's outbox), in the order
    /// the recipients were set up.
    public var byRecipient: [RecipientFigure]

    /// A calendar month (1–12) of `year`, or the whole year, in `timeZone`: the period's
    /// bounds in UTC µs.
    public static func period(year: Int, month: Int?, timeZone: TimeZone) throws -> (from: Int64, to: Int64) {
        guard (2000...2100).contains(year) else { throw VigilError(.invalid, "year is 2000-2100, not \(year)") }
        if let month, !(1...12).contains(month) { throw VigilError(.invalid, "month is 1-12, not \(month)") }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        guard let start = calendar.date(from: DateComponents(year: year, month: month ?? 1, day: 1)),
            let end = calendar.date(byAdding: month == nil ? .year : .month, value: 1, to: start)
        else { throw VigilError(.invalid, "no such period") }
        return (Int64(start.timeIntervalSince1970 * 1e6), Int64(end.timeIntervalSince1970 * 1e6))
    }

    /// The figures of `rows`, observed in `from..<to`.
    public static func compute(
        _ rows: [IncidentFigureRow], categories: [IncidentCategoryRecord], recipients: [IncidentRecipientFigureRow] = [], from: Int64,
        to: Int64, timeZone: TimeZone, wholeYear: Bool
    ) -> IncidentStatistics {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        func counted(_ keys: [String], names: [String: String], order: [String]) -> [Count] {
            var tally: [String: Int] = [:]
            for k in keys { tally[k, default: 0] += 1 }
            let known = order.filter { tally[$0] != nil }
            let rest = tally.keys.filter { !order.contains($0) }.sorted()
            return (known + rest).map { Count(key: $0, name: names[$0] ?? $0, count: tally[$0]!) }
        }
        let byID = Dictionary(uniqueKeysWithValues: categories.map { ($0.id, $0) })
        let categoryKeys = rows.map { byID[$0.categoryID]?.key ?? "category-\($0.categoryID)" }
        var hours = [Int](repeating: 0, count: 24)
        var months = [Int](repeating: 0, count: wholeYear ? 12 : 1)
        for r in rows {
            let date = Date(timeIntervalSince1970: Double(r.observedMicros) / 1e6)
            let parts = calendar.dateComponents([.hour, .month], from: date)
            hours[min(23, max(0, parts.hour ?? 0))] += 1
            months[wholeYear ? min(11, max(0, (parts.month ?? 1) - 1)) : 0] += 1
        }
        let groupNames = ["safety": "Safety", "public-order": "Public order", "other": "Other"]
        let statusNames = [
            "open": "open", "notified": "services notified", "acknowledged": "acknowledged", "on-scene": "service on scene",
            "closed": "closed"
        ]
        return IncidentStatistics(
            from: iso8601(micros: from), to: iso8601(micros: to), timeZone: timeZone.identifier, total: rows.count,
            byCategory: counted(
                categoryKeys, names: Dictionary(uniqueKeysWithValues: categories.map { ($0.key, $0.name) }), order: categories.map(\.key)),
            byGroup: counted(
                rows.map { byID[$0.categoryID]?.group ?? "other" }, names: groupNames, order: ["safety", "public-order", "other"]),
            byArea: counted(
                rows.map { ($0.area ?? "").isEmpty ? "" : $0.area! }, names: ["": "no camera or no area"], order: []),
            byHour: hours, byMonth: months,
            byStatus: counted(rows.map(\.status), names: statusNames, order: ["open", "notified", "acknowledged", "on-scene", "closed"]),
            byPriority: counted(
                rows.map { String($0.priority) }, names: ["1": "urgent", "2": "high", "3": "normal"], order: ["1", "2", "3"]),
            toNotification: delay(rows.compactMap { r in r.notifiedMicros.map { $0 - r.reportedMicros } }),
            toAcknowledgement: delay(rows.compactMap { r in r.acknowledgedMicros.map { $0 - r.reportedMicros } }),
            byRecipient: byRecipient(recipients))
    }

    static func byRecipient(_ rows: [IncidentRecipientFigureRow]) -> [RecipientFigure] {
        var order: [String] = []
        var grouped: [String: [IncidentRecipientFigureRow]] = [:]
        for r in rows {
            if grouped[r.key] == nil { order.append(r.key) }
            grouped[r.key, default: []].append(r)
        }
        return order.map { key in
            let told = grouped[key]!
            return RecipientFigure(
                key: key, name: told[0].name, count: told.count,
                toDelivery: delay(told.compactMap { r in r.deliveredMicros.map { $0 - r.reportedMicros } }),
                toAcknowledgement: delay(told.compactMap { r in r.acknowledgedMicros.map { $0 - r.reportedMicros } }))
        }
    }

    /// Median and 90th percentile (nearest rank) of durations in µs, in seconds.
    static func delay(_ micros: [Int64]) -> Delay {
        let sorted = micros.map { max(0, $0) }.sorted()
        func rank(_ p: Double) -> Double? {
            guard !sorted.isEmpty else { return nil }
            let index = max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)
            return Double(sorted[min(index, sorted.count - 1)]) / 1e6
        }
        return Delay(count: sorted.count, medianSeconds: rank(0.5), p90Seconds: rank(0.9))
    }

    /// The figures as CSV (RFC 4180): one line per figure, `section,key,name,value`.
    public var csv: String {
        func field(_ s: String) -> String {
            // A cell that a spreadsheet would read as a formula is quoted with a leading '.
            let safe = s.first.map { "=+-@\t\r".contains($0) } == true ? "'" + s : s
            return safe.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + safe.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : safe
        }
        var lines = [
            "section,key,name,value", "period,from,,\(from)", "period,to,,\(to)", "period,time zone,,\(field(timeZone))", "total,,,\(total)"
        ]
        for (section, counts) in [
            ("category", byCategory), ("group", byGroup), ("area", byArea), ("status", byStatus), ("priority", byPriority)
        ] {
            lines += counts.map { "\(section),\(field($0.key)),\(field($0.name)),\($0.count)" }
        }
        lines += byHour.enumerated().map { "hour,\($0.offset),\(String(format: "%02d:00-%02d:59", $0.offset, $0.offset)),\($0.element)" }
        if byMonth.count == 12 { lines += byMonth.enumerated().map { "month,\($0.offset + 1),,\($0.element)" } }
        func delays(_ section: String, _ name: String, _ d: Delay) -> [String] {
            [
                "\(section),\(name),count,\(d.count)",
                "\(section),\(name),median seconds,\(d.medianSeconds.map { String(format: "%.0f", $0) } ?? "")",
                "\(section),\(name),p90 seconds,\(d.p90Seconds.map { String(format: "%.0f", $0) } ?? "")"
            ]
        }
        lines += delays("delay", "to notification", toNotification) + delays("delay", "to acknowledgement", toAcknowledgement)
        for r in byRecipient {
            lines.append("recipient,\(field(r.key)),\(field(r.name)),\(r.count)")
            lines +=
                delays("recipient \(field(r.key))", "to delivery", r.toDelivery)
                + delays("recipient \(field(r.key))", "to acknowledgement", r.toAcknowledgement)
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}

extension IncidentRegister {
    /// The figures of `year` (or one `month` of it) in `timeZone`.
    public func statistics(year: Int, month: Int?, timeZone: TimeZone) async throws -> IncidentStatistics {
        let (from, to) = try IncidentStatistics.period(year: year, month: month, timeZone: timeZone)
        return IncidentStatistics.compute(
            try await catalog.incidentFigures(from: from, to: to), categories: try await categories(),
            recipients: try await catalog.incidentRecipientFigures(from: from, to: to), from: from, to: to, timeZone: timeZone,
            wholeYear: month == nil)
    }
}
