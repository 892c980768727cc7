import Crypto
import Media
import NIOCore
import Testing

@testable import RTSP

/// Golden expectations for every DESCRIBE reply and bare SDP in the fixtures. Sizes come
/// from the SPS each camera sent (cross-checked with ffprobe: Anjvision codes 1280x704 although its
/// SDP's x-dimensions claims 1280x720).
struct DescribeExpectation: Sendable, CustomTestStringConvertible {
    var file: String
    var codec: VideoCodec
    var payloadType: UInt8
    var control: String
    var width: Int
    var height: Int
    var codecString: String
    var testDescription: String { file }
}

let describeExpectations: [DescribeExpectation] = [
    .init(
        file: "anjvision_describe.txt", codec: .h265, payloadType: 96, control: "trackID=1", width: 1280, height: 704,
        codecString: "hvc1.1.2.L153"),
    .init(
        file: "bunny_describe.txt", codec: .h264, payloadType: 97, control: "trackID=2", width: 240, height: 160, codecString: "avc1.42C01E"
    ),
    .init(
        file: "dahua_describe_h264_aac_onvif.txt", codec: .h264, payloadType: 96, control: "trackID=0", width: 704, height: 480,
        codecString: "avc1.64001E"),
    .init(
        file: "foscam_describe.txt", codec: .h264, payloadType: 96, control: "track1", width: 1280, height: 720, codecString: "avc1.4D001F"),
    .init(
        file: "gw_main_describe.txt", codec: .h264, payloadType: 96, control: "video", width: 1920, height: 1080, codecString: "avc1.4D002A"
    ),
    .init(
        file: "gw_sub_describe.txt", codec: .h264, payloadType: 96, control: "video", width: 720, height: 480, codecString: "avc1.4D001E"),
    .init(
        file: "h264dvr_describe.txt", codec: .h264, payloadType: 96, control: "trackID=3", width: 1920, height: 1080,
        codecString: "avc1.420029"),
    .init(
        file: "ipcam_describe.txt", codec: .h264, payloadType: 96, control: "trackID=1", width: 1280, height: 960,
        codecString: "avc1.4D0020"),
    .init(
        file: "macrovideo_describe.txt", codec: .h264, payloadType: 96, control: "track1", width: 1280, height: 720,
        codecString: "avc1.4DE028"),
    .init(
        file: "missing_content_type_describe.txt", codec: .h264, payloadType: 96, control: "streamid=0", width: 320, height: 180,
        codecString: "avc1.64000D"),
    .init(
        file: "reolink_describe.txt", codec: .h264, payloadType: 96, control: "trackID=1", width: 2560, height: 1440,
        codecString: "avc1.640033"),
    .init(
        file: "reolink_describe_control_first.txt", codec: .h264, payloadType: 96, control: "trackID=1", width: 2560, height: 1440,
        codecString: "avc1.640033"),
    .init(
        file: "vstarcam_describe.txt", codec: .h264, payloadType: 96, control: "track0", width: 1920, height: 1080,
        codecString: "avc1.4D002A"),
    .init(
        file: "generic_response.txt", codec: .h264, payloadType: 97, control: "trackID=2", width: 240, height: 160,
        codecString: "avc1.42C01E"),
    .init(file: "anpviz_sdp.txt", codec: .h264, payloadType: 96, control: "trackID=1", width: 704, height: 576, codecString: "avc1.4D401F"),
    .init(
        file: "geovision_sdp.txt", codec: .h264, payloadType: 105, control: "rtsp://192.168.5.237/media/video1/video", width: 2688,
        height: 1520, codecString: "avc1.4D4032")
]

/// Decodes a whole fixture through the streaming wire decoder, as a live connection would.
func decodeStreamed(_ bytes: [UInt8], chunk: Int = 7) throws -> RTSPResponse {
    var decoder = RTSPWireDecoder(policies: QuirkPolicies())
    var buffer = ByteBuffer()
    var offset = 0
    while offset < bytes.count {
        buffer.writeBytes(bytes[offset..<min(bytes.count, offset + chunk)])
        offset += chunk
        if case let .response(r)? = try decoder.decode(&buffer) { return r }
    }
    throw RTSPError(.malformedMessage("fixture did not decode to a response"))
}

@Suite("Real cameras' RTSP replies")
struct FixtureTests {
    @Test("DESCRIBE reply or SDP yields the video track", arguments: describeExpectations)
    func describeYieldsVideoTrack(_ e: DescribeExpectation) throws {
        let bytes = try fixture(e.file)
        let sdpText: String
        if e.file.hasSuffix("_sdp.txt") {
            sdpText = String(decoding: bytes, as: UTF8.self)
        } else {
            let response = try decodeStreamed(bytes)
            #expect(response.status == 200)
            sdpText = String(decoding: response.body, as: UTF8.self)
        }
        let track = try VideoTrack.first(in: try SessionDescription(parsing: sdpText), policies: QuirkPolicies())
        #expect(track.codec == e.codec)
        #expect(track.payloadType == e.payloadType)
        #expect(track.clockRate == 90_000)
        #expect(track.control == e.control)
        let parameters = try #require(track.parameters)
        #expect(parameters.width == e.width && parameters.height == e.height)
        #expect(parameters.rfc6381Codec == e.codecString)
    }

