import Media
import Testing

@testable import RTSP

/// Each `QuirkPolicies` value, exercised through the real client against real cameras'
/// replies replayed over TCP: the tolerant default records, the strict value fails with
/// a typed error that names the request.
@Suite("Camera quirks as named policies")
struct QuirkTests {
    func step(_ file: String, before: [UInt8] = [], after: [UInt8] = []) throws -> ScriptedCamera.Step {
        ScriptedCamera.Step(reply: try fixture(file), before: before, after: after)
    }

    @Test func sessionIDThatChangesIsKeptFromTheFirstReply() async throws {
        // H264DVR answers with one session id, then another (231970, 231980).
        let script = { [self] in
            [
                ScriptedCamera.Step(reply: okReply), try step("h264dvr_describe.txt"), try step("h264dvr_setup_video.txt"),
                try step("h264dvr_setup_audio.txt", after: interleavedFrames(codec: .h264, count: 3))
            ]
        }
        let camera = try await ScriptedCamera(steps: try script())
        let frames = try await runClient(camera: camera, frames: 3)
        #expect(frames.count == 3)
        #expect(camera.requests.last?.contains("Session: 231970") == true) // PLAY used the first id
        await camera.close()

        let strict = try await ScriptedCamera(steps: try script())
        var policies = QuirkPolicies()
        policies.sessionID = .requireStable
        let error = await #expect(throws: RTSPError.self) { try await runClient(camera: strict, policies: policies, frames: 3) }
        #expect("\(error!)".contains("Session id changed") && "\(error!)".contains("PLAY"))
        await strict.close()
    }

