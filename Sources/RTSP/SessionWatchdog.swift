import NIOCore

/// The deadlines a connection's read timeout cannot see: bytes keep arriving, but the
/// camera is not doing its job. Between the decoder and the session's inbound queue, on
/// timers of its own (not checked as messages pass, since a camera can keep a connection
/// busy with bytes that never become a message: RTP of another payload type, packets that
/// never complete a frame, junk, a reply trickled a byte at a time):
/// - a reply awaited (`expectReply`) that has not come within its time fails the session;
/// - once playing (`watchFrames`), a stretch with no video frame decoded fails it, unless
///   frames wait for the session's consumer in a queue full enough to hold the reads back
///   (then the consumer is slow, not the camera).
/// A failure reaches the session as its `RTSPError(.timeout)`, and the connection closes.
final class SessionWatchdog: ChannelInboundHandler {
    typealias InboundIn = SessionMessage
    typealias InboundOut = SessionMessage

    private let inbound: SessionInbound
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?

    /// The reply awaited: its CSeq, the request (for the error), and the time it has.
    private var awaited: (cseq: Int, request: String, timeout: TimeAmount)?
    private var frameTimeout: TimeAmount?
    private var lastFrame = NIODeadline.now()

    init(inbound: SessionInbound) {
        self.inbound = inbound
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        self.context = nil
    }

    /// Arms the reply deadline for the request with `cseq`, about to be written. Called on
    /// the event loop before the write, so the reply cannot pass unseen.
    func expectReply(cseq: Int, request: String, within timeout: TimeAmount) {
        awaited = (cseq, request, timeout)
        arm(at: .now() + timeout)
    }

    /// From now on, the connection must deliver a video frame at least every `timeout`.
    func watchFrames(within timeout: TimeAmount) {
        awaited = nil
        frameTimeout = timeout
        lastFrame = .now()
        arm(at: lastFrame + timeout)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .response(response):
            if let awaited, response.cseq == nil || response.cseq == awaited.cseq {
                self.awaited = nil
                if frameTimeout == nil { disarm() }
            }
        case .frames:
            lastFrame = .now()
        case .interleaved, .serverRequest:
            break
        }
        context.fireChannelRead(data)
    }

    private func arm(at deadline: NIODeadline) {
        timer?.cancel()
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            timer = nil
            expire()
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }

    private func expire() {
        let now = NIODeadline.now()
        if let awaited {
            fail(
                RTSPError(.timeout("no reply with CSeq \(awaited.cseq) within \(Self.describe(awaited.timeout))"), request: awaited.request)
            )
            return
        }
        guard let frameTimeout else { return }
        if inbound.isHoldingBackFrames {
            // The consumer is behind and its queue holds the reads back: not the camera's fault.
            lastFrame = now
        } else if now - lastFrame >= frameTimeout {
            fail(RTSPError(.timeout("no video frame for \(Self.describe(frameTimeout)) while the connection stayed open")))
            return
        }
        arm(at: lastFrame + frameTimeout)
    }

    private func fail(_ error: RTSPError) {
        guard let context else { return }
        frameTimeout = nil
        awaited = nil
        context.fireErrorCaught(error)
        context.close(promise: nil)
    }

    /// "10 s", "1.5 s": how the deadline reads in an error.
    static func describe(_ t: TimeAmount) -> String {
        let ms = t.nanoseconds / 1_000_000
        return ms % 1000 == 0 ? "\(ms / 1000) s" : "\(Double(ms) / 1000) s"
    }
}
