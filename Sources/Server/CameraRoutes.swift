import Access
import Base
import Centre
import Foundation
import Hummingbird
import PTZ
import Records

/// The camera registry: list, add, edit, disable, remove. Credentials are stored sealed and never
/// returned; the RTSP URL is shown only to those who manage cameras.
struct CameraRoutes {
    let env: ServerEnvironment

    struct CameraView: Encodable {
        var id: Int64
        var name: String
        var location: String
        var area: String
        var latitude: Double?
        var longitude: Double?
        var url: String?
        var username: String?
        var hasPassword: Bool
        var retentionDays: Int
        var segmentSeconds: Int
        var enabled: Bool
        var status: CameraStatus
        var gapsToday: Int
        var mayLive: Bool
        var mayPlayback: Bool
        var mayRegisterEvidence: Bool
        /// The camera can be steered (added over ONVIF with a PTZ profile).
        var ptz: Bool
        var mayPTZ: Bool
        /// Its ONVIF address, to those who manage cameras.
        var onvifURL: String?
        /// When it was removed (then it is neither recorded, live nor steered), and until when
        /// its footage is kept (held footage longer); absent for a camera in use.
        var removed: String?
        var footageUntil: String?
        /// The camera has a second stream for viewing only, which small tiles show
        /// (`/live?stream=sub`); its address only to those who manage cameras.
        var subStream: Bool
        var subStreamURL: String?
        /// The main stream's picture size as last received (absent before its first key frame):
        /// a tile narrower than this shows the sub-stream, where there is one.
        var width: Int?
        var height: Int?
        /// The sub-stream's picture width as last received (absent before it was first watched).
        var subWidth: Int?
    }

    struct CameraInput: Decodable {
        var name: String?
        var url: String?
        /// Adding only: the camera's ONVIF device service, without credentials (they are
        /// `username` and `password`); its stream and PTZ are asked there.
        var onvif: String?
        var username: String?
        var password: String?
        var location: String?
        var area: String?
        var latitude: Double?
        var longitude: Double?
        var retentionDays: Int?
        var segmentSeconds: Int?
        var enabled: Bool?
        /// The camera's second RTSP stream, for viewing only (no credentials: the camera's
        /// account opens it); "" removes it.
        var subStream: String?

        /// Names of the fields given (never their values: a password stays out of the log).
        var changedFields: [String] {
            let given: [(String, Bool)] = [
                ("name", name != nil), ("url", url != nil), ("onvif", onvif != nil), ("username", username != nil),
                ("password", password != nil),
                ("location", location != nil), ("area", area != nil), ("latitude", latitude != nil), ("longitude", longitude != nil),
                ("retentionDays", retentionDays != nil), ("segmentSeconds", segmentSeconds != nil), ("enabled", enabled != nil),
                ("subStream", subStream != nil)
            ]
            return given.filter(\.1).map(\.0)
        }
    }

    struct DiscoverInput: Decodable {
        /// How long to listen for answers (0.5–5 s; 3 by default).
        var seconds: Double?
    }

