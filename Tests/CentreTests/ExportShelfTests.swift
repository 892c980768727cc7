import Base
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
        for (exhibit, export, name) in [
            ("EV-2026-000001", first.id, "../../catalog.sqlite"), ("..", "..", "catalog.sqlite"),
            ("EV-2026-000001", "..", "catalog.sqlite"), ("EV-2026-000001", first.id, ".")
        ] {
            #expect(shelf.file(exhibit: exhibit, export: export, name: name) == nil, "\(exhibit)/\(export)/\(name)")
        }
        #expect(throws: VigilError.self) { try shelf.newDirectory(exhibit: "../x", atMicros: at) }
    }

    /// Expired exports leave the listing and the disk; recent ones, and an export still
    /// being written, stay; what a crash left (an old staging directory, a removal cut
    /// short) goes.
    @Test func pruneRemovesExpiredExportsAndCrashLeftoversOnly() throws {
        let root = NSTemporaryDirectory() + "shelf-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let shelf = ExportShelf(root: root)
        let day: Int64 = 86_400_000_000
        let now: Int64 = 1_764_000_000_000_000 // 2025-11-24T16:00:00Z
        func export(_ exhibit: String, madeAt micros: Int64, bytes: Int, publish: Bool = true) throws -> String {
            let (id, path) = try shelf.newDirectory(exhibit: exhibit, atMicros: micros)
            try Data(count: bytes).write(to: URL(fileURLWithPath: path + "/a.mp4"))
            try Data("{}".utf8).write(to: URL(fileURLWithPath: path + "/manifest.json"))
            if publish { try shelf.publish(exhibit: exhibit, id: id) }
            return id
        }
        let old = try export("EV-2026-000001", madeAt: now - 31 * day, bytes: 1000)
        let recent = try export("EV-2026-000001", madeAt: now - 29 * day, bytes: 10)
        let lone = try export("EV-2026-000002", madeAt: now - 40 * day, bytes: 5)
        let crashed = try export("EV-2026-000003", madeAt: now - 2 * day, bytes: 7, publish: false)
        let writing = try export("EV-2026-000003", madeAt: now - 60_000_000, bytes: 9, publish: false)
        try FileManager.default.createDirectory(
            atPath: "\(root)/EV-2026-000001/.expired-20250101T000000Z", withIntermediateDirectories: false)

        let removed = shelf.prune(madeBefore: now - 30 * day, stagingMadeBefore: now - day)
        #expect(
            removed == [
                .init(exhibit: "EV-2026-000001", id: old, bytes: 1002, published: true),
                .init(exhibit: "EV-2026-000002", id: lone, bytes: 7, published: true),
                .init(exhibit: "EV-2026-000003", id: crashed, bytes: 9, published: false)
            ])
        #expect(shelf.exports(exhibit: "EV-2026-000001").map(\.id) == [recent])
        #expect(shelf.exports(exhibit: "EV-2026-000002").isEmpty)
        let left = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(left == ["EV-2026-000001", "EV-2026-000003"], "an emptied exhibit's directory goes: \(left)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/EV-2026-000001") == [recent])
        #expect(try FileManager.default.contentsOfDirectory(atPath: "\(root)/EV-2026-000003") == [".\(writing)"])

        // Nothing more to do a second time.
        #expect(shelf.prune(madeBefore: now - 30 * day, stagingMadeBefore: now - day).isEmpty)
    }
}
