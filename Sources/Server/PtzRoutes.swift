import Access
import Base
import Centre
import Foundation
import Hummingbird
import Logging
import PTZ
import Records

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
        var until: Date
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
        t.add(.get, "/api/cameras/{id}/ptz/history", .ptzHistory) { request, context, principal in
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

    /// An error as the audit log keeps it: its message, which names the holder or the
    /// camera's refusal, never a position (none of these errors carries one).
    static func reason(_ error: any CodedError) -> String {
        String(decoding: error.description.utf8.prefix(300), as: UTF8.self)
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
