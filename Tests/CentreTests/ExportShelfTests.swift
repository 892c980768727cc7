import Centre
import Foundation
import Testing

/// The server's shelf of exported bundles: an export is invisible until published, ids
/// never collide, and only names that are listed can be reached.
@Suite struct ExportShelfTests {
    @Test func stagedExportsAreHiddenUntilPublishedAndNamesAreMatchedNotJoined() throws {
        let root = NSTemporaryDirectory() + "shelf-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let shelf = ExportShelf(root: root)
        let at: Int64 = 1_764_000_000_000_000 // 2025-11-24T16:00:00Z
        let first = try shelf.newDirectory(exhibit: "EV-2026-000001", atMicros: at)
        #expect(first.id == "20251124T160000Z")
        try Data("mp4".utf8).write(to: URL(fileURLWithPath: first.path + "/a.mp4"))
        #expect(shelf.exports(exhibit: "EV-2026-000001").isEmpty, "an export being written is listed")
        #expect(shelf.file(exhibit: "EV-2026-000001", export: first.id, name: "a.mp4") == nil)
        try shelf.publish(exhibit: "EV-2026-000001", id: first.id)
        #expect(shelf.exports(exhibit: "EV-2026-000001") == [.init(id: first.id, files: [.init(name: "a.mp4", bytes: 3)])])
        #expect(shelf.file(exhibit: "EV-2026-000001", export: first.id, name: "a.mp4") == "\(root)/EV-2026-000001/\(first.id)/a.mp4")

        // A second export in the same second gets its own directory.
        let second = try shelf.newDirectory(exhibit: "EV-2026-000001", atMicros: at + 300_000)
        #expect(second.id == "20251124T160000Z-2")
        try shelf.publish(exhibit: "EV-2026-000001", id: second.id)
        #expect(shelf.exports(exhibit: "EV-2026-000001").map(\.id) == [first.id, second.id])

        // Names are matched against the listing, never joined as given.
        try Data("secret".utf8).write(to: URL(fileURLWithPath: root + "/catalog.sqlite"))
        for (exhibit, export, name) in [("EV-2026-000001", first.id, "../../catalog.sqlite"), ("..", "..", "catalog.sqlite"),
                                        ("EV-2026-000001", "..", "catalog.sqlite"), ("EV-2026-000001", first.id, ".")] {
            #expect(shelf.file(exhibit: exhibit, export: export, name: name) == nil, "\(exhibit)/\(export)/\(name)")
        }
        #expect(throws: CentreError.self) { try shelf.newDirectory(exhibit: "../x", atMicros: at) }
    }
}
