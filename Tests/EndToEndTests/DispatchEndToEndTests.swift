import Foundation
import TestSupport
import Testing

/// Dispatch's promise across a crash: at least once, with the idempotency key.
extension EndToEndTests {
    struct HookLine: Decodable {
        var n: Int
        var key: String
        var valid: Bool
        var `repeat`: Bool
        var event: String?
        var number: String?
    }

    /// The webhook receiver takes the report and never answers; `vigil serve` is killed
    /// with SIGKILL while it waits, so the delivery happened but was never recorded. On
    /// restart the notification goes again with the same key, the receiver recognises the
    /// repeat and drops it, and the outbox records the delivery.
    @Test func aNotificationDeliveredWhenVigilIsKilledBeforeRecordingItGoesAgainWithTheSameKey() async throws {
        let dir = try TestSupport.temporaryDirectory("dispatch-kill")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data", vigil = TestSupport.vigilBinary
        let secret = "police-webhook-secret-of-the-city"
        try secret.write(toFile: dir + "/secret", atomically: true, encoding: .utf8)
        let hookPort = TestSupport.freePort(), requests = dir + "/requests.jsonl"
        let receiver = try Peer(
            "/usr/bin/python3",
            [
                TestSupport.packageRoot + "/scripts/webhook_receiver.py", "--port", "\(hookPort)", "--secret-file", dir + "/secret",
                "--log", requests, "--hang-first"
            ], log: dir + "/receiver.log")
        try await receiver.waitFor("READY", seconds: 20)
        var lines: [HookLine] {
            ((try? String(contentsOfFile: requests, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONDecoder().decode(HookLine.self, from: Data($0.utf8))
            }
        }
        func run(_ arguments: [String]) async throws -> TestSupport.Result {
            let r = try await TestSupport.run(vigil, [arguments[0], arguments[1], "--data", data] + arguments.dropFirst(2))
            try #require(r.status == 0, "\(arguments): \(r.stderr)")
            return r
        }
        _ = try await run([
            "dispatch", "set", "police", "--channel", "webhook", "--address", "http://127.0.0.1:\(hookPort)/hook", "--secret-file",
            dir + "/secret"
        ])
        _ = try await run(["dispatch", "route", "violence", "police"])
        let filed = try await run([
            "incident", "create", "--category", "violence", "--description", "a fight at the tram stop", "--priority", "1"
        ])
        #expect(filed.stdout.contains("reported, open"))
        #expect(try await run(["dispatch", "outbox"]).stdout.contains("\tpolice\treported\twaiting (0 attempts)"))

        let webPort = TestSupport.freePort()
        let first = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve-1.log")
        let deadline = Date().addingTimeInterval(30)
        while lines.isEmpty, Date() < deadline { try await Task.sleep(for: .milliseconds(100)) }
        try #require(lines.count == 1, "the receiver got nothing: \(first.output.suffix(2000))")
        first.kill9()
        // Delivered, but not recorded: the outbox still has it waiting.
        let after = try await run(["dispatch", "outbox"]).stdout
        #expect(after.contains("\tpolice\treported\twaiting") && !after.contains("delivered"), "\(after)")

        let second = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve-2.log")
        var recorded = ""
        let again = Date().addingTimeInterval(30)
        while Date() < again {
            recorded = try await run(["dispatch", "outbox"]).stdout
            if recorded.contains("\tpolice\treported\tdelivered") { break }
            try await Task.sleep(for: .milliseconds(300))
        }
        #expect(second.interrupt() == 0)
        #expect(recorded.contains("\tpolice\treported\tdelivered"), "\(recorded) \(second.output.suffix(2000))")
        // Sent twice, signed both times, with one key: the receiver acted once and dropped the repeat.
        let got = lines
        #expect(got.count == 2 && got.allSatisfy(\.valid) && Set(got.map(\.key)).count == 1, "\(got)")
        #expect(got.map(\.repeat) == [false, true] && got.allSatisfy { $0.event == "reported" })
        let shown = try await run(["incident", "show", "1"]).stdout
        #expect(shown.contains("Vigil dispatch  status: services notified"), "\(shown)")
        #expect(shown.contains("notifications:") && shown.contains("\tpolice\treported\tdelivered"))
        receiver.kill9()
    }
}
