import Access
import Audit
import Base
import CameraSim
import Catalog
import Centre
import Foundation
import Logging
import Media
import Records
import Server
import TestSupport
import Testing

/// A camera's sub-stream: pulled from the camera only while someone watches it, never
/// recorded, and given to a small tile's live stream; where it fails or is missing the
/// main stream comes instead, and the viewer is told why.
@Suite(.serialized) struct SubStreamTests {
    /// A simulator whose cameras loop a 640×360 clip and, at `/camNsub`, a 320×180 one.
    static func simulator() async throws -> CameraSimulator {
        var configuration = SimulatorConfiguration()
        configuration.port = 0
        configuration.subClip = try SimulatedClip.load(
            path: try await TestSupport.clip(codec: .h264, width: 320, height: 180, seconds: 2, gop: 25))
        let main = try SimulatedClip.load(path: try await TestSupport.clip(codec: .h264, seconds: 2, gop: 25))
        return try await CameraSimulator.start(clip: main, configuration: configuration)
    }

    static func keys() throws -> SiteKeys {
        try SiteKeys.loadOrCreate(directory: try TestSupport.temporaryDirectory("sub-keys"), siteName: "test-site")
    }

    static func camera(id: Int64, port: Int, sub: String) -> CameraRecord {
        var c = CameraRecord(id: id, name: "cam\(id)", url: "rtsp://127.0.0.1:\(port)/cam\(id)", retentionDays: 30)
        c.subStreamURL = sub
        return c
    }

