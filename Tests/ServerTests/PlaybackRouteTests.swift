import Access
import Base
import Catalog
import Centre
import Foundation
import Records
import SQLKit
import TestSupport
import Testing

/// What a playback request is told, and what the audit log keeps of it: a range with
/// nothing recorded is the request's (404, said in words), a damaged index the server's
/// own (500, and no internals in the permanent log).
@Suite struct PlaybackRouteTests {
    static func lastEntry(_ catalog: Catalog) async throws -> AuditEntry {
        try AuditEntry.decode(try #require(try await catalog.latestAuditEntries(limit: 1, before: nil).first).body)
    }

    @Test func aRangeWithoutFootageIsNotFoundAndADamagedIndexIsTheServers() async throws {
        try await ServerHarness.with { h in
            let camera = try #require(try await h.catalog.camera(id: h.cameraID))
            let operatorSession = try await h.signIn(.operator)
            let now = WallClock.system.nowMicros()
            func path(_ from: Int64, _ to: Int64) -> String {
                "/api/cameras/\(h.cameraID)/view.mp4?from=\(iso8601(micros: from))&to=\(iso8601(micros: to))"
            }
            let empty = try await h.request("GET", path(now - 7_200_000_000, now - 3_600_000_000), session: operatorSession)
            #expect(empty.status == 404, "\(String(decoding: empty.body, as: UTF8.self))")
            #expect(try await Self.lastEntry(h.catalog).detail == "no recording of this camera in the requested range")

            try await TestSupport.recordFootage(camera: camera, catalog: h.catalog, store: h.store)
            let recorded = path(now - 60_000_000, now)
            #expect(try await h.request("GET", recorded, session: operatorSession).status == 200)

            try await h.catalog.database.raw("UPDATE segments SET sample_index = X'FF'").run()
            let damaged = try await h.request("GET", recorded, session: operatorSession)
            #expect(damaged.status == 500)
            let entry = try await Self.lastEntry(h.catalog)
            #expect(entry.result == "failed" && entry.detail == "the server could not read this footage")
        }
    }
}
