import CameraSim
import Media
import NIOCore
import Testing

@testable import RTSP

func rtp(_ payload: [UInt8], seq: UInt16, ts: UInt32, marker: Bool, pt: UInt8 = 96) throws -> RTPPacket {
    var b = ByteBuffer(bytes: [0x80, marker ? 0x80 | pt : pt])
    b.writeInteger(seq)
    b.writeInteger(ts)
    b.writeInteger(UInt32(7))
    b.writeBytes(payload)
    return try RTPPacket(parsing: b)
}

/// Random access units: parameter sets, then slices of random sizes (some far above the MTU).
func randomAccessUnit(codec: VideoCodec, key: Bool, using g: inout SeededGenerator) -> [[UInt8]] {
    var nals: [[UInt8]] = []
    func body(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) } }
    switch codec {
    case .h264:
        if key { nals += [[0x67] + body(8), [0x68] + body(3)] }
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            nals.append([key ? 0x65 : 0x41] + body(Int.random(in: 1...6000, using: &g)))
        }
    case .h265:
        if key { nals += [[0x40, 0x01] + body(10), [0x42, 0x01] + body(20), [0x44, 0x01] + body(4)] }
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            nals.append((key ? [0x26, 0x01] : [0x02, 0x01]) + body(Int.random(in: 1...6000, using: &g)))
        }
    }
    return nals
}

@Suite("Depacketisers (RFC 6184, RFC 7798)")
struct DepacketizerTests {
    static let parameters264 = try! VideoParameters(
        h264SPS: [0x67, 0x64, 0x00, 0x33, 0xAC, 0xE8, 0x02, 0x80, 0x0B, 0x59], pps: [0x68, 0xEE, 0x3C, 0x30])

    /// A real camera's (Anjvision's) VPS, SPS and PPS.
    static let realH265ParameterSets: [[UInt8]] = [
        [
            0x40, 0x01, 0x0C, 0x01, 0xFF, 0xFF, 0x01, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00,
            0x99, 0xAC, 0x09
        ],
        [
            0x42, 0x01, 0x01, 0x01, 0x40, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x99, 0xA0, 0x02,
            0x80, 0x80, 0x2C, 0x1F, 0xE5, 0xAE, 0xE4, 0x6C, 0x1A, 0xE5, 0x51, 0x35, 0x05, 0x06, 0x05, 0x00, 0x80
        ],
        [0x44, 0x01, 0xC0, 0x73, 0xC0, 0x41, 0x83, 0x09]
    ]

    /// Property: whatever the packetiser makes of random access units (single NAL units,
    /// STAP-A/AP, FU-A/FU), the depacketiser gives back exactly those NAL units.
    @Test(arguments: [VideoCodec.h264, .h265])
    func packetiseThenDepacketiseIsIdentity(codec: VideoCodec) throws {
        var g = SeededGenerator(seed: codec == .h264 ? 1 : 2)
        var depacketizer = VideoDepacketizer(codec: codec, parameters: codec == .h264 ? Self.parameters264 : nil)
        var seq: UInt16 = 65_000 // wraps during the run
        var ts: UInt32 = UInt32.max - 90_000 // wraps during the run too
        var expected: [(data: [UInt8], key: Bool, ts: Int64)] = []
        var got: [DepacketizedFrame] = []
        var extendedTS = Int64(ts)
        for i in 0..<300 {
            let key = i % 25 == 0
            let nals = randomAccessUnit(codec: codec, key: key, using: &g)
            expected.append((NALUnits.lengthPrefixed(nals), key, extendedTS))
            let payloads = SimulatedClip.packetize(nals, codec: codec)
            for (j, p) in payloads.enumerated() {
                try depacketizer.push(try rtp(p, seq: seq, ts: ts, marker: j == payloads.count - 1)) { got.append($0) }
                seq &+= 1
            }
            ts &+= 3600
            extendedTS += 3600
        }
        if codec == .h265 {
            // H.265 had no SDP parameters: frames flow once the first in-band VPS/SPS/PPS parse — which
            // random bytes do not, so none may be emitted.
            #expect(got.isEmpty && depacketizer.framesDropped == 300)
            return
        }
        #expect(got.count == expected.count)
        for (g, e) in zip(got, expected) {
            #expect(g.frame.data == e.data)
            #expect(g.frame.isKey == e.key)
            #expect(g.frame.timestamp == e.ts)
        }
        #expect(depacketizer.packetsLost == 0)
    }

