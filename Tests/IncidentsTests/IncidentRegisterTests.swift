import Base
import Catalog
import Foundation
import Incidents
import Records
import TestSupport
import Testing

/// The incident register's rules, on a real catalog: the city's categories as data, numbers
/// by year, statuses that only move forward, and reports checked before anything is stored.
@Suite struct IncidentRegisterTests {
    static let now: Int64 = 1_796_000_000_000_000 // 2026-11-30
    static let author = IncidentAuthor(userID: nil, name: "op-1")

    static func camera(_ catalog: Catalog, _ name: String, location: String = "") async throws -> CameraRecord {
        var c = CameraRecord(id: 0, name: name, url: "rtsp://127.0.0.1:9/\(name)", retentionDays: 30)
        c.location = location
        return try await catalog.addCamera(c)
    }

    @Test func theCitysCategoriesAreDataThatAUsedOneIsNeverDeletedFrom() async throws {
        try await TestSupport.withCatalog("incident-categories") { _, catalog in
            let register = IncidentRegister(catalog: catalog)
            let seeded = try await register.categories()
            #expect(
                seeded.map(\.key) == [
                    "violence", "unsupervised-minor", "person-in-need", "theft-or-damage", "road-hazard", "public-place-rules", "littering",
                    "cleanliness-neglect", "infrastructure", "other"
                ])
            #expect(seeded.filter { $0.group == "safety" }.count == 5 && seeded.filter { $0.group == "public-order" }.count == 4)
            let graffiti = try await register.addCategory(key: "graffiti", name: "Graffiti", group: "public-order")
            #expect(try await register.categories().last == graffiti)
            await #expect(throws: VigilError.self) { try await register.addCategory(key: "graffiti", name: "Again", group: "other") }
            await #expect(throws: VigilError.self) { try await register.addCategory(key: "Bad Key", name: "x", group: "other") }
            await #expect(throws: VigilError.self) { try await register.addCategory(key: "k", name: "x", group: "elsewhere") }
            // Used: never deleted, retired instead; a retired category takes no new incident.
            _ = try await register.report(
                IncidentReport(categoryID: graffiti.id, observedMicros: Self.now, description: "tag on the bridge"), by: Self.author,
                nowMicros: Self.now)
            let refused = await #expect(throws: VigilError.self) { try await register.deleteCategory(id: graffiti.id) }
            #expect(refused?.code == .conflict && refused?.message.contains("retire it instead") == true)
            _ = try await register.changeCategory(id: graffiti.id, name: nil, group: nil, retired: true)
            await #expect(throws: VigilError.self) {
                try await register.report(
                    IncidentReport(categoryID: graffiti.id, observedMicros: Self.now, description: "another"), by: Self.author,
                    nowMicros: Self.now)
            }
            let unused = try await register.addCategory(key: "fireworks", name: "Fireworks", group: "public-order")
            #expect(try await register.deleteCategory(id: unused.id).key == "fireworks")
            #expect(try await register.categories().contains { $0.id == unused.id } == false)
        }
    }

    @Test func anIncidentIsNumberedByYearPlacedAtItsCameraAndMovesForwardOnly() async throws {
        try await TestSupport.withCatalog("incidents") { _, catalog in
            let register = IncidentRegister(catalog: catalog)
            let square = try await Self.camera(catalog, "square", location: "Market Square, north side")
            let violence = try #require(try await register.categories().first { $0.key == "violence" })
            let report = IncidentReport(
                categoryID: violence.id, priority: 1, observedMicros: Self.now - 60_000_000,
                cameras: [IncidentCameraRecord(cameraID: square.id, fromMicros: Self.now - 90_000_000, toMicros: Self.now)],
                description: "two men fighting by the fountain")
            let first = try await register.report(report, by: Self.author, nowMicros: Self.now)
            let second = try await register.report(report, by: Self.author, nowMicros: Self.now)
            #expect(first.number == "2026/1" && second.number == "2026/2")
            #expect(first.location == "Market Square, north side" && first.status == "open" && first.priority == 1)
            #expect(try await register.incident(id: first.id).cameras == report.cameras)
            // Forward only: a step may be skipped, none undone; closed is the end but for notes.
            var changed = try await register.update(
                id: first.id, IncidentChange(status: .onScene, note: "patrol 3 there"), by: Self.author, nowMicros: Self.now + 1)
            #expect(changed.status == "on-scene" && changed.statusMicros == Self.now + 1)
            let back = await #expect(throws: VigilError.self) {
                try await register.update(id: first.id, IncidentChange(status: .notified), by: Self.author, nowMicros: Self.now + 2)
            }
            #expect(back?.code == .conflict && back?.message.contains("cannot become services notified") == true)
            changed = try await register.update(id: first.id, IncidentChange(status: .closed), by: Self.author, nowMicros: Self.now + 3)
            #expect(changed.status == "closed")
            await #expect(throws: VigilError.self) {
                try await register.update(id: first.id, IncidentChange(priority: 2), by: Self.author, nowMicros: Self.now + 4)
            }
            _ = try await register.update(id: first.id, IncidentChange(note: "footage requested"), by: Self.author, nowMicros: Self.now + 5)
            let timeline = try await register.updates(incidentID: first.id)
            #expect(timeline.map(\.kind) == ["reported", "status", "note", "status", "note"], "\(timeline)")
            #expect(timeline.map(\.text).last == "footage requested")
            // The camera's incidents over a period: those with a range on it that overlaps.
            let onCamera = try await register.list(from: Self.now - 30_000_000, to: Self.now + 1, cameraID: square.id)
            #expect(Set(onCamera.map(\.id)) == [first.id, second.id])
            #expect(try await register.list(from: Self.now + 10, to: Self.now + 20, cameraID: square.id).isEmpty)
            #expect(try await register.list(from: Self.now - 3_600_000_000, to: Self.now + 1, status: .closed).map(\.id) == [first.id])
        }
    }

    @Test func aReportIsCheckedBeforeAnythingIsStored() async throws {
        try await TestSupport.withCatalog("incident-rules") { _, catalog in
            let register = IncidentRegister(catalog: catalog)
            let square = try await Self.camera(catalog, "square")
            var gone = try await Self.camera(catalog, "gone")
            gone.removedMicros = Self.now - 1
            try await catalog.updateCamera(gone)
            let other = try #require(try await register.categories().first { $0.key == "other" })
            let good = IncidentReport(categoryID: other.id, observedMicros: Self.now, description: "something")
            var bad: [(String, IncidentReport)] = []
            var r = good
            r.priority = 4
            bad.append(("priority", r))
            r = good
            r.observedMicros = Self.now + 3_600_000_000
            bad.append(("future", r))
            r = good
            r.observedMicros = Self.now - 91 * 86_400_000_000
            bad.append(("too old", r))
            r = good
            r.description = "  "
            bad.append(("blank", r))
            r = good
            r.categoryID = 999
            bad.append(("category", r))
            r = good
            r.cameras = [IncidentCameraRecord(cameraID: square.id, fromMicros: Self.now, toMicros: Self.now + 25 * 3_600_000_000)]
            bad.append(("range", r))
            r = good
            r.cameras = [IncidentCameraRecord(cameraID: gone.id, fromMicros: Self.now - 1, toMicros: Self.now)]
            bad.append(("removed camera", r))
            r = good
            r.latitude = 91
            bad.append(("latitude", r))
            for (what, report) in bad {
                await #expect(throws: VigilError.self, "\(what)") {
                    try await register.report(report, by: Self.author, nowMicros: Self.now)
                }
            }
            #expect(try await register.list(from: 0, to: Int64.max / 2).isEmpty, "nothing refused was stored")
            #expect(try await register.report(good, by: Self.author, nowMicros: Self.now).number == "2026/1")
        }
    }
}
