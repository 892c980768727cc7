import Logging
import Media
import NIOCore
import NIOPosix

/// One camera to pull from.
public struct CameraEndpoint: Sendable {
    public var name: String
    public var url: RTSPURL
    public var policies: QuirkPolicies
    /// A connection that delivers nothing for this long is declared dead.
    public var readTimeout: Duration = .seconds(10)
    /// A request whose reply has not come this long after it was sent fails the session,
    /// even while the camera sends other things (RTCP, replies to other requests).
    public var replyTimeout: Duration = .seconds(10)
    /// A playing session with no video frame for this long is declared stalled and
    /// reconnected, even while RTCP and keep-alive replies still arrive (an encoder that
    /// froze behind a live network stack).
    public var frameTimeout: Duration = .seconds(10)
    public var connectTimeout: Duration = .seconds(5)
    /// The event loop the connection lives on; pair it with an `EventLoopExecutor`
    /// preference so the session's code runs on the same thread.
    public var eventLoop: (any EventLoop)?
    /// Read the playing stream in batches (`ReadBatching`); nil reads packets as they come.
    public var readBatching: ReadBatching?

    public init(name: String, url: RTSPURL, policies: QuirkPolicies = QuirkPolicies()) {
        self.name = name
        self.url = url
        self.policies = policies
    }
}

/// What a camera session reports to its consumer, in order.
public enum IngestEvent: Sendable {
    /// The camera accepted PLAY; frames follow.
    case playing(VideoTrack)
    /// One or more frames, in order: those completed by one read of the connection, so
    /// that a consumer on another isolation domain is entered once per read, not per frame.
    case frames([DepacketizedFrame])
    /// The session ended; the source reconnects after a backoff.
    case disconnected(RTSPError)

}

/// One RTSP session from connect to teardown (RFC 2326 §A.2 client state machine:
/// OPTIONS, DESCRIBE, SETUP, PLAY, then interleaved RTP until the connection ends).
/// Keep-alive (`OPTIONS` with the session) is sent at half the session timeout.
public enum RTSPSession {
    public static func run(
        _ endpoint: CameraEndpoint, logger: Logger,
        onEvent: (IngestEvent) async throws -> Void
    ) async throws {
        let policies = endpoint.policies
        let readTimeout = endpoint.readTimeout, batching = endpoint.readBatching
        let channel: any Channel, inbound: SessionInbound
        do {
            (channel, inbound) = try await ClientBootstrap(group: endpoint.eventLoop ?? MultiThreadedEventLoopGroup.singleton.next())
                .connectTimeout(.milliseconds(Int64(endpoint.connectTimeout.components.seconds * 1000)))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: endpoint.url.host, port: endpoint.url.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let ops = channel.pipeline.syncOperations
                        if let batching { try ops.addHandler(ReadBatchingHandler(batching)) }
                        try ops.addHandler(IdleStateHandler(readTimeout: .nanoseconds(readTimeout.nanoseconds)))
                        try ops.addHandler(SessionDecoder(policies: policies))
                        try ops.addHandler(ReadTimeoutHandler())
                        let session = SessionInboundHandler(eventLoop: channel.eventLoop)
                        try ops.addHandler(SessionWatchdog(inbound: session.inbound))
                        try ops.addHandler(session)
                        return (channel, session.inbound)
                    }
                }
        } catch {
            throw RTSPError(.connection("connect to \(endpoint.url.host):\(endpoint.url.port) failed: \(error)"), camera: endpoint.name)
        }
        var conversation = Conversation(endpoint: endpoint, channel: channel, inbound: inbound, logger: logger)
        do {
            try await conversation.play(onEvent: onEvent)
        } catch {
            await conversation.teardown()
            try? await channel.close()
            if let e = error as? RTSPError { throw e.with(camera: endpoint.name) }
            if error is CancellationError { throw error }
            throw RTSPError(.connection("\(error)"), camera: endpoint.name)
        }
    }
}

/// What the session reads off its connection once frames are assembled in the pipeline.
enum SessionMessage: Sendable {
    case response(RTSPResponse)
    /// Interleaved data on a channel that is not the video track's RTP (RTCP, other tracks).
    case interleaved(channel: UInt8)
    /// The frames completed since the last message, in order (never empty).
    case frames([DepacketizedFrame])
    case serverRequest(method: String)
}

