import Base
import Catalog
import Foundation
import Incidents
import Recording
import Records
import TestSupport
import Testing

/// A request to secure an incident's footage holds it from retention and the disk floor
/// until an investigator decides; one at a time; never for an incident without cameras.
@Suite struct ExhibitRequestTests {
    @Test func aPendingRequestHoldsTheIncidentsFootageUntilItIsDecided() async throws {
        try await TestSupport.withCatalog("exhibit-request") { dir, catalog in
            let store = try SampleStore(root: dir + "/samples")
            let camera = try await catalog.upsertCamera(name: "square", url: "rtsp://127.0.0.1:9/a", retentionDays: 30)
            try await TestSupport.recordFootage(camera: camera, catalog: catalog, store: store)
            let now = Int64(Date().timeIntervalSince1970 * 1e6), later = now + 3_600_000_000
            let recorded = try await catalog.expiredSegments(cameraID: camera.id, endedBefore: later, limit: 100)
            try #require(!recorded.isEmpty)
            let register = IncidentRegister(catalog: catalog)
            let category = try #require(try await register.categories().first { $0.key == "violence" })
            let author = IncidentAuthor(userID: nil, name: "op-1")
            let incident = try await register.report(
                IncidentReport(
                    categoryID: category.id, observedMicros: now - 5_000_000,
                    cameras: [IncidentCameraRecord(cameraID: camera.id, fromMicros: now - 60_000_000, toMicros: now)],
                    description: "a fight"), by: author, nowMicros: now)
            let request = try await register.requestExhibit(incidentID: incident.id, reason: "for the police", by: author, nowMicros: now)
            #expect(request.decidedMicros == nil && request.requestedBy == "op-1")
            // Held: neither retention nor the disk floor would delete any of it.
            #expect(try await catalog.expiredSegments(cameraID: camera.id, endedBefore: later, limit: 100).isEmpty)
            #expect(try await catalog.oldestDeletableSegments(limit: 100).isEmpty)
            let twice = await #expect(throws: VigilError.self) {
                try await register.requestExhibit(incidentID: incident.id, reason: "again", by: author, nowMicros: now)
            }
            #expect(twice?.code == .conflict)
            await #expect(throws: VigilError.self) {
                try await register.decideExhibitRequest(id: request.id, exhibit: "2026/E-1", refusal: "both", by: "inv-1", nowMicros: now)
            }
            let refused = try await register.decideExhibitRequest(
                id: request.id, exhibit: nil, refusal: "no offence was committed", by: "inv-1", nowMicros: now)
            #expect(refused.outcome == "refused" && refused.decidedBy == "inv-1")
            // Decided: the footage goes by retention again.
            #expect(try await catalog.expiredSegments(cameraID: camera.id, endedBefore: later, limit: 100).map(\.id) == recorded.map(\.id))
            let again = await #expect(throws: VigilError.self) {
                try await register.decideExhibitRequest(id: request.id, exhibit: nil, refusal: "twice", by: "inv-1", nowMicros: now)
            }
            #expect(again?.code == .conflict)
            // A refusal is not overruled by asking again.
            let reasked = await #expect(throws: VigilError.self) {
                try await register.requestExhibit(incidentID: incident.id, reason: "please", by: author, nowMicros: now)
            }
            #expect(reasked?.message.contains("refused by inv-1") == true)
            // An incident whose footage waits for an investigator keeps its words past its
            // retention: they are the request's context.
            let old = try await register.report(
                IncidentReport(
                    categoryID: category.id, observedMicros: now - 40 * 86_400_000_000,
                    cameras: [
                        IncidentCameraRecord(
                            cameraID: camera.id, fromMicros: now - 40 * 86_400_000_000, toMicros: now - 39 * 86_400_000_000)
                    ],
                    description: "a man hit a car"), by: author, nowMicros: now)
            _ = try await register.requestExhibit(incidentID: old.id, reason: "for the insurer's court case", by: author, nowMicros: now)
            #expect(try await register.removePersonalData(retentionDays: 30, nowMicros: now).isEmpty)
            #expect(try await register.incident(id: old.id).description == "a man hit a car")
            // An incident that names no camera has no footage to ask for.
            let bare = try await register.report(
                IncidentReport(categoryID: category.id, observedMicros: now, description: "seen by a patrol"), by: author, nowMicros: now)
            await #expect(throws: VigilError.self) {
                try await register.requestExhibit(incidentID: bare.id, reason: "for the police", by: author, nowMicros: now)
            }
        }
    }
}
