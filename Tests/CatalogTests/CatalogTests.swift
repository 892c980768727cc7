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
