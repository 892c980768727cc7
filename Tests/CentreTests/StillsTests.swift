import Base
import Catalog
import ChildProcess
import Foundation
import Recording
import Records
import TestSupport
import Testing

@testable import Centre

/// A still is the recorded frame showing at the moment asked for, decoded by ffmpeg from
/// Vigil's own recording: checked against the clip the footage was recorded from.
@Suite struct StillsTests {
    /// Each frame of a picture or a clip as 64×36 grey bytes, decoded by ffmpeg.
    static func grey(_ path: String) async throws -> [[UInt8]] {
        let out = path + ".grey"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let ffmpeg = try #require(ChildProcess.which("ffmpeg"))
        let r = try await ChildProcess.run(
            ffmpeg, ["-v", "error", "-i", path, "-vf", "scale=64:36,format=gray", "-f", "rawvideo", "-y", out], timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
        return stride(from: 0, to: bytes.count, by: 64 * 36).map { Array(bytes[$0..<min($0 + 64 * 36, bytes.count)]) }
    }

    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int { zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) } }

    @Test func aStillIsTheRecordedFrameShowingAtTheMomentAsked() async throws {
        try await TestSupport.withCatalog("stills") { dir, catalog in
            let store = try SampleStore(root: dir + "/samples")
            let camera = try await catalog.upsertCamera(name: "square", url: "rtsp://127.0.0.1:9/a", retentionDays: 30)
            try await TestSupport.recordFootage(camera: camera, catalog: catalog, store: store)
            let now = WallClock.system.nowMicros()
            let start = try #require(try await catalog.segments(cameraID: camera.id, from: now - 3_600_000_000, to: now).first?.startMicros)
            let stills = Stills(catalog: catalog, store: store)
            // Frame 62 (12 after the key frame at 50) runs from 2.48 s to 2.52 s: asked 10 ms into it.
            let still = try await stills.still(cameraID: camera.id, atMicros: start + 62 * 40_000 + 10_000, nowMicros: now)
            #expect(abs(still.frameMicros - (start + 62 * 40_000)) <= 1_000, "frame at \(still.frameMicros - start) µs")
            #expect(still.width == 640 && still.height == 360 && JPEGSize.read(still.jpeg)! == (640, 360))
            #expect(still.sha256.count == 64)

            let picture = dir + "/still.jpg", clip = try await TestSupport.clip(codec: .h264, seconds: 4, gop: 25)
            try Data(still.jpeg).write(to: URL(fileURLWithPath: picture))
            let shown = try #require(try await Self.grey(picture).first)
            let frames = try await Self.grey(clip)
            try #require(frames.count >= 70)
            // The clip's own frame 62 is the nearest of the frames around it.
            let nearest = (55...69).min { Self.distance(frames[$0], shown) < Self.distance(frames[$1], shown) }
            #expect(nearest == 62, "the picture is nearest to frame \(nearest ?? -1)")

            // Nothing recorded then: said so, at once for a moment long past.
            let missing = await #expect(throws: VigilError.self) {
                try await stills.still(cameraID: camera.id, atMicros: start - 3_600_000_000, nowMicros: now)
            }
            #expect(missing?.code == .notFound)
            // Without ffmpeg: said in words.
            let none = await #expect(throws: VigilError.self) {
                try await Stills(catalog: catalog, store: store, ffmpeg: nil).still(cameraID: camera.id, atMicros: start, nowMicros: now)
            }
            #expect(none?.message.contains("ffmpeg is not installed") == true)
        }
    }

    @Test func aJPEGsSizeIsReadFromItsFrameHeaderAndAnythingElseIsRefused() async throws {
        try await TestSupport.withCatalog("stills-size") { dir, _ in
            let ffmpeg = try #require(ChildProcess.which("ffmpeg"))
            let path = dir + "/p.jpg"
            let r = try await ChildProcess.run(
                ffmpeg, ["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=352x288", "-frames:v", "1", "-y", path], timeout: 60)
            try #require(r.status == 0, "\(r.stderr)")
            let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            #expect(JPEGSize.read(jpeg)! == (352, 288))
            // Every cut of it is either still read whole or refused, never misread.
            for n in 0..<min(jpeg.count, 2_000) {
                if let size = JPEGSize.read(Array(jpeg.prefix(n))) { #expect(size == (352, 288)) }
            }
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<2_000 {
                var junk = (0..<Int.random(in: 0...64, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if junk.count >= 2, Bool.random(using: &generator) { (junk[0], junk[1]) = (0xFF, 0xD8) }
                if let size = JPEGSize.read(junk) { #expect(size.width > 0 && size.height > 0) }
            }
            #expect(JPEGSize.read(Array("not a picture".utf8)) == nil)
        }
    }

    @Test func theGateLetsSomeThroughQueuesSomeAndRefusesTheRest() async throws {
        let gate = Stills.Gate(slots: 1, queue: 1)
        try await gate.enter()
        let waiting = Task { try await gate.enter() }
        while await gate.waiters.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        let refused = await #expect(throws: VigilError.self) { try await gate.enter() }
        #expect(refused?.code == .busy(retryAfterSeconds: 5))
        await gate.leave() // the slot passes to the one waiting
        try await waiting.value
        #expect(await gate.running == 1)
        await gate.leave()
        #expect(await gate.running == 0)
    }
}
