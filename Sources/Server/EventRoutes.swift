import Access
import Base
import Centre
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Records

/// The console's lists refresh themselves from a push: a WebSocket per signed-in page
/// (`/api/events`) over which the server sends the cameras' statuses when what a person
/// reads of them changes (recording or not, why not and since when, the frame rate to the
/// frame, the bitrate to 0.1 Mbit/s, a camera's name, place or area), checked every
/// `interval`, as `{"type":"cameras","cameras":[{id, name, location, area, enabled,
/// status}]}`: not each new frame's time. The page asks for the full list again only when
/// cameras were added, removed, renamed or switched on or off. Statuses are no imagery:
/// any signed-in user sees them, as `GET /api/cameras` shows them. The stream ends when its
/// session does (closed with "the session ended"); a check that fails skips a round.
/// For the operator team it also says `{"type":"picture","incident":…,"made":…,"text":…}` when
/// a picture one of their reports asked for is made or cannot be (`PictureQueue`).
/// For the operator team it also says `{"type":"notifications"}` when their notifications
/// change (one written, delivered, acknowledged, escalated), and at once when it opens: the
/// page reads `GET /api/notifications` then.
struct EventRoutes {
    let env: ServerEnvironment
    static let path = "/api/events"
    /// How often the statuses are compared with what was last sent.
    static let interval: Duration = .seconds(2)
    /// Seconds after which a check would touch the session: never, in effect (68 years).
    static let neverTouch = Int64(Int32.max)

    struct CameraState: Encodable {
        var id: Int64
        var name: String
        var location: String
        var area: String
        var enabled: Bool
        /// When the camera was removed; absent for one in use.
        var removed: String?
        var status: CameraStatus
        /// Whether it has a sub-stream for small tiles, and its main picture's width as last
        /// received (a tile narrower than it asks for the sub-stream).
        var subStream: Bool
        var width: Int?
        var subWidth: Int?

        /// What a person reads of the state; a new frame's time alone is no news.
        var shown: String {
            let s = status
            return [
                "\(id)", name, location, area, "\(enabled)", removed ?? "", "\(subStream)", "\(width ?? 0)", "\(subWidth ?? 0)",
                "\(s.recording)", "\(s.connected)",
                s.lastError ?? "",
                "\(s.downSinceMicros ?? 0)", "\(Int(s.framesPerSecond.rounded()))", "\(Int((s.bitsPerSecond / 100_000).rounded()))"
            ].joined(separator: "\u{1F}")
        }
    }

    struct Message: Encodable {
        var type = "cameras"
        var cameras: [CameraState]
    }

    /// The plain-HTTP side: a signed-in request that is not a WebSocket handshake gets 426.
    func register(_ t: inout RouteTable) {
        t.add(.get, Self.path, nil) { _, _, _ in
            throw APIError(status: .upgradeRequired, message: "open this URL as a WebSocket", headers: [.upgrade: "websocket"])
        }
    }

    func registerWebSocket(_ router: Router<VigilContext>) {
        let env = self.env
        router.ws(
            RouterPath(Self.path),
            shouldUpgrade: { request, context in
                // Signed in (AuthMiddleware), and, for a cookie session, from the console's own page.
                _ = try context.principal()
                guard LiveRoutes.sameOrigin(request, context, secure: env.secureCookies, published: env.publicOrigins) else {
                    throw APIError(status: .forbidden, message: "cross-origin WebSocket refused: the console's own page must open it")
                }
                return .upgrade([:])
            },
            onUpgrade: { inbound, outbound, ws in
                let credential = AuthMiddleware.credential(of: ws.request)
                await withTaskGroup(of: Void.self) { group in
                    group.addTask {
                        // Reading keeps the connection's control frames flowing and sees the close.
                        do { for try await _ in inbound {} } catch {}
                    }
                    group.addTask {
                        var sent: [String]?
                        var notified: String?
                        var pictures: Int?
                        while !Task.isCancelled {
                            // An open page is not a user at work: the check never counts as
                            // activity, so an unattended console's session still times out
                            // (and the push ends with it). A check that fails (a busy
                            // database) is no verdict: the round is skipped.
                            guard let credential else { return }
                            var checked = false
                            var principal: Principal?
                            do {
                                guard let who = try await env.accounts.authenticate(credential, touchAfterSeconds: Self.neverTouch) else {
                                    try? await outbound.close(.policyViolation, reason: "the session ended")
                                    return
                                }
                                checked = true
                                principal = who.principal
                            } catch {}
                            // The team's notifications: the page is told to read them again when they change.
                            if let principal, principal.may(.incidents),
                                let digest = try? await DispatchRoutes(env: env).digest(for: principal), digest != notified
                            {
                                do { try await outbound.write(.text(#"{"type":"notifications"}"#)) } catch { return }
                                notified = digest
                            }
                            // What became of the pictures this user's reports asked for (made after the answer).
                            if let principal, principal.may(.incidents) {
                                let (latest, outcomes) = await env.pictures.outcomes(for: principal.userID, after: pictures)
                                for outcome in outcomes {
                                    guard let data = try? JSONEncoder().encode(outcome) else { continue }
                                    do { try await outbound.write(.text(String(decoding: data, as: UTF8.self))) } catch { return }
                                }
                                pictures = latest
                            }
                            if checked, let cameras = try? await env.cameras.all() {
                                let states = cameras.map {
                                    CameraState(
                                        id: $0.id, name: $0.name, location: $0.location, area: $0.area, enabled: $0.enabled,
                                        removed: $0.removedMicros.map { iso8601(micros: $0) }, status: env.fleet.status(camera: $0.id),
                                        subStream: $0.subStreamURL != nil, width: env.live.pictureSize(camera: $0.id)?.width,
                                        subWidth: $0.subStreamURL == nil ? nil : env.fleet.subStreams.width(camera: $0.id))
                                }
                                let shown = states.map(\.shown)
                                if shown != sent, let data = try? JSONEncoder().encode(Message(cameras: states)) {
                                    do { try await outbound.write(.text(String(decoding: data, as: UTF8.self))) } catch { return }
                                    sent = shown
                                }
                            }
                            do { try await Task.sleep(for: Self.interval) } catch { return }
                        }
                    }
                    await group.next()
                    group.cancelAll()
                }
            })
    }
}
