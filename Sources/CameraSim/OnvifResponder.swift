// The ONVIF side of the simulated cameras: Device, Media and PTZ (ONVIF Core, Media and PTZ
// specifications) as a camera answers them, each camera's PTZ a `SimulatedPTZ`. Requests
// are read with the Onvif module's strict XML tree; with an account set, every request but
// GetSystemDateAndTime must carry a WS-Security UsernameToken whose digest matches, whose
// creation time is within five seconds of the camera's clock (which may be set wrong, as a
// real camera's often is) and whose nonce was not seen before.

import Base
import Foundation
import Onvif
import Synchronization

public actor OnvifResponder {
    public struct Settings: Sendable {
        public var cameras = 1
        /// The RTSP server the stream URIs point at.
        public var rtspHost = "127.0.0.1"
        public var rtspPort = 8554
        public var account: UsernameToken?
        /// The camera's clock minus the real one, in seconds.
        public var clockSkewSeconds: Int64 = 0
        /// Each camera also has a smaller profile, `sub`, whose stream is `/camNsub` (the RTSP
        /// simulator must serve it: `CameraSimulator.start(…, subLive:)` or a `subClip`).
        public var subStreams = false
        public init() {}
    }

    var settings: Settings
    var cameras: [SimulatedPTZ] {
        didSet { mirror.mechanisms.withLock { $0 = cameras } }
    }
    /// The mechanisms as last changed, for the live picture's renderer, which runs on a
    /// thread of its own and cannot wait for this actor at every frame.
    public nonisolated let mirror: Mirror
    var seenNonces: [String: Int64] = [:]
    /// Seconds on a monotonic clock, for the mechanism.
    let monotonic: @Sendable () -> Double
    /// The real time, in microseconds since the epoch.
    let wallClock: @Sendable () -> Int64

    public init(
        settings: Settings,
        monotonic: @escaping @Sendable () -> Double = { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 },
        wallClock: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970 * 1_000_000) }
    ) {
        self.settings = settings
        self.monotonic = monotonic
        self.wallClock = wallClock
        let now = monotonic()
        let initial = (0..<max(1, settings.cameras)).map { _ in SimulatedPTZ(time: now) }
        cameras = initial
        mirror = Mirror(initial, monotonic: monotonic)
    }

    /// The RTSP port the stream URIs name, when it is known only once the RTSP server listens.
    public func useRTSPPort(_ port: Int) { settings.rtspPort = port }

    /// The mechanisms' last state behind a lock: where each camera points, read without
    /// the actor.
    public final class Mirror: Sendable {
        let mechanisms: Mutex<[SimulatedPTZ]>
        let monotonic: @Sendable () -> Double

        init(_ mechanisms: [SimulatedPTZ], monotonic: @escaping @Sendable () -> Double) {
            self.mechanisms = Mutex(mechanisms)
            self.monotonic = monotonic
        }

        /// Where camera `index` (from 0) points now.
        public func position(camera index: Int) -> PTZPoint? {
            let now = monotonic()
            return mechanisms.withLock { $0.indices.contains(index) ? $0[index].position(at: now) : nil }
        }
    }

    /// The last ContinuousMove each camera was given, and when it was handled (`monotonic`
    /// seconds): what `vigil bench ptz` times a move's arrival by.
    public private(set) var lastMoves: [Int: (velocity: PTZPoint, at: Double)] = [:]

    public func lastMove(camera index: Int) -> (velocity: PTZPoint, at: Double)? { lastMoves[index] }

    /// Where camera `index` (from 0) points now.
    public func position(camera index: Int) -> PTZPoint? {
        cameras.indices.contains(index) ? cameras[index].position(at: monotonic()) : nil
    }

    /// The reply to one request for camera `index` (from 0): an HTTP status and a SOAP body.
    /// `authority`: the request's `Host`, which the service addresses name (as a camera
    /// names the address it was reached at); without one, a placeholder.
    public func respond(camera index: Int, body: [UInt8], authority: String? = nil) -> (status: Int, body: [UInt8]) {
        guard cameras.indices.contains(index) else { return (404, []) }
        var limits = XMLLimits()
        limits.bytes = 64 << 10
        let envelope: OnvifElement
        do {
            envelope = try XMLTree.parse(body, action: "request", limits: limits)
        } catch {
            return fault(sender: true, subcode: "WellFormed", "the request is not well-formed XML")
        }
        guard envelope.namespace == OnvifNamespace.soap, envelope.name == "Envelope",
            let operation = envelope.child(OnvifNamespace.soap, "Body")?.children.first
        else { return fault(sender: true, subcode: "InvalidArgVal", "not a SOAP 1.2 envelope with a body") }
        let name = operation.name
        if !(operation.namespace == OnvifNamespace.device && name == "GetSystemDateAndTime"), let account = settings.account {
            if let refusal = authenticate(envelope.child(OnvifNamespace.soap, "Header"), account: account) {
                return fault(sender: true, subcode: "NotAuthorized", refusal)
            }
        }
        switch operation.namespace {
        case OnvifNamespace.device: return device(name, operation, camera: index, authority: authority)
        case OnvifNamespace.media: return media(name, operation, camera: index)
        case OnvifNamespace.ptz: return ptz(name, operation, camera: index)
        default: return fault(sender: true, subcode: "ActionNotSupported", "no such service")
        }
    }

    // MARK: Authentication

    func authenticate(_ header: OnvifElement?, account: UsernameToken) -> String? {
        let wsse = OnvifNamespace.security
        guard let token = header?.child(wsse, "Security")?.child(wsse, "UsernameToken"),
            let user = token.child(wsse, "Username")?.text, let digest = token.child(wsse, "Password")?.text,
            let nonceText = token.child(wsse, "Nonce")?.text, let nonce = Data(base64Encoded: nonceText),
            let created = token.child(OnvifNamespace.utility, "Created")?.text
        else { return "a UsernameToken with a digest, nonce and creation time is required" }
        guard user == account.username,
            digest == UsernameToken.digest(nonce: Array(nonce), created: created, password: account.password)
        else { return "the user name or password is wrong" }
        let cameraNow = wallClock() / 1_000_000 + settings.clockSkewSeconds
        guard let createdSeconds = Self.seconds(created), abs(createdSeconds - cameraNow) <= 5 else {
            return "the token's creation time is not within 5 s of the camera's clock"
        }
        seenNonces = seenNonces.filter { $0.value >= cameraNow - 10 }
        guard seenNonces.updateValue(cameraNow, forKey: nonceText) == nil else { return "the nonce was used before" }
        return nil
    }

    /// `2026-12-02T05:00:00Z` as seconds since the epoch (what `DeviceTime.created` writes).
    static func seconds(_ text: String) -> Int64? { parseISO8601(text).map { $0 / 1_000_000 } }

    // MARK: Services

    func device(_ name: String, _ operation: OnvifElement, camera: Int, authority: String?) -> (status: Int, body: [UInt8]) {
        func xaddr(_ service: String, _ camera: Int) -> String { self.xaddr(service, camera, authority: authority) }
        switch name {
        case "GetSystemDateAndTime":
            let seconds = wallClock() / 1_000_000 + settings.clockSkewSeconds
            let date = Date(timeIntervalSince1970: Double(seconds))
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
            return reply(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>NTP</tt:DateTimeType>"
                    + "<tt:DaylightSavings>false</tt:DaylightSavings><tt:UTCDateTime><tt:Time><tt:Hour>\(c.hour!)</tt:Hour>"
                    + "<tt:Minute>\(c.minute!)</tt:Minute><tt:Second>\(c.second!)</tt:Second></tt:Time><tt:Date><tt:Year>\(c.year!)</tt:Year>"
                    + "<tt:Month>\(c.month!)</tt:Month><tt:Day>\(c.day!)</tt:Day></tt:Date></tt:UTCDateTime></tds:SystemDateAndTime>"
                    + "</tds:GetSystemDateAndTimeResponse>")
        case "GetDeviceInformation":
            return reply(
                "<tds:GetDeviceInformationResponse><tds:Manufacturer>Vigil</tds:Manufacturer><tds:Model>Simulated PTZ dome</tds:Model>"
                    + "<tds:FirmwareVersion>1.0</tds:FirmwareVersion><tds:SerialNumber>SIM-0001</tds:SerialNumber>"
                    + "<tds:HardwareId>camera-sim</tds:HardwareId></tds:GetDeviceInformationResponse>")
        case "GetCapabilities":
            return reply(
                "<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Device><tt:XAddr>\(xaddr("device_service", camera))</tt:XAddr></tt:Device>"
                    + "<tt:Media><tt:XAddr>\(xaddr("media_service", camera))</tt:XAddr></tt:Media>"
                    + "<tt:PTZ><tt:XAddr>\(xaddr("ptz_service", camera))</tt:XAddr></tt:PTZ></tds:Capabilities></tds:GetCapabilitiesResponse>"
            )
        case "GetServices":
            let services = [
                (OnvifNamespace.device, "device_service"), (OnvifNamespace.media, "media_service"), (OnvifNamespace.ptz, "ptz_service")
            ]
            return reply(
                "<tds:GetServicesResponse>"
                    + services.map {
                        "<tds:Service><tds:Namespace>\($0.0)</tds:Namespace><tds:XAddr>\(xaddr($0.1, camera))</tds:XAddr>"
                            + "<tds:Version><tt:Major>2</tt:Major><tt:Minor>0</tt:Minor></tds:Version></tds:Service>"
                    }.joined()
                    + "</tds:GetServicesResponse>")
        default: return fault(sender: false, subcode: "ActionNotSupported", "\(Soap.clip(name, 64)) is not simulated")
        }
    }

    /// A service's address as the camera names it: where the request came (an authority of
    /// at most 255 ASCII letters, digits and `.:[]-`), or a placeholder, as a camera behind NAT names its own.
    func xaddr(_ service: String, _ camera: Int, authority: String?) -> String {
        let allowed: (Unicode.Scalar) -> Bool = {
            $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || ".:[]-".unicodeScalars.contains($0))
        }
        let host = authority.flatMap { a in a.utf8.count <= 255 && a.unicodeScalars.allSatisfy(allowed) ? a : nil }
        return "http://\(host ?? "192.0.2.1")/onvif/cam\(camera + 1)/\(service)"
    }

    func media(_ name: String, _ operation: OnvifElement, camera: Int) -> (status: Int, body: [UInt8]) {
        let profile = operation.child(OnvifNamespace.media, "ProfileToken")?.text
        switch name {
        case "GetProfiles":
            return reply(
                #"<trt:GetProfilesResponse><trt:Profiles token="main" fixed="true"><tt:Name>main</tt:Name>"#
                    + #"<tt:VideoEncoderConfiguration token="enc0"><tt:Name>enc0</tt:Name><tt:UseCount>1</tt:UseCount>"#
                    + "<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>1280</tt:Width><tt:Height>720</tt:Height></tt:Resolution>"
                    + #"</tt:VideoEncoderConfiguration><tt:PTZConfiguration token="ptz0"><tt:Name>ptz0</tt:Name><tt:UseCount>1</tt:UseCount>"#
                    + "<tt:NodeToken>node0</tt:NodeToken></tt:PTZConfiguration></trt:Profiles>"
                    + (settings.subStreams
                        ? #"<trt:Profiles token="sub" fixed="true"><tt:Name>sub</tt:Name>"#
                            + #"<tt:VideoEncoderConfiguration token="enc1"><tt:Name>enc1</tt:Name><tt:UseCount>1</tt:UseCount>"#
                            + "<tt:Encoding>H264</tt:Encoding><tt:Resolution><tt:Width>320</tt:Width><tt:Height>180</tt:Height></tt:Resolution>"
                            + "</tt:VideoEncoderConfiguration></trt:Profiles>" : "")
                    + "</trt:GetProfilesResponse>")
        case "GetStreamUri", "GetSnapshotUri":
            guard profile == "main" || (settings.subStreams && profile == "sub") else {
                return fault(sender: true, subcode: "NoProfile", "no such profile")
            }
            let suffix = profile == "sub" ? "sub" : ""
            let uri =
                name == "GetStreamUri"
                ? "rtsp://\(settings.rtspHost):\(settings.rtspPort)/cam\(camera + 1)\(suffix)"
                : "http://\(settings.rtspHost)/snapshot/cam\(camera + 1)\(suffix).jpg"
            return reply(
                "<trt:\(name)Response><trt:MediaUri><tt:Uri>\(Soap.escape(uri))</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
                    + "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:\(name)Response>"
            )
        default: return fault(sender: false, subcode: "ActionNotSupported", "\(Soap.clip(name, 64)) is not simulated")
        }
    }

    func ptz(_ name: String, _ operation: OnvifElement, camera: Int) -> (status: Int, body: [UInt8]) {
        let ns = OnvifNamespace.ptz, tt = OnvifNamespace.schema
        let now = monotonic()
        let needsProfile = !["GetNodes", "GetConfigurations"].contains(name)
        if needsProfile, operation.child(ns, "ProfileToken")?.text != "main" {
            return fault(sender: true, subcode: "NoProfile", "no such profile")
        }
        func axis(_ element: OnvifElement?, _ attribute: String) -> Double? {
            element?.attributes[attribute].flatMap(Double.init).flatMap { $0.isFinite ? $0 : nil }
        }
        func point(_ container: OnvifElement?, default base: PTZPoint) -> PTZPoint {
            let panTilt = container?.child(tt, "PanTilt"), zoom = container?.child(tt, "Zoom")
            return PTZPoint(pan: axis(panTilt, "x") ?? base.pan, tilt: axis(panTilt, "y") ?? base.tilt, zoom: axis(zoom, "x") ?? base.zoom)
        }
        switch name {
        case "GetNodes":
            return reply("<tptz:GetNodesResponse>\(Self.node)</tptz:GetNodesResponse>")
        case "GetConfigurations":
            return reply(
                #"<tptz:GetConfigurationsResponse><tptz:PTZConfiguration token="ptz0"><tt:Name>ptz0</tt:Name><tt:UseCount>1</tt:UseCount>"#
                    + "<tt:NodeToken>node0</tt:NodeToken><tt:DefaultPTZTimeout>PT5S</tt:DefaultPTZTimeout></tptz:PTZConfiguration>"
                    + "</tptz:GetConfigurationsResponse>")
        case "GetStatus":
            let p = cameras[camera].position(at: now)
            let state = cameras[camera].isMoving(at: now) ? "MOVING" : "IDLE"
            return reply(
                "<tptz:GetStatusResponse><tptz:PTZStatus><tt:Position>\(Self.position(p))</tt:Position>"
                    + "<tt:MoveStatus><tt:PanTilt>\(state)</tt:PanTilt><tt:Zoom>\(state)</tt:Zoom></tt:MoveStatus>"
                    + "<tt:UtcTime>2026-01-01T00:00:00Z</tt:UtcTime></tptz:PTZStatus></tptz:GetStatusResponse>")
        case "ContinuousMove":
            guard let velocity = operation.child(ns, "Velocity") else {
                return fault(sender: true, subcode: "InvalidArgVal", "no Velocity")
            }
            let seconds = operation.child(ns, "Timeout").flatMap { Self.duration($0.text) } ?? 5
            let given = point(velocity, default: PTZPoint(pan: 0, tilt: 0, zoom: 0))
            cameras[camera].move(velocity: given, for: seconds, at: now)
            lastMoves[camera] = (given, now)
            return reply("<tptz:ContinuousMoveResponse/>")
        case "Stop":
            cameras[camera].stop(at: now)
            return reply("<tptz:StopResponse/>")
        case "AbsoluteMove":
            let here = cameras[camera].position(at: now)
            cameras[camera].jump(to: point(operation.child(ns, "Position"), default: here), at: now)
            return reply("<tptz:AbsoluteMoveResponse/>")
        case "RelativeMove":
            let here = cameras[camera].position(at: now)
            let by = point(operation.child(ns, "Translation"), default: PTZPoint(pan: 0, tilt: 0, zoom: 0))
            cameras[camera].jump(to: PTZPoint(pan: here.pan + by.pan, tilt: here.tilt + by.tilt, zoom: here.zoom + by.zoom), at: now)
            return reply("<tptz:RelativeMoveResponse/>")
        case "GotoHomePosition":
            cameras[camera].jump(to: PTZPoint(pan: 0, tilt: 0, zoom: 0), at: now)
            return reply("<tptz:GotoHomePositionResponse/>")
        case "GetPresets":
            return reply(
                "<tptz:GetPresetsResponse>"
                    + cameras[camera].presets.map {
                        #"<tptz:Preset token="\#(Soap.escape($0.token))"><tt:Name>\#(Soap.escape($0.name))</tt:Name>"#
                            + "<tt:PTZPosition>\(Self.position($0.point))</tt:PTZPosition></tptz:Preset>"
                    }.joined() + "</tptz:GetPresetsResponse>")
        case "SetPreset":
            let presetName = operation.child(ns, "PresetName")?.text ?? ""
            guard !presetName.isEmpty, presetName.utf8.count <= 64 else {
                return fault(sender: true, subcode: "InvalidPresetName", "a preset name of 1 to 64 bytes is required")
            }
            guard let token = cameras[camera].savePreset(name: presetName, token: operation.child(ns, "PresetToken")?.text, at: now) else {
                return fault(sender: true, subcode: "TooManyPresets", "no room for another preset, or no such preset to replace")
            }
            return reply("<tptz:SetPresetResponse><tptz:PresetToken>\(Soap.escape(token))</tptz:PresetToken></tptz:SetPresetResponse>")
        case "GotoPreset", "RemovePreset":
            guard let token = operation.child(ns, "PresetToken")?.text, let preset = cameras[camera].preset(token) else {
                return fault(sender: true, subcode: "NoToken", "no such preset")
            }
            if name == "GotoPreset" {
                cameras[camera].jump(to: preset.point, at: now)
            } else {
                _ = cameras[camera].removePreset(token)
            }
            return reply("<tptz:\(name)Response/>")
        default: return fault(sender: false, subcode: "ActionNotSupported", "\(Soap.clip(name, 64)) is not simulated")
        }
    }

    static let node =
        #"<tptz:PTZNode token="node0" FixedHomePosition="true"><tt:Name>dome</tt:Name><tt:SupportedPTZSpaces>"#
        + space("AbsolutePanTiltPositionSpace", "PanTiltSpaces/PositionGenericSpace", x: (-1, 1), y: (-1, 1))
        + space("AbsoluteZoomPositionSpace", "ZoomSpaces/PositionGenericSpace", x: (0, 1), y: nil)
        + space("RelativePanTiltTranslationSpace", "PanTiltSpaces/TranslationGenericSpace", x: (-1, 1), y: (-1, 1))
        + space("RelativeZoomTranslationSpace", "ZoomSpaces/TranslationGenericSpace", x: (-1, 1), y: nil)
        + space("ContinuousPanTiltVelocitySpace", "PanTiltSpaces/VelocityGenericSpace", x: (-1, 1), y: (-1, 1))
        + space("ContinuousZoomVelocitySpace", "ZoomSpaces/VelocityGenericSpace", x: (-1, 1), y: nil)
        + "</tt:SupportedPTZSpaces><tt:MaximumNumberOfPresets>\(SimulatedPTZ.maximumPresets)</tt:MaximumNumberOfPresets>"
        + "<tt:HomeSupported>true</tt:HomeSupported></tptz:PTZNode>"

    static func space(_ element: String, _ uri: String, x: (Double, Double), y: (Double, Double)?) -> String {
        "<tt:\(element)><tt:URI>http://www.onvif.org/ver10/tptz/\(uri)</tt:URI>"
            + "<tt:XRange><tt:Min>\(x.0)</tt:Min><tt:Max>\(x.1)</tt:Max></tt:XRange>"
            + (y.map { "<tt:YRange><tt:Min>\($0.0)</tt:Min><tt:Max>\($0.1)</tt:Max></tt:YRange>" } ?? "") + "</tt:\(element)>"
    }

    static func position(_ p: PTZPoint) -> String {
        #"<tt:PanTilt x="\#(p.pan)" y="\#(p.tilt)" space="http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"/>"#
            + #"<tt:Zoom x="\#(p.zoom)" space="http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"/>"#
    }

    /// `PT1S`, `PT0.5S`, `PT2M`: the xs:duration forms a PTZ timeout takes, up to an hour.
    static func duration(_ text: String) -> Double? {
        guard text.hasPrefix("PT"), text.count <= 16 else { return nil }
        var total = 0.0, number = ""
        for c in text.dropFirst(2) {
            if c.isNumber || c == "." {
                number.append(c)
                continue
            }
            guard let value = Double(number) else { return nil }
            switch c {
            case "H": total += value * 3600
            case "M": total += value * 60
            case "S": total += value
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total <= 3600 ? total : nil
    }

    // MARK: Envelopes

    static let declarations =
        #"xmlns:s="\#(OnvifNamespace.soap)" xmlns:tt="\#(OnvifNamespace.schema)" xmlns:tds="\#(OnvifNamespace.device)" "#
        + #"xmlns:trt="\#(OnvifNamespace.media)" xmlns:tptz="\#(OnvifNamespace.ptz)" xmlns:ter="\#(OnvifNamespace.error)""#

    func reply(_ body: String) -> (status: Int, body: [UInt8]) {
        (
            200,
            Array(#"<?xml version="1.0" encoding="UTF-8"?><s:Envelope \#(Self.declarations)><s:Body>\#(body)</s:Body></s:Envelope>"#.utf8)
        )
    }

    /// A SOAP 1.2 fault with an ONVIF subcode (ONVIF Core §5.11): the sender's fault is 400, the
    /// receiver's 500.
    func fault(sender: Bool, subcode: String, _ reason: String) -> (status: Int, body: [UInt8]) {
        let code = sender ? "s:Sender" : "s:Receiver"
        let body =
            "<s:Fault><s:Code><s:Value>\(code)</s:Value><s:Subcode><s:Value>ter:\(subcode)</s:Value></s:Subcode></s:Code>"
            + #"<s:Reason><s:Text xml:lang="en">\#(Soap.escape(reason))</s:Text></s:Reason></s:Fault>"#
        return (sender ? 400 : 500, reply(body).body)
    }
}
