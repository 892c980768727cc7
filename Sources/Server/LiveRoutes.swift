import Catalog
import Centre
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// Live view: a WebSocket per camera carrying an MSE byte stream. Text messages announce
/// the codec (`{"type":"init","codec":…}`) before each init segment; binary messages are the
/// init segment and then one `moof`+`mdat` per frame, starting at the latest key frame.
struct LiveRoutes {
    let env: ServerEnvironment
    static let path = "/api/cameras/{id}/live"

    /// The plain-HTTP side of the route: the same checks as the upgrade, so a refused
    /// upgrade answers 401/403 (and is audited once); an allowed request that is not a
    /// WebSocket handshake gets 426.
    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, Self.path, .live, imagery: true, onDenied: PlaybackRoutes(env: env).denied("live.start")) { request, context, principal in
            let c = try await camera(env, context)
            try await PlaybackRoutes(env: env).requireCamera(c, .live, principal, "live.start", request, context)
            guard Self.sameOrigin(request, context) else {
                try await env.audit.append(AuditEntry("live.start", "denied", principal: principal, request: request, context: context, camera: c,
                                                      detail: "cross-origin WebSocket refused"))
                throw APIError(status: .forbidden, message: "cross-origin WebSocket refused")
            }
            try await env.audit.append(AuditEntry("live.start", "failed", principal: principal, request: request, context: context, camera: c,
                                                  detail: "not a WebSocket handshake"))
            throw APIError(status: .upgradeRequired, message: "open this URL as a WebSocket", headers: [.upgrade: "websocket"])
        }
    }

    /// A WebSocket upgrade may come from another site's page, and a browser sends the
    /// session cookie along: a cookie-authenticated upgrade must come from the console's
    /// own origin. An API token cannot ride along on its own, so it needs no such check
    /// (non-browser clients send whatever Origin their library makes up).
    static func sameOrigin(_ request: Request, _ context: VigilContext) -> Bool {
        guard context.authenticated?.csrfToken != nil else { return true }
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "http://\(host)" || origin == "https://\(host)"
    }

    func registerWebSocket(_ router: Router<VigilContext>) {
        let env = self.env
        router.add(middleware: AuthMiddleware(accounts: env.accounts))
        router.ws(RouterPath(Self.path), shouldUpgrade: { request, context in
            guard let principal = context.authenticated?.principal,
                  let id = context.parameters.get("id", as: Int64.self),
                  principal.may(.live, camera: id), Self.sameOrigin(request, context),
                  try await env.catalog.camera(id: id) != nil else { return .dontUpgrade }
            return .upgrade([:])
        }, onUpgrade: { inbound, outbound, ws in
            let context = ws.requestContext
            guard let principal = context.authenticated?.principal, let id = context.parameters.get("id", as: Int64.self),
                  let c = try await env.catalog.camera(id: id) else { return }
            try await env.audit.append(AuditEntry("live.start", "ok", principal: principal, request: ws.request, context: context, camera: c))
            let started = ContinuousClock.now
            let viewer = env.live.subscribe(camera: c.id)
            env.metrics.viewers(camera: c, delta: 1)
            var sent = 0
            await withTaskGroup(of: Int.self) { group in
                group.addTask {
                    // Reading keeps the connection's control frames flowing and sees the close.
                    do { for try await _ in inbound {} } catch {}
                    return -1
                }
                group.addTask {
                    var muxer = LiveMuxer()
                    var frames = 0
                    while let f = await viewer.next() {
                        do {
                            for output in muxer.mux(f) {
                                switch output {
                                case let .initialization(codec, width, height, segment):
                                    try await outbound.write(.text("{\"type\":\"init\",\"codec\":\"\(codec)\",\"width\":\(width),\"height\":\(height)}"))
                                    try await outbound.write(.binary(ByteBuffer(bytes: segment)))
                                case let .media(bytes):
                                    try await outbound.write(.binary(ByteBuffer(bytes: bytes)))
                                }
                            }
                        } catch {
                            break
                        }
                        env.metrics.liveLatency(nanos: DispatchTime.now().uptimeNanoseconds - f.receivedNanos)
                        frames += 1
                    }
                    return frames
                }
                for await result in group {
                    if result >= 0 { sent = result }
                    viewer.close()
                    group.cancelAll()
                }
            }
            env.live.unsubscribe(camera: c.id, viewer)
            env.metrics.viewers(camera: c, delta: -1)
            let seconds = (ContinuousClock.now - started).components.seconds
            _ = try? await env.audit.append(AuditEntry("live.stop", "ok", principal: principal, request: ws.request, context: context, camera: c,
                                                   detail: "\(seconds) s, \(sent) frames, skipped to a key frame \(viewer.skips) times"))
        })
    }
}
