import Access
import Base
import Centre
import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOWebSocket
import PTZ
import Records
import Synchronization

/// PTZ control: a camera's position, control and presets; moves, stop, presets; the
/// confidential history of commands (supervisors). Each command is audited (who, camera,
/// when, the kind of command; never where the camera points or a preset's name) and kept in
/// the history; `ptz` is checked on the camera itself.
struct PtzRoutes {
    let env: ServerEnvironment

    struct Velocity: Decodable {
        var pan: Double?
        var tilt: Double?
        var zoom: Double?
    }

    struct ControlReply: Encodable {
        var holder: String
        /// ISO 8601 UTC.
        var until: String

        init(holder: String, until: Date) {
            self.holder = holder
            self.until = iso8601(micros: Int64(until.timeIntervalSince1970 * 1_000_000))
        }
    }

    struct HistoryEntry: Encodable {
        var time: String
        var user: Int64?
        var tour: Int64?
        var command: String
        var pan: Double?
        var tilt: Double?
        var zoom: Double?
        var preset: String?
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/cameras/{id}/ptz", .ptz) { request, context, principal in
            let c = try await permitted(request, context, principal, audit: nil)
            return try json(try await mapErrors { try await env.ptz.view(camera: c.id, for: principal) })
        }
        t.add(.post, "/api/cameras/{id}/ptz/move", .ptz) { request, context, principal in
            let c = try await permitted(request, context, principal, audit: .ptzMove)
            let input = try await request.decode(as: Velocity.self, context: context)
            let lease = try await audited(.ptzMove, c, request, context, principal) {
                try await env.ptz.move(camera: c.id, pan: input.pan ?? 0, tilt: input.tilt ?? 0, zoom: input.zoom ?? 0, by: principal)
            }
            return try json(ControlReply(holder: lease.holder.shown, until: lease.until))
        }
        t.add(.post, "/api/cameras/{id}/ptz/stop", .ptz) { request, context, principal in
            let c = try await permitted(request, context, principal, audit: .ptzStop)
            let lease = try await audited(.ptzStop, c, request, context, principal) { try await env.ptz.stop(camera: c.id, by: principal) }
            return try json(ControlReply(holder: lease.holder.shown, until: lease.until))
        }
        t.add(.post, "/api/cameras/{id}/ptz/release", .ptz) { request, context, principal in
            let c = try await permitted(request, context, principal, audit: .ptzRelease)
            let released = await env.ptz.release(camera: c.id, by: principal)
            try await env.audit.append(
                AuditEntry(
                    .ptzRelease, .ok, principal: principal, request: request, context: context, camera: c,
                    detail: released ? nil : "not held by this user"))
            return Response(status: .noContent)
        }
        t.add(.put, "/api/cameras/{id}/ptz/presets/{name}", .ptz) { request, context, principal in
            let c = try await permitted(request, context, principal, audit: .ptzPresetSave)
            let name = try presetName(context)
            _ = try await audited(.ptzPresetSave, c, request, context, principal) {
                try await env.ptz.savePreset(camera: c.id, name: name, by: principal)
            }
            return Response(status: .noContent)
        }
        t.add(.post, "/api/cameras/{id}/ptz/presets/{name}/goto", .ptz) { request, context, principal in
            let c = try await permitted(request, context, principal, audit: .ptzPresetGoto)
            let name = try presetName(context)
            try await audited(.ptzPresetGoto, c, request, context, principal) {
                try await env.ptz.gotoPreset(camera: c.id, name: name, by: principal)
            }
            return Response(status: .noContent)
        }
        t.add(.delete, "/api/cameras/{id}/ptz/presets/{name}", .ptz) { request, context, principal in
            let c = try await permitted(request, context, principal, audit: .ptzPresetRemove)
            let name = try presetName(context)
            try await audited(.ptzPresetRemove, c, request, context, principal) {
                try await env.ptz.removePreset(camera: c.id, name: name, by: principal)
            }
            return Response(status: .noContent)
        }
        t.add(.get, Self.channelPath, .ptz) { request, context, principal in
            let c = try await admitChannel(request, context)
            try await env.audit.append(
                AuditEntry(
                    .ptzChannel, .failed, principal: principal, request: request, context: context, camera: c,
                    detail: "not a WebSocket handshake"))
            throw APIError(status: .upgradeRequired, message: "open this URL as a WebSocket", headers: [.upgrade: "websocket"])
        }
        t.add(.get, "/api/cameras/{id}/ptz/history", .ptzHistory, onDenied: deniedHistory) { request, context, principal in
            let c = try await camera(env, context)
            let (from, to) = try PlaybackRoutes(env: env).range(request)
            let rows = try await mapErrors { try await env.ptz.history(camera: c.id, fromMicros: from, toMicros: to) }
            try await env.audit.append(
                AuditEntry(
                    .ptzHistoryView, .ok, principal: principal, request: request, context: context, camera: c,
                    detail: "\(rows.count) commands"))
            return try json(
                rows.map {
                    HistoryEntry(
                        time: iso8601(micros: $0.atMicros), user: $0.userID, tour: $0.tourID, command: $0.command, pan: $0.pan,
                        tilt: $0.tilt,
                        zoom: $0.zoom, preset: $0.preset)
                })
        }
    }

    /// A refused reading of the confidential history is audited.
    var deniedHistory: @Sendable (Request, VigilContext, Principal) async throws -> Void {
        let env = self.env
        return { request, context, principal in
            let c = try? await camera(env, context)
            try await env.audit.append(
                AuditEntry(
                    .ptzHistoryView, .denied, principal: principal, request: request, context: context, camera: c,
                    detail: "role lacks ptz-history"))
        }
    }

    /// The route's camera, when `principal` holds `ptz` on it; a refusal of a command is
    /// audited (`audit`).
    func permitted(_ request: Request, _ context: VigilContext, _ principal: Principal, audit: AuditAction?) async throws -> CameraRecord {
        let c = try await camera(env, context)
        guard principal.may(.ptz, camera: c.id) else {
            if let audit {
                try await env.audit.append(
                    AuditEntry(
                        audit, .denied, principal: principal, request: request, context: context, camera: c,
                        detail: "no ptz grant on this camera"))
            }
            throw APIError(status: .forbidden, message: "no ptz permission on camera \(c.name)")
        }
        guard c.removedMicros == nil else {
            if let audit {
                try await env.audit.append(
                    AuditEntry(
                        audit, .denied, principal: principal, request: request, context: context, camera: c,
                        detail: "the camera was removed"))
            }
            throw APIError(status: .notFound, message: "camera \(c.name) was removed: it is no longer steered")
        }
        return c
    }

    /// Runs a command and audits it: ok, denied (someone else holds the camera), or failed
    /// (the camera refused or did not answer, with its reason).
    @discardableResult
    func audited<T: Sendable>(
        _ action: AuditAction, _ c: CameraRecord, _ request: Request, _ context: VigilContext, _ principal: Principal,
        _ command: @Sendable () async throws -> T
    ) async throws -> T {
        do {
            let result = try await command()
            try await env.audit.append(AuditEntry(action, .ok, principal: principal, request: request, context: context, camera: c))
            return result
        } catch let error as any CodedError {
            let result: AuditResult = error.code == .conflict ? .denied : .failed
            try await env.audit.append(
                AuditEntry(action, result, principal: principal, request: request, context: context, camera: c, detail: Self.reason(error)))
            if error.code == .failure { env.logger.error("PTZ \(action.rawValue) on camera \(c.id): \(error.description)") }
            throw APIError.from(error)
        }
    }

    /// An error as the audit log keeps it (`CameraControl.auditReason`: who holds the
    /// camera, or the kind of failure; never a preset's name or the device's words).
    static func reason(_ error: any Error) -> String { CameraControl.auditReason(error) }

    // MARK: The control channel

    static let channelPath = "/api/cameras/{id}/ptz/ws"

    /// What the browser sends: a velocity (all zero stops), or `{"type":"release"}`.
    struct ChannelCommand: Decodable {
        var type: String?
        var pan: Double?
        var tilt: Double?
        var zoom: Double?
    }

    /// Whether the request may open the camera's control channel: signed in, `ptz` on this
    /// camera, from the console's own origin (as the live view's handshake). Each refusal
    /// but a missing sign-in is audited.
    func admitChannel(_ request: Request, _ context: VigilContext) async throws -> CameraRecord {
        let principal = try context.principal()
        let c = try await permitted(request, context, principal, audit: .ptzChannel)
        guard LiveRoutes.sameOrigin(request, context, secure: env.secureCookies, published: env.publicOrigins) else {
            let origin = String((request.headers[.origin] ?? "none").prefix(100))
            try await env.audit.append(
                AuditEntry(
                    .ptzChannel, .denied, principal: principal, request: request, context: context, camera: c,
                    detail: "cross-origin WebSocket refused (Origin \(origin))"))
            throw APIError(
                status: .forbidden, message: "cross-origin WebSocket refused: the console's own page must open it (Origin \(origin))")
        }
        return c
    }

    /// A joystick's channel: velocities in, each answered with who holds control and until
    /// when (or why not); someone taking the camera over is told at once. Moves go to the
    /// camera one at a time, and a velocity that arrives while one is being sent replaces
    /// any not yet sent, so a slow camera never has a queue of stale moves. Closing the
    /// channel stops a moving camera.
    func registerWebSocket(_ router: Router<VigilContext>) {
        let env = self.env
        router.ws(
            RouterPath(Self.channelPath),
            shouldUpgrade: { request, context in
                _ = try await admitChannel(request, context)
                return .upgrade([:])
            },
            onUpgrade: { inbound, outbound, ws in
                let context = ws.requestContext
                guard let principal = context.authenticated?.principal, let id = context.parameters.get("id", as: Int64.self),
                    let c = try await env.cameras.camera(id: id)
                else { return }
                func entry(_ action: AuditAction, _ result: AuditResult, _ detail: String? = nil) -> AuditEntry {
                    AuditEntry(action, result, principal: principal, request: ws.request, context: context, camera: c, detail: detail)
                }
                try await env.audit.append(entry(.ptzChannel, .ok, "opened"))
                let (commands, mailbox) = AsyncStream.makeStream(of: ChannelCommand.self, bufferingPolicy: .bufferingNewest(1))
                let events = await env.ptz.arbiter.events()
                let withdrawn = Flag()
                let moves = await withTaskGroup(of: Int.self) { group in
                    group.addTask {
                        // Reading: each message replaces what is waiting to be sent.
                        do {
                            for try await message in inbound.messages(maxSize: 4096) {
                                guard case let .text(text) = message,
                                    let command = try? JSONDecoder().decode(ChannelCommand.self, from: Data(text.utf8))
                                else {
                                    try? await outbound.write(
                                        .text(
                                            #"{"type":"error","message":"expected {\"pan\",\"tilt\",\"zoom\"} or {\"type\":\"release\"}"}"#)
                                    )
                                    continue
                                }
                                mailbox.yield(command)
                            }
                        } catch {}
                        mailbox.finish()
                        return -1
                    }
                    group.addTask {
                        // Sending: one command at a time, the newest. A refusal is audited
                        // once until a command goes through again (a refused joystick sends
                        // many); nothing more is sent once the channel's user may not steer.
                        var moving = false, sent = 0, refused = false
                        for await command in commands {
                            if withdrawn.isSet { break }
                            if command.type == "release" {
                                if moving { _ = try? await env.ptz.stop(camera: c.id, by: principal) }
                                moving = false
                                let released = await env.ptz.release(camera: c.id, by: principal)
                                _ = try? await env.audit.append(
                                    entry(.ptzRelease, .ok, "control channel" + (released ? "" : "; not held by this user")))
                                try? await outbound.write(.text(#"{"type":"released"}"#))
                                continue
                            }
                            let (pan, tilt, zoom) = (command.pan ?? 0, command.tilt ?? 0, command.zoom ?? 0)
                            let stop = pan == 0 && tilt == 0 && zoom == 0
                            do {
                                let lease =
                                    stop
                                    ? try await env.ptz.stop(camera: c.id, by: principal)
                                    : try await env.ptz.move(camera: c.id, pan: pan, tilt: tilt, zoom: zoom, by: principal)
                                sent += 1
                                refused = false
                                // A gesture (a move after a stop, and its stop) is one audit entry each way.
                                if stop == moving {
                                    _ = try? await env.audit.append(entry(stop ? .ptzStop : .ptzMove, .ok, "control channel"))
                                }
                                moving = !stop
                                try await outbound.write(.text(Self.controlMessage(lease)))
                            } catch let error as any CodedError {
                                if !refused {
                                    _ = try? await env.audit.append(
                                        entry(stop ? .ptzStop : .ptzMove, error.code == .conflict ? .denied : .failed, Self.reason(error)))
                                }
                                refused = true
                                if error.code == .conflict || error.code == .forbidden { moving = false }
                                let text = error.code == .failure ? "internal error; the server's log has the details" : error.description
                                try? await outbound.write(.text(Self.errorMessage(text)))
                            } catch {
                                break
                            }
                        }
                        // A camera the channel leaves moving is stopped, and given back.
                        if moving { _ = try? await env.ptz.stop(camera: c.id, by: principal) }
                        _ = await env.ptz.release(camera: c.id, by: principal)
                        return sent
                    }
                    group.addTask {
                        // Told at once when someone takes the camera over.
                        for await event in events {
                            guard case let .taken(camera, holder, from) = event, camera == c.id, from?.identity == .user(principal.userID),
                                holder.identity != .user(principal.userID)
                            else { continue }
                            try? await outbound.write(.text(Self.errorMessage("\(holder.shown) took over this camera")))
                        }
                        return -1
                    }
                    group.addTask {
                        // The channel lives only while its user may steer this camera.
                        let credential = AuthMiddleware.credential(of: ws.request)
                        while true {
                            do { try await Task.sleep(for: env.liveRecheck) } catch { return -1 }
                            var allowed = false
                            if let credential,
                                let user = try? await env.liveRechecks.principal(
                                    for: credential, accounts: env.accounts, within: env.liveRecheck / 2)
                            {
                                // A changed role ends the channel too: its commands carry the
                                // priority of the role it was opened with.
                                allowed = user.may(.ptz, camera: c.id) && user.role == principal.role
                            }
                            if !allowed {
                                withdrawn.set()
                                try? await outbound.close(
                                    .policyViolation, reason: "the session ended, the ptz permission was withdrawn or the role changed")
                                mailbox.finish()
                                return -1
                            }
                        }
                    }
                    var sent = 0
                    for await result in group {
                        if result >= 0 {
                            sent = result
                            group.cancelAll()
                        } else {
                            mailbox.finish()
                        }
                    }
                    return sent
                }
                _ = try? await env.audit.append(entry(.ptzChannel, .ok, "closed after \(moves) commands"))
            })
    }

    static func controlMessage(_ lease: ControlLease) -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        struct Message: Encodable {
            var type = "control"
            var holder: String
            var until: Date
        }
        let data = (try? encoder.encode(Message(holder: lease.holder.shown, until: lease.until))) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func errorMessage(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(["type": "error", "message": text])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    func presetName(_ context: VigilContext) throws -> String {
        guard let name = context.parameters.get("name")?.removingPercentEncoding else {
            throw APIError(status: .badRequest, message: "a preset name is required")
        }
        do { try TextField.check(name, "a preset's name", maximum: 64) } catch let error as VigilError {
            throw APIError(status: .badRequest, message: error.message)
        }
        return name
    }
}

/// A flag set once, read from any task.
final class Flag: Sendable {
    private let value = Mutex(false)
    var isSet: Bool { value.withLock { $0 } }
    func set() { value.withLock { $0 = true } }
}
