import Foundation
import Records
import SQLKit
import TestSupport
import Testing

@testable import Catalog

@Suite("Catalog: schema history and transactions")
struct CatalogTests {
    @Test func migrationsAreNumberedOneAfterAnotherAndTheLastIsTheSchemaVersion() {
        let versions = Catalog.migrations.map(\.version)
        #expect(versions == Array(1...versions.count))
        #expect(Catalog.schemaVersion == versions.count)
    }

    @Test func aNewCatalogIsAtTheSchemaVersionAndANewerOneIsRefused() async throws {
        let dir = try TestSupport.temporaryDirectory("catalog-version")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/catalog.sqlite"
        let catalog = try await Catalog.openSQLite(path: path)
        let rows = try await catalog.database.raw("SELECT MAX(version) AS v FROM schema_migrations").all()
        #expect(try rows[0].decode(column: "v", as: Int.self) == Catalog.schemaVersion)
        // Written by a later program: this one must not read or write it.
        try await catalog.database.raw(
            "INSERT INTO schema_migrations (version, applied_micros) VALUES (\(bind: Catalog.schemaVersion + 1), 0)"
        ).run()
        await catalog.close()
        await #expect {
            let newer = try await Catalog.openSQLite(path: path)
            await newer.close()
        } throws: { error in
            "\(error)".contains("newer than this program's")
        }
    }

    @Test func aTransactionKeepsAllOrNothingAndOtherTasksStatementsOutOfIt() async throws {
        let dir = try TestSupport.temporaryDirectory("catalog-transaction")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = try await Catalog.openSQLite(path: dir + "/catalog.sqlite")
        do {
            try await transactionAndAnotherTask(catalog)
        } catch {
            await catalog.close()
            throw error
        }
        await catalog.close()
    }

    struct Refused: Error {}

    private func transactionAndAnotherTask(_ catalog: Catalog) async throws {
        let began = AsyncStream<Void>.makeStream()
        let failed = Task {
            try await catalog.transaction("test") {
                _ = try await catalog.upsertCamera(name: "inside", url: "rtsp://a/", retentionDays: 1)
                began.continuation.yield()
                try await Task.sleep(for: .milliseconds(200))
                _ = try await catalog.upsertCamera(name: "inside-too", url: "rtsp://b/", retentionDays: 1)
                throw Refused()
            }
        }
        // Another task's write, issued while the transaction is open: it must wait for the
        // transaction to end, not land inside it and be rolled back with it.
        for await _ in began.stream { break }
        _ = try await catalog.upsertCamera(name: "outside", url: "rtsp://c/", retentionDays: 1)
        await #expect(throws: Refused.self) { try await failed.value }
        #expect(try await catalog.cameras().map(\.name) == ["outside"])
    }
}

@Suite("Catalog: counting what a query returns")
struct SegmentCountTests {
    /// `segmentCount` is `segments(…).count` done in the database: the same rows, for
    /// ranges that start and end inside, on, and between segments, and for an empty one.
    @Test func theCountIsTheNumberOfSegmentsTheRangeReturns() async throws {
        try await TestSupport.withCatalog("segment-count") { _, catalog in
            let camera = try await catalog.addCamera(CameraRecord(id: 0, name: "gate", url: "rtsp://192.0.2.1/", retentionDays: 30))
            let base: Int64 = 1_800_000_000_000_000
            // 60 s segments with a 10 s hole after the third, and one still empty (duration 0).
            var starts: [Int64] = []
            var at = base
            for i in 0..<6 {
                starts.append(at)
                at += 60_000_000 + (i == 2 ? 10_000_000 : 0)
            }
            for (i, start) in starts.enumerated() {
                _ = try await catalog.insertSegment(
                    SegmentRecord(
                        cameraID: camera.id, runID: 1, fileName: "s\(i)", startMicros: start, duration: i == 5 ? 0 : 60 * 90_000,
                        byteCount: 0, frameCount: 0, codec: .h264, parameterSets: [], sampleIndex: [], sha256: nil,
                        state: i == 5 ? .open : .closed))
            }
            var edges: [Int64] = [base - 90_000_000, base - 1]
            for s in starts { edges += [s - 1, s, s + 1, s + 30_000_000, s + 59_999_999, s + 60_000_000, s + 65_000_000] }
            edges.append(at + 1)
            var checked = 0
            for from in edges {
                for to in edges where to > from {
                    let listed = try await catalog.segments(cameraID: camera.id, from: from, to: to).count
                    let counted = try await catalog.segmentCount(cameraID: camera.id, from: from, to: to)
                    #expect(counted == listed, "[\(from - base), \(to - base)): \(counted) counted, \(listed) listed")
                    checked += 1
                }
            }
            #expect(checked > 500)
        }
    }
}
