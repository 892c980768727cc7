import Access
import Centre
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Records
import Synchronization

/// Live view: a WebSocket per camera carrying an MSE byte stream. Text messages announce
/// the codec (`{"type":"init","codec":…,"stream":"main"|"sub"}`) before each init segment;
/// binary messages are the init segment and then one `prft`+`moof`+`mdat` per frame (the
/// `prft` gives the frame's arrival at Vigil in UTC), starting at the latest key frame.
/// `?stream=sub` asks for the camera's sub-stream (a small tile); where there is none, or it
/// fails, the main stream comes instead, announced by `{"type":"stream","stream":"main",
/// "reason":…}`.
struct LiveRoutes {
    let env: ServerEnvironment
    static let path = "/api/cameras/{id}/live"

    /// The plain-HTTP side of the route: the same checks as the upgrade, so a refused
    /// request answers 401/403/404 (and is audited once); an allowed request that is not a
    /// WebSocket handshake gets 426.
    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, Self.path, .live, imagery: true, onDenied: PlaybackRoutes(env: env).denied(.liveStart)) { request, context, principal in
            let c = try await admit(request, context)
            try await env.audit.append(
                AuditEntry(
                    .liveStart, .failed, principal: principal, request: request, context: context, camera: c,
                    detail: "not a WebSocket handshake"))
            throw APIError(status: .upgradeRequired, message: "open this URL as a WebSocket", headers: [.upgrade: "websocket"])
        }
    }

    /// Whether the request may open the camera's live stream: signed in, the live
    /// permission on this camera, from the console's own origin. Each refusal but a
    /// missing sign-in is audited (`live.start` denied) and thrown as an `APIError`.
    func admit(_ request: Request, _ context: VigilContext) async throws -> CameraRecord {
        let principal = try context.principal()
        if let stream = request.uri.queryParameters.get("stream"), stream != "main", stream != "sub" {
            throw APIError(status: .badRequest, message: "stream is main or sub")
        }
        let playback = PlaybackRoutes(env: env)
        guard principal.mayOnSomeCamera(.live) else {
            try await playback.denied(.liveStart)(request, context, principal)
            throw APIError(status: .forbidden, message: "your role (\(principal.role.rawValue)) lacks the live permission")
        }
        let c = try await camera(env, context)
        try await playback.requireCamera(c, .live, principal, .liveStart, request, context)
        guard c.removedMicros == nil else {
            try await env.audit.append(
                AuditEntry(
                    .liveStart, .denied, principal: principal, request: request, context: context, camera: c,
                    detail: "the camera was removed"))
            throw APIError(status: .notFound, message: "camera \(c.name) was removed: it has no live view")
        }
        guard Self.sameOrigin(request, context, secure: env.secureCookies, published: env.publicOrigins) else {
            let origin = String((request.headers[.origin] ?? "none").prefix(100))
            try await env.audit.append(
                AuditEntry(
                    .liveStart, .denied, principal: principal, request: request, context: context, camera: c,
                    detail: "cross-origin WebSocket refused (Origin \(origin))"))
            throw APIError(
                status: .forbidden, message: "cross-origin WebSocket refused: the console's own page must open it (Origin \(origin))")
        }
        return c
    }

    /// A WebSocket upgrade may come from another site's page, and a browser sends the
    /// session cookie along: a cookie-authenticated upgrade must come from the console's
    /// own origin, the same scheme, host and port (browsers always send `Origin` with a
    /// WebSocket handshake, so one without it is refused too). An API token cannot ride
    /// along on its own, so it needs no such check (non-browser clients send whatever
    /// Origin their library makes up).
    /// `published`: the origins the console is also reached at (behind a reverse proxy
    /// that terminates TLS, the browser's `https://…` while the server speaks plain HTTP).
    static func sameOrigin(_ request: Request, _ context: VigilContext, secure: Bool, published: [String] = []) -> Bool {
        guard context.authenticated?.csrfToken != nil else { return true }
        guard let text = request.headers[.origin], let origin = WebOrigin.normalised(text), let host = request.head.authority,
            let own = WebOrigin.normalised("\(secure ? "https" : "http")://\(host)")
        else { return false }
        return origin == own || published.compactMap { WebOrigin.normalised($0) }.contains(origin)
    }

    /// Why an open stream must end now, or nil while its viewer may still watch: the
    /// session ended (signed out, expired, account disabled, password reset), the token
    /// was revoked or expired, the live permission on the camera was withdrawn, or the
    /// camera was removed. A failure to check ends the stream too. The streams of one credential share one check
    /// a round (`LiveRechecks`): a wall of 64 tiles costs one, not 64.
    static func withdrawal(_ env: ServerEnvironment, _ credential: Credential?, camera id: Int64) async -> String? {
        guard let credential else { return "no credential" }
        let current: Principal?
        do { current = try await env.liveRechecks.principal(for: credential, accounts: env.accounts, within: env.liveRecheck / 2) } catch {
            return "the session could not be checked"
        }
        guard let current else { return "the session ended or the account was disabled" }
        guard current.may(.live, camera: id) else { return "the live permission on this camera was withdrawn" }
        do {
            guard let camera = try await env.cameras.camera(id: id), camera.removedMicros == nil else { return "the camera was removed" }
        } catch {
            return "the camera could not be checked"
        }
        return nil
    }

    /// How each part of a live stream ended.
    enum Ending: Sendable { case clientLeft, sent(Int), withdrawn(String) }

    func registerWebSocket(_ router: Router<VigilContext>) {
        let env = self.env
        router.add(middleware: ClientAddressMiddleware(trusted: env.trustedProxies))
        router.add(middleware: HandshakeRefusalMiddleware())
        router.add(middleware: AuthMiddleware(accounts: env.accounts))
        router.ws(
            RouterPath(Self.path),
            shouldUpgrade: { request, context in
                // A refusal throws: HandshakeRefusalMiddleware answers it with its status and reason.
                _ = try await admit(request, context)
                return .upgrade([:])
            },
            onUpgrade: { inbound, outbound, ws in
                let context = ws.requestContext
                guard let principal = context.authenticated?.principal, let id = context.parameters.get("id", as: Int64.self),
                    let c = try await env.cameras.camera(id: id)
                else { return }
                // A small tile asks for the sub-stream; why the main stream comes instead, if it does.
                let slot: ViewerSlot
                let fallback: String?
                if ws.request.uri.queryParameters.get("stream") == "sub" {
                    switch await env.fleet.subStreams.subscribe(c) {
                    case let .viewer(v):
                        (slot, fallback) = (ViewerSlot(v, sub: true), nil)
                    case let .unavailable(why):
                        (slot, fallback) = (ViewerSlot(env.live.subscribe(camera: c.id), sub: false, fellBack: why), why)
                    }
                } else {
                    (slot, fallback) = (ViewerSlot(env.live.subscribe(camera: c.id), sub: false), nil)
                }
                do {
                    try await env.audit.append(
                        AuditEntry(
                            .liveStart, .ok, principal: principal, request: ws.request, context: context, camera: c,
                            detail: slot.current.sub ? "sub-stream" : fallback.map { "main stream (sub-stream: \($0))" }))
                } catch {
                    await slot.release(env, camera: c.id)
                    throw error
                }
                let started = ContinuousClock.now
                env.metrics.viewers(camera: c, delta: 1)
                var sent = 0
                var withdrawn: String?
                await withTaskGroup(of: Ending.self) { group in
                    group.addTask {
                        // Reading keeps the connection's control frames flowing and sees the close.
                        do { for try await _ in inbound {} } catch {}
                        return .clientLeft
                    }
                    group.addTask {
                        // The stream lives only while its viewer may watch: checked every
                        // `liveRecheck` (the session's idle clock counts watching as activity).
                        let credential = AuthMiddleware.credential(of: ws.request)
                        while true {
                            do { try await Task.sleep(for: env.liveRecheck) } catch { return .clientLeft }
                            if let why = await Self.withdrawal(env, credential, camera: c.id) {
                                try? await outbound.close(.policyViolation, reason: why)
                                return .withdrawn(why)
                            }
                        }
                    }
                    group.addTask {
                        var muxer = LiveMuxer()
                        var frames = 0
                        let wantsSub = ws.request.uri.queryParameters.get("stream") == "sub"
                        // On the main stream in the sub-stream's place since when: asked again
                        // once its cool-off is over.
                        var onMainSince: ContinuousClock.Instant? = fallback == nil ? nil : .now
                        if let fallback { try? await outbound.write(.text(Self.streamMessage(reason: fallback))) }
                        while true {
                            let viewer = slot.current.viewer
                            guard let f = await viewer.next() else {
                                // The sub-stream ended under the viewer (it failed, its settings
                                // changed, the camera was switched off): a new pull of it if it
                                // can have one, else the main stream, saying why.
                                guard slot.current.sub, let why = viewer.endReason, why != SubStreams.stopping, !Task.isCancelled
                                else { break }
                                if let camera = try? await env.cameras.camera(id: c.id),
                                    case let .viewer(again) = await env.fleet.subStreams.subscribe(camera)
                                {
                                    await slot.switchTo(again, sub: true, env, camera: c.id)
                                    continue
                                }
                                await slot.switchTo(env.live.subscribe(camera: c.id), sub: false, env, camera: c.id, because: why)
                                onMainSince = .now
                                try? await outbound.write(.text(Self.streamMessage(reason: why)))
                                continue
                            }
                            if wantsSub, let since = onMainSince, ContinuousClock.now - since >= Self.subStreamRetry {
                                onMainSince = .now
                                if let camera = try? await env.cameras.camera(id: c.id),
                                    case let .viewer(again) = await env.fleet.subStreams.subscribe(camera)
                                {
                                    // Back on the sub-stream from its latest key frame; its init
                                    // segment comes with its first frame.
                                    await slot.switchTo(again, sub: true, env, camera: c.id)
                                    onMainSince = nil
                                    continue
                                }
                            }
                            do {
                                for output in muxer.mux(f) {
                                    switch output {
                                    case let .initialization(codec, width, height, segment):
                                        let stream = slot.current.sub ? "sub" : "main"
                                        try await outbound.write(
                                            .text(
                                                "{\"type\":\"init\",\"codec\":\"\(codec)\",\"width\":\(width),\"height\":\(height),\"stream\":\"\(stream)\"}"
                                            ))
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
                        return .sent(frames)
                    }
                    for await ending in group {
                        switch ending {
                        case let .sent(frames): sent = frames
                        case let .withdrawn(why): withdrawn = why
                        case .clientLeft: break
                        }
                        slot.current.viewer.close()
                        group.cancelAll()
                    }
                }
                let skips = slot.skips, fellBack = slot.fellBack
                await slot.release(env, camera: c.id)
                env.metrics.viewers(camera: c, delta: -1)
                let seconds = (ContinuousClock.now - started).components.seconds
                _ = try? await env.audit.append(
                    AuditEntry(
                        .liveStop, .ok, principal: principal, request: ws.request, context: context, camera: c,
                        detail: "\(seconds) s, \(sent) frames, skipped to a key frame \(skips) times"
                            + (fellBack.map { "; on the main stream in the sub-stream's place: \($0)" } ?? "")
                            + (withdrawn.map { "; ended by the server: \($0)" } ?? "")))
            })
    }
}

extension LiveRoutes {
    /// How long a viewer moved to the main stream waits before the sub-stream is asked for
    /// again (the sub-streams' cool-off after a failure).
    static let subStreamRetry: Duration = .seconds(60)

    /// The text message that says the main stream comes instead of the sub-stream, and why.
    static func streamMessage(reason: String) -> String {
        let object = ["type": "stream", "stream": "main", "reason": reason]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

/// The viewer a live stream reads now: the sub-stream's, until that ends and the main
/// stream's takes over. Shared by the stream's tasks (the frame loop switches it, the
/// ending closes it).
final class ViewerSlot: Sendable {
    private let state: Mutex<(viewer: LiveViewer, sub: Bool, earlierSkips: Int, fellBack: String?)>

    init(_ viewer: LiveViewer, sub: Bool, fellBack: String? = nil) {
        state = Mutex((viewer, sub, 0, fellBack))
    }

    var current: (viewer: LiveViewer, sub: Bool) { state.withLock { ($0.viewer, $0.sub) } }

    /// Times the stream was skipped to a key frame, on both streams.
    var skips: Int { state.withLock { $0.earlierSkips + $0.viewer.skips } }

    /// Why the main stream was last shown in the sub-stream's place, if it ever was.
    var fellBack: String? { state.withLock { $0.fellBack } }

    /// Reads `viewer` from now on (a new pull of the sub-stream, or the main stream
    /// `because` the sub-stream is not to be had); the one before is let go.
    func switchTo(_ viewer: LiveViewer, sub: Bool, _ env: ServerEnvironment, camera: Int64, because: String? = nil) async {
        await release(env, camera: camera)
        state.withLock { $0 = (viewer, sub, $0.earlierSkips + $0.viewer.skips, because ?? $0.fellBack) }
    }

    func release(_ env: ServerEnvironment, camera: Int64) async {
        let now = current
        if now.sub {
            await env.fleet.subStreams.unsubscribe(camera: camera, now.viewer)
        } else {
            env.live.unsubscribe(camera: camera, now.viewer)
        }
    }
}

/// Web origins as browsers send them in `Origin`.
public enum WebOrigin {
    /// `scheme://host[:port]` in lower case, the scheme's default port left out (RFC 6454 §4).
    public static func normalised(_ text: String) -> String? {
        let lower = text.lowercased()
        let scheme: String, defaultPort: String
        if lower.hasPrefix("http://") {
            (scheme, defaultPort) = ("http", "80")
        } else if lower.hasPrefix("https://") {
            (scheme, defaultPort) = ("https", "443")
        } else {
            return nil
        }
        var authority = String(lower.dropFirst(scheme.count + 3))
        guard !authority.isEmpty, !authority.contains("/"), !authority.contains("@") else { return nil }
        if authority.hasSuffix(":" + defaultPort) { authority.removeLast(defaultPort.count + 1) }
        return "\(scheme)://\(authority)"
    }
}

/// The live streams' re-checks of their credentials, shared by the streams of one
/// credential for a fraction of the interval. Watching counts as using the console: the
/// session's idle clock is reset, but at most once a minute.
public final class LiveRechecks: Sendable {
    private let recent = Mutex<[String: (at: ContinuousClock.Instant, principal: Principal?)]>([:])

    public init() {}

    func principal(for credential: Credential, accounts: Accounts, within fresh: Duration) async throws -> Principal? {
        let key: String =
            switch credential {
            case let .session(token): "s:" + token
            case let .apiToken(token): "t:" + token
            }
        let now = ContinuousClock.now
        if let hit = recent.withLock({ $0[key] }), now - hit.at < fresh { return hit.principal }
        let principal = try await accounts.authenticate(credential, touchAfterSeconds: 60)?.principal
        recent.withLock { table in
            table = table.filter { now - $0.value.at < .seconds(10) }
            table[key] = (now, principal)
        }
        return principal
    }
}
