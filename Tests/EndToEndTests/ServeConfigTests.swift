import Foundation
import TestSupport
import Testing

/// `vigil serve --config`: a file may leave any setting out, but a key the server does not
/// know, or a value out of range, stops it before it opens anything.
extension EndToEndTests {
    @Test func serveConfigMayLeaveSettingsOutButNotMisspellThem() async throws {
        let dir = try TestSupport.temporaryDirectory("serve-config")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vigil = TestSupport.vigilBinary
        var written = 0
        func config(_ json: String) throws -> String {
            written += 1
            let path = "\(dir)/config-\(written).json"
            try Data(json.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }

        for (json, complaint) in [
            (#"{"retentiondays": 7}"#, "unknown setting(s) retentiondays"),
            (#"{"exportKeepDays": 0}"#, "exportKeepDays must be 1...3650"),
            (#"{"retentionDays": 91}"#, "91"),
            (#"{"checkpointSeconds": 0}"#, "checkpointSeconds must be 1...3600"),
            (#"{"segmentSeconds": "sixty"}"#, "segmentSeconds")
        ] {
            let refused = try await TestSupport.run(vigil, ["serve", "--config", try config(json), "--data", dir + "/refused"])
            #expect(refused.status != 0 && refused.stderr.contains(complaint), "\(json): \(refused.status) \(refused.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/refused"), "a refused configuration still opened the data directory")

        // Only two settings given: the rest keep their defaults and the server runs.
        let port = TestSupport.freePort()
        let partial = try config(#"{"data": "\#(dir)/data", "exportKeepDays": 7}"#)
        let server = try Peer(vigil, ["serve", "--config", partial, "--listen", "127.0.0.1:\(port)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console: http://127.0.0.1:\(port)/", seconds: 30)
        #expect(FileManager.default.fileExists(atPath: dir + "/data/catalog.sqlite"))
        #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
    }
}