    @Test func h265FramesFlowOnceInBandParameterSetsParse() throws {
        // The real VPS/SPS/PPS in an AP, then an IDR fragmented into FUs.
        let (vps, sps, pps) = (Self.realH265ParameterSets[0], Self.realH265ParameterSets[1], Self.realH265ParameterSets[2])
        let idr: [UInt8] = [0x26, 0x01] + [UInt8](repeating: 0xAB, count: 4000)
        var d = VideoDepacketizer(codec: .h265, parameters: nil)
        var out: [DepacketizedFrame] = []
        let packets = SimulatedClip.packetize([vps, sps, pps, idr], codec: .h265)
        #expect(packets.count == 4) // one AP + three FUs
        for (i, p) in packets.enumerated() {
            try d.push(try rtp(p, seq: UInt16(i), ts: 9, marker: i == packets.count - 1)) { out.append($0) }
        }
        #expect(out.count == 1)
        #expect(out.first?.parameters.width == 1280 && out.first?.parameters.codec == .h265)
        #expect(out.first?.frame.isKey == true)
        #expect(out.first?.frame.data == NALUnits.lengthPrefixed([vps, sps, pps, idr]))
    }

    @Test func lostFragmentDropsOnlyItsFrame() throws {
        var d = VideoDepacketizer(codec: .h264, parameters: Self.parameters264)
        var out: [DepacketizedFrame] = []
        let big = SimulatedClip.packetize([[0x65] + [UInt8](repeating: 1, count: 5000)], codec: .h264)
        #expect(big.count == 4)
        var seq: UInt16 = 0
        for (i, p) in big.enumerated() where i != 2 { // lose the third fragment
            try d.push(try rtp(p, seq: seq + UInt16(i), ts: 0, marker: i == big.count - 1)) { out.append($0) }
        }
        seq = 4
        try d.push(try rtp([0x41, 2, 2], seq: seq, ts: 3600, marker: true)) { out.append($0) }
        #expect(out.map(\.frame.timestamp) == [3600])
        #expect(d.packetsLost == 1 && d.framesDropped == 1)
    }

    /// A fragmented NAL unit must come in consecutive packets (RFC 6184 §5.8, RFC 7798
    /// §4.4.3). A camera that puts another packet (a single NAL unit, an aggregation packet)
    /// between its fragments breaks that frame: the frame is dropped, not written with the
    /// other NAL units inside the fragmented one's length, and the next frame flows.
    @Test(arguments: [VideoCodec.h264, .h265], ["single", "aggregate"])
    func anotherPacketBetweenFragmentsDropsItsFrame(codec: VideoCodec, next: String) throws {
        var d = VideoDepacketizer(codec: codec, parameters: codec == .h264 ? Self.parameters264 : nil)
        var out: [DepacketizedFrame] = []
        let slice: [UInt8] = codec == .h264 ? [0x41] : [0x02, 0x01]
        let parameterSets: [[UInt8]] = codec == .h264 ? [] : Self.realH265ParameterSets
        let key: [UInt8] = (codec == .h264 ? [0x65] : [0x26, 0x01]) + [UInt8](repeating: 5, count: 3000)
        var seq: UInt16 = 0
        func push(_ payload: [UInt8], ts: UInt32, marker: Bool) throws {
            try d.push(try rtp(payload, seq: seq, ts: ts, marker: marker)) { out.append($0) }
            seq &+= 1
        }
        // A whole key frame first (H.265 learns its parameter sets from it).
        let first = SimulatedClip.packetize(parameterSets + [key], codec: codec)
        for (i, p) in first.enumerated() { try push(p, ts: 0, marker: i == first.count - 1) }
        #expect(out.count == 1)
        // Then a frame with another packet between its fragments.
        let fragments = SimulatedClip.packetize([slice + [UInt8](repeating: 7, count: 3000)], codec: codec)
        for p in fragments.dropLast() { try push(p, ts: 3600, marker: false) }
        // (The packetiser aggregates parameter sets only.)
        let h264Sets: [[UInt8]] = [[0x67, 0x64, 0x00, 0x33, 0xAC, 0xE8, 0x02, 0x80, 0x0B, 0x59], [0x68, 0xEE, 0x3C, 0x30]]
        let others = next == "single" ? [slice + [9, 9]] : (codec == .h264 ? h264Sets : Self.realH265ParameterSets)
        let packet = SimulatedClip.packetize(others, codec: codec)
        #expect(packet.count == 1)
        try push(packet[0], ts: 3600, marker: false)
        try push(fragments.last!, ts: 3600, marker: true)
        try push(slice + [1, 2, 3], ts: 7200, marker: true)
        #expect(out.map(\.frame.timestamp) == [0, 7200])
        #expect(out.last?.frame.data == NALUnits.lengthPrefixed([slice + [1, 2, 3]]))
        #expect(d.framesDropped == 1)
    }

