// The session with one ONVIF device: its clock (a UsernameToken's creation time must be
// the device's), where its services answer, and each operation the issue lists as a typed
// call that names the device, service and action when it fails.

import Base
import Foundation

/// What went wrong, with the device and service it was about. The device is named by its
/// address without the account.
public struct OnvifDeviceError: CodedError, Equatable {
    public var device: String
    public var service: OnvifService
    public var error: OnvifError

    public var code: ErrorCode { error.code }
    public var description: String { "camera \(device), \(service.rawValue) service: \(error.description)" }
}

public enum OnvifService: String, Sendable, Equatable {
    case device, media, ptz

    var namespace: String {
        switch self {
        case .device: OnvifNamespace.device
        case .media: OnvifNamespace.media
        case .ptz: OnvifNamespace.ptz
        }
    }
}

public actor OnvifDevice {
    public nonisolated let endpoint: OnvifEndpoint
    let account: UsernameToken?
    let transport: any OnvifTransport
    /// Our clock, in microseconds since the Unix epoch.
    let now: @Sendable () -> Int64
    /// The device's clock minus ours, once asked.
    public private(set) var clockOffsetMicros: Int64?
    var addresses: ServiceAddresses?

    public init(
        endpoint: OnvifEndpoint, account: UsernameToken?, transport: any OnvifTransport,
        now: @escaping @Sendable () -> Int64 = { Int64((Date().timeIntervalSince1970 * 1_000_000).rounded()) }
    ) {
        self.endpoint = endpoint
        self.account = account
        self.transport = transport
        self.now = now
    }

    // MARK: Device

    public func information() async throws -> DeviceInformation {
        try await call(.device, "GetDeviceInformation", DeviceRequests.getDeviceInformation(), DeviceReplies.deviceInformation)
    }

    /// Where Media and PTZ answer: `GetCapabilities`, which every ONVIF device has, or
    /// `GetServices` when a device refuses that.
    public func services() async throws -> ServiceAddresses {
        if let addresses { return addresses }
        let found: ServiceAddresses
        do {
            found = try await call(.device, "GetCapabilities", DeviceRequests.getCapabilities(), DeviceReplies.capabilities)
        } catch let error as OnvifDeviceError {
            guard case .fault = error.error, !error.error.isNotAuthorized else { throw error }
            found = try await call(.device, "GetServices", DeviceRequests.getServices(), DeviceReplies.services)
        }
        addresses = found
        return found
    }

    /// Asks the device's time (no authentication needed) and keeps its offset from ours.
    public func synchroniseClock() async throws {
        let sent = now()
        let device = try await call(.device, DeviceTime.action, DeviceTime.request, authenticated: false, DeviceTime.parse)
        // The device's time is to the second; ours is taken halfway through the exchange.
        clockOffsetMicros = DeviceTime.offset(deviceMicros: device, localMicros: sent + (now() - sent) / 2)
    }

    // MARK: Media

    public func profiles() async throws -> [MediaProfile] {
        try await call(.media, "GetProfiles", MediaRequests.getProfiles(), MediaReplies.profiles)
    }

    public func streamURI(profile: String) async throws -> String {
        try await call(.media, "GetStreamUri", MediaRequests.getStreamUri(profile: profile), MediaReplies.streamURI)
    }

    public func snapshotURI(profile: String) async throws -> String {
        try await call(.media, "GetSnapshotUri", MediaRequests.getSnapshotUri(profile: profile), MediaReplies.snapshotURI)
    }

    // MARK: PTZ

    public func ptzConfigurations() async throws -> [PTZConfiguration] {
        try await call(.ptz, "GetConfigurations", PTZRequests.getConfigurations(), PTZReplies.configurations)
    }

    public func nodes() async throws -> [PTZNode] {
        try await call(.ptz, "GetNodes", PTZRequests.getNodes(), PTZReplies.nodes)
    }

    public func status(profile: String) async throws -> PTZStatus {
        try await call(.ptz, "GetStatus", PTZRequests.getStatus(profile: profile), PTZReplies.status)
    }

    public func presets(profile: String) async throws -> [PTZPreset] {
        try await call(.ptz, "GetPresets", PTZRequests.getPresets(profile: profile), PTZReplies.presets)
    }

    public func continuousMove(profile: String, velocity: PTZVelocity, timeoutSeconds: Int) async throws {
        try await acknowledged(
            "ContinuousMove", PTZRequests.continuousMove(profile: profile, velocity: velocity, timeoutSeconds: timeoutSeconds))
    }

    public func stop(profile: String) async throws {
        try await acknowledged("Stop", PTZRequests.stop(profile: profile))
    }

    /// To a position in the generic spaces, where `node` has an absolute space; a value
    /// outside the range the node declares for its generic space is refused before it is sent.
    public func absoluteMove(profile: String, node: PTZNode, to position: PTZVelocity) async throws {
        guard !node.absolutePanTilt.isEmpty || !node.absoluteZoom.isEmpty else {
            throw failed(
                .ptz, .unsupported(action: "AbsoluteMove", reason: "node \(Soap.clip(node.token, 64)) has no absolute position space"))
        }
        try within(
            "AbsoluteMove", node, position, panTilt: node.absolutePanTilt.first { $0.uri == PTZRequests.panTiltPositionSpace },
            zoom: node.absoluteZoom.first { $0.uri == PTZRequests.zoomPositionSpace })
        try await acknowledged("AbsoluteMove", PTZRequests.absoluteMove(profile: profile, to: position))
    }

    /// By a translation in the generic spaces, where `node` has a relative space, within the
    /// ranges it declares for them.
    public func relativeMove(profile: String, node: PTZNode, by translation: PTZVelocity) async throws {
        guard !node.relativePanTilt.isEmpty || !node.relativeZoom.isEmpty else {
            throw failed(
                .ptz, .unsupported(action: "RelativeMove", reason: "node \(Soap.clip(node.token, 64)) has no relative translation space"))
        }
        try within(
            "RelativeMove", node, translation, panTilt: node.relativePanTilt.first { $0.uri == PTZRequests.panTiltTranslationSpace },
            zoom: node.relativeZoom.first { $0.uri == PTZRequests.zoomTranslationSpace })
        try await acknowledged("RelativeMove", PTZRequests.relativeMove(profile: profile, by: translation))
    }

    /// Refuses a value outside the range `node` declares for it (a space it does not
    /// declare leaves the value to the request's own clamping).
    func within(_ action: String, _ node: PTZNode, _ value: PTZVelocity, panTilt: PTZSpace?, zoom: PTZSpace?) throws {
        for (axis, v, range) in [("pan", value.pan, panTilt?.x), ("tilt", value.tilt, panTilt?.y), ("zoom", value.zoom, zoom?.x)] {
            // Compared, not made into a range: a range whose bounds are out of order or not
            // numbers would trap.
            guard let range, !(v >= range.min && v <= range.max) else { continue }
            throw failed(
                .ptz,
                .unsupported(
                    action: action, reason: "\(axis) \(v) is outside \(range.min)…\(range.max), node \(Soap.clip(node.token, 64))'s range"))
        }
    }

    /// Saves where the camera points; returns the preset's token (the device's choice, or
    /// `token` when it replaces that one).
    public func setPreset(profile: String, name: String, token: String? = nil) async throws -> String {
        try await call(.ptz, "SetPreset", PTZRequests.setPreset(profile: profile, name: name, token: token), PTZReplies.presetToken)
    }

    public func removePreset(profile: String, preset: String) async throws {
        try await acknowledged("RemovePreset", PTZRequests.removePreset(profile: profile, preset: preset))
    }

    public func gotoPreset(profile: String, preset: String) async throws {
        try await acknowledged("GotoPreset", PTZRequests.gotoPreset(profile: profile, preset: preset))
    }

    public func gotoHomePosition(profile: String, node: PTZNode) async throws {
        guard node.homeSupported else {
            throw failed(.ptz, .unsupported(action: "GotoHomePosition", reason: "node \(Soap.clip(node.token, 64)) has no home position"))
        }
        try await acknowledged("GotoHomePosition", PTZRequests.gotoHomePosition(profile: profile))
    }

    // MARK: The exchange

    func acknowledged(_ action: String, _ body: String) async throws {
        try await call(.ptz, action, body) { try PTZReplies.acknowledgement($0, action: action) }
    }

    func failed(_ service: OnvifService, _ error: OnvifError) -> OnvifDeviceError {
        OnvifDeviceError(device: endpoint.description, service: service, error: error)
    }

    /// Sends `body` to `service` and reads the reply with `parse`. An authenticated call
    /// learns the device's clock first; one the device refuses as not authorized learns it
    /// again and is sent once more (the device may have changed its clock, or ours jumped).
    func call<T: Sendable>(
        _ service: OnvifService, _ action: String, _ body: String, authenticated: Bool = true,
        _ parse: @Sendable ([UInt8]) throws -> T
    ) async throws -> T {
        guard authenticated, let account else { return try await exchange(service, action, body, security: nil, parse) }
        if clockOffsetMicros == nil { try await synchroniseClockOrAssumeOurs() }
        do {
            return try await exchange(service, action, body, security: header(account), parse)
        } catch let error as OnvifDeviceError where error.error.isNotAuthorized {
            try await synchroniseClockOrAssumeOurs()
            return try await exchange(service, action, body, security: header(account), parse)
        }
    }

    /// A device that refuses to tell its time (against ONVIF Core, some do without an
    /// account) is taken to keep ours; one that cannot be reached is an error.
    func synchroniseClockOrAssumeOurs() async throws {
        do {
            try await synchroniseClock()
        } catch let error as OnvifDeviceError {
            guard case .fault = error.error else { throw error }
            clockOffsetMicros = 0
        }
    }

    func header(_ account: UsernameToken) -> String {
        var nonce = [UInt8](repeating: 0, count: 16)
        var random = SystemRandomNumberGenerator()
        for i in nonce.indices { nonce[i] = random.next() }
        return account.header(nonce: nonce, created: DeviceTime.created(localMicros: now(), offsetMicros: clockOffsetMicros ?? 0))
    }

    func exchange<T: Sendable>(
        _ service: OnvifService, _ action: String, _ body: String, security: String?, _ parse: @Sendable ([UInt8]) throws -> T
    ) async throws -> T {
        let url: String
        switch service {
        case .device: url = endpoint.resolve(nil)
        case .media, .ptz:
            let known = try await services()
            guard let address = service == .media ? known.media : known.ptz else {
                throw failed(service, .unsupported(action: action, reason: "the device has no \(service.rawValue) service"))
            }
            url = endpoint.resolve(address)
        }
        let reply: (status: Int, body: [UInt8])
        do {
            reply = try await transport.post(
                url: url, soapAction: "\(service.namespace)/\(action)", body: Soap.envelope(body: body, security: security))
        } catch let error as OnvifError {
            throw failed(service, error)
        } catch {
            throw failed(service, .unreachable(action: action, reason: Soap.clip(String(describing: error), 160)))
        }
        do {
            return try parse(reply.body)
        } catch let error as OnvifError {
            // SOAP 1.2 sends a fault with 400 or 500: the fault is the answer. Anything
            // else that is not a SOAP reply, with a status that is not success, is the status.
            if case .fault = error { throw failed(service, error) }
            if (200..<300).contains(reply.status) { throw failed(service, error) }
            throw failed(service, .httpStatus(action: action, status: reply.status))
        }
    }
}
