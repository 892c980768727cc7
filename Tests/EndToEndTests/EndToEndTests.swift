import ChildProcess
import Foundation
import TestSupport
import Testing

/// A peer process the test starts and always stops.
final class Peer {
    let process: Process
    let log: String
    /// Whether the test stopped it (a peer that exits on its own is reported at the end).
    var stopped = false
    init(_ path: String, _ args: [String], log: String) throws {
        self.log = log
        process = try TestSupport.spawn(path, args, log: log)
    }
    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
    func waitFor(_ text: String, seconds: Double) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.contains(text) { return }
            guard process.isRunning else { throw ToolError("\(process.executableURL!.lastPathComponent) exited: \(output)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ToolError("no \"\(text)\" within \(seconds) s: \(output)")
    }
    /// Sends SIGINT and waits up to `seconds` for a clean exit; a peer that does not exit
    /// is killed and the failure reported with its signal dispositions.
    func interrupt(seconds: Double = 15) -> Int32 {
        stopped = true
        let masks = signalMasks()
        kill(process.processIdentifier, SIGINT)
        if !waitForExit(seconds: seconds) {
            Issue.record("\(process.executableURL!.lastPathComponent) ignored SIGINT for \(seconds) s (\(masks)): \(output.suffix(2000))")
            kill9()
            return -1
        }
        return process.terminationStatus
    }
    func kill9() {
        stopped = true
        kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(seconds: 10)
    }
    func waitForExit(seconds: Double) -> Bool {
        ChildProcess.waitForExit(process, timeout: seconds)
    }
    func signalMasks() -> String {
        ((try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { $0.hasPrefix("SigBlk") || $0.hasPrefix("SigIgn") }.joined(separator: " ")
    }
    deinit {
        if process.isRunning {
            kill9()
        } else if !stopped {
            // Not a verdict (some peers finish by design), but what a flaky failure needs: a
            // crash's own thread (Swift's backtrace names it "crashed"), else the log's end.
            let text = output
            let crash = text.range(of: "*** Program crashed").map { String(text[$0.lowerBound...].prefix(12_000)) }
            print(
                "peer \(process.executableURL!.lastPathComponent) \(process.arguments?.first ?? "") exited on its own "
                    + "(status \(process.terminationStatus), \(process.terminationReason == .uncaughtSignal ? "signal" : "exit")): "
                    + (crash ?? String(text.suffix(3000))))
        }
    }
}

/// GStreamer's RTSP server (scripts/gst_rtsp_server.py) with Digest authentication.
func gstreamerCamera(port: Int, codec: String, dir: String, generation: Int = 0) async throws -> Peer {
    let peer = try Peer(
        "/usr/bin/python3",
        [
            TestSupport.packageRoot + "/scripts/gst_rtsp_server.py", "--port", "\(port)",
            "--codec", codec, "--user", "vigil", "--password", "s3cret"
        ],
        log: "\(dir)/gst-\(generation).log")
    try await peer.waitFor("READY", seconds: 20)
    return peer
}

struct RecordingsJSON: Decodable {
    struct Segment: Decodable {
        var id: Int
        var start: String
        var end: String
        var frames: Int
        var bytes: Int
        var state: String
    }
    struct Gap: Decodable {
        var start: String
        var end: String?
        var reason: String
    }
    var segments: [Segment]
    var gaps: [Gap]
}

func parseTime(_ s: String) -> Date {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.date(from: s)!
}

func recordings(_ dir: String, camera: String) async throws -> RecordingsJSON {
    let r = try await TestSupport.run(TestSupport.vigilBinary, ["recordings", "--data", dir, "--camera", camera, "--json"])
    guard r.status == 0 else { throw ToolError("vigil recordings failed: \(r.stderr)") }
    return try JSONDecoder().decode(RecordingsJSON.self, from: Data(r.stdout.utf8))
}

@Suite("End to end against real peers", .serialized)
struct EndToEndTests {
    @Test func killMinus9LosesAtMostTwoSecondsAndAnOutageIsAGap() async throws {
        let dir = try TestSupport.temporaryDirectory("e2e")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = TestSupport.freePort()
        let data = dir + "/data"
        let recordArgs = ["record", "--data", data, "--camera", "gst=rtsp://vigil:s3cret@127.0.0.1:\(port)/cam", "--segment-seconds", "3"]
        var camera = try await gstreamerCamera(port: port, codec: "h264", dir: dir)

        let first = try Peer(TestSupport.vigilBinary, recordArgs, log: dir + "/record-1.log")
        try await Task.sleep(for: .seconds(7))
        let killedAt = Date()
        first.kill9()

        let second = try Peer(TestSupport.vigilBinary, recordArgs, log: dir + "/record-2.log")
        try await second.waitFor("recording gst", seconds: 10)
        // Recovery either closes the open segment or moves a file younger than its first commit aside.
        #expect(
            second.output.contains("recovery: recovered-segment") || second.output.contains("recovery: quarantined-orphan"),
            "\(second.output)")
        // A second recorder on the same data directory is refused, and says by whom.
        let third = try await TestSupport.run(TestSupport.vigilBinary, recordArgs)
        #expect(third.status != 0 && third.stderr.contains("is already being recorded into by pid"), "\(third.stderr)")
        try await Task.sleep(for: .seconds(4))

        _ = camera.interrupt() // the camera goes away
        let outageStart = Date()
        try await Task.sleep(for: .seconds(4))
        camera = try await gstreamerCamera(port: port, codec: "h264", dir: dir, generation: 1)
        let cameraBack = Date()
        try await Task.sleep(for: .seconds(8))
        #expect(second.interrupt() == 0, "\(second.output)")
        _ = camera.interrupt()

        let listing = try await recordings(data, camera: "gst")
        let crashGap = try #require(listing.gaps.first { $0.reason == "recorder stopped unexpectedly" })
        // What survived the kill reaches to within 2 s of it.
        #expect(killedAt.timeIntervalSince(parseTime(crashGap.start)) <= 2.0, "kill at \(killedAt), footage to \(crashGap.start)")
        let outage = try #require(listing.gaps.first { $0.reason.hasPrefix("camera disconnected") })
        #expect(abs(parseTime(outage.start).timeIntervalSince(outageStart)) < 1.5)
        let resumed = parseTime(try #require(outage.end))
        #expect(resumed.timeIntervalSince(cameraBack) <= 5.0, "camera back at \(cameraBack), recording resumed \(resumed)")
        #expect(listing.segments.allSatisfy { $0.state == "closed" })

        // Export the whole span, across the crash and the outage.
        let out = dir + "/span.mp4"
        let export = try await TestSupport.run(
            TestSupport.vigilBinary,
            [
                "export", "--data", data, "--camera", "gst",
                "--from", listing.segments.first!.start, "--to", listing.segments.last!.end, "--out", out
            ])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("recorder stopped unexpectedly") && export.stdout.contains("camera disconnected"))
        let decode = try await TestSupport.strictDecode(out)
        #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
        let frames = listing.segments.reduce(0) { $0 + $1.frames }
        #expect(try await TestSupport.probe(out).frames == frames)
        #expect(export.stdout.contains("\(frames) frames"))

        let clean = try await TestSupport.run(TestSupport.vigilBinary, ["check", "--data", data])
        #expect(clean.status == 0, "\(clean.stdout)")

        // Flip one byte of one sample file: check names the file and fails.
        let samples = data + "/samples/1"
        let victim = try #require(try FileManager.default.contentsOfDirectory(atPath: samples).sorted().dropFirst().first)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: "\(samples)/\(victim)"))
        bytes[bytes.count / 3] ^= 0x40
        try bytes.write(to: URL(fileURLWithPath: "\(samples)/\(victim)"))
        let dirty = try await TestSupport.run(TestSupport.vigilBinary, ["check", "--data", data])
        #expect(dirty.status != 0)
        #expect(dirty.stdout.contains(victim) && dirty.stdout.contains("SHA-256 mismatch"), "\(dirty.stdout)")
    }

    @Test func gstreamerH265IsRecordedAndExported() async throws {
        let dir = try TestSupport.temporaryDirectory("e2e-h265")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = TestSupport.freePort()
        let camera = try await gstreamerCamera(port: port, codec: "h265", dir: dir)
        let recorder = try Peer(
            TestSupport.vigilBinary,
            [
                "record", "--data", dir + "/data", "--camera",
                "hevc=rtsp://vigil:s3cret@127.0.0.1:\(port)/cam", "--segment-seconds", "2"
            ],
            log: dir + "/record.log")
        try await Task.sleep(for: .seconds(6))
        #expect(recorder.interrupt() == 0)
        _ = camera.interrupt()
        let listing = try await recordings(dir + "/data", camera: "hevc")
        #expect(listing.segments.count >= 2)
        let out = dir + "/hevc.mp4"
        let export = try await TestSupport.run(
            TestSupport.vigilBinary,
            [
                "export", "--data", dir + "/data", "--camera", "hevc", "--from",
                listing.segments.first!.start, "--to", listing.segments.last!.end, "--out", out
            ])
        #expect(export.status == 0, "\(export.stderr)")
        let decode = try await TestSupport.strictDecode(out)
        #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
        let probe = try await TestSupport.probe(out)
        #expect(probe.codec == "hevc" && probe.frames == listing.segments.reduce(0) { $0 + $1.frames })
    }

    @Test func simulatedCamerasWithDigestAreRecordedAndAWrongPasswordIsAGap() async throws {
        let dir = try TestSupport.temporaryDirectory("e2e-sim")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = TestSupport.freePort()
        let clip = try await TestSupport.clip(codec: .h265, seconds: 2)
        let sim = try Peer(
            TestSupport.vigilBinary,
            [
                "simulate", "--cameras", "2", "--port", "\(port)", "--file", clip,
                "--user", "op", "--password", "right"
            ], log: dir + "/sim.log")
        try await sim.waitFor("/cam2", seconds: 10)
        let recorder = try Peer(
            TestSupport.vigilBinary,
            [
                "record", "--data", dir + "/data", "--segment-seconds", "2",
                "--camera", "one=rtsp://op:right@127.0.0.1:\(port)/cam1",
                "--camera", "bad=rtsp://op:wrong@127.0.0.1:\(port)/cam2"
            ], log: dir + "/record.log")
        try await Task.sleep(for: .seconds(5))
        #expect(recorder.interrupt() == 0)
        _ = sim.interrupt()
        #expect(!recorder.output.contains("wrong"), "the password must not be logged")
        let good = try await recordings(dir + "/data", camera: "one")
        #expect(good.segments.reduce(0) { $0 + $1.frames } >= 75)
        let bad = try await recordings(dir + "/data", camera: "bad")
        #expect(bad.segments.isEmpty)
        // The gap says why in words, as the operator reads it.
        #expect(
            bad.gaps.first?.reason == "camera disconnected: the camera refused Vigil's user name or password", "\(bad.gaps)")
        let out = dir + "/one.mp4"
        let export = try await TestSupport.run(
            TestSupport.vigilBinary,
            [
                "export", "--data", dir + "/data", "--camera", "one", "--from",
                good.segments.first!.start, "--to", good.segments.last!.end, "--out", out
            ])
        #expect(export.status == 0)
        let decode = try await TestSupport.strictDecode(out)
        #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
    }
}