    @Test func setupRepliesGiveChannelsSessionAndTimeout() throws {
        let cases: [(String, ClosedRange<UInt8>?, String, Int)] = [
            ("dahua_setup.txt", 0...1, "634214675641", 60),
            ("bunny_setup.txt", 0...1, "1642021126", 60),
            ("reolink_setup.txt", 0...1, "F8F8E425", 60),
            ("gw_main_setup_audio.txt", 2...3, "9a90de54", 60),
            ("luckfox_rkipc_setup_tcp.txt", 0...1, "12345678", 60),
            ("luckfox_rkipc_setup_udp.txt", nil, "12345678", 60),
            ("h264dvr_setup_video.txt", nil, "231970", 60)
        ]
        for (file, channels, session, timeout) in cases {
            let r = try decodeStreamed(try fixture(file))
            let transport = TransportHeader(parsing: try #require(r.headers["Transport"]))
            #expect(transport.interleaved == channels, "\(file)")
            let sessionValue = try #require(r.headers["Session"])
            let s = try #require(SessionHeader(parsing: sessionValue))
            #expect(s.id == session && s.timeout == timeout, "\(file)")
        }
        let dahua = TransportHeader(parsing: try header("dahua_setup.txt", "Transport"))
        #expect(dahua.ssrc == 0x30A9_8EE7)
        #expect(dahua.isTCP)
    }

    @Test func playRepliesCarryRTPInfo() throws {
        let dahua = try RTPInfoEntry.parse(try header("dahua_play.txt", "RTP-Info"), policy: .reject)
        #expect(dahua.count == 3)
        #expect(dahua[0] == RTPInfoEntry(url: "trackID=0", sequenceNumber: 47121, rtpTime: 3_475_222_385))
        let laureii = try RTPInfoEntry.parse(try header("laureii_play.txt", "RTP-Info"), policy: .reject)
        #expect(laureii == [RTPInfoEntry(url: "rtsp://192.168.1.19:554/0/main/trackID=0", sequenceNumber: 0, rtpTime: 0)])
        let reolink = try RTPInfoEntry.parse(try header("reolink_play.txt", "RTP-Info"), policy: .reject)
        #expect(reolink.map(\.rtpTime) == [1_070_938_629, 3_075_976_528])
        let gw = try decodeStreamed(try fixture("gw_main_play.txt"))
        let gwSession = try #require(gw.headers["Session"])
        #expect(SessionHeader(parsing: gwSession)?.timeout == 120)
    }

    @Test func badRTPTimeIsDroppedOrRejectedByPolicy() throws {
        let info = try header("bad_rtptime.txt", "RTP-Info")
        let lenient = try RTPInfoEntry.parse(info, policy: .ignoreInvalid)
        #expect(lenient.count == 2 && lenient.allSatisfy { $0.rtpTime == nil && $0.sequenceNumber == 1 })
        #expect(throws: RTSPError.self) { try RTPInfoEntry.parse(info, policy: .reject) }
    }

    @Test func headerNamesAreCaseInsensitiveAndValuesTrimmed() throws {
        let dvr = try decodeStreamed(try fixture("h264dvr_play.txt"))
        #expect(dvr.cseq == 6) // sent as "Cseq"
        let longse = try decodeStreamed(try fixture("longse_unauthorized.txt"))
        #expect(longse.status == 401 && longse.cseq == 1) // "CSeq: 1 " with a trailing space
        let options = try decodeStreamed(try fixture("dahua_options.txt"))
        #expect(options.headers["public"]?.contains("GET_PARAMETER") == true)
        #expect(try decodeStreamed(try fixture("reolink_teardown.txt")).status == 200)
    }

    @Test func longseChallengeIsAnsweredWithDigestWithoutQop() throws {
        let reply = try decodeStreamed(try fixture("longse_unauthorized.txt"))
        var auth = Authenticator(user: "admin", password: "pw")
        try auth.accept(challenges: reply.headers.all("WWW-Authenticate"))
        #expect(auth.challenge?.realm == "Surveillance Server")
        let answer = auth.authorization(method: "DESCRIBE", uri: "rtsp://cam/stream")
        let value = try #require(answer)
        let ha1 = Insecure.MD5.hash(data: Array("admin:Surveillance Server:pw".utf8)).map { String(format: "%02x", $0) }.joined()
        let ha2 = Insecure.MD5.hash(data: Array("DESCRIBE:rtsp://cam/stream".utf8)).map { String(format: "%02x", $0) }.joined()
        let expected = Insecure.MD5.hash(data: Array("\(ha1):98481030:\(ha2)".utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(value.contains("response=\"\(expected)\""))
        #expect(!value.contains("qop="))
        #expect(!value.contains("pw"))
    }

    /// RFC 2617 §3.5's worked example.
    @Test func digestResponseMatchesRFC2617Example() throws {
        var auth = Authenticator(user: "Mufasa", password: "Circle Of Life", cnonce: { "0a4f113b" })
        try auth.accept(challenges: [
            #"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#
        ])
        let answer = auth.authorization(method: "GET", uri: "/dir/index.html")
        let value = try #require(answer)
        #expect(value.contains(#"response="6629fae49393a05397450978507c4ef1""#))
        #expect(value.contains("nc=00000001") && value.contains(#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#))
        let second = auth.authorization(method: "GET", uri: "/dir/index.html")
        #expect(second?.contains("nc=00000002") == true)
    }

    @Test func basicIsUsedOnlyWhenNothingElseIsOffered() throws {
        var auth = Authenticator(user: "u", password: "p")
        try auth.accept(challenges: [#"Basic realm="x""#, #"Digest realm="x", nonce="n""#])
        #expect(auth.challenge?.scheme == .digest)
        try auth.accept(challenges: [#"Basic realm="x""#])
        let basic = auth.authorization(method: "OPTIONS", uri: "rtsp://h/")
        #expect(basic == "Basic dTpw")
        #expect(throws: RTSPError.self) { try auth.accept(challenges: ["Negotiate abc"]) }
    }

    @Test func urlsKeepCredentialsOutOfRequestsAndLogs() throws {
        let url = try RTSPURL("rtsp://admin:p%40ss@10.0.0.5:8554/Streaming/Channels/101?transport=tcp")
        #expect(url.user == "admin" && url.password == "p@ss" && url.port == 8554)
        #expect(url.requestURL == "rtsp://10.0.0.5:8554/Streaming/Channels/101?transport=tcp")
        #expect(!"\(url)".contains("p@ss") && !"\(url)".contains("admin"))
        #expect(RTSPURL.redact("rtsp://a:b@h/x") == "rtsp://***@h/x")
        #expect(throws: RTSPError.self) { try RTSPURL("http://h/") }
        #expect(throws: RTSPError.self) { try RTSPURL("rtsp://h:99999/") }
        #expect(resolveControl("trackID=1", base: "rtsp://h/a/") == "rtsp://h/a/trackID=1")
        #expect(resolveControl("trackID=1", base: "rtsp://h/a") == "rtsp://h/a/trackID=1")
        #expect(resolveControl("*", base: "rtsp://h/a") == "rtsp://h/a")
        #expect(resolveControl("rtsp://o/v", base: "rtsp://h/a") == "rtsp://o/v")
    }

    @Test func gwSpropWithAnnexBStartCodesIsRepaired() throws {
        let body = try decodeStreamed(try fixture("gw_main_describe.txt")).body
        let track = try VideoTrack.first(in: try SessionDescription(parsing: String(decoding: body, as: UTF8.self)), policies: .strict)
        // The decoded SPS ends in 00 00 00 01: the repair splits it off.
        #expect(track.parameters?.sps.suffix(4) != [0, 0, 0, 1])
        #expect(track.parameters?.width == 1920)
    }

    @Test func unusableSpropWaitsForInBandOrFailsWhenStrict() throws {
        let text = String(decoding: try decodeStreamed(try fixture("reolink_describe.txt")).body, as: UTF8.self)
            .replacingOccurrences(of: "Z2QAM6zoAoALWQ==,aO48MA==", with: "!!!!,aO48MA==")
        let sdp = try SessionDescription(parsing: text)
        let lenient = try VideoTrack.first(in: sdp, policies: QuirkPolicies())
        #expect(lenient.parameters == nil && lenient.parameterSetProblem != nil)
        #expect(throws: RTSPError.self) { try VideoTrack.first(in: sdp, policies: .strict) }
    }

    @Test func audioOnlyOrUnknownCodecIsAClearError() throws {
        let sdp = try SessionDescription(
            parsing: "v=0\r\nm=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\nm=video 0 RTP/AVP 26\r\na=rtpmap:26 JPEG/90000\r\n")
        let error = try #require(throws: RTSPError.self) { try VideoTrack.first(in: sdp, policies: QuirkPolicies()) }
        #expect("\(error)".contains("JPEG"))
    }
}

func header(_ file: String, _ name: String) throws -> String {
    let response = try decodeStreamed(try fixture(file))
    return try #require(response.headers[name])
}
