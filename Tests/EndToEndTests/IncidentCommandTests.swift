import Foundation
import TestSupport
import Testing

/// The incident register from the command line: the same rules as the API, each step audited
/// as the person at the command line.
extension EndToEndTests {
    @Test func theCommandLineReportsFollowsUpAndClosesAnIncident() async throws {
        let dir = try TestSupport.temporaryDirectory("incident-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        func run(_ arguments: [String]) async throws -> TestSupport.Result {
            try await TestSupport.run(vigil, ["incident"] + [arguments[0], "--data", data] + arguments.dropFirst())
        }
        let added = try await TestSupport.run(
            vigil, ["camera", "add", "--data", data, "gate", "rtsp://127.0.0.1:9/a", "--location", "Main gate"])
        try #require(added.status == 0, "\(added.stderr)")
        let categories = try await run(["categories"])
        #expect(categories.stdout.split(separator: "\n").count == 10 && categories.stdout.contains("littering\tpublic-order\t"))
        let now = Date()
        let iso = ISO8601DateFormatter()
        let created = try await run([
            "create", "--category", "littering", "--description", "bags by the bins", "--priority", "2", "--camera", "gate", "--from",
            iso.string(from: now.addingTimeInterval(-60)), "--to", iso.string(from: now)
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now).year!
        #expect(created.stdout.hasPrefix("incident \(year)/1 (id 1) reported, open"), "\(created.stdout)")
        #expect(try await run(["update", "\(year)/1", "--status", "on-scene", "--note", "patrol 3 there"]).status == 0)
        let back = try await run(["update", "1", "--status", "notified"])
        #expect(back.status != 0 && back.stderr.contains("cannot become services notified"), "\(back.stderr)")
        #expect(try await run(["close", "1", "--note", "cleaned up"]).stdout.contains("closed"))
        let listed = try await run(["list", "--status", "closed"])
        #expect(listed.stdout.hasPrefix("\(year)/1\tclosed\tP2\tlittering\t") && listed.stdout.contains("\tMain gate"), "\(listed.stdout)")
        let shown = try await run(["show", "\(year)/1"])
        for line in ["camera gate:", "bags by the bins", "status: service on scene", "note: patrol 3 there", "status: closed"] {
            #expect(shown.stdout.contains(line), "\(line) missing from \(shown.stdout)")
        }
        let unknown = try await run(["create", "--category", "nope", "--description", "x"])
        #expect(unknown.status != 0 && unknown.stderr.contains("no incident category nope"))
        // Audited: the report, two changes, the list and the reading; never the words.
        let log = try await TestSupport.run(vigil, ["audit", "list", "--data", data]).stdout
        let actions = log.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["action"] as? String
        }
        #expect(
            actions.filter { $0.hasPrefix("incident.") } == [
                "incident.report", "incident.update", "incident.update", "incident.view", "incident.view"
            ])
        #expect(!log.contains("bins") && !log.contains("patrol 3"))
    }
}

