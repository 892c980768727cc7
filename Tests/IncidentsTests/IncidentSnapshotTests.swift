import Base
import Catalog
import Foundation
import Incidents
import Records
import TestSupport
import Testing

/// An incident's pictures: of its own cameras, in their ranges, at most eight, said on its
/// timeline, and gone whole at the end of its retention.
@Suite struct IncidentSnapshotTests {
    @Test func picturesAreOfTheIncidentsCamerasAndGoWithItsPersonalData() async throws {
        try await TestSupport.withCatalog("incident-snapshots") { dir, catalog in
            let square = try await catalog.upsertCamera(name: "square", url: "rtsp://127.0.0.1:9/a", retentionDays: 30)
            let park = try await catalog.upsertCamera(name: "park", url: "rtsp://127.0.0.1:9/b", retentionDays: 30)
            let register = IncidentRegister(catalog: catalog)
            let category = try #require(try await register.categories().first { $0.key == "violence" })
            let author = IncidentAuthor(userID: nil, name: "op-1")
            let now = Int64(Date().timeIntervalSince1970 * 1e6), old = now - 40 * 86_400_000_000
            let incident = try await register.report(
                IncidentReport(
                    categoryID: category.id, observedMicros: old,
                    cameras: [IncidentCameraRecord(cameraID: square.id, fromMicros: old - 30_000_000, toMicros: old + 30_000_000)],
                    description: "a fight"), by: author, nowMicros: old)
            // A picture with bytes found nowhere else, to look for in the files after.
            let marker = Array("picture of a face 7f3a9c".utf8)
            let jpeg: [UInt8] = [0xFF, 0xD8] + Array(repeating: marker, count: 200).flatMap { $0 } + [0xFF, 0xD9]
            func add(_ camera: Int64, _ at: Int64) async throws -> IncidentSnapshotRecord {
                try await register.addSnapshot(
                    incidentID: incident.id, cameraID: camera, askedMicros: at, requestedMicros: old + 60_000_000, frameMicros: at - 10_000,
                    jpeg: jpeg, width: 640,
                    height: 360,
                    sha256: String(repeating: "0", count: 64), by: author, nowMicros: old + 60_000_000)
            }
            let first = try await add(square.id, old)
            #expect(first.takenBy == "op-1" && first.bytes == jpeg.count)
            #expect(try await register.snapshotJPEG(id: first.id, incidentID: incident.id) == jpeg)
            #expect(try await register.snapshotJPEG(id: first.id, incidentID: incident.id + 1) == nil)
            #expect(try await register.updates(incidentID: incident.id).last?.text.hasPrefix("picture \(first.id) of square at ") == true)

            // Another camera, or a moment outside the camera's range: refused before anything is made.
            let otherCamera = await #expect(throws: VigilError.self) {
                try await register.snapshotTarget(incidentID: incident.id, cameraID: park.id, atMicros: old)
            }
            #expect(otherCamera?.code == .invalid)
            let outside = await #expect(throws: VigilError.self) { try await add(square.id, old + 30_000_000) }
            #expect(outside?.code == .invalid && outside?.message.contains("outside") == true)
            #expect(try await register.snapshots(incidentID: incident.id).count == 1)
            // Eight at most.
            for n in 1..<IncidentRules.maximumSnapshots { _ = try await add(square.id, old + Int64(n)) }
            let ninth = await #expect(throws: VigilError.self) { try await add(square.id, old) }
            #expect(ninth?.code == .conflict)

            // The end of its retention: every picture goes, and no more may be added.
            #expect(try await register.removePersonalData(retentionDays: 30, nowMicros: now) == [incident.id])
            #expect(try await register.snapshots(incidentID: incident.id).isEmpty)
            #expect(try await register.snapshotJPEG(id: first.id, incidentID: incident.id) == nil)
            // Gone from the catalog's files too, not left in free pages or the write-ahead log.
            for file in ["catalog.sqlite", "catalog.sqlite-wal"] {
                let bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: dir + "/" + file))) ?? Data())
                #expect(!bytes.isEmpty || file.hasSuffix("-wal"))
                #expect(bytes.firstRange(of: marker) == nil, "a picture's bytes remain in \(file)")
            }
            let gone = await #expect(throws: VigilError.self) { try await add(square.id, old) }
            #expect(gone?.code == .conflict)
        }
    }
}
