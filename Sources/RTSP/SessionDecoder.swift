import NIOCore

/// Turns a connection's bytes into the messages its session reads: replies and server
/// requests as they come and, once `configure` is called (after SETUP), the video track's
/// RTP packets depacketised into frames. The frames a read completes go on together, as
/// one message, when the read is done (or sooner, before any other message, to keep the
/// order). Until then, and on other channels (RTCP, other tracks), interleaved data is
/// passed on as `.interleaved` without its bytes.
///
/// One handler does both the framing (`RTSPWireDecoder`) and the depacketising, so a
/// packet never travels through the pipeline on its own: a playing camera sends a hundred
/// or more a second, and carrying each one to a second handler cost more than parsing it
/// (BENCHMARKS.md). After an error (malformed bytes, a bad packet) the handler reports it
/// and ignores the rest of the connection, which the session then closes.
final class SessionDecoder: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = SessionMessage

    private var decoder: RTSPWireDecoder
    /// Bytes received and not yet decoded (the start of a message cut by the read).
    private var pending: ByteBuffer?
    private var depacketizer: VideoDepacketizer?
    private var rtpChannel: UInt8 = 0
    private var payloadType: UInt8 = 0
    private var completed: [DepacketizedFrame] = []
    private var failed = false

    init(policies: QuirkPolicies) {
        decoder = RTSPWireDecoder(policies: policies)
    }

    func configure(track: VideoTrack, rtpChannel: UInt8) {
        depacketizer = VideoDepacketizer(codec: track.codec, parameters: track.parameters)
        self.rtpChannel = rtpChannel
        payloadType = track.payloadType
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var bytes = unwrapInboundIn(data)
        if var rest = pending.take() {
            rest.writeBuffer(&bytes)
            bytes = rest
        }
        do {
            while let message = try decoder.decode(&bytes) {
                try handle(message, context: context)
            }
        } catch {
            failed = true
            fireCompleted(context: context)
            context.fireErrorCaught(error)
            return
        }
        if bytes.readableBytes > 0 {
            bytes.discardReadBytes()
            pending = bytes
        }
    }

    private func handle(_ message: RTSPInbound, context: ChannelHandlerContext) throws {
        switch message {
        case let .interleaved(channel, payload):
            guard channel == rtpChannel, depacketizer != nil else {
                fireCompleted(context: context)
                context.fireChannelRead(wrapInboundOut(.interleaved(channel: channel)))
                return
            }
            let packet = try RTPPacket(parsing: payload)
            guard packet.payloadType == payloadType else { return }
            try depacketizer!.push(packet) { completed.append($0) }
        case let .response(response):
            fireCompleted(context: context)
            context.fireChannelRead(wrapInboundOut(.response(response)))
        case let .serverRequest(method):
            fireCompleted(context: context)
            context.fireChannelRead(wrapInboundOut(.serverRequest(method: method)))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        fireCompleted(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        fireCompleted(context: context)
        context.fireChannelInactive()
    }

    private func fireCompleted(context: ChannelHandlerContext) {
        guard !completed.isEmpty else { return }
        let frames = completed
        completed = []
        context.fireChannelRead(wrapInboundOut(.frames(frames)))
    }
}
