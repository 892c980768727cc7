import Centre
import Media
import Testing

@Suite struct LiveHubTests {
    let parameters: VideoParameters = try! VideoParameters(
        h264SPS: [0x67, 0x42, 0xC0, 0x1E, 0xD9, 0x00, 0xA0, 0x47, 0xFE, 0xC8], pps: [0x68, 0xCE, 0x3C, 0x80])

    func frame(_ i: Int, key: Bool, size: Int = 1000) -> EncodedFrame {
        EncodedFrame(timestamp: Ticks90k(i) * 3600, isKey: key, data: [UInt8](repeating: UInt8(i & 0xFF), count: size))
    }

    @Test func aJoiningViewerStartsAtTheLatestKeyFrame() async {
        let hub = LiveHub()
        for i in 0..<30 { hub.publish(camera: 1, parameters: parameters, frame: frame(i, key: i % 10 == 0), receivedMicros: 0) }
        let viewer = hub.subscribe(camera: 1)
        let first = await viewer.next()
        #expect(first?.frame.isKey == true)
        let start: Ticks90k? = first?.frame.timestamp
        #expect(start == Ticks90k(20 * 3600))
        hub.unsubscribe(camera: 1, viewer)
        #expect(await viewer.next() == nil)
    }

    @Test func aSlowViewerIsSkippedToTheNextKeyFrameAndNeverHoldsMoreThanItsLimit() async {
        var limits = LiveViewer.Limits()
        limits.maxQueuedFrames = 20
        let hub = LiveHub(limits: limits)
        let slow = hub.subscribe(camera: 7)
        // The viewer reads nothing while 1000 frames (GOP of 25) arrive; ingest never waits.
        for i in 0..<1000 { hub.publish(camera: 7, parameters: parameters, frame: frame(i, key: i % 25 == 0), receivedMicros: 0) }
        #expect(slow.skips > 0)
        // A fresh group of pictures arrives; the viewer then reads until its end.
        for i in 1000..<1006 { hub.publish(camera: 7, parameters: parameters, frame: frame(i, key: i == 1000), receivedMicros: 0) }
        var received: [EncodedFrame] = []
        while let f = await slow.next() {
            received.append(f.frame)
            if f.frame.timestamp == 1005 * 3600 { break }
        }
        #expect(received.count <= 20 + 6, "the queue held more than its limit")
        #expect(received.first?.isKey == true, "after a skip the viewer resumes at a key frame")
        // What it got is a contiguous run from that key frame.
        for (a, b) in zip(received, received.dropFirst()) { #expect(b.timestamp - a.timestamp == 3600) }
        hub.unsubscribe(camera: 7, slow)
    }

    @Test func theMuxerAnnouncesTheCodecAndKeepsTheTimelineAcrossAReconnect() {
        var muxer = LiveMuxer()
        let first = muxer.mux(LiveFrame(parameters: parameters, frame: frame(0, key: true), receivedNanos: 0))
        guard case let .initialization(codec, _, _, segment)? = first.first else {
            Issue.record("no init segment first")
            return
        }
        #expect(codec.hasPrefix("avc1."))
        #expect(Array(segment[4..<8]) == Array("ftyp".utf8))
        #expect(first.count == 2)
        _ = muxer.mux(LiveFrame(parameters: parameters, frame: frame(1, key: false), receivedNanos: 0))
        // The camera reconnects with a new RTP clock far behind: no new init, media only.
        let after = muxer.mux(
            LiveFrame(
                parameters: parameters, frame: EncodedFrame(timestamp: 5, isKey: true, data: [1, 2, 3]), receivedNanos: 0,
                receivedMicros: 1_764_000_000_250_000))
        #expect(after.count == 1)
        guard case let .media(bytes)? = after.first else {
            Issue.record("expected media")
            return
        }
        // tfdt (version 1) carries the base decode time: it must continue after frame 1.
        let tfdt = bytes.indices.first { Array(bytes[$0..<min(bytes.count, $0 + 4)]) == Array("tfdt".utf8) }!
        let time = bytes[(tfdt + 8)..<(tfdt + 16)].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        #expect(time == 2 * 3600)
        // Before the moof, the prft pairs that media time with the frame's arrival.
        #expect(Array(bytes[4..<8]) == Array("prft".utf8))
        #expect(bytes[0..<4].reduce(0) { $0 << 8 | Int($1) } == 32 && Array(bytes[36..<40]) == Array("moof".utf8))
        #expect(bytes[16..<20].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == 1_764_000_000 + 2_208_988_800)
        #expect(bytes[20..<24].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == 1 << 30)
        #expect(bytes[24..<32].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == time)
    }
}