    static func frame(_ viewer: LiveViewer, within seconds: Double) async -> LiveFrame? {
        await withTaskGroup(of: LiveFrame?.self) { group in
            group.addTask { await viewer.next() }
            group.addTask {
                try? await Task.sleep(for: .seconds(seconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    @Test func aSubStreamIsPulledWhileWatchedAndStopsAfterItsLastViewerLeft() async throws {
        let simulator = try await Self.simulator()
        defer { Task { await simulator.close() } }
        let streams = SubStreams(keys: try Self.keys(), logger: Logger(label: "test"), linger: .milliseconds(300))
        let c = Self.camera(id: 1, port: simulator.port, sub: "rtsp://127.0.0.1:\(simulator.port)/cam1sub")
        #expect(await streams.pulling.isEmpty, "nothing is pulled before anyone watches")
        guard case let .viewer(first) = await streams.subscribe(c) else {
            Issue.record("no sub-stream viewer")
            return
        }
        guard case let .viewer(second) = await streams.subscribe(c) else {
            Issue.record("no second viewer")
            return
        }
        #expect(await streams.pulling == [1], "two viewers share one pull")
        let picture = await Self.frame(first, within: 10)
        #expect(picture?.parameters.width == 320 && picture?.parameters.height == 180, "\(String(describing: picture?.parameters))")
        #expect(picture?.frame.isKey == true, "a viewer starts at a key frame")
        #expect(await Self.frame(second, within: 10)?.parameters.width == 320)
        await streams.unsubscribe(camera: 1, first)
        try await Task.sleep(for: .milliseconds(800))
        #expect(await streams.pulling == [1], "the pull stays while a viewer is left")
        await streams.unsubscribe(camera: 1, second)
        #expect(await streams.pulling == [1], "the pull lingers a moment after its last viewer")
        try await Task.sleep(for: .milliseconds(800))
        #expect(await streams.pulling.isEmpty, "the pull stops once nobody watches")
        // Changed settings restart the pull: its viewers are ended, saying why.
        guard case let .viewer(old) = await streams.subscribe(c) else {
            Issue.record("no viewer")
            return
        }
        #expect(await Self.frame(old, within: 10) != nil)
        var moved = c
        moved.subStreamURL = "rtsp://127.0.0.1:\(simulator.port)/cam2sub"
        guard case let .viewer(new) = await streams.subscribe(moved) else {
            Issue.record("no viewer")
            return
        }
        // Ended as the new pull started: what it had queued is dropped, and it says why.
        #expect(await old.next() == nil)
        #expect(old.endReason?.contains("settings changed") == true, "\(String(describing: old.endReason))")
        #expect(await Self.frame(new, within: 10) != nil)
        #expect(streams.width(camera: 1) == 320, "the sub-stream's width is known for the console's choice")
        // The registry is followed: a camera relieved of its sub-stream stops its pull.
        var relieved = moved
        relieved.subStreamURL = nil
        await streams.follow([relieved])
        #expect(await new.next() == nil)
        #expect(new.endReason?.contains("relieved of its sub-stream") == true, "\(String(describing: new.endReason))")
        #expect(await streams.pulling.isEmpty)
        // The linger counts from the last viewer's leaving: one that came and went meanwhile
        // does not cut it short.
        guard case let .viewer(a) = await streams.subscribe(c) else {
            Issue.record("no viewer")
            return
        }
        await streams.unsubscribe(camera: 1, a)
        try await Task.sleep(for: .milliseconds(200))
        guard case let .viewer(b) = await streams.subscribe(c) else {
            Issue.record("no viewer")
            return
        }
        try await Task.sleep(for: .milliseconds(50))
        await streams.unsubscribe(camera: 1, b)
        try await Task.sleep(for: .milliseconds(150))
        #expect(await streams.pulling == [1], "the first leave's linger stopped the pull under the second")
        try await Task.sleep(for: .milliseconds(600))
        #expect(await streams.pulling.isEmpty)
        await streams.close()
        #expect(await streams.pulling.isEmpty)
        guard case let .unavailable(why) = await streams.subscribe(c) else {
            Issue.record("offered while stopping")
            return
        }
        #expect(why == SubStreams.stopping)
    }

    /// A sub-stream is the camera's own: on its host, without credentials, not the main
    /// stream; new hardware at another address drops the old one.
    @Test func aSubStreamIsOnTheCamerasOwnAddress() throws {
        let keys = try Self.keys()
        var c = CameraRecord(id: 1, name: "gate", url: "rtsp://10.0.0.21:554/stream1", retentionDays: 30)
        try CameraRules.setSubStream("rtsp://10.0.0.21:554/stream2", on: &c)
        try CameraRules.validate(c)
        for (bad, why) in [
            ("rtsp://10.0.0.99:554/stream2", "camera's own address"), ("rtsp://10.0.0.21:554/stream1", "recorded stream itself"),
            ("http://10.0.0.21/stream2", "rtsp://")
        ] {
            var other = c
            other.subStreamURL = bad
            let error = #expect(throws: VigilError.self, "\(bad)") { try CameraRules.validate(other) }
            #expect(error?.message.contains(why) == true, "\(bad): \(String(describing: error))")
        }
        #expect(throws: VigilError.self) { try CameraRules.setSubStream("rtsp://u:p@10.0.0.21/stream2", on: &c) }
        try CameraRules.setURL("rtsp://10.0.0.21:554/main", on: &c, keys: keys)
        #expect(c.subStreamURL == "rtsp://10.0.0.21:554/stream2", "the same camera keeps its sub-stream")
        try CameraRules.setURL("rtsp://10.0.0.40:554/stream1", on: &c, keys: keys)
        #expect(c.subStreamURL == nil, "new hardware at another address drops the old sub-stream")
        try CameraRules.setSubStream("", on: &c)
        #expect(c.subStreamURL == nil)
    }

    @Test func aSubStreamThatFailsEndsItsViewersSayingWhyAndIsNotOfferedForAWhile() async throws {
        let streams = SubStreams(keys: try Self.keys(), logger: Logger(label: "test"), linger: .milliseconds(300))
        // Nothing listens on the discard port.
        let c = Self.camera(id: 3, port: 9, sub: "rtsp://127.0.0.1:9/cam3sub")
        guard case let .viewer(viewer) = await streams.subscribe(c) else {
            Issue.record("no viewer")
            return
        }
        #expect(await Self.frame(viewer, within: 10) == nil)
        let reason = try #require(viewer.endReason)
        #expect(reason.hasPrefix("the sub-stream failed"), "\(reason)")
        guard case let .unavailable(why) = await streams.subscribe(c) else {
            Issue.record("a failed sub-stream was offered again at once")
            return
        }
        #expect(why == reason)
        var none = c
        none.subStreamURL = nil
        guard case let .unavailable(missing) = await streams.subscribe(none) else {
            Issue.record("a camera without one")
            return
        }
        #expect(missing.contains("no sub-stream"))
        // The cool-off is the failed settings': a corrected sub-stream is tried at once.
        var corrected = c
        corrected.subStreamURL = "rtsp://127.0.0.1:9/cam3sub-corrected"
        guard case .viewer = await streams.subscribe(corrected) else {
            Issue.record("a corrected sub-stream waited out the cool-off")
            return
        }
        await streams.close()
    }

    /// The messages of the server's WebSocket frames after the handshake's head (frames
    /// from a server are unmasked): text ones as strings, binary ones as their size.
    static func messages(_ bytes: [UInt8]) -> [String] {
        guard let end = bytes.firstRange(of: [13, 10, 13, 10]) else { return [] }
        var out: [String] = []
        var i = end.upperBound
        while i + 2 <= bytes.count {
            let opcode = bytes[i] & 0x0F
            var length = Int(bytes[i + 1] & 0x7F), head = 2
            if length == 126 {
                guard i + 4 <= bytes.count else { break }
                length = Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
                head = 4
            } else if length == 127 {
                guard i + 10 <= bytes.count else { break }
                length = (0..<8).reduce(0) { $0 << 8 | Int(bytes[i + 2 + $1]) }
                head = 10
            }
            guard i + head + length <= bytes.count else { break }
            out.append(opcode == 1 ? String(decoding: bytes[(i + head)..<(i + head + length)], as: UTF8.self) : "binary \(length)")
            i += head + length
        }
        return out
    }

    /// Opens camera `id`'s live stream at `query` as the console would, and reads until an
    /// init message came (or `limit` seconds passed); returns the messages.
    static func live(_ h: ServerHarness, _ session: ServerHarness.Session, id: Int64, query: String, limit: Double = 15) async throws
        -> [String]
    {
        let port = try #require(Int(h.base.split(separator: ":").last ?? ""))
        let connection = try RawConnection(port: port)
        connection.sendHandshake("/api/cameras/\(id)/live\(query)", host: "127.0.0.1:\(port)", origin: h.base, cookie: session.cookie)
        let bytes = await connection.received(limit: limit) { messages($0).contains { $0.contains("\"init\"") } }
        #expect(String(decoding: bytes.prefix(12), as: UTF8.self) == "HTTP/1.1 101")
        return messages(bytes)
    }

    static func liveStarts(_ h: ServerHarness) async throws -> [AuditEntry] {
        try await h.catalog.latestAuditEntries(limit: 20, before: nil).map { try AuditEntry.decode($0.body) }
            .filter { $0.action == "live.start" }
    }

    @Test func aSmallTileGetsTheSubStreamAndOtherwiseTheMainOneWithTheReason() async throws {
        let simulator = try await Self.simulator()
        defer { Task { await simulator.close() } }
        try await ServerHarness.with(.socket) { h in
            let session = try await h.signIn(.operator)
            // The harness's camera records nothing (no fleet runs): its main stream's frames are
            // published by hand below, its sub-stream comes from the simulator.
            var c = try #require(try await h.catalog.camera(id: h.cameraID))
            c.url = "rtsp://127.0.0.1:\(simulator.port)/cam1"
            c.subStreamURL = "rtsp://127.0.0.1:\(simulator.port)/cam1sub"
            c.enabled = true
            try await h.catalog.updateCamera(c)
            let sub = try await Self.live(h, session, id: c.id, query: "?stream=sub")
            let subInit = try #require(sub.first { $0.contains("\"init\"") }, "\(sub)")
            #expect(subInit.contains("\"stream\":\"sub\"") && subInit.contains("\"width\":320"), "\(subInit)")
            #expect(try await Self.liveStarts(h).first?.detail == "sub-stream")
            #expect(await h.env.fleet.subStreams.pulling == [c.id])

            // Without ?stream=sub it is the main stream, whatever the camera has.
            let clip = try TestSupport.parameters(of: try await TestSupport.clip(codec: .h264, seconds: 2, gop: 25), codec: .h264)
            let hub = h.env.live, id = c.id
            let publisher = Task {
                while !Task.isCancelled {
                    hub.publish(
                        camera: id, parameters: clip,
                        frame: EncodedFrame(timestamp: 0, isKey: true, data: [0, 0, 0, 1, 0x65, 0x88]), receivedMicros: 0)
                    try? await Task.sleep(for: .milliseconds(40))
                }
            }
            defer { publisher.cancel() }
            let main = try await Self.live(h, session, id: c.id, query: "")
            #expect(main.first { $0.contains("\"init\"") }?.contains("\"stream\":\"main\"") == true, "\(main)")

            // A sub-stream that fails: the main stream comes instead, and the viewer is told why.
            c.subStreamURL = "rtsp://127.0.0.1:9/cam1sub"
            try await h.catalog.updateCamera(c)
            let failed = try await Self.live(h, session, id: c.id, query: "?stream=sub")
            let said = try #require(failed.first { $0.contains("\"type\":\"stream\"") }, "\(failed)")
            #expect(said.contains("\"stream\":\"main\"") && said.contains("the sub-stream failed"), "\(said)")
            #expect(failed.last { $0.contains("\"init\"") }?.contains("\"stream\":\"main\"") == true, "\(failed)")
            // The next asks get the main stream at once, with the same reason, for a while.
            let again = try await Self.live(h, session, id: c.id, query: "?stream=sub")
            #expect(again.first?.contains("the sub-stream failed") == true, "\(again)")
            #expect(try await Self.liveStarts(h).first?.detail?.hasPrefix("main stream (sub-stream: the sub-stream failed") == true)
        }
    }
}