/// Turns the idle event into an error, which ends the inbound stream.
private final class ReadTimeoutHandler: ChannelInboundHandler {
    typealias InboundIn = SessionMessage
    typealias InboundOut = SessionMessage

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.fireErrorCaught(RTSPError(.timeout("no data from the camera within the read timeout")))
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The request/response state of one connection. Owned by one task; never shared.
struct Conversation {
    let endpoint: CameraEndpoint
    let channel: any Channel
    let inbound: SessionInbound
    let logger: Logger
    var cseq = 0
    var authenticator: Authenticator?
    var session: SessionHeader?
    var earlyFrames: [DepacketizedFrame] = []
    var earlyBytes = 0
    /// Set once a frame did not fit: every early frame is dropped then, and later ones too.
    var earlyFull = false
    var lastRequest: String?
    var presentationURL: String?
    var tornDown = false

    init(endpoint: CameraEndpoint, channel: any Channel, inbound: SessionInbound, logger: Logger) {
        self.endpoint = endpoint
        self.channel = channel
        self.inbound = inbound
        self.logger = logger
        if let user = endpoint.url.user {
            authenticator = Authenticator(user: user, password: endpoint.url.password ?? "")
        }
    }

    /// Plays until the session fails (it has no other end: the camera closing the
    /// connection is a failure too).
    mutating func play(onEvent: (IngestEvent) async throws -> Void) async throws -> Never {
        let requestURL = endpoint.url.requestURL
        let options = try await send(RTSPRequest(method: "OPTIONS", url: requestURL), allowFailure: true)
        if options.status >= 300 {
            logger.debug("OPTIONS answered \(options.status); continuing", metadata: ["camera": "\(endpoint.name)"])
        }
        let describe = try await send(
            RTSPRequest(method: "DESCRIBE", url: requestURL, headers: RTSPHeaders([("Accept", "application/sdp")])))
        let base = try baseURL(of: describe, requestURL: requestURL)
        let sdpText = String(decoding: describe.body, as: UTF8.self)
        if describe.headers["Content-Type"].map({ !$0.lowercased().contains("application/sdp") }) ?? false {
            throw RTSPError(
                .sdp("DESCRIBE body is \(describe.headers["Content-Type"]!), not application/sdp"), request: "DESCRIBE \(requestURL)")
        }
        let sdp = try SessionDescription(parsing: sdpText)
        let track = try VideoTrack.first(in: sdp, policies: endpoint.policies)
        if let problem = track.parameterSetProblem {
            logger.warning(
                "out-of-band parameter sets unusable; waiting for in-band ones: \(problem)", metadata: ["camera": "\(endpoint.name)"])
        }
        let setupURL = resolveControl(track.control, base: base)
        let setup = try await send(
            RTSPRequest(
                method: "SETUP", url: setupURL,
                headers: RTSPHeaders([("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])))
        let transport = setup.headers["Transport"].map(TransportHeader.init(parsing:))
        let channels = transport?.interleaved ?? 0...1
        guard session != nil else {
            throw RTSPError(.transport("SETUP reply has no Session header"), request: "SETUP \(RTSPURL.redact(setupURL))")
        }
        let playURL = resolveControl(sdp.sessionControl, base: base)
        presentationURL = playURL
        // From here on the pipeline assembles frames (a camera may send RTP before its PLAY reply).
        let rtpChannel = channels.lowerBound
        try await onPipeline { ops in try ops.handler(type: SessionDecoder.self).configure(track: track, rtpChannel: rtpChannel) }
        let play = try await send(RTSPRequest(method: "PLAY", url: playURL, headers: RTSPHeaders([("Range", "npt=0.000-")])))
        if let info = play.headers["RTP-Info"] {
            _ = try RTPInfoEntry.parse(info, policy: endpoint.policies.rtpInfo)
        }
        // Frames are watched from the PLAY reply on (which also ends any reply deadline
        // still armed), before the consumer is told: it may take its time to get ready.
        let batching = endpoint.readBatching != nil, frameTimeout = TimeAmount(endpoint.frameTimeout)
        try await onPipeline { ops in
            try ops.handler(type: SessionWatchdog.self).watchFrames(within: frameTimeout)
            if batching {
                try ops.handler(type: ReadBatchingHandler.self).start(context: try ops.context(handlerType: ReadBatchingHandler.self))
            }
        }
        try await onEvent(.playing(track))

        let keepAliveInterval = Duration.seconds(max(1, (session?.timeout ?? 60) / 2))
        let clock = ContinuousClock()
        var nextKeepAlive = clock.now + keepAliveInterval
        let early = earlyFrames
        earlyFrames = []
        earlyBytes = 0
        if !early.isEmpty { try await onEvent(.frames(early)) }
        lastRequest = nil
        // Silence is the read timeout's to catch, a connection that talks with no video in
        // it the watchdog's (`SessionWatchdog`).
        while true {
            guard let message = try await inbound.next() else {
                throw RTSPError(.connection("camera closed the connection"))
            }
            switch message {
            case let .frames(frames):
                try await onEvent(.frames(frames))
            case let .response(response):
                if response.status == 454 || response.status == 401 {
                    throw RTSPError(.badStatus(status: response.status, reason: "to keep-alive: \(response.reason)"))
                }
            case .interleaved, .serverRequest:
                break
            }
            if clock.now >= nextKeepAlive {
                nextKeepAlive = clock.now + keepAliveInterval
                // Not awaited, and skipped while earlier bytes are still unsent: a camera
                // that stops reading its socket can neither stall this loop on a write
                // nor grow our send queue (NIO's high-water mark bounds it).
                if channel.isWritable {
                    try await write(RTSPRequest(method: "OPTIONS", url: presentationURL ?? requestURL), waitForSend: false)
                }
            }
        }
    }

    /// RFC 2326 §C.1.1: Content-Base, then Content-Location, then the request URL.
    func baseURL(of describe: RTSPResponse, requestURL: String) throws -> String {
        for header in ["Content-Base", "Content-Location"] {
            guard let value = describe.headers[header] else { continue }
            if value.lowercased().hasPrefix("rtsp://") { return value }
            if endpoint.policies.contentBase == .requireAbsolute {
                throw RTSPError(.malformedMessage("\(header) \"\(value)\" is not an absolute rtsp URL"), request: "DESCRIBE \(requestURL)")
            }
            logger.info("ignoring \(header) \"\(value)\": not an absolute URL", metadata: ["camera": "\(endpoint.name)"])
        }
        if endpoint.policies.contentBase == .requireAbsolute && describe.headers["Content-Base"] == nil {
            throw RTSPError(.malformedMessage("DESCRIBE reply has no Content-Base"), request: "DESCRIBE \(requestURL)")
        }
        return requestURL
    }

    /// Runs `body` on the connection's event loop with its pipeline. A connection closed
    /// under us (its handlers gone) reports its cause, which the inbound stream holds.
    func onPipeline(_ body: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void) async throws {
        do {
            try await channel.eventLoop.submit { [channel] in try body(channel.pipeline.syncOperations) }.get()
        } catch is ChannelPipelineError {
            while try await inbound.next() != nil {}
            throw RTSPError(.connection("camera closed the connection"), request: lastRequest)
        }
    }

    /// Writes a request with CSeq, Session and Authorization; does not wait for the reply.
    mutating func write(_ request: RTSPRequest, waitForSend: Bool = true) async throws {
        var r = request
        if let session { r.headers.add("Session", session.id) }
        if var auth = authenticator, let value = auth.authorization(method: r.method, uri: r.url) {
            r.headers.add("Authorization", value)
            authenticator = auth
        }
        cseq += 1
        lastRequest = r.summary
        guard waitForSend else {
            channel.writeAndFlush(ByteBuffer(bytes: r.encoded(cseq: cseq)), promise: nil)
            return
        }
        do {
            try await channel.writeAndFlush(ByteBuffer(bytes: r.encoded(cseq: cseq))).get()
        } catch let error as ChannelError where error == .ioOnClosedChannel || error == .alreadyClosed {
            // The connection was closed under us (read timeout, bad bytes, the camera hung
            // up): report that cause, which the inbound stream holds, not the failed write.
            while try await inbound.next() != nil {}
            throw RTSPError(.connection("camera closed the connection"), request: r.summary)
        }
    }

    /// Sends a request and waits for its reply, answering one authentication challenge.
    mutating func send(_ request: RTSPRequest, allowFailure: Bool = false) async throws -> RTSPResponse {
        for attempt in 0..<2 {
            // The reply's deadline is armed before the request leaves, so no reply can pass unseen.
            let cseq = cseq + 1, summary = request.summary, timeout = TimeAmount(endpoint.replyTimeout)
            try await onPipeline { ops in
                try ops.handler(type: SessionWatchdog.self).expectReply(cseq: cseq, request: summary, within: timeout)
            }
            try await write(request)
            let response = try await awaitResponse(cseq: cseq)
            try noteSession(response)
            if response.status == 401 {
                let challenges = response.headers.all("WWW-Authenticate")
                guard attempt == 0, var auth = authenticator else {
                    throw RTSPError(.authenticationFailed, request: request.summary)
                }
                try auth.accept(challenges: challenges)
                authenticator = auth
                continue
            }
            if !(200..<300).contains(response.status) && !allowFailure {
                throw RTSPError(.badStatus(status: response.status, reason: response.reason), request: request.summary)
            }
            return response
        }
        throw RTSPError(.authenticationFailed, request: request.summary)
    }

    mutating func noteSession(_ response: RTSPResponse) throws {
        guard let value = response.headers["Session"], let header = SessionHeader(parsing: value) else { return }
        if let existing = session, existing.id != header.id {
            if endpoint.policies.sessionID == .requireStable {
                throw RTSPError(.malformedMessage("Session id changed from \(existing.id) to \(header.id)"), request: lastRequest)
            }
            return
        }
        if session == nil { session = header }
    }

    /// At most this many frames, and this many bytes of them, sent before the PLAY reply
    /// are kept for the recording (about two seconds of a 4K camera). Past either, all of
    /// them are dropped: what follows the reply would otherwise continue a stream with a
    /// hole in it (frames whose references were dropped); the recording starts at the next
    /// key frame instead.
    static let earlyFrameLimit = 256
    static let earlyByteLimit = 8 << 20

    /// Waits for the reply with this CSeq. Silence is the read timeout's to catch; a camera
    /// that keeps sending other things (RTCP, a reply with another CSeq, a reply a byte at a
    /// time) fails at the reply deadline the watchdog keeps (`SessionWatchdog`).
    mutating func awaitResponse(cseq expected: Int) async throws -> RTSPResponse {
        while true {
            guard let message = try await inbound.next() else {
                throw RTSPError(.connection("connection closed while waiting for a reply"), request: lastRequest)
            }
            switch message {
            case let .response(r):
                if r.cseq == nil || r.cseq == expected { return r }
            case let .frames(frames):
                if endpoint.policies.earlyData == .keep { keepEarly(frames) }
            case .interleaved, .serverRequest:
                continue
            }
        }
    }

    /// Keeps frames that came before the PLAY reply, within `earlyFrameLimit` and
    /// `earlyByteLimit`.
    mutating func keepEarly(_ frames: [DepacketizedFrame]) {
        for frame in frames {
            let size = frame.frame.data.count
            guard !earlyFull, earlyFrames.count < Self.earlyFrameLimit, size <= Self.earlyByteLimit - earlyBytes else {
                earlyFull = true
                earlyFrames = []
                earlyBytes = 0
                return
            }
            earlyFrames.append(frame)
            earlyBytes += size
        }
    }

    /// Best effort: TEARDOWN, without waiting for the reply (the connection closes next).
    mutating func teardown() async {
        guard !tornDown, session != nil, let url = presentationURL else { return }
        tornDown = true
        var r = RTSPRequest(method: "TEARDOWN", url: url)
        if let session { r.headers.add("Session", session.id) }
        if var auth = authenticator, let value = auth.authorization(method: r.method, uri: r.url) {
            r.headers.add("Authorization", value)
        }
        cseq += 1
        try? await channel.writeAndFlush(ByteBuffer(bytes: r.encoded(cseq: cseq))).get()
    }
}

/// Pulls one camera forever: runs sessions back to back, reconnecting after a failure
/// with exponential backoff capped at `maxBackoff` (so a camera that comes back is being
/// recorded again within `maxBackoff` plus the handshake). A session that delivered
/// frames resets the backoff. Ends when its task is cancelled.
public struct CameraSource: Sendable {
    public var endpoint: CameraEndpoint
    public var initialBackoff: Duration = .milliseconds(250)
    public var maxBackoff: Duration = .seconds(3)
    public var logger: Logger

    public init(endpoint: CameraEndpoint, logger: Logger) {
        self.endpoint = endpoint
        self.logger = logger
    }

    public func run(onEvent: (IngestEvent) async throws -> Void) async {
        var backoff = initialBackoff
        while !Task.isCancelled {
            var deliveredFrames = false
            let failure: RTSPError
            do {
                try await RTSPSession.run(endpoint, logger: logger) { event in
                    if case .frames = event { deliveredFrames = true }
                    try await onEvent(event)
                }
                failure = RTSPError(.connection("session ended"), camera: endpoint.name)
            } catch is CancellationError {
                return
            } catch let error as RTSPError {
                failure = error
            } catch {
                failure = RTSPError(.connection("\(error)"), camera: endpoint.name)
            }
            if Task.isCancelled { return }
            logger.warning("camera session ended: \(failure)", metadata: ["camera": "\(endpoint.name)"])
            try? await onEvent(.disconnected(failure))
            if deliveredFrames { backoff = initialBackoff }
            do { try await Task.sleep(for: backoff) } catch { return }
            backoff = min(backoff * 2, maxBackoff)
        }
    }
}
