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
        public var until: Date
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

    /// Position, who holds control, and the presets.
    public func view(camera id: Int64, for user: Principal) async throws -> PTZView {
        let (camera, device, profile) = try await session(id)
        let status = try await device.status(profile: profile)
        let presets = try await device.presets(profile: profile)
        let lease = await arbiter.lease(of: camera.id)
        return PTZView(
            camera: camera.id, pan: status.position?.pan, tilt: status.position?.tilt, zoom: status.position?.zoom,
            moving: status.panTiltMoving == "MOVING" || status.zoomMoving == "MOVING",
            control: lease.map { .init(shown: $0.holder.shown, until: $0.until, yours: $0.holder.identity == .user(user.userID)) },
            presets: presets.map { .init(name: $0.name, token: $0.token) }, tour: tours.state(camera: camera.id))
    }

    /// Moves at `velocity` (each axis −1…1) until `stop` or `moveTimeoutSeconds`.
    @discardableResult
    public func move(camera id: Int64, pan: Double, tilt: Double, zoom: Double, by user: Principal) async throws -> ControlLease {
        for axis in [pan, tilt, zoom] where !(axis.isFinite && (-1...1).contains(axis)) {
            throw VigilError(.invalid, "pan, tilt and zoom velocities must each be between -1 and 1")
        }
        let velocity = PTZVelocity(pan: pan, tilt: tilt, zoom: zoom)
        let (camera, device, profile) = try await session(id)
        let lease = try await arbiter.acquire(camera: camera.id, for: controller(user))
        try await device.continuousMove(profile: profile, velocity: velocity, timeoutSeconds: Self.moveTimeoutSeconds)
        try await remember(camera, user, "move", pan: velocity.pan, tilt: velocity.tilt, zoom: velocity.zoom)
        return lease
    }

    @discardableResult
    public func stop(camera id: Int64, by user: Principal) async throws -> ControlLease {
        let (camera, device, profile) = try await session(id)
        let lease = try await arbiter.acquire(camera: camera.id, for: controller(user))
        try await device.stop(profile: profile)
        try await remember(camera, user, "stop")
        return lease
    }

    /// Saves where the camera points as preset `name` (replacing one of that name).
    @discardableResult
    public func savePreset(camera id: Int64, name: String, by user: Principal) async throws -> String {
        try TextField.check(name, "a preset's name", maximum: 64)
        let (camera, device, profile) = try await session(id)
        _ = try await arbiter.acquire(camera: camera.id, for: controller(user))
        let existing = try await device.presets(profile: profile).first { $0.name == name }
        let token = try await device.setPreset(profile: profile, name: name, token: existing?.token)
        let position = try? await device.status(profile: profile).position
        try await remember(camera, user, "save-preset", pan: position?.pan, tilt: position?.tilt, zoom: position?.zoom, preset: name)
        return token
    }

    public func gotoPreset(camera id: Int64, name: String, by user: Principal) async throws {
        let (camera, device, profile) = try await session(id)
        let preset = try await preset(named: name, on: device, profile: profile)
        _ = try await arbiter.acquire(camera: camera.id, for: controller(user))
        try await device.gotoPreset(profile: profile, preset: preset.token)
        try await remember(camera, user, "goto-preset", preset: name)
    }

    public func removePreset(camera id: Int64, name: String, by user: Principal) async throws {
        let (camera, device, profile) = try await session(id)
        let preset = try await preset(named: name, on: device, profile: profile)
        _ = try await arbiter.acquire(camera: camera.id, for: controller(user))
        try await device.removePreset(profile: profile, preset: preset.token)
        try await remember(camera, user, "remove-preset", preset: name)
    }

    /// A tour's step: to `preset` at the tour's priority (refused, `conflict`, while anyone
    /// else holds the camera). Kept in the history as the tour's.
    public func tourStep(camera id: Int64, tour: Int64, preset name: String) async throws {
        let (camera, device, profile) = try await session(id)
        _ = try await arbiter.acquire(camera: camera.id, for: .tour(id: tour))
        let preset = try await preset(named: name, on: device, profile: profile)
        try await device.gotoPreset(profile: profile, preset: preset.token)
        try await catalog.appendPTZHistory(
            PTZHistoryRecord(cameraID: camera.id, atMicros: wallMicros(), userID: nil, tourID: tour, command: "goto-preset", preset: name))
    }

    /// Gives the camera back (nothing happens when `user` does not hold it).
    public func release(camera id: Int64, by user: Principal) async -> Bool {
        await arbiter.release(camera: id, by: .user(user.userID))
    }

    /// The confidential history of camera `id`'s commands in a range (supervisors only:
    /// the route checks `ptz-history`).
    public func history(camera id: Int64, fromMicros: Int64, toMicros: Int64, limit: Int = 10_000) async throws -> [PTZHistoryRecord] {
        try await catalog.ptzHistory(camera: id, fromMicros: fromMicros, toMicros: toMicros, limit: limit)
    }

    // MARK: Helpers

    func controller(_ user: Principal) -> Controller {
        Controller(identity: .user(user.userID), name: user.name, priority: ControlPriority(role: user.role) ?? .operator)
    }

    func preset(named name: String, on device: OnvifDevice, profile: String) async throws -> PTZPreset {
        guard let preset = try await device.presets(profile: profile).first(where: { $0.name == name }) else {
            throw VigilError(.notFound, "this camera has no preset named \(Soap.clip(name, 64))")
        }
        return preset
    }

    func remember(
        _ camera: CameraRecord, _ user: Principal, _ command: String, pan: Double? = nil, tilt: Double? = nil, zoom: Double? = nil,
        preset: String? = nil
    ) async throws {
        try await catalog.appendPTZHistory(
            PTZHistoryRecord(
                cameraID: camera.id, atMicros: wallMicros(), userID: user.userID, command: command, pan: pan, tilt: tilt, zoom: zoom,
                preset: preset))
    }

    /// The camera, its ONVIF session and its PTZ profile; `notFound` for no such camera,
    /// `invalid` for one without PTZ.
    func session(_ id: Int64) async throws -> (CameraRecord, OnvifDevice, String) {
        guard let camera = try await cameras.camera(id: id) else { throw VigilError(.notFound, "no such camera") }
        guard let url = camera.onvifURL, let profile = camera.ptzProfile else {
            throw VigilError(.invalid, "camera \(camera.name) has no PTZ (it was not added over ONVIF with a PTZ profile)")
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
