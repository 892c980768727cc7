import Foundation
import TestSupport
import Testing

/// The evidence workflow through the `vigil` binary, on a data volume that fills up while
/// recording continues: an exhibit's segments survive every deletion the full disk forces,
/// the export verifies against the published site certificate, and a flipped byte fails.
extension EndToEndTests {
    @Test func heldFootageSurvivesAFullDiskAndItsExportVerifies() async throws {
        let dir = try TestSupport.temporaryDirectory("evidence-disk")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vigil = TestSupport.vigilBinary
        // A 32 MiB volume of its own (tmpfs; the test runs as root, as the README says).
        let volume = dir + "/volume"
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        let mount = try await TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=32m", "tmpfs", volume])
        try #require(mount.status == 0, "cannot mount a small tmpfs volume for the full-disk test (needs root): \(mount.stderr)")
        defer { umount2(volume, 2 /* MNT_DETACH: lazily, even while a file is open */) }
        let data = volume + "/data"

        // A heavy stream (lossless 720p, about 1.7 MB/s) fills the volume in under 20 s.
        let clip = dir + "/heavy.h264"
        let made = try await TestSupport.run(
            try TestSupport.require("ffmpeg"),
            [
                "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25", "-t", "2", "-pix_fmt", "yuv420p",
                "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-bf", "0", "-g", "25", "-f", "h264", clip
            ])
        try #require(made.status == 0, "\(made.stderr)")
        let port = TestSupport.freePort()
        let sim = try Peer(vigil, ["simulate", "--cameras", "1", "--port", "\(port)", "--file", clip], log: dir + "/sim.log")
        try await sim.waitFor("/cam1", seconds: 10)
        let recorder = try Peer(
            vigil,
            [
                "record", "--data", data, "--camera", "gate=rtsp://127.0.0.1:\(port)/cam1", "--segment-seconds", "1",
                "--disk-floor-mb", "10"
            ], log: dir + "/record.log")
        try await recorder.waitFor("recording gate", seconds: 10)
        try await Task.sleep(for: .seconds(5))

        // Secure two seconds of what was just recorded, while recording goes on.
        // Whole seconds, as typed on the command line; the hold covers exactly these.
        let iso = ISO8601DateFormatter()
        let toText = iso.string(from: Date().addingTimeInterval(-1.5)), fromText = iso.string(from: Date().addingTimeInterval(-3.5))
        let from = try #require(iso.date(from: fromText)), to = try #require(iso.date(from: toText))
        let created = try await TestSupport.run(
            vigil,
            [
                "evidence", "create", "--data", data, "--camera", "gate", "--from", fromText,
                "--to", toText, "--case", "RSD-301/26", "--body", "police",
                "--purpose", "collision at the gate"
            ])
        try #require(created.status == 0, "\(created.stderr)")
        let exhibit = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(exhibit.hasPrefix("EV-"))
        let before = try await recordings(data, camera: "gate")
        let held = before.segments.filter { parseTime($0.end) > from && parseTime($0.start) < to }
        try #require(!held.isEmpty)

        // Keep recording until the volume has filled and been cleared more than once.
        try await Task.sleep(for: .seconds(30))
        #expect(recorder.process.isRunning, "the recorder died on a full disk: \(recorder.output.suffix(2000))")
        #expect(recorder.interrupt() == 0, "\(recorder.output.suffix(2000))")
        _ = sim.interrupt()
        #expect(
            recorder.output.contains("failed (errno 28)") || recorder.output.contains("retention deleted"),
            "the volume never filled: \(recorder.output.suffix(1500))")

        let after = try await recordings(data, camera: "gate")
        let remaining = Set(after.segments.map(\.id))
        // Every held segment is still there, whole; unheld footage before it was deleted; recording went on.
        for s in held {
            #expect(remaining.contains(s.id), "held segment \(s.id) (\(s.start)) was deleted")
        }
        let heldIDs = Set(held.map(\.id))
        let oldestUnheld = try #require(before.segments.first { !heldIDs.contains($0.id) })
        #expect(!remaining.contains(oldestUnheld.id), "the oldest unheld footage should have made room")
        let last = try #require(after.segments.last)
        #expect(Date().timeIntervalSince(parseTime(last.end)) < 10, "recording stopped long before the end: last segment ends \(last.end)")
        let check = try await TestSupport.run(vigil, ["check", "--data", data])
        #expect(check.status == 0, "\(check.stdout)")

        // The export verifies against the site certificate, plays, and a flipped byte fails.
        let bundle = dir + "/bundle"
        let exported = try await TestSupport.run(vigil, ["evidence", "export", "--data", data, exhibit, "--out", bundle])
        try #require(exported.status == 0, "\(exported.stderr)")
        let certificate = dir + "/site.pem"
        let printed = try await TestSupport.run(vigil, ["site-certificate", "--data", data])
        try printed.stdout.write(toFile: certificate, atomically: true, encoding: .utf8)
        #expect(printed.stdout.hasPrefix("-----BEGIN CERTIFICATE-----"))
        let verified = try await TestSupport.run(vigil, ["verify", bundle, "--trust", certificate])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")
        #expect(verified.stdout.contains("PASS  since recording") && verified.stdout.contains("PASS  audit"))
        #expect(verified.stdout.contains("VERIFIED: every check passed, signed by a pinned certificate"), "\(verified.stdout)")
        // Without a pinned certificate the bundle is intact but its signer unknown: no plain VERIFIED.
        let unpinned = try await TestSupport.run(vigil, ["verify", bundle])
        #expect(
            unpinned.status == 2 && unpinned.stdout.contains("SIGNER UNTRUSTED") && !unpinned.stdout.contains("VERIFIED:"),
            "\(unpinned.stdout)")
        let mp4 = try #require(exported.stdout.split(separator: "\n").first { $0.hasSuffix(".mp4") }.map(String.init))
        let decode = try await TestSupport.strictDecode(mp4)
        #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: mp4))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: mp4))
        let tampered = try await TestSupport.run(vigil, ["verify", bundle, "--trust", certificate])
        #expect(tampered.status != 0)
        #expect(tampered.stdout.contains("FAIL  since recording") && tampered.stdout.contains("FAIL  since export"), "\(tampered.stdout)")

        let show = try await TestSupport.run(vigil, ["evidence", "show", "--data", data, exhibit])
        #expect(show.stdout.contains("created by") && show.stdout.contains("exported by"), "\(show.stdout)")
    }
}
