import Catalog
import Foundation
import Testing
import TestSupport

/// Operator and administrator mistakes, and an intruder with the catalog in hand, tried
/// through the real binary: none may lose footage or rewrite the log unnoticed.
extension EndToEndTests {
    @Test func aLostCatalogStopsTheRecorderAndEveryFileStays() async throws {
        let dir = try TestSupport.temporaryDirectory("lost-catalog")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = TestSupport.freePort()
        let data = dir + "/data"
        let args = ["record", "--data", data, "--camera", "gst=rtsp://vigil:s3cret@127.0.0.1:\(port)/cam", "--segment-seconds", "2"]
        let camera = try await gstreamerCamera(port: port, codec: "h264", dir: dir)
        defer { _ = camera.interrupt() }
        let first = try Peer(TestSupport.vigilBinary, args, log: dir + "/record-1.log")
        try await first.waitFor("recording gst", seconds: 10)
        try await Task.sleep(for: .seconds(5))
        #expect(first.interrupt() == 0, "\(first.output)")
        func files() throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: data + "/samples").filter { $0.hasSuffix(".sample") }.sorted()
        }
        let recorded = try files()
        #expect(recorded.count >= 2)

        // `mv DATA/catalog.sqlite /tmp; vigil record`: refused, nothing deleted or moved.
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.moveItem(atPath: data + "/catalog.sqlite" + suffix, toPath: dir + "/moved" + suffix) }
        let refused = try await TestSupport.run(TestSupport.vigilBinary, args)
        #expect(refused.status != 0 && refused.stderr.contains("the catalog is not the one the sample files"), "\(refused.stderr)")
        #expect(refused.stderr.contains("Nothing was changed"), "\(refused.stderr)")
        #expect(try files() == recorded)
    }

    @Test func deletingTheAuditLogsTailIsCaughtByItsWitness() async throws {
        let dir = try TestSupport.temporaryDirectory("witness")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vigil = TestSupport.vigilBinary
        let data = dir + "/data", witness = dir + "/witness"
        try FileManager.default.createDirectory(atPath: witness, withIntermediateDirectories: true)
        func serve(_ extra: [String] = []) throws -> (Peer, Int) {
            let port = TestSupport.freePort()
            return (try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(port)", "--witness-dir", witness] + extra,
                             log: dir + "/serve-\(UUID().uuidString).log"), port)
        }
        // Two runs, so the log has entries from both and the witness a checkpoint of all.
        for _ in 0..<2 {
            let (server, port) = try serve()
            try await server.waitFor("Vigil console: http://127.0.0.1:\(port)/", seconds: 30)
            #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        }
        let witnessed = try String(contentsOfFile: witness + "/vigil_audit.checkpoint", encoding: .utf8)
        #expect(witnessed.hasPrefix("vigil/audit\n"), "\(witnessed)")
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data, "--witness-dir", witness]).status == 0)

        // The intruder deletes the newest entries and every checkpoint that covers them.
        let size = try await TestSupport.run(vigil, ["audit", "list", "--data", data]).stdout.split(separator: "\n").count
        try #require(size >= 2)
        let catalog = try await Catalog.openSQLite(path: data + "/catalog.sqlite")
        try await catalog.database.raw("DELETE FROM audit_entries WHERE seq >= \(bind: Int64(size - 1))").run()
        try await catalog.database.raw("DELETE FROM audit_checkpoints WHERE tree_size > \(bind: Int64(size - 1))").run()
        await catalog.close()
        // What the catalog holds is consistent with itself: only the witness tells.
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data]).status == 0)
        let caught = try await TestSupport.run(vigil, ["audit", "verify", "--data", data, "--witness-dir", witness])
        #expect(caught.status != 0 && caught.stderr.contains("log truncated"), "\(caught.stdout)\(caught.stderr)")

        // The server will not start on it, and says why and what to do.
        let refused = try await TestSupport.run(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(TestSupport.freePort())",
                                                        "--witness-dir", witness])
        #expect(refused.status != 0 && refused.stderr.contains("entries were deleted from its end")
                && refused.stderr.contains("--accept-witness-mismatch"), "\(refused.stderr)")
        // Told to, it starts, records that it was told, and the witness moves on with the log.
        let (accepted, port) = try serve(["--accept-witness-mismatch"])
        try await accepted.waitFor("Vigil console: http://127.0.0.1:\(port)/", seconds: 30)
        #expect(accepted.interrupt() == 0)
        let listed = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        #expect(listed.stdout.contains("audit.witness-mismatch-accepted"))
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data, "--witness-dir", witness]).status == 0)
    }
}
