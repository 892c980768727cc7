import Access
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import Synchronization

/// Limits on connections that a client cannot exceed by misbehaving:
/// - a connection that moves no byte either way for `idleTimeout` between requests is
///   closed (a silent client, a TLS handshake never finished, a spare keep-alive); while
///   the server works on a request, or once a WebSocket is open (its own pings watch it),
///   the idle limit does not apply;
/// - a request head must be complete within `headTimeout` of its first byte, so one sent
///   a byte at a time (slowloris) cannot hold a connection by trickling, and its body
///   within `bodyTimeout` of the head (the API takes small JSON bodies only): a request
///   whose body stops short is closed, not held while the server waits for the rest;
/// - one address may hold at most `perAddress` connections at once, and an IPv6 /64 (the
///   block one host may be given) ten times that; the server at most `total`, so a crowd
///   of addresses cannot take the file descriptors recording needs.
///
/// Hummingbird's own idle handler cannot do this here: with the WebSocket upgrade channel
/// it joins the pipeline only once a whole request head has arrived, so a silent or
/// half-sent request was held open for as long as the client liked (issue 13).
public struct ConnectionLimits: Sendable {
    public var idleTimeout: Duration
    public var headTimeout: Duration
    public var bodyTimeout: Duration
    public var perAddress: Int
    public var total: Int
    /// Addresses the per-address cap does not apply to: the site's reverse proxies, which
    /// carry every station's connections.
    public var exempt: Set<String>

    public init(
        idleTimeout: Duration = .seconds(30), headTimeout: Duration = .seconds(10), bodyTimeout: Duration = .seconds(60),
        perAddress: Int = 64, total: Int = 1024, exempt: Set<String> = []
    ) {
        self.idleTimeout = idleTimeout
        self.headTimeout = headTimeout
        self.bodyTimeout = bodyTimeout
        self.perAddress = perAddress
        self.total = total
        self.exempt = exempt
    }
}

/// Counts open connections per remote address.
final class ConnectionCounter: Sendable {
    let perAddress: Int
    let total: Int
    let exempt: Set<String>
    private let open = Mutex<(all: Int, byClient: [String: Int])>((0, [:]))

    init(perAddress: Int, total: Int = .max, exempt: Set<String> = []) {
        self.perAddress = perAddress
        self.total = total
        self.exempt = exempt
    }

    /// Counts a connection from `address`; false when it would be over a limit (and is not
    /// counted). Exempt addresses (the site's proxies) count toward the total only.
    func admit(_ address: SocketAddress?) -> Bool {
        let keys = keys(address)
        return open.withLock { table in
            guard table.all < total, keys.allSatisfy({ table.byClient[$0.key, default: 0] < $0.limit }) else { return false }
            for (key, _) in keys { table.byClient[key, default: 0] += 1 }
            table.all += 1
            return true
        }
    }

    func release(_ address: SocketAddress?) {
        let keys = keys(address)
        open.withLock { table in
            table.all -= 1
            for (key, _) in keys {
                let n = table.byClient[key, default: 0] - 1
                table.byClient[key] = n > 0 ? n : nil
            }
        }
    }

    /// What a connection from `address` counts against: nothing for an exempt address (by
    /// the address as given, or as counted: a proxy listed by its IPv4 address is exempt on
    /// a dual-stack socket too), and a /64's limit at most a quarter of the total, so no
    /// one network can take the server's connections.
    private func keys(_ address: SocketAddress?) -> [(key: String, limit: Int)] {
        let keys = Self.clients(address, perAddress: perAddress)
        if exempt.contains(address?.ipAddress ?? "") || keys.first.map({ exempt.contains($0.key) }) == true { return [] }
        return keys.map { key in key.key.hasSuffix("/64") ? (key.key, min(key.limit, max(perAddress, total / 4))) : key }
    }

    /// Whom a connection counts against, each with its limit: the address itself at
    /// `perAddress`, and for IPv6 also its /64 at ten times that. One host may be given a
    /// whole /64 (counting single addresses alone would cap nothing), while a control
    /// room's stations share one /64 (counting the /64 alone at one station's limit would
    /// starve them). The slots are the sign-in limiter's (`AttemptLimiter.slots`): an IPv4
    /// client on a dual-stack socket (::ffff:a.b.c.d) counts as that IPv4 address.
    static func clients(_ address: SocketAddress?, perAddress: Int) -> [(key: String, limit: Int)] {
        let (tenfold, overflow) = perAddress.multipliedReportingOverflow(by: 10)
        return AttemptLimiter.slots(for: address?.ipAddress ?? "unknown").map { slot in
            (slot.slot, slot.network ? (overflow ? .max : tenfold) : perAddress)
        }
    }
}

