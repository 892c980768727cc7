import Foundation
import Onvif
import TestSupport
import Testing

/// A simulated dome's picture follows where it points: frames taken over RTSP by ffmpeg
/// before and after an ONVIF AbsoluteMove differ, frames taken without a move do not, and
/// the live stream decodes cleanly under ffmpeg's strict decoder.
extension EndToEndTests {
    @Test func aSimulatedDomesPictureFollowsWhereItPoints() async throws {
        let dir = try TestSupport.temporaryDirectory("live-dome")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vigil = TestSupport.vigilBinary
        let ffmpeg = try TestSupport.require("ffmpeg")
        let cameraPort = TestSupport.freePort(), onvifPort = TestSupport.freePort()
        let clip = try await TestSupport.clip(codec: .h264, seconds: 2)
        let sim = try Peer(
            vigil, ["simulate", "--cameras", "1", "--port", "\(cameraPort)", "--file", clip, "--onvif-port", "\(onvifPort)"],
            log: dir + "/sim.log")
        defer { _ = sim.interrupt() }
        try await sim.waitFor("/onvif/cam1/device_service", seconds: 30)
        let stream = "rtsp://127.0.0.1:\(cameraPort)/cam1"

        /// One picture from the stream, as 160×90 grey levels.
        func picture(_ name: String) async throws -> [UInt8] {
            let out = "\(dir)/\(name).gray"
            let grabbed = try await TestSupport.run(
                ffmpeg,
                [
                    "-y", "-v", "error", "-rtsp_transport", "tcp", "-timeout", "10000000", "-i", stream, "-frames:v", "1", "-vf",
                    "scale=160:90", "-pix_fmt", "gray",
                    "-f", "rawvideo", out
                ])
            try #require(grabbed.status == 0, "ffmpeg could not take a picture: \(grabbed.stderr)")
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out)))
            try #require(bytes.count == 160 * 90)
            return bytes
        }
        func difference(_ a: [UInt8], _ b: [UInt8]) -> Double {
            Double(zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(a.count)
        }

        let home = try await picture("home")
        let again = try await picture("home-again")
        #expect(difference(home, again) < 3, "two pictures of a dome that did not move differ by \(difference(home, again))")

        let device = OnvifDevice(
            endpoint: OnvifEndpoint(host: "127.0.0.1", port: onvifPort, path: "/onvif/cam1/device_service"), account: nil,
            transport: HTTPOnvifTransport.shared)
        let node = try #require(try await device.nodes().first)
        try await device.absoluteMove(profile: "main", node: node, to: PTZVelocity(pan: 0.8, tilt: 0.6, zoom: 0.7))
        // A few tries: the first picture after the move may come a key frame late.
        var turned = try await picture("turned")
        for attempt in 0..<4 where difference(home, turned) <= 15 {
            try await Task.sleep(for: .milliseconds(500))
            turned = try await picture("turned-\(attempt)")
        }
        #expect(difference(home, turned) > 15, "the picture did not follow the dome: it changed by \(difference(home, turned)) a pixel")

        // The live stream decodes without a single error under ffmpeg's strict decoder.
        let decoded = try await TestSupport.run(
            ffmpeg, ["-v", "error", "-xerror", "-rtsp_transport", "tcp", "-timeout", "10000000", "-i", stream, "-t", "3", "-f", "null", "-"]
        )
        #expect(decoded.status == 0 && decoded.stderr.isEmpty, "\(decoded.stderr.suffix(1000))")
    }
}
