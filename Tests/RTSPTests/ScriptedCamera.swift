import Foundation
import Logging
import Media
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

@testable import RTSP

/// A TCP peer that answers each RTSP request with the next scripted reply — real cameras'
/// transcripts, CSeq rewritten to match — and can push raw bytes (interleaved RTP, junk)
/// before or after a given reply. It records the requests it saw.
final class ScriptedCamera: Sendable {
    struct Step: Sendable {
        var reply: [UInt8]
        var before: [UInt8] = []
        var after: [UInt8] = []
        /// Sent after the reply, each chunk `delay` after the one before.
        var paced: [(delay: TimeAmount, bytes: [UInt8])] = []
    }

    let port: Int
    private let channel: any Channel
    private let seen: NIOLockedValueBox<[String]>
    private let sentAt: NIOLockedValueBox<[UInt64]>

    var requests: [String] { seen.withLockedValue { $0 } }
    /// When each paced chunk was written (uptime nanoseconds).
    var pacedSendTimes: [UInt64] { sentAt.withLockedValue { $0 } }

    init(steps: [Step]) async throws {
        let seen = NIOLockedValueBox<[String]>([]), sentAt = NIOLockedValueBox<[UInt64]>([])
        self.seen = seen
        self.sentAt = sentAt
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    try ch.pipeline.syncOperations.addHandler(Handler(steps: steps, seen: seen, sentAt: sentAt))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress!.port!
    }

    func close() async { try? await channel.close() }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        var steps: [Step]
        let seen: NIOLockedValueBox<[String]>
        let sentAt: NIOLockedValueBox<[UInt64]>
        var buffer = ByteBuffer()

        init(steps: [Step], seen: NIOLockedValueBox<[String]>, sentAt: NIOLockedValueBox<[UInt64]>) {
            self.steps = steps
            self.seen = seen
            self.sentAt = sentAt
        }

        func send(_ paced: ArraySlice<(delay: TimeAmount, bytes: [UInt8])>, context: ChannelHandlerContext) {
            guard let first = paced.first else { return }
            context.eventLoop.assumeIsolated().scheduleTask(in: first.delay) { [self] in
                guard context.channel.isActive else { return }
                sentAt.withLockedValue { $0.append(NIODeadline.now().uptimeNanoseconds) }
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: first.bytes)), promise: nil)
                send(paced.dropFirst(), context: context)
            }
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var b = unwrapInboundIn(data)
            buffer.writeBuffer(&b)
            while let end = buffer.readableBytesView.firstRange(of: [13, 10, 13, 10]) {
                let head = String(decoding: buffer.readableBytesView[..<end.lowerBound], as: UTF8.self)
                buffer.moveReaderIndex(to: end.upperBound)
                let lines = head.components(separatedBy: "\r\n")
                seen.withLockedValue { $0.append(head) }
                let cseq =
                    lines.first { $0.lowercased().hasPrefix("cseq:") }.map { String($0.dropFirst(5)).trimmingCharacters(in: .whitespaces) }
                    ?? "0"
                guard !steps.isEmpty else { continue }
                let step = steps.removeFirst()
                var text = String(decoding: step.reply, as: UTF8.self)
                if let range = text.range(of: #"(?i)cseq:[^\r\n]*"#, options: .regularExpression) {
                    text.replaceSubrange(range, with: "CSeq: \(cseq)")
                }
                var out = ByteBuffer(bytes: step.before)
                out.writeString(text)
                out.writeBytes(step.after)
                context.writeAndFlush(wrapOutboundOut(out), promise: nil)
                send(step.paced[...], context: context)
            }
        }
    }
}

/// Interleaved RTP for a few frames: key, then non-key, each a single NAL unit packet.
func interleavedFrames(
    codec: VideoCodec, count: Int, firstSequence: UInt16 = 100, firstTimestamp: UInt32 = 1000,
    inBand: [[UInt8]] = [], payloadType: UInt8 = 96, nalBytes: Int = 50
) -> [UInt8] {
    var out: [UInt8] = []
    var seq = firstSequence
    func packet(_ payload: [UInt8], marker: Bool, timestamp: UInt32) {
        var p: [UInt8] = [0x80, marker ? 0x80 | payloadType : payloadType]
        p.appendBigEndian(seq)
        p.appendBigEndian(timestamp)
        p.appendBigEndian(UInt32(0x1234))
        p += payload
        out += [UInt8(ascii: "$"), 0]
        out.appendBigEndian(UInt16(p.count))
        out += p
        seq &+= 1
    }
    for i in 0..<count {
        let ts = firstTimestamp &+ UInt32(i * 3600)
        if i == 0 { for nal in inBand { packet(nal, marker: false, timestamp: ts) } }
        let nal: [UInt8]
        switch codec {
        case .h264: nal = (i == 0 ? [0x65] : [0x41]) + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: nalBytes)
        case .h265: nal = (i == 0 ? [0x26, 0x01] : [0x02, 0x01]) + [UInt8](repeating: UInt8(truncatingIfNeeded: i), count: nalBytes)
        }
        packet(nal, marker: true, timestamp: ts)
    }
    return out
}

let okReply = Array("RTSP/1.0 200 OK\r\nCSeq: 0\r\nPublic: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n\r\n".utf8)

/// Runs the real client against a scripted camera until `frames` frames arrived (returning
/// the first `frames`) or it failed.
func runClient(
    camera: ScriptedCamera, path: String = "/stream", policies: QuirkPolicies = QuirkPolicies(),
    frames wanted: Int
) async throws -> [DepacketizedFrame] {
    var endpoint = CameraEndpoint(name: "scripted", url: try RTSPURL("rtsp://user:pw@127.0.0.1:\(camera.port)\(path)"), policies: policies)
    // The read timeout is not what these tests are about, and its clock runs from the
    // connect on the event loop while the client's task may wait for a pool thread behind
    // other tests: a generous one keeps a loaded machine from failing them.
    endpoint.readTimeout = .seconds(60)
    struct Enough: Error {}
    var frames: [DepacketizedFrame] = []
    do {
        try await RTSPSession.run(endpoint, logger: Logger(label: "test")) { event in
            if case let .frames(batch) = event { frames += batch }
            if frames.count >= wanted { throw Enough() }
        }
    } catch is Enough {
    } catch let error as RTSPError where error.kind == .connection("Enough()") {
    }
    return Array(frames.prefix(wanted)) // frames come a read at a time: the last batch may hold more
}
