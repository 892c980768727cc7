import Media
import NIOCore
import NIOEmbedded
import Testing

@testable import RTSP

@Suite("Decoding a connection's bytes into session messages")
struct SessionDecoderTests {
    static let track = VideoTrack(
        codec: .h264, payloadType: 96, clockRate: 90_000, control: nil, formatParameters: [:],
        parameters: DepacketizerTests.parameters264, parameterSetProblem: nil)

    /// A reply, five frames, an RTCP packet, a request from the server with a body, three
    /// more frames and a reply: what a playing camera's connection carries.
    static let stream: [UInt8] =
        okReply
        + interleavedFrames(codec: .h264, count: 5, firstSequence: 100, firstTimestamp: 1000, nalBytes: 700)
        + [UInt8(ascii: "$"), 1, 0, 8, 0x81, 0xC8, 0, 1, 0, 0, 0x12, 0x34]
        + Array("ANNOUNCE rtsp://cam/ RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 3\r\n\r\nabc".utf8)
        + interleavedFrames(codec: .h264, count: 3, firstSequence: 105, firstTimestamp: 1000 + 5 * 3600, nalBytes: 1500)
        + Array("RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n".utf8)

    /// What the decoder passed on, one line per message (frames one line each, after a
    /// line opening their batch), and the error it reported, if any.
    func decode(_ bytes: [UInt8], cutAt cuts: [Int]) async throws -> (lines: [String], error: (any Error)?) {
        let channel = NIOAsyncTestingChannel()
        try await channel.testingEventLoop.executeInContext {
            let decoder = SessionDecoder(policies: QuirkPolicies())
            decoder.configure(track: Self.track, rtpChannel: 0)
            try channel.pipeline.syncOperations.addHandler(decoder)
        }
        var lines: [String] = []
        var caught: (any Error)?
        let bounds = [0] + cuts.sorted() + [bytes.count]
        for (from, to) in zip(bounds, bounds.dropFirst()) where from < to {
            do {
                try await channel.writeInbound(ByteBuffer(bytes: bytes[from..<to]))
            } catch {
                caught = error
            }
            while let message = try await channel.readInbound(as: SessionMessage.self) {
                switch message {
                case let .response(r): lines.append("reply \(r.status) cseq \(r.cseq ?? -1)")
                case let .interleaved(c): lines.append("interleaved \(c)")
                case let .serverRequest(m): lines.append("request \(m)")
                case let .frames(frames):
                    lines.append("batch")
                    lines += frames.map {
                        "frame \($0.frame.timestamp) key \($0.frame.isKey) bytes \($0.frame.data.count) first \($0.frame.data[5])"
                    }
                }
            }
        }
        return (lines, caught)
    }

    func withoutBatches(_ lines: [String]) -> [String] { lines.filter { $0 != "batch" } }

    @Test func messagesCutAnywhereAcrossReadsComeOutWholeAndInOrder() async throws {
        let whole = try await decode(Self.stream, cutAt: [])
        #expect(whole.error == nil)
        let expected =
            ["reply 200 cseq 0"]
            + (0..<5).map { "frame \(1000 + $0 * 3600) key \($0 == 0) bytes \(4 + 701) first \($0)" }
            + ["interleaved 1", "request ANNOUNCE"]
            + (0..<3).map { "frame \(1000 + (5 + $0) * 3600) key \($0 == 0) bytes \(4 + 1501) first \($0)" }
            + ["reply 200 cseq 5"]
        #expect(withoutBatches(whole.lines) == expected)
        // Frames completed by one read go on together, before the next other message.
        #expect(whole.lines.filter { $0 == "batch" }.count == 2)

        var generator = SeededGenerator(seed: 2326)
        for _ in 0..<200 {
            let cuts = (0..<Int.random(in: 1...12, using: &generator)).map { _ in Int.random(in: 1..<Self.stream.count, using: &generator) }
            let cut = try await decode(Self.stream, cutAt: cuts)
            #expect(cut.error == nil)
            #expect(withoutBatches(cut.lines) == expected, "cut at \(cuts.sorted())")
        }
        let byteByByte = try await decode(Self.stream, cutAt: Array(1..<Self.stream.count))
        #expect(withoutBatches(byteByByte.lines) == expected)
    }

    @Test func aMalformedMessageIsReportedAfterWhatCameBeforeItAndTheRestIsIgnored() async throws {
        let bad = Array("RTSP/1.0 abc OK\r\nCSeq: 6\r\n\r\n".utf8)
        let stream =
            okReply + interleavedFrames(codec: .h264, count: 2, nalBytes: 100) + bad
            + interleavedFrames(codec: .h264, count: 2, firstSequence: 102, firstTimestamp: 1000 + 2 * 3600, nalBytes: 100) + okReply
        let result = try await decode(stream, cutAt: [okReply.count + 10, stream.count - 20])
        let error = try #require(result.error as? RTSPError)
        guard case .malformedMessage = error.kind else {
            Issue.record("\(error)")
            return
        }
        #expect(error.offset == Int64(okReply.count + interleavedFrames(codec: .h264, count: 2, nalBytes: 100).count))
        #expect(
            withoutBatches(result.lines) == [
                "reply 200 cseq 0", "frame 1000 key true bytes 105 first 0", "frame 4600 key false bytes 105 first 1"
            ])
    }

    /// A read that finishes a cut packet gives up only the bytes the packet lacks (its
    /// header's too, when that was cut); the rest of the read stays where it is, to be
    /// decoded in place. A cut reply, whose end the header does not say, takes the read.
    @Test func aCutPacketTakesFromTheNextReadOnlyWhatItLacks() {
        let read = ByteBuffer(bytes: Array(0..<100))
        for (front, taken) in [
            ([UInt8(ascii: "$"), 0, 0, 10, 1, 2, 3], 7), ([UInt8(ascii: "$"), 0], 12),
            ([UInt8(ascii: "$")], 100), ([UInt8(ascii: "$"), 0, 0, 0], 0)
        ] {
            // The header's length bytes come from the read when they were cut: 0x00, 0x0A
            // (10) in the first case, then bytes 0 and 1 of the read (a length of 1) and
            // 0, 1, 2 (a length of 0x0102) in the others.
            var rest = SessionDecoder.owned(ByteBuffer(bytes: front), allocator: ByteBufferAllocator())
            var bytes = read
            SessionDecoder.topUp(&rest, from: &bytes)
            let length = Int(rest.getInteger(at: 2, as: UInt16.self) ?? 0)
            #expect(rest.readableBytes == min(front.count + taken, 4 + length), "\(front)")
            #expect(bytes.readableBytes == 100 - (rest.readableBytes - front.count), "\(front)")
            #expect(Array(rest.readableBytesView.dropFirst(front.count)) == Array(0..<UInt8(rest.readableBytes - front.count)))
        }
        var reply = ByteBuffer(bytes: Array("RTSP/1.0 200".utf8))
        var bytes = read
        SessionDecoder.topUp(&reply, from: &bytes)
        #expect(reply.readableBytes == 12 + 100)
        #expect(bytes.readableBytes == 0)
        // A packet's first bytes are copied into a buffer with room for all of it.
        let cut = SessionDecoder.owned(ByteBuffer(bytes: [UInt8(ascii: "$"), 0, 0x01, 0x00, 9]), allocator: ByteBufferAllocator())
        #expect(cut.readableBytes == 5)
        #expect(cut.capacity >= 4 + 256)
    }
}