    func view(_ c: CameraRecord, _ p: Principal) async throws -> CameraView {
        let manager = p.may(.manageCameras)
        let today = Date(timeIntervalSince1970: Double(env.clock.nowMicros()) / 1_000_000)
        let midnight = Int64(Calendar(identifier: .gregorian).startOfDay(for: today).timeIntervalSince1970 * 1_000_000)
        let gaps = try await env.footage.gaps(cameraID: c.id, from: midnight, to: Int64.max / 2).count
        // One read of the picture's size: its width and height from the same frame.
        let size = env.live.pictureSize(camera: c.id)
        return CameraView(
            id: c.id, name: c.name, location: c.location, area: c.area, latitude: c.latitude, longitude: c.longitude,
            url: manager ? c.url : nil, username: manager ? c.username : nil, hasPassword: c.sealedPassword != nil,
            retentionDays: c.retentionDays, segmentSeconds: c.segmentSeconds, enabled: c.enabled,
            status: env.fleet.status(camera: c.id), gapsToday: gaps,
            mayLive: c.removedMicros == nil && p.may(.live, camera: c.id), mayPlayback: p.may(.playback, camera: c.id),
            mayRegisterEvidence: p.may(.registerEvidence, camera: c.id), ptz: c.removedMicros == nil && c.ptzProfile != nil,
            mayPTZ: c.removedMicros == nil && p.may(.ptz, camera: c.id), onvifURL: manager ? c.onvifURL : nil,
            removed: c.removedMicros.map { iso8601(micros: $0) },
            footageUntil: c.removedMicros.map { iso8601(micros: $0 + Int64(c.retentionDays) * 86_400_000_000) },
            subStream: c.subStreamURL != nil, subStreamURL: manager ? c.subStreamURL : nil,
            width: size?.width, height: size?.height,
            subWidth: c.subStreamURL == nil ? nil : env.fleet.subStreams.width(camera: c.id))
    }