extension EndToEndTests {
    @Test func theCommandLineRemovesPersonalDataPastItsRetention() async throws {
        let dir = try TestSupport.temporaryDirectory("incident-retention-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data", vigil = TestSupport.vigilBinary
        func run(_ arguments: [String]) async throws -> TestSupport.Result {
            try await TestSupport.run(vigil, ["incident", arguments[0], "--data", data] + arguments.dropFirst())
        }
        let iso = ISO8601DateFormatter()
        let old = try await run([
            "create", "--category", "littering", "--description", "Jan K. dumped bags", "--observed",
            iso.string(from: Date().addingTimeInterval(-40 * 86_400))
        ])
        try #require(old.status == 0, "\(old.stderr)")
        #expect(try await run(["create", "--category", "littering", "--description", "bags again"]).status == 0)
        #expect(try await run(["retention", "--days", "10"]).status != 0)
        let removed = try await run(["retention", "--days", "30"])
        #expect(removed.stdout.contains("personal data removed from 1 incident(s) observed more than 30 days ago"), "\(removed.stdout)")
        let shown = try await run(["show", "1"])
        #expect(shown.stdout.contains("personal data removed") && !shown.stdout.contains("Jan K."), "\(shown.stdout)")
        #expect(try await run(["show", "2"]).stdout.contains("bags again"))
        let refused = try await run(["update", "1", "--note", "more"])
        #expect(refused.status != 0 && refused.stderr.contains("at the end of its retention"), "\(refused.stderr)")
        let log = try await TestSupport.run(vigil, ["audit", "list", "--data", data]).stdout
        #expect(log.contains("\"incident.retention\"") && log.contains("personal data removed from 1 incident(s)"))
        // Nothing more to remove: no entry is written for nothing.
        #expect(try await run(["retention", "--days", "30"]).stdout.contains("from 0 incident(s)"))
        let again = try await TestSupport.run(vigil, ["audit", "list", "--data", data]).stdout
        #expect(again.components(separatedBy: "\"incident.retention\"").count == 2)
    }
}

extension EndToEndTests {
    /// A picture from the command line: made from what `vigil record` wrote while it goes on
    /// recording, listed by `show`, written out whole, and a JPEG ffprobe reads.
    @Test func theCommandLineAddsAPictureFromTheRecordingAndWritesItOut() async throws {
        let dir = try TestSupport.temporaryDirectory("incident-picture-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data", vigil = TestSupport.vigilBinary
        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let port = TestSupport.freePort()
        let sim = try Peer(vigil, ["simulate", "--cameras", "1", "--port", "\(port)", "--file", clip], log: dir + "/sim.log")
        try await sim.waitFor("/cam1", seconds: 10)
        let recorder = try Peer(
            vigil, ["record", "--data", data, "--camera", "gate=rtsp://127.0.0.1:\(port)/cam1", "--segment-seconds", "2"],
            log: dir + "/record.log")
        try await recorder.waitFor("recording gate", seconds: 10)
        try await Task.sleep(for: .seconds(4))
        func run(_ arguments: [String]) async throws -> TestSupport.Result {
            try await TestSupport.run(vigil, ["incident", arguments[0], "--data", data] + arguments.dropFirst())
        }
        let iso = ISO8601DateFormatter()
        let now = Date()
        let created = try await run([
            "create", "--category", "road-hazard", "--description", "a fallen sign", "--camera", "gate",
            "--from", iso.string(from: now.addingTimeInterval(-60)), "--to", iso.string(from: now.addingTimeInterval(1)),
            "--observed", iso.string(from: now.addingTimeInterval(-2))
        ])
        try #require(created.status == 0, "\(created.stderr)")
        // At the time observed (two seconds ago), while recording goes on.
        let added = try await run(["picture", "1", "--camera", "gate"])
        #expect(
            added.status == 0 && added.stdout.hasPrefix("picture 1: gate at ") && added.stdout.contains("640x360"),
            "\(added.stdout)\(added.stderr)")
        let before = try await run(["picture", "1", "--camera", "gate", "--at", iso.string(from: now.addingTimeInterval(-50))])
        #expect(before.status != 0 && before.stderr.contains("recorded nothing"), "\(before.stderr)")
        let elsewhere = try await run(["picture", "1", "--camera", "gate", "--at", iso.string(from: now.addingTimeInterval(-120))])
        #expect(elsewhere.status != 0 && elsewhere.stderr.contains("outside incident"), "\(elsewhere.stderr)")
        #expect(recorder.interrupt() == 0, "\(recorder.output.suffix(2000))")
        _ = sim.interrupt()

        let shown = try await run(["show", "1"])
        #expect(
            shown.stdout.contains("  picture 1: gate at ") && shown.stdout.contains("snapshot: picture 1 of gate at "), "\(shown.stdout)")
        let out = dir + "/picture.jpg"
        let written = try await run(["picture", "1", "--get", "1", "--out", out])
        #expect(written.status == 0, "\(written.stderr)")
        let probed = try await TestSupport.run(
            try TestSupport.require("ffprobe"),
            ["-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", out])
        #expect(probed.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "mjpeg,640,360", "\(probed.stdout)\(probed.stderr)")
        // Never over a file: refused before the picture is read (and so not audited as looked at).
        let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(mode == 0o600, "the picture is written for its owner alone: \(String(mode ?? 0, radix: 8))")
        let both = try await run(["picture", "1", "--get", "1", "--out", dir + "/other.jpg", "--at", iso.string(from: now)])
        #expect(both.status != 0 && both.stderr.contains("--at is for a picture to add"), "\(both.stderr)")
        let again = try await run(["picture", "1", "--get", "1", "--out", out])
        #expect(again.status != 0 && again.stderr.contains("exists"), "\(again.stderr)")
        let log = try await TestSupport.run(vigil, ["audit", "list", "--data", data]).stdout
        let pictures = log.split(separator: "\n").compactMap { line in
            try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        }.filter { $0["action"] as? String == "incident.snapshot" }
        #expect(pictures.count == 2, "one made, one written out: \(pictures)")
    }
}