/// A server child channel that puts a `ConnectionGuard` in front of another one's pipeline
/// (inside TLS where there is TLS, so it sees the plain bytes of HTTP).
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner
    let counter: ConnectionCounter
    let limits: ConnectionLimits

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(counter: counter, limits: limits))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

/// One per connection, first in its plain-byte pipeline. It reads nothing for itself: it
/// watches bytes pass, and closes the connection when a limit is crossed.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    /// Where the connection is in its HTTP exchange, as far as bytes tell.
    enum Phase {
        /// Between requests: the next byte starts a head.
        case idle
        /// A head has begun; `matched` counts the bytes of "\r\n\r\n" seen at its end so far.
        case head(matched: Int)
        /// The head is whole: the body and the response may take as long as they need.
        case request
        /// Upgraded to WebSocket (a 101 went out): only the idle limit applies.
        case upgraded
    }

    let counter: ConnectionCounter
    let limits: ConnectionLimits
    private var phase = Phase.idle
    private var lastActivity = NIODeadline.now()
    private var headDeadline: NIODeadline?
    /// While in `.request` with body bytes still to come: when they must all have come.
    private var bodyDeadline: NIODeadline?
    /// The request head so far (its first `headKept` bytes), for its Content-Length.
    private var head: [UInt8] = []
    private static let headKept = 16 * 1024
    /// Body bytes still to come; nil when the head named no length (a chunked body: the
    /// deadline then holds until the response begins).
    private var bodyLeft: Int?
    private var timer: Scheduled<Void>?
    private var timerDeadline: NIODeadline?
    private static let endOfHead: [UInt8] = [13, 10, 13, 10]

    init(counter: ConnectionCounter, limits: ConnectionLimits) {
        self.counter = counter
        self.limits = limits
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let address = context.channel.remoteAddress
        guard counter.admit(address) else {
            context.close(promise: nil)
            return
        }
        let counter = self.counter
        context.channel.closeFuture.whenComplete { _ in counter.release(address) }
        schedule(context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        timerDeadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        if case .request = phase, let bodyDeadline, lastActivity > bodyDeadline {
            context.close(promise: nil)
            return
        }
        let bytes = unwrapInboundIn(data)
        let inBody: Bool
        if case .request = phase { inBody = true } else { inBody = false }
        var seen = 0
        for byte in bytes.readableBytesView {
            seen += 1
            if case .head = phase, head.count < Self.headKept { head.append(byte) }
            switch phase {
            case .idle:
                phase = .head(matched: byte == 13 ? 1 : 0)
                let deadline = NIODeadline.now() + TimeAmount(limits.headTimeout)
                headDeadline = deadline
                if let timerDeadline, deadline < timerDeadline {
                    timer?.cancel()
                    schedule(context)
                }
            case let .head(matched):
                let next = byte == Self.endOfHead[matched] ? matched + 1 : (byte == 13 ? 1 : 0)
                if next == Self.endOfHead.count {
                    phase = .request
                    headDeadline = nil
                    // A head longer than what is kept may name its length past the cut:
                    // then the length is unknown, and the deadline holds until the response.
                    bodyLeft = head.count >= Self.headKept ? nil : Self.bodyLength(head)
                    head = []
                    bodyDeadline = bodyLeft == 0 ? nil : .now() + TimeAmount(limits.bodyTimeout)
                    if let bodyDeadline, let timerDeadline, bodyDeadline < timerDeadline {
                        timer?.cancel()
                        schedule(context)
                    }
                } else {
                    phase = .head(matched: next)
                }
            case .request, .upgraded:
                break
            }
            if case .request = phase { break }
            if case .upgraded = phase { break }
        }
        if case .request = phase, let left = bodyLeft, bodyDeadline != nil {
            // The whole read once in the body; what followed the head in the read that ended it.
            let body = inBody ? bytes.readableBytes : bytes.readableBytes - seen
            bodyLeft = max(0, left - body)
            if bodyLeft == 0 { bodyDeadline = nil }
        }
        context.fireChannelRead(data)
    }

    /// The Content-Length a request head names: 0 when it names none and no chunked body,
    /// nil for a chunked body (or a length that is not a number: Hummingbird refuses it).
    static func bodyLength(_ head: [UInt8]) -> Int? {
        let text = String(decoding: head, as: UTF8.self).lowercased()
        var length = 0
        for line in text.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if name == "transfer-encoding" { return nil }
            if name == "content-length" {
                guard let n = Int(value), n >= 0 else { return nil }
                length = n
            }
        }
        return length
    }

    /// A refused WebSocket handshake's answer, told by the route (`HandshakeRefusal`): it
    /// replaces the bare reply the WebSocket library writes for a refusal.
    private var refusal: [UInt8]?
    private var refused = false

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? HandshakeRefusal {
            refusal = event.response
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastActivity = .now()
        if let refusal {
            // Our answer instead of the library's, then the connection closes (the library
            // closes it too; whatever else it writes is dropped).
            self.refusal = nil
            refused = true
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(channel.allocator.buffer(bytes: refusal)))).whenComplete { _ in
                channel.close(promise: nil)
            }
            promise?.succeed(())
            return
        }
        if refused {
            promise?.succeed(())
            return
        }
        if case .request = phase {
            if case let .byteBuffer(buffer) = unwrapOutboundIn(data), buffer.readableBytesView.starts(with: Array("HTTP/1.1 101".utf8)) {
                phase = .upgraded
            } else {
                // The response has begun: the next bytes from the client are a new request.
                phase = .idle
            }
            bodyDeadline = nil
            bodyLeft = nil
        }
        context.write(data, promise: promise)
    }

    private func schedule(_ context: ChannelHandlerContext) {
        let idle = lastActivity + TimeAmount(limits.idleTimeout)
        let deadline = [headDeadline, bodyDeadline].compactMap { $0 }.reduce(idle, min)
        timerDeadline = deadline
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in
            let now = NIODeadline.now()
            if case .request = phase, let bodyDeadline, now >= bodyDeadline {
                // The head promised a body that has not all come: nothing can answer it.
                context.close(promise: nil)
                return
            }
            switch phase {
            case .request, .upgraded:
                // The server is working on a request, or a WebSocket is open: not idle.
                lastActivity = now
                schedule(context)
                return
            case .idle, .head:
                break
            }
            if let headDeadline, now >= headDeadline {
                context.close(promise: nil)
            } else if now >= lastActivity + TimeAmount(limits.idleTimeout) {
                context.close(promise: nil)
            } else {
                schedule(context)
            }
        }
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// A WebSocket handshake the server refused, with the reply it gets: the status and the
/// reason as JSON, like any refused API request. The library that upgrades connections can
/// only answer a refusal with a bare 400, so the route sends this down the channel's
/// pipeline before refusing, and `ConnectionGuard` writes it in the library's place.
struct HandshakeRefusal: Sendable {
    let response: [UInt8]

