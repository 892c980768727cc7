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
    /// Bytes received and not yet decoded (the start of a message cut by the read), in a
    /// buffer of their own.
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
        do {
            if var rest = pending.take() {
                // Finish the message the last read cut, taking from this read only the
                // bytes it lacks; the rest of the read is then decoded where it lies.
                let start = rest.readerIndex
                Self.topUp(&rest, from: &bytes)
                while let message = try decoder.decode(&rest) {
                    try handle(message, context: context)
                }
                if rest.readableBytes > 0 {
                    // Still cut. Nothing taken from it: keep it and let it grow (a slow
                    // message is copied once, not once per read). Something taken: its
                    // slices pin it, so the tail moves to a buffer of its own.
                    pending = rest.readerIndex == start ? rest : Self.owned(rest, allocator: context.channel.allocator)
                    return
                }
            }
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
            // The read buffer stays NIO's (or the frames' slices'): the cut message's
            // first bytes are copied out, not the buffer compacted in place, which would
            // copy its whole capacity while slices share it.
            pending = Self.owned(bytes, allocator: context.channel.allocator)
        }
    }

    /// Moves to `rest`, the front of a cut message, the bytes of `bytes` it lacks: for an
    /// interleaved packet only those up to its end (its header first, when that too was
    /// cut); for anything else, a reply or junk whose end is unknown here, all of them.
    static func topUp(_ rest: inout ByteBuffer, from bytes: inout ByteBuffer) {
        guard rest.getInteger(at: rest.readerIndex, as: UInt8.self) == UInt8(ascii: "$") else {
            rest.writeBuffer(&bytes)
            return
        }
        if rest.readableBytes < 4 {
            var head = bytes.readSlice(length: min(4 - rest.readableBytes, bytes.readableBytes))!
            rest.writeBuffer(&head)
        }
        guard let length = rest.getInteger(at: rest.readerIndex + 2, as: UInt16.self) else { return }
        let lacking = max(0, 4 + Int(length) - rest.readableBytes)
        var tail = bytes.readSlice(length: min(lacking, bytes.readableBytes))!
        rest.writeBuffer(&tail)
    }

    /// A buffer of its own holding `bytes`' readable bytes, with room for the whole
    /// interleaved packet they begin when its length is known.
    static func owned(_ bytes: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        var capacity = bytes.readableBytes
        if bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) == UInt8(ascii: "$"),
            let length = bytes.getInteger(at: bytes.readerIndex + 2, as: UInt16.self)
        {
            capacity = max(capacity, 4 + Int(length))
        }
        var copy = allocator.buffer(capacity: capacity)
        copy.writeImmutableBuffer(bytes)
        return copy
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
