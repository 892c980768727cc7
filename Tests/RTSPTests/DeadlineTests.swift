import Logging
import Media
import NIOCore
import NIOEmbedded
import Testing

@testable import RTSP

/// A camera that keeps its connection busy without doing its job — RTCP flowing, but no
/// reply to a request or no video — is given up on within a deadline and reconnected,
/// however long it goes on talking. The read timeout alone would never fire: bytes arrive.
@Suite("Reply and frame deadlines")
struct DeadlineTests {
    /// An RTCP sender report on interleaved channel 1, as a camera sends every few seconds.
    static let rtcp: [UInt8] = [UInt8(ascii: "$"), 1, 0, 28, 0x80, 200, 0, 6] + [UInt8](repeating: 0, count: 24)

    /// RTCP every 100 ms for `seconds`.
    static func chatter(seconds: Int) -> [(delay: TimeAmount, bytes: [UInt8])] {
        Array(repeating: (delay: .milliseconds(100), bytes: rtcp), count: seconds * 10)
    }

    func run(_ camera: ScriptedCamera) async throws -> (error: RTSPError?, frames: Int, after: Duration) {
        var endpoint = CameraEndpoint(name: "talkative", url: try RTSPURL("rtsp://127.0.0.1:\(camera.port)/stream"))
        // Longer than the deadlines under test, shorter than the chatter: without them the
        // session would end only when the camera falls silent, 40 s on. (The deadlines are
        // 3 s, not less: a loaded test machine delays a loopback reply by over a second. How
        // much sooner than 40 s the session ends is not asserted closely for the same reason.)
        endpoint.readTimeout = .seconds(8)
        endpoint.replyTimeout = .seconds(3)
        endpoint.frameTimeout = .seconds(3)
        var frames = 0
        let clock = ContinuousClock(), start = clock.now
        do {
            try await RTSPSession.run(endpoint, logger: Logger(label: "test")) { event in
                if case let .frames(batch) = event { frames += batch.count }
            }
            return (nil, frames, clock.now - start)
        } catch let error as RTSPError {
            return (error, frames, clock.now - start)
        }
    }

    @Test func aPlayThatIsNeverAnsweredFailsAtTheReplyDeadline() async throws {
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), .init(reply: try fixture("reolink_describe.txt")), .init(reply: try fixture("reolink_setup.txt")),
            .init(reply: [], paced: Self.chatter(seconds: 40))
        ])
        let (error, frames, after) = try await run(camera)
        #expect(frames == 0)
        #expect(error?.kind == .timeout("no reply with CSeq 4 within 3 s"), "\(String(describing: error))")
        #expect(error?.request?.hasPrefix("PLAY") == true)
        #expect(after < .seconds(25), "the session lasted as long as the chatter")
        await camera.close()
    }

    @Test func aReplyWithAnotherCSeqDoesNotAnswerTheRequest() async throws {
        // The PLAY reply names CSeq 99; the camera then talks RTCP.
        var play = String(decoding: try fixture("reolink_play.txt"), as: UTF8.self)
        play = play.replacingOccurrences(of: #"(?i)cseq:[^\r\n]*"#, with: "CSeq: 99", options: .regularExpression)
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), .init(reply: try fixture("reolink_describe.txt")), .init(reply: try fixture("reolink_setup.txt")),
            .init(reply: [], after: Array(play.utf8), paced: Self.chatter(seconds: 40))
        ])
        let (error, _, after) = try await run(camera)
        #expect(error?.kind == .timeout("no reply with CSeq 4 within 3 s"), "\(String(describing: error))")
        #expect(after < .seconds(25), "the session lasted as long as the chatter")
        await camera.close()
    }

    @Test func anEncoderThatStopsBehindALiveConnectionIsDeclaredStalled() async throws {
        // Two frames, then only RTCP.
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), .init(reply: try fixture("reolink_describe.txt")), .init(reply: try fixture("reolink_setup.txt")),
            .init(
                reply: try fixture("reolink_play.txt"), after: interleavedFrames(codec: .h264, count: 2),
                paced: Self.chatter(seconds: 40))
        ])
        let (error, frames, after) = try await run(camera)
        #expect(frames == 2)
        #expect(error?.kind == .timeout("no video frame for 3 s while the connection stayed open"), "\(String(describing: error))")
        #expect(after < .seconds(25), "the session lasted as long as the chatter")
        await camera.close()
    }

    /// Bytes that never become a message reach no check made as messages pass: a timer
    /// must see them.
    @Test func aReplyTrickledAByteAtATimeFailsAtTheReplyDeadline() async throws {
        var play = String(decoding: try fixture("reolink_play.txt"), as: UTF8.self)
        play = play.replacingOccurrences(of: #"(?i)cseq:[^\r\n]*"#, with: "CSeq: 4", options: .regularExpression)
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), .init(reply: try fixture("reolink_describe.txt")), .init(reply: try fixture("reolink_setup.txt")),
            .init(reply: [], paced: play.utf8.map { (delay: .milliseconds(300), bytes: [$0]) })
        ])
        let (error, _, after) = try await run(camera)
        #expect(error?.kind == .timeout("no reply with CSeq 4 within 3 s"), "\(String(describing: error))")
        #expect(after < .seconds(25), "the session lasted as long as the trickle")
        await camera.close()
    }

    @Test func videoOfAnotherPayloadTypeIsNoVideo() async throws {
        // After the PLAY reply, RTP on the video channel every 100 ms, but of payload type
        // 97 where the SDP said 96: dropped by the decoder, never a message. No RTCP.
        let wrong = interleavedFrames(codec: .h264, count: 1, payloadType: 97)
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), .init(reply: try fixture("reolink_describe.txt")), .init(reply: try fixture("reolink_setup.txt")),
            .init(reply: try fixture("reolink_play.txt"), paced: Array(repeating: (delay: .milliseconds(100), bytes: wrong), count: 400))
        ])
        let (error, frames, after) = try await run(camera)
        #expect(frames == 0)
        #expect(error?.kind == .timeout("no video frame for 3 s while the connection stayed open"), "\(String(describing: error))")
        #expect(after < .seconds(25), "the session lasted as long as the wrong packets")
        await camera.close()
    }

    @Test func framesBeforeThePlayReplyAreKeptWithinAByteBudget() async throws {
        // Each early frame is a quarter of the budget less a little: four fit, the fifth
        // does not, and then none is kept (what followed would continue a stream with a
        // hole), nor any after it.
        let big = Conversation.earlyByteLimit / 4 - 1000
        func frames(_ sizes: [Int]) -> [DepacketizedFrame] {
            sizes.enumerated().map { i, size in
                DepacketizedFrame(
                    frame: EncodedFrame(timestamp: Ticks90k(i), isKey: i == 0, data: [UInt8](repeating: 0, count: size)),
                    parameters: DepacketizerTests.parameters264)
            }
        }
        var conversation = Conversation(
            endpoint: CameraEndpoint(name: "c", url: try RTSPURL("rtsp://127.0.0.1/x")), channel: EmbeddedChannel(),
            inbound: SessionInbound(eventLoop: EmbeddedEventLoop()), logger: Logger(label: "test"))
        conversation.keepEarly(frames([big, big, big]))
        #expect(conversation.earlyFrames.count == 3)
        conversation.keepEarly(frames([big]))
        #expect(conversation.earlyFrames.count == 4)
        #expect(conversation.earlyBytes == 4 * big)
        conversation.keepEarly(frames([big, 10]))
        conversation.keepEarly(frames([10]))
        #expect(conversation.earlyFrames.isEmpty)
        #expect(conversation.earlyBytes == 0)
    }
}