    /// A frame holds memory for its own bytes, not for the largest frame the camera ever
    /// sent: the depacketiser's buffer grows to the biggest frame, and a small frame that
    /// shared it took a buffer that size (a 2 KB frame held 471 KB; each frame queued for
    /// the disk or a viewer cost the largest frame's size). Whatever the order: a big key
    /// frame, a big delta frame, a frame dropped for a lost packet in between.
    @Test(arguments: ["big key", "big delta", "big key then a dropped one"])
    func aSmallFrameAfterABigOneHoldsOnlyItsOwnBytes(_ order: String) throws {
        var d = VideoDepacketizer(codec: .h264, parameters: Self.parameters264)
        var out: [DepacketizedFrame] = []
        var seq: UInt16 = 0, time: UInt32 = 0
        func send(_ nal: [UInt8], lose: Int? = nil) throws {
            let packets = SimulatedClip.packetize([nal], codec: .h264)
            for (i, p) in packets.enumerated() {
                if i != lose { try d.push(try rtp(p, seq: seq, ts: time, marker: i == packets.count - 1)) { out.append($0) } }
                seq &+= 1
            }
            time &+= 3600
        }
        try send([order == "big delta" ? 0x41 : 0x65] + [UInt8](repeating: 1, count: 300_000))
        if order.hasSuffix("dropped one") { try send([0x65] + [UInt8](repeating: 3, count: 200_000), lose: 5) }
        for _ in 1...25 { try send([0x41] + [UInt8](repeating: 2, count: 2_000)) }
        #expect(out.count == 26)
        #expect(out[0].frame.data.count == 300_005)
        let held = out.map { ($0.frame.data.count, $0.frame.data.capacity) }
        #expect(held.allSatisfy { $0.1 <= $0.0 + 4_096 }, "frames of \(held.map(\.0).max() ?? 0) bytes held \(held.map(\.1).max() ?? 0)")
    }

    @Test func missingMarkerEndsTheFrameAtTheNextTimestamp() throws {
        var d = VideoDepacketizer(codec: .h264, parameters: Self.parameters264)
        var out: [DepacketizedFrame] = []
        try d.push(try rtp([0x65, 1], seq: 1, ts: 100, marker: false)) { out.append($0) }
        try d.push(try rtp([0x41, 2], seq: 2, ts: 3700, marker: false)) { out.append($0) }
        #expect(out.map(\.frame.timestamp) == [100])
        #expect(out.first?.frame.data == [0, 0, 0, 2, 0x65, 1])
    }

    @Test func interleavedModePacketsAreAnErrorNamingTheSequence() throws {
        var d = VideoDepacketizer(codec: .h264, parameters: Self.parameters264)
        let error = try #require(throws: RTSPError.self) { try d.push(try rtp([29, 0x85, 1], seq: 4242, ts: 0, marker: true)) { _ in } }
        #expect("\(error)".contains("4242"))
    }

    @Test func oversizedFrameIsRejectedNotBuffered() throws {
        var d = VideoDepacketizer(codec: .h264, parameters: Self.parameters264)
        d.maxFrameBytes = 10_000
        var seq: UInt16 = 0
        let error = try #require(throws: RTSPError.self) {
            for _ in 0..<100 {
                try d.push(try rtp([0x41] + [UInt8](repeating: 3, count: 1000), seq: seq, ts: 5, marker: false)) { _ in }
                seq += 1
            }
        }
        #expect(error.kind == .frameTooLarge(byteCount: 10_050)) // 10 packets of 4 + 1001 bytes
    }

    @Test func timestampsExtendAcrossTheWrap() {
        var e = TimestampExtender()
        let values: [UInt32] = [UInt32.max - 3600, UInt32.max, 3599, 7199]
        let extended = values.map { e.extend($0) }
        #expect(extended == [Int64(UInt32.max) - 3600, Int64(UInt32.max), Int64(UInt32.max) + 3600, Int64(UInt32.max) + 7200])
    }
}