    init(status: HTTPResponse.Status, message: String, headers: HTTPFields = [:]) {
        let body = (try? JSONEncoder().encode(["error": message])) ?? Data()
        // Only the refusal's own fields that say how to come back (sign-in, retry).
        let extra = headers.filter { [.wwwAuthenticate, .retryAfter].contains($0.name) }
            .map { "\($0.name.canonicalName): \($0.value)\r\n" }.joined()
        let head =
            "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n"
            + extra + "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n"
        response = Array(head.utf8) + body
    }

    /// Hands the refusal to the connection's guard before the library answers.
    static func send(_ error: APIError, on channel: any Channel) async {
        let refusal = HandshakeRefusal(status: error.status, message: error.message, headers: error.headers)
        try? await channel.eventLoop.submit { channel.pipeline.fireUserInboundEventTriggered(refusal) }.get()
    }
}

/// In front of the WebSocket router: a refused handshake (unauthenticated, forbidden, no
/// such camera) gets its status and reason, not the library's bare 400.
struct HandshakeRefusalMiddleware: RouterMiddleware {
    typealias Context = VigilContext

    func handle(_ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response) async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            await HandshakeRefusal.send(error, on: context.channel)
            throw error
        } catch let error as HTTPError {
            await HandshakeRefusal.send(
                APIError(status: error.status, message: error.body ?? "\(error.status.reasonPhrase)"), on: context.channel)
            throw error
        }
    }
}
