import Base
import Catalog
import Foundation
import Incidents
import Records
import TestSupport
import Testing

/// The city's figures: counted in the site's time zone, delays as median and 90th
/// percentile, no personal data, and CSV a spreadsheet cannot be tricked by.
@Suite struct IncidentStatisticsTests {
    static let warsaw = TimeZone(identifier: "Europe/Warsaw")!

    static func micros(_ text: String) -> Int64 { parseISO8601(text)! }

    @Test func aMonthIsCountedInTheSitesTimeZone() throws {
        let (from, to) = try IncidentStatistics.period(year: 2026, month: 12, timeZone: Self.warsaw)
        #expect(iso8601(micros: from) == "2026-11-30T23:00:00.000Z" && iso8601(micros: to) == "2026-12-31T23:00:00.000Z")
        let year = try IncidentStatistics.period(year: 2026, month: nil, timeZone: Self.warsaw)
        #expect(iso8601(micros: year.from) == "2025-12-31T23:00:00.000Z")
        #expect(throws: VigilError.self) { try IncidentStatistics.period(year: 2026, month: 13, timeZone: Self.warsaw) }
        #expect(throws: VigilError.self) { try IncidentStatistics.period(year: 1999, month: nil, timeZone: Self.warsaw) }
    }

    @Test func figuresCountByCategoryAreaHourAndMonthAndTimeTheServices() {
        let categories = [
            IncidentCategoryRecord(id: 1, key: "violence", name: "Violence", group: "safety"),
            IncidentCategoryRecord(id: 2, key: "littering", name: "Littering, \"mostly\"", group: "public-order")
        ]
        let reported = Self.micros("2026-12-03T22:30:00Z") // 23:30 in Warsaw
        var rows = [
            IncidentFigureRow(
                categoryID: 1, priority: 1, observedMicros: reported, reportedMicros: reported, status: "on-scene", area: "Old Town",
                notifiedMicros: reported + 60_000_000, acknowledgedMicros: reported + 300_000_000),
            IncidentFigureRow(
                categoryID: 2, priority: 3, observedMicros: Self.micros("2026-12-04T07:10:00Z"), reportedMicros: reported, status: "open",
                area: "=cmd|' /C calc'!A0"),
            IncidentFigureRow(
                categoryID: 2, priority: 3, observedMicros: Self.micros("2026-12-04T07:20:00Z"), reportedMicros: reported,
                status: "closed", notifiedMicros: reported + 120_000_000)
        ]
        rows.append(rows[0])
        let year = try! IncidentStatistics.period(year: 2026, month: nil, timeZone: Self.warsaw)
        let f = IncidentStatistics.compute(
            rows, categories: categories, from: year.from, to: year.to, timeZone: Self.warsaw, wholeYear: true)
        #expect(f.total == 4)
        #expect(f.byCategory.map(\.count) == [2, 2] && f.byCategory.map(\.key) == ["violence", "littering"])
        #expect(f.byGroup.map(\.key) == ["safety", "public-order"])
        #expect(f.byHour[23] == 2 && f.byHour[8] == 2 && f.byHour.reduce(0, +) == 4, "\(f.byHour)")
        #expect(f.byMonth[11] == 4 && f.byMonth.count == 12)
        #expect(f.byArea.first { $0.key == "" }?.name == "no camera or no area")
        #expect(f.byPriority.map(\.key) == ["1", "3"])
        // Three notified (60, 60, 120 s): median 60, p90 120; two acknowledged (300 s).
        let n = f.toNotification, a = f.toAcknowledgement
        #expect(n.count == 3 && n.medianSeconds == 60 && n.p90Seconds == 120, "\(n)")
        #expect(a.count == 2 && a.medianSeconds == 300 && a.p90Seconds == 300, "\(a)")
        let csv = f.csv
        #expect(csv.hasPrefix("section,key,name,value\r\n"))
        #expect(csv.contains("category,littering,\"Littering, \"\"mostly\"\"\",2\r\n"), "\(csv)")
        #expect(csv.contains("area,'=cmd|' /C calc'!A0,'=cmd|' /C calc'!A0,1\r\n"), "no cell reads as a formula: \(csv)")
        #expect(csv.contains("hour,23,23:00-23:59,2\r\n") && csv.contains("month,12,,4\r\n"))
        #expect(csv.contains("delay,to notification,median seconds,60\r\n"))
    }

    @Test func theRegistersFiguresComeFromItsTimeline() async throws {
        try await TestSupport.withCatalog("incident-figures") { _, catalog in
            let register = IncidentRegister(catalog: catalog)
            let now = Int64(Date().timeIntervalSince1970 * 1e6)
            let other = try #require(try await register.categories().first { $0.key == "other" })
            let author = IncidentAuthor(userID: nil, name: "op")
            let i = try await register.report(
                IncidentReport(categoryID: other.id, observedMicros: now, description: "x"), by: author, nowMicros: now)
            _ = try await register.update(id: i.id, IncidentChange(status: .notified), by: author, nowMicros: now + 90_000_000)
            _ = try await register.update(id: i.id, IncidentChange(status: .onScene), by: author, nowMicros: now + 600_000_000)
            let year = Calendar(identifier: .gregorian).dateComponents(in: .current, from: Date()).year!
            let f = try await register.statistics(year: year, month: nil, timeZone: .current)
            #expect(f.total == 1 && f.byCategory.first?.key == "other")
            #expect(f.toNotification.medianSeconds == 90 && f.toAcknowledgement.medianSeconds == 600, "\(f)")
        }
    }
}