    func apply(_ input: CameraInput, to c: inout CameraRecord) throws {
        if let name = input.name { c.name = name }
        if let text = input.url { try CameraRules.setURL(text, on: &c, keys: env.keys) }
        if let user = input.username { c.username = user.isEmpty ? nil : user }
        if let password = input.password {
            guard password.unicodeScalars.count <= 128 else { throw VigilError(.invalid, "a camera's password is at most 128 characters") }
            c.sealedPassword = password.isEmpty ? nil : try env.keys.seal(password)
        }
        if let location = input.location { c.location = location }
        if let area = input.area { c.area = area }
        if input.latitude != nil { c.latitude = input.latitude }
        if input.longitude != nil { c.longitude = input.longitude }
        if let days = input.retentionDays { c.retentionDays = days }
        if let seconds = input.segmentSeconds { c.segmentSeconds = seconds }
        if let enabled = input.enabled { c.enabled = enabled }
        if let sub = input.subStream { try CameraRules.setSubStream(sub, on: &c) }
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/cameras", nil) { _, _, principal in
            var views: [CameraView] = []
            for c in try await env.cameras.all() { views.append(try await view(c, principal)) }
            return try json(views)
        }
        t.add(.get, "/api/cameras/{id}", nil) { _, context, principal in
            try json(try await view(try await camera(env, context), principal))
        }
        t.add(.post, "/api/cameras", .manageCameras) { request, context, principal in
            var input = try await request.decode(as: CameraInput.self, context: context)
            guard let name = input.name, (input.url == nil) != (input.onvif == nil) else {
                throw APIError(status: .badRequest, message: "a name, and the RTSP url or the ONVIF address (one of them), are required")
            }
            var record = CameraRecord(id: 0, name: name, url: input.url ?? "", retentionDays: env.newCameraDefaults.retentionDays)
            var detail: String?
            if let onvif = input.onvif {
                // Everything the request says is checked before the device is asked (with
                // the account): a request that would be refused sends nothing anywhere.
                guard (input.password ?? "").unicodeScalars.count <= 128 else {
                    throw APIError(status: .badRequest, message: "a camera's password is at most 128 characters")
                }
                guard input.password == nil || !(input.username ?? "").isEmpty else {
                    throw APIError(status: .badRequest, message: "a camera's password needs its user name")
                }
                var rest = input
                rest.onvif = nil
                rest.username = nil
                rest.password = nil
                var scratch = record
                scratch.url = "rtsp://192.0.2.1/"
                try await mapErrors {
                    try apply(rest, to: &scratch)
                    try CameraRules.validate(scratch)
                }
                // The device is asked before anything is written: one that does not answer
                // adds nothing. Its stream's URL and the sealed password come from there.
                let found = try await mapErrors {
                    try await CameraOnboarding.inspect(onvif, username: input.username, password: input.password)
                }
                record = try await mapErrors { try found.record(name: name, retentionDays: record.retentionDays, keys: env.keys) }
                detail = "over ONVIF: " + found.summary
                input = rest
            }
            record.segmentSeconds = env.newCameraDefaults.segmentSeconds
            // Added in one transaction with its entry, which names the new camera's id.
            let checkedInput = input, onboarded = detail
            let added = try await mapErrors { () async throws -> CameraRecord in
                // `apply` replaces the URL with its credential-free form and seals the password.
                try apply(checkedInput, to: &record)
                let checked = record
                return try await env.audit.append(
                    with: { try await env.cameras.register(checked) },
                    entry: {
                        AuditEntry(
                            .cameraAdd, .ok, principal: principal, request: request, context: context, camera: $0, detail: onboarded)
                    }
                ).1
            }
            await env.fleet.poke()
            return try json(try await view(added, principal), status: .created)
        }
        t.add(.post, "/api/cameras/discover", .manageCameras) { request, context, principal in
            let input = try await request.decode(as: DiscoverInput.self, context: context)
            let seconds = input.seconds ?? 3
            guard seconds.isFinite, (0.5...5).contains(seconds) else {
                throw APIError(status: .badRequest, message: "seconds: listen between 0.5 and 5 seconds")
            }
            let found = try await mapErrors {
                try await env.finder.find(seconds: seconds, known: try await env.cameras.all().filter { $0.removedMicros == nil })
            }
            try await env.audit.append(
                AuditEntry(
                    .cameraDiscover, .ok, principal: principal, request: request, context: context,
                    detail: "\(found.cameras.count) devices answered in \(seconds) s"))
            return try json(found)
        }
        t.add(.patch, "/api/cameras/{id}", .manageCameras) { request, context, principal in
            let current = try await camera(env, context)
            let input = try await request.decode(as: CameraInput.self, context: context)
            guard input.onvif == nil else {
                throw APIError(status: .badRequest, message: "a camera's ONVIF address is given when it is added")
            }
            let entry = AuditEntry(
                .cameraEdit, .ok, principal: principal, request: request, context: context, camera: current,
                detail: "changed: " + input.changedFields.joined(separator: ", ")
                    + (input.name.map { $0 == current.name ? "" : "; renamed to \($0)" } ?? ""))
            // The row is read again, changed and written in one transaction with its audit
            // entry: an edit that arrived meanwhile is built on, never overwritten by the row
            // as it was before this request's body came in.
            let record = try await mapErrors {
                try await env.audit.append(entry) {
                    try await env.cameras.update(id: current.id) { try apply(input, to: &$0) }
                }.1
            }
            await env.fleet.poke()
            return try json(try await view(record, principal))
        }
        t.add(.delete, "/api/cameras/{id}", .manageCameras) { request, context, principal in
            let current = try await camera(env, context)
            let now = env.clock.nowMicros()
            // Removed in one transaction with its entry; the recorder stops at the poke.
            let removed = try await mapErrors {
                try await env.audit.append(
                    AuditEntry(
                        .cameraRemove, .ok, principal: principal, request: request, context: context, camera: current,
                        detail: "footage kept to its retention of \(current.retentionDays) days")
                ) { try await env.cameras.remove(id: current.id, nowMicros: now) }.1
            }
            await env.fleet.poke()
            return try json(try await view(removed, principal))
        }
    }
}

/// The route's numeric path parameter `name`, or 400 saying that `what` is a number.
func pathID(_ context: VigilContext, _ name: String, _ what: String) throws -> Int64 {
    guard let id = context.parameters.get(name, as: Int64.self), id >= 0 else {
        throw APIError(status: .badRequest, message: "\(what) is a number")
    }
    return id
}

/// The camera named by the route's `{id}`, or 404.
func camera(_ env: ServerEnvironment, _ context: VigilContext) async throws -> CameraRecord {
    guard let id = context.parameters.get("id", as: Int64.self), let c = try await env.cameras.camera(id: id) else {
        throw APIError(status: .notFound, message: "no such camera")
    }
    return c
}