    @Test func missingContentBaseFallsBackToTheRequestURL() async throws {
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), try step("missing_content_type_describe.txt"), try step("reolink_setup.txt"),
            try step("reolink_play.txt", after: interleavedFrames(codec: .h264, count: 2))
        ])
        let frames = try await runClient(camera: camera, path: "/live", frames: 2)
        #expect(frames.count == 2)
        #expect(camera.requests[2].hasPrefix("SETUP rtsp://127.0.0.1:\(camera.port)/live/streamid=0 RTSP/1.0"))
        await camera.close()

        let strict = try await ScriptedCamera(steps: [.init(reply: okReply), try step("missing_content_type_describe.txt")])
        await #expect(throws: RTSPError.self) { try await runClient(camera: strict, policies: .strict, frames: 1) }
        await strict.close()
    }

    @Test func contentBaseWithoutSchemeIsIgnored() async throws {
        // Anjvision sends "Content-Base: 192.168.1.10:554/stream0/" and an H.265 track.
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), try step("anjvision_describe.txt"), try step("dahua_setup.txt"),
            try step("dahua_play.txt", after: interleavedFrames(codec: .h265, count: 2))
        ])
        let frames = try await runClient(camera: camera, path: "/stream0", frames: 2)
        #expect(frames.map(\.frame.isKey) == [true, false])
        #expect(frames.first?.parameters.codec == .h265)
        #expect(camera.requests[2].hasPrefix("SETUP rtsp://127.0.0.1:\(camera.port)/stream0/trackID=1 "))
        await camera.close()
    }

    @Test func junkBeforeAnInterleavedFrameIsSkippedOrRejected() async throws {
        let junk = Array("\r\n\0\0garbage from the firmware\u{7f}".utf8)
        let script = { [self] in
            [
                ScriptedCamera.Step(reply: okReply), try step("reolink_describe.txt"), try step("reolink_setup.txt"),
                try step("reolink_play.txt", after: junk + interleavedFrames(codec: .h264, count: 2))
            ]
        }
        let camera = try await ScriptedCamera(steps: try script())
        #expect(try await runClient(camera: camera, frames: 2).count == 2)
        await camera.close()

        let strict = try await ScriptedCamera(steps: try script())
        var policies = QuirkPolicies()
        policies.junk = .reject
        let error = await #expect(throws: RTSPError.self) { try await runClient(camera: strict, policies: policies, frames: 2) }
        #expect(error?.offset != nil && error?.camera == "scripted")
        await strict.close()
    }

    @Test func rtpBeforeThePlayReplyIsKeptOrDropped() async throws {
        let early = interleavedFrames(codec: .h264, count: 2)
        let late = interleavedFrames(codec: .h264, count: 2, firstSequence: 102, firstTimestamp: 1000 + 7200)
        let script = { [self] in
            [
                ScriptedCamera.Step(reply: okReply), try step("reolink_describe.txt"), try step("reolink_setup.txt"),
                try step("reolink_play.txt", before: early, after: late)
            ]
        }
        let camera = try await ScriptedCamera(steps: try script())
        let kept = try await runClient(camera: camera, frames: 4)
        #expect(kept.map(\.frame.timestamp) == [1000, 4600, 8200, 11800])
        await camera.close()

        let dropping = try await ScriptedCamera(steps: try script())
        var policies = QuirkPolicies()
        policies.earlyData = .drop
        let dropped = try await runClient(camera: dropping, policies: policies, frames: 1)
        #expect(dropped.first?.frame.timestamp == 8200)
        await dropping.close()
    }

    @Test func brokenSpropWaitsForInBandParameterSets() async throws {
        var describe = String(decoding: try fixture("reolink_describe.txt"), as: UTF8.self)
        // Same length, so Content-Length stays true.
        describe = describe.replacingOccurrences(of: "Z2QAM6zoAoALWQ==,aO48MA==", with: "!!!!!!!!!!!!!!!!,aO48MA==")
        // In-band SPS/PPS (Reolink's own, decoded) arrive before the first IDR.
        let sps: [UInt8] = [0x67, 0x64, 0x00, 0x33, 0xAC, 0xE8, 0x02, 0x80, 0x0B, 0x59]
        let pps: [UInt8] = [0x68, 0xEE, 0x3C, 0x30]
        let camera = try await ScriptedCamera(steps: [
            .init(reply: okReply), .init(reply: Array(describe.utf8)), try step("reolink_setup.txt"),
            try step("reolink_play.txt", after: interleavedFrames(codec: .h264, count: 2, inBand: [sps, pps]))
        ])
        let frames = try await runClient(camera: camera, frames: 2)
        #expect(frames.count == 2)
        #expect(frames.first?.parameters.width == 2560)
        await camera.close()
    }

    @Test func invalidRTPTimeInPlayReplyIsIgnoredOrRejected() async throws {
        let script = { [self] in
            [
                ScriptedCamera.Step(reply: okReply), try step("bunny_describe.txt"), try step("bunny_setup.txt"),
                try step("bad_rtptime.txt", after: interleavedFrames(codec: .h264, count: 2, payloadType: 97))
            ]
        }
        let camera = try await ScriptedCamera(steps: try script())
        #expect(try await runClient(camera: camera, frames: 1).count == 1)
        await camera.close()
        let strict = try await ScriptedCamera(steps: try script())
        var policies = QuirkPolicies()
        policies.rtpInfo = .reject
        await #expect(throws: RTSPError.self) { try await runClient(camera: strict, policies: policies, frames: 1) }
        await strict.close()
    }

    @Test func digestChallengeIsAnsweredOnce() async throws {
        let camera = try await ScriptedCamera(steps: [
            try step("longse_unauthorized.txt"), .init(reply: okReply), try step("reolink_describe.txt"),
            try step("reolink_setup.txt"), try step("reolink_play.txt", after: interleavedFrames(codec: .h264, count: 1))
        ])
        #expect(try await runClient(camera: camera, frames: 1).count == 1)
        // The client tore the session down on its way out, authenticated, with the session id.
        for _ in 0..<50 where !(camera.requests.last?.hasPrefix("TEARDOWN") ?? false) { try await Task.sleep(for: .milliseconds(20)) }
        let teardown = try #require(camera.requests.last)
        #expect(teardown.hasPrefix("TEARDOWN rtsp://192.168.5.206/h264Preview_01_main/ RTSP/1.0"))
        #expect(teardown.contains("Session: F8F8E425") && teardown.contains("Authorization: Digest"))
        #expect(!camera.requests[0].contains("Authorization"))
        #expect(camera.requests[1].contains(#"Authorization: Digest username="user", realm="Surveillance Server", nonce="98481030""#))
        await camera.close()

        let refusing = try await ScriptedCamera(steps: [try step("longse_unauthorized.txt"), try step("longse_unauthorized.txt")])
        let error = await #expect(throws: RTSPError.self) { try await runClient(camera: refusing, frames: 1) }
        #expect(error?.kind == .authenticationFailed && error?.request == "OPTIONS rtsp://127.0.0.1:\(refusing.port)/stream")
        await refusing.close()
    }

    @Test func malformedReplyIsATypedErrorWithContext() async throws {
        let camera = try await ScriptedCamera(steps: [.init(reply: Array("RTSP/1.0 OK maybe\r\nCSeq: 1\r\n\r\n".utf8))])
        let error = await #expect(throws: RTSPError.self) { try await runClient(camera: camera, frames: 1) }
        #expect(error?.camera == "scripted" && error?.offset == 0)
        #expect("\(error!)".contains("bad status line"))
        await camera.close()
    }
}
