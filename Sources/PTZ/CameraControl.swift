// Steering the centre's cameras: each command checked, put to the arbiter (the caller must
// hold or win the camera's lease), sent to the camera over ONVIF, and kept in the
// confidential history. The routes that call this audit each command (who, camera, when,
// the kind of command; never where the camera points).

import Access
import Base
import Catalog
import Centre
import Foundation
import Onvif
import Records

/// What a camera's PTZ is now, as one user may see it. Positions and preset names are shown
/// only to someone who may steer the camera (the route checks `ptz` before it asks).
public struct PTZView: Sendable, Equatable, Encodable {
    public struct Holder: Sendable, Equatable, Encodable {
        /// "Anna Nowak (police duty officer)", or "the automatic tour".
        public var shown: String
        /// ISO 8601 UTC.
        public var until: String
        public var yours: Bool
    }

    public struct Preset: Sendable, Equatable, Encodable {
        public var name: String
        public var token: String
    }

    public var camera: Int64
    public var pan: Double?
    public var tilt: Double?
    public var zoom: Double?
    public var moving: Bool
    public var control: Holder?
    public var presets: [Preset]
    /// The camera's tour: running, paused (someone steers it), or none.
    public var tour: TourState?
}

public actor CameraControl {
    /// A continuous move's timeout at the camera: if the browser that sent it goes away,
    /// the dome stops by itself within this.
    public static let moveTimeoutSeconds = 2

    let cameras: CameraRegistry
    let keys: SiteKeys
    let catalog: Catalog
    let transport: any OnvifTransport
    public nonisolated let arbiter: ControlArbiter
    public nonisolated let tours: TourBoard
    let wallMicros: @Sendable () -> Int64
    /// One session per camera, kept while its address and account stay the same.
    var sessions: [Int64: (key: String, device: OnvifDevice)] = [:]
    /// Each camera's last queued command: the next one waits for it (`inLane`).
    var lanes: [Int64: Task<Void, Never>] = [:]

    public init(
        cameras: CameraRegistry, keys: SiteKeys, catalog: Catalog, transport: any OnvifTransport = HTTPOnvifTransport.shared,
        arbiter: ControlArbiter = ControlArbiter(), tours: TourBoard = TourBoard(),
        wallMicros: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000_000) }
    ) {
        self.cameras = cameras
        self.keys = keys
        self.catalog = catalog
        self.transport = transport
        self.arbiter = arbiter
        self.tours = tours
        self.wallMicros = wallMicros
    }

    /// Where the camera points now, as it says (nil axes where it does not say). Takes no
    /// control: an incident's report records it (confidential, like the history).
    public func position(camera id: Int64) async throws -> (pan: Double?, tilt: Double?, zoom: Double?) {
        let (_, device, profile) = try await session(id)
        let p = try await device.status(profile: profile).position
        return (p?.pan, p?.tilt, p?.zoom)
    }

    /// Position, who holds control, and the presets.
    public func view(camera id: Int64, for user: Principal) async throws -> PTZView {
        let (camera, device, profile) = try await session(id)
        let status = try await device.status(profile: profile)
        let presets = try await device.presets(profile: profile)
        let lease = await arbiter.lease(of: camera.id)
        return PTZView(
            camera: camera.id, pan: status.position?.pan, tilt: status.position?.tilt, zoom: status.position?.zoom,
            moving: status.panTiltMoving == "MOVING" || status.zoomMoving == "MOVING",
            control: lease.map {
                .init(
                    shown: $0.holder.shown, until: iso8601(micros: Int64($0.until.timeIntervalSince1970 * 1_000_000)),
                    yours: $0.holder.identity == .user(user.userID))
            },
            presets: presets.map { .init(name: $0.name, token: $0.token) }, tour: tours.state(camera: camera.id))
    }

    /// Moves at `velocity` (each axis −1…1) until `stop` or `moveTimeoutSeconds`.
    @discardableResult
    public func move(camera id: Int64, pan: Double, tilt: Double, zoom: Double, by user: Principal) async throws -> ControlLease {
        for axis in [pan, tilt, zoom] where !(axis.isFinite && (-1...1).contains(axis)) {
            throw VigilError(.invalid, "pan, tilt and zoom velocities must each be between -1 and 1")
        }
        let velocity = PTZVelocity(pan: pan, tilt: tilt, zoom: zoom)
        return try await command(id, try controller(user)) { camera, device, profile in
            try await device.continuousMove(profile: profile, velocity: velocity, timeoutSeconds: Self.moveTimeoutSeconds)
            try await self.remember(camera, user.userID, "move", pan: velocity.pan, tilt: velocity.tilt, zoom: velocity.zoom)
        }
    }

    @discardableResult
    public func stop(camera id: Int64, by user: Principal) async throws -> ControlLease {
        try await command(id, try controller(user)) { camera, device, profile in
            try await device.stop(profile: profile)
            try await self.remember(camera, user.userID, "stop")
        }
    }

    /// Saves where the camera points as preset `name` (replacing one of that name).
    public func savePreset(camera id: Int64, name: String, by user: Principal) async throws {
        try TextField.check(name, "a preset's name", maximum: 64)
        try await command(id, try controller(user)) { camera, device, profile in
            let existing = try await device.presets(profile: profile).first { $0.name == name }
            _ = try await device.setPreset(profile: profile, name: name, token: existing?.token)
            let position = try? await device.status(profile: profile).position
            try await self.remember(
                camera, user.userID, "save-preset", pan: position?.pan, tilt: position?.tilt, zoom: position?.zoom, preset: name)
        }
    }

    public func gotoPreset(camera id: Int64, name: String, by user: Principal) async throws {
        try await command(id, try controller(user)) { camera, device, profile in
            let preset = try await Self.preset(named: name, on: device, profile: profile)
            try await device.gotoPreset(profile: profile, preset: preset.token)
            try await self.remember(camera, user.userID, "goto-preset", preset: name)
        }
    }

    public func removePreset(camera id: Int64, name: String, by user: Principal) async throws {
        try await command(id, try controller(user)) { camera, device, profile in
            let preset = try await Self.preset(named: name, on: device, profile: profile)
            try await device.removePreset(profile: profile, preset: preset.token)
            try await self.remember(camera, user.userID, "remove-preset", preset: name)
        }
    }

    /// A tour's step: to `preset` at the tour's priority (refused, `conflict`, while anyone
    /// else holds the camera). Kept in the history as the tour's.
    public func tourStep(camera id: Int64, tour: Int64, preset name: String) async throws {
        try await command(id, .tour(id: tour)) { camera, device, profile in
            let preset = try await Self.preset(named: name, on: device, profile: profile)
            try await device.gotoPreset(profile: profile, preset: preset.token)
            try await self.catalog.appendPTZHistory(
                PTZHistoryRecord(
                    cameraID: camera.id, atMicros: self.wallMicros(), userID: nil, tourID: tour, command: "goto-preset", preset: name))
        }
    }

    /// Every command, in the camera's lane: one at a time in the order they came (the lane
    /// is joined before anything is awaited), the lease taken or renewed just before the
    /// command goes (refused, `conflict`, while someone else holds the camera), so a command
    /// queued behind a take-over is refused, never sent after the new holder's.
    @discardableResult
    func command(
        _ id: Int64, _ controller: Controller, _ send: @escaping @Sendable (CameraRecord, OnvifDevice, String) async throws -> Void
    ) async throws -> ControlLease {
        try await inLane(id) {
            let (camera, device, profile) = try await self.session(id)
            let lease = try await self.arbiter.acquire(camera: camera.id, for: controller)
            try await send(camera, device, profile)
            return lease
        }
    }

    /// How many commands each camera's lane holds, the one under way included.
    var queued: [Int64: Int] = [:]

    /// Runs `body` after every command already queued for `camera` has finished.
    func inLane<T: Sendable>(_ camera: Int64, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        queued[camera, default: 0] += 1
        defer { queued[camera] = (queued[camera] ?? 1) > 1 ? (queued[camera] ?? 1) - 1 : nil }
        let previous = lanes[camera]
        let task = Task {
            await previous?.value
            return try await body()
        }
        lanes[camera] = Task { _ = await task.result }
        return try await task.value
    }

    /// Gives the camera back (nothing happens when `user` does not hold it).
    public func release(camera id: Int64, by user: Principal) async -> Bool {
        await arbiter.release(camera: id, by: .user(user.userID))
    }

    /// Gives back every camera a user holds: at sign-out, or when the account is disabled.
    public func releaseAll(user id: Int64) async {
        await arbiter.releaseAll(by: .user(id))
    }

    /// The confidential history of camera `id`'s commands in a range (supervisors only:
    /// the route checks `ptz-history`).
    public func history(camera id: Int64, fromMicros: Int64, toMicros: Int64, limit: Int = 10_000) async throws -> [PTZHistoryRecord] {
        try await catalog.ptzHistory(camera: id, fromMicros: fromMicros, toMicros: toMicros, limit: limit)
    }

    // MARK: Helpers

    /// The user as a controller; a role the city does not let steer cameras (an
    /// investigator, the court, the administrator…) is refused even with a `ptz` grant.
    func controller(_ user: Principal) throws -> Controller {
        guard let controller = Controller.user(id: user.userID, name: user.name, role: user.role) else {
            throw VigilError(.forbidden, "the \(user.role.title) role does not steer cameras")
        }
        return controller
    }

    static func preset(named name: String, on device: OnvifDevice, profile: String) async throws -> PTZPreset {
        guard let preset = try await device.presets(profile: profile).first(where: { $0.name == name }) else {
            throw VigilError(.notFound, "this camera has no preset named \(Soap.clip(name, 64))")
        }
        return preset
    }

    /// Why a command failed, as the audit log may keep it: who holds the camera, or the
    /// kind of failure; never a preset's name, a position, or a device's own words (which
    /// may echo either).
    public static func auditReason(_ error: any Error) -> String {
        if let device = error as? OnvifDeviceError {
            let what: String =
                switch device.error {
                case let .fault(_, code, subcode, _): "refused (\(subcode ?? code))"
                case .unreachable: "no reply"
                case let .httpStatus(_, status): "HTTP \(status)"
                case .unreadable, .malformed: "a reply that is not ONVIF"
                case .unsupported: "not supported by the camera"
                case .badAddress: "an unusable ONVIF address"
                }
            return "camera \(device.service.rawValue) \(Self.action(of: device.error)): \(what)"
        }
        guard let coded = error as? any CodedError else { return "failed" }
        switch coded.code {
        case .conflict: return String(coded.description.utf8.prefix(200)) ?? "held by someone else"
        case .notFound: return "no such camera or preset"
        case .forbidden: return "not allowed"
        case .invalid: return "an invalid command"
        default: return "failed"
        }
    }

    static func action(of error: OnvifError) -> String {
        switch error {
        case let .unreadable(action, _), let .malformed(action, _), let .fault(action, _, _, _), let .unreachable(action, _),
            let .httpStatus(action, _), let .unsupported(action, _):
            action
        case .badAddress: "address"
        }
    }

    func remember(
        _ camera: CameraRecord, _ user: Int64, _ command: String, pan: Double? = nil, tilt: Double? = nil, zoom: Double? = nil,
        preset: String? = nil
    ) async throws {
        try await catalog.appendPTZHistory(
            PTZHistoryRecord(
                cameraID: camera.id, atMicros: wallMicros(), userID: user, command: command, pan: pan, tilt: tilt, zoom: zoom,
                preset: preset))
    }

    /// The camera, its ONVIF session and its PTZ profile; `notFound` for no such camera, and
    /// for one without PTZ (its PTZ is what does not exist).
    func session(_ id: Int64) async throws -> (CameraRecord, OnvifDevice, String) {
        guard let camera = try await cameras.camera(id: id) else {
            sessions[id] = nil
            throw VigilError(.notFound, "no such camera")
        }
        guard camera.removedMicros == nil else {
            sessions[id] = nil
            throw VigilError(.notFound, "camera \(camera.name) was removed: it is no longer steered")
        }
        guard let url = camera.onvifURL, let profile = camera.ptzProfile else {
            sessions[id] = nil
            throw VigilError(.notFound, "camera \(camera.name) has no PTZ (it was not added over ONVIF with a PTZ profile)")
        }
        let key = "\(url)\n\(camera.username ?? "")\n\(camera.sealedPassword.map { Data($0).base64EncodedString() } ?? "")"
        if let known = sessions[id], known.key == key { return (camera, known.device, profile) }
        let password = try camera.sealedPassword.map { try keys.unseal($0) }
        let (endpoint, _) = try OnvifEndpoint.parse(url)
        let account = camera.username.map { UsernameToken(username: $0, password: password ?? "") }
        let device = OnvifDevice(endpoint: endpoint, account: account, transport: transport)
        sessions[id] = (key, device)
        return (camera, device, profile)
    }
}
