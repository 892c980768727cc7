import Base
import Foundation
import Media
import NIOCore
import RTSP

/// One client connection: parses requests, answers them, and streams after PLAY.
final class SimulatedCameraHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// The clip this session loops: the main one, or the sub-stream's (`/camNsub`).
    private var clip: SimulatedClip
    let configuration: SimulatorConfiguration
    let nonce: String
    /// The domes whose picture is live, by camera number (`/camN`); others loop the clip.
    let live: [Int: LiveDome]
    /// The domes' smaller pictures, their sub-streams (`/camNsub`).
    let subLive: [Int: LiveDome]
    /// This session's live dome, once SETUP named one.
    private var dome: LiveDome?
    /// The live pictures sent: the last, and the first (a key frame) for the timestamps.
    private var lastLive: Int?
    private var firstLive: Int?
    private var liveGap = false
    private var buffer = ByteBuffer()
    private var sessionID: String?
    private var streaming: Scheduled<Void>?
    private var frameNumber = 0
    private var sequence = UInt16.random(in: 0...UInt16.max)
    private let timestampBase = UInt32.random(in: 0...UInt32.max)
    private let ssrc = UInt32.random(in: 1...UInt32.max)
    private var startDeadline = NIODeadline.now()
    private var framesSkipped = 0

    init(
        clip: SimulatedClip, configuration: SimulatorConfiguration, nonce: String, live: [Int: LiveDome] = [:],
        subLive: [Int: LiveDome] = [:]
    ) {
        self.clip = clip
        self.configuration = configuration
        self.nonce = nonce
        self.live = live
        self.subLive = subLive
    }

    /// What a request's URL names (`…/camN`, `…/camNsub`, either with `/trackID=0`): a live
    /// dome's picture or a looped clip; nil for a sub-stream this simulator does not serve.
    private func source(_ url: String) -> (dome: LiveDome?, clip: SimulatedClip)? {
        guard let range = url.range(of: "/cam", options: .backwards) else { return (nil, clip) }
        let rest = url[range.upperBound...]
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        let number = Int(digits)
        guard rest.dropFirst(digits.count).hasPrefix("sub") else { return (number.flatMap { live[$0] }, clip) }
        if let dome = number.flatMap({ subLive[$0] }) { return (dome, dome.parameters) }
        if number.flatMap({ live[$0] }) == nil, let sub = configuration.subClip { return (nil, sub) }
        return nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        while true {
            // Skip interleaved data from the client (RTCP receiver reports).
            if buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == UInt8(ascii: "$") {
                guard let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self),
                    buffer.readableBytes >= 4 + Int(length)
                else { break }
                buffer.moveReaderIndex(forwardBy: 4 + Int(length))
                continue
            }
            let view = buffer.readableBytesView
            guard let end = view.firstRange(of: [13, 10, 13, 10]) else {
                if buffer.readableBytes > 16 * 1024 { context.close(promise: nil) }
                break
            }
            let head = String(decoding: view[view.startIndex..<end.lowerBound], as: UTF8.self)
            buffer.moveReaderIndex(forwardBy: end.upperBound - view.startIndex)
            handle(request: head, context: context)
        }
        buffer.discardReadBytes()
    }

    func channelInactive(context: ChannelHandlerContext) {
        streaming?.cancel()
        streaming = nil
        context.fireChannelInactive()
    }

    private func handle(request head: String, context: ChannelHandlerContext) {
        let lines = head.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count == 3 else { return reply(context, 400, "Bad Request", cseq: "0") }
        let method = String(parts[0]), url = String(parts[1])
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let cseq = headers["cseq"] ?? "0"
        if let credentials = configuration.credentials, !authorized(headers["authorization"], method: method, credentials: credentials) {
            return reply(
                context, 401, "Unauthorized", cseq: cseq,
                extra: [("WWW-Authenticate", "Digest realm=\"Vigil CameraSim\", nonce=\"\(nonce)\", qop=\"auth\", algorithm=MD5")])
        }
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        switch method {
        case "OPTIONS", "GET_PARAMETER", "SET_PARAMETER":
            reply(context, 200, "OK", cseq: cseq, extra: [("Public", "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER")])
        case "DESCRIBE":
            guard let named = source(url) else { return reply(context, 404, "Not Found", cseq: cseq) }
            let sdp =
                ([
                    "v=0", "o=- \(ssrc) 1 IN IP4 127.0.0.1", "s=Vigil CameraSim", "t=0 0", "a=control:*",
                    "m=video 0 RTP/AVP 96", "c=IN IP4 0.0.0.0"
                ] + (named.dome?.parameters.sdpMediaLines ?? named.clip.sdpMediaLines) + ["a=control:trackID=0"])
                .joined(separator: "\r\n") + "\r\n"
            reply(
                context, 200, "OK", cseq: cseq,
                extra: [("Content-Base", base + "/"), ("Content-Type", "application/sdp")], body: sdp)
        case "SETUP":
            guard let transport = headers["transport"], transport.uppercased().contains("RTP/AVP/TCP") else {
                return reply(context, 461, "Unsupported Transport", cseq: cseq)
            }
            guard let named = source(url) else { return reply(context, 404, "Not Found", cseq: cseq) }
            let id = sessionID ?? randomHex(bytes: 6)
            sessionID = id
            dome = named.dome
            clip = named.clip
            reply(
                context, 200, "OK", cseq: cseq,
                extra: [
                    ("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=\(String(ssrc, radix: 16, uppercase: true))"),
                    ("Session", "\(id);timeout=60")
                ])
        case "PLAY":
            guard let id = sessionID, headers["session"]?.split(separator: ";").first.map(String.init) == id else {
                return reply(context, 454, "Session Not Found", cseq: cseq)
            }
            reply(
                context, 200, "OK", cseq: cseq,
                extra: [
                    ("Session", id), ("Range", "npt=0.000-"),
                    ("RTP-Info", "url=\(base)/trackID=0;seq=\(sequence);rtptime=\(timestampBase)")
                ])
            if streaming == nil {
                startDeadline = .now()
                scheduleNextFrame(context: context)
            }
        case "TEARDOWN":
            streaming?.cancel()
            streaming = nil
            reply(context, 200, "OK", cseq: cseq)
            context.close(promise: nil)
        default:
            reply(context, 405, "Method Not Allowed", cseq: cseq)
        }
    }

    private func authorized(_ header: String?, method: String, credentials: (user: String, password: String)) -> Bool {
        guard let header, header.hasPrefix("Digest ") else { return false }
        let p = AuthChallenge.parameters(String(header.dropFirst(7)))
        guard p["username"] == credentials.user, p["nonce"] == nonce, let uri = p["uri"], let response = p["response"] else { return false }
        let ha1 = md5Hex("\(credentials.user):Vigil CameraSim:\(credentials.password)")
        let ha2 = md5Hex("\(method):\(uri)")
        let expected: String
        if p["qop"] == "auth", let nc = p["nc"], let cnonce = p["cnonce"] {
            expected = md5Hex("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)")
        } else {
            expected = md5Hex("\(ha1):\(nonce):\(ha2)")
        }
        return expected == response
    }

    private func reply(
        _ context: ChannelHandlerContext, _ status: Int, _ reason: String, cseq: String,
        extra: [(String, String)] = [], body: String = ""
    ) {
        var text = "RTSP/1.0 \(status) \(reason)\r\nCSeq: \(cseq)\r\nServer: Vigil CameraSim\r\n"
        for (n, v) in extra { text += "\(n): \(v)\r\n" }
        if !body.isEmpty { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + body
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
    }

    private func scheduleNextFrame(context: ChannelHandlerContext) {
        // A live dome's pictures come as its encoder makes them: looked for twice a frame.
        let interval = Int64(1_000_000_000) / Int64((dome?.framesPerSecond).map { $0 * 2 } ?? configuration.framesPerSecond)
        let deadline = startDeadline + .nanoseconds(interval * Int64(frameNumber))
        streaming = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            self.sendFrame(context: context)
            self.scheduleNextFrame(context: context)
        }
    }

    /// The live dome's pictures this session has not sent, in order, from the first key
    /// frame after its PLAY on.
    /// After a gap (pictures no longer kept, or skipped while the client could not keep up)
    /// it waits for the next key frame, so nothing is sent that refers to a picture the
    /// client never had.
    private func sendLiveFrames(_ dome: LiveDome, context: ChannelHandlerContext) {
        frameNumber += 1
        // A new session starts with the next key frame the encoder makes, not with older
        // pictures still kept: what it shows is never from before its PLAY.
        let after = lastLive ?? dome.newestIndex
        if lastLive == nil { lastLive = after }
        for frame in dome.frames(after: after) {
            if let last = lastLive, frame.index != last + 1 {
                // Pictures lost from the dome's queue: the receiver sees the loss as a
                // jump in sequence numbers, as for pictures skipped below.
                liveGap = true
                sequence &+= 1
            }
            lastLive = frame.index
            guard let first = firstLive ?? (frame.isKey ? frame.index : nil) else { continue }
            firstLive = first
            if liveGap || !context.channel.isWritable {
                guard frame.isKey, context.channel.isWritable else {
                    liveGap = true
                    sequence &+= UInt16(truncatingIfNeeded: frame.payloads.count)
                    continue
                }
                liveGap = false
            }
            let timestamp = timestampBase &+ UInt32(truncatingIfNeeded: (frame.index - first) * 90_000 / dome.framesPerSecond)
            write(frame.payloads, timestamp: timestamp, context: context)
        }
    }

    private func sendFrame(context: ChannelHandlerContext) {
        if let dome { return sendLiveFrames(dome, context: context) }
        let index = frameNumber % clip.payloads.count
        let timestamp = timestampBase &+ UInt32(truncatingIfNeeded: frameNumber * 90_000 / configuration.framesPerSecond)
        frameNumber += 1
        let payloads = clip.payloads[index]
        // A camera whose uplink is full drops frames rather than queueing them forever.
        // Dropping the rest of a GOP keeps the stream decodable: skip until a key frame.
        if !context.channel.isWritable || framesSkipped > 0 {
            let isKey =
                index == 0
                || payloads.first.map { p in
                    clip.codec == .h264
                        ? (p[0] & 0x1F == 5 || p[0] & 0x1F == 24) : (H265.isIRAP(H265.nalType(p[0])) || H265.nalType(p[0]) == 48)
                } ?? false
            if !context.channel.isWritable || !isKey {
                framesSkipped += 1
                sequence &+= UInt16(truncatingIfNeeded: payloads.count)
                return
            }
            framesSkipped = 0
        }
        write(payloads, timestamp: timestamp, context: context)
    }

    /// One picture's RTP packets, interleaved on channel 0, the last marked.
    private func write(_ payloads: [[UInt8]], timestamp: UInt32, context: ChannelHandlerContext) {
        let total = payloads.reduce(0) { $0 + $1.count + 16 }
        var out = context.channel.allocator.buffer(capacity: total)
        for (i, payload) in payloads.enumerated() {
            out.writeInteger(UInt8(ascii: "$"))
            out.writeInteger(UInt8(0))
            out.writeInteger(UInt16(12 + payload.count))
            out.writeInteger(UInt8(0x80))
            out.writeInteger(UInt8(i == payloads.count - 1 ? 0x80 | 96 : 96))
            out.writeInteger(sequence)
            out.writeInteger(timestamp)
            out.writeInteger(ssrc)
            out.writeBytes(payload)
            sequence &+= 1
        }
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }
}
