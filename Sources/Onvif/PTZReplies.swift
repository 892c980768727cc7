// The PTZ service (ONVIF PTZ Service Specification, ver20 WSDL): the requests Vigil sends
// and the replies it reads, as checked values. Positions and velocities are in the
// generic spaces (pan and tilt −1…1, zoom 0…1 for positions; velocities −1…1).

import Foundation

public struct FloatRange: Sendable, Equatable {
    public var min: Double
    public var max: Double
    public init(min: Double, max: Double) {
        self.min = min
        self.max = max
    }
}

/// One of a node's coordinate spaces: its URI and the range of each axis (`y` is nil for
/// a zoom space).
public struct PTZSpace: Sendable, Equatable {
    public var uri: String
    public var x: FloatRange
    public var y: FloatRange?
}

/// A PTZ node: what the mechanism can do (ONVIF schema `PTZNode`).
public struct PTZNode: Sendable, Equatable {
    public var token: String
    public var name: String
    public var absolutePanTilt: [PTZSpace]
    public var absoluteZoom: [PTZSpace]
    public var relativePanTilt: [PTZSpace]
    public var relativeZoom: [PTZSpace]
    public var continuousPanTilt: [PTZSpace]
    public var continuousZoom: [PTZSpace]
    public var maximumPresets: Int
    public var homeSupported: Bool
}

/// Where the camera points, as far as it says.
public struct PTZPosition: Sendable, Equatable {
    public var pan: Double?
    public var tilt: Double?
    public var zoom: Double?
}

public struct PTZStatus: Sendable, Equatable {
    public var position: PTZPosition?
    /// `IDLE`, `MOVING` or `UNKNOWN`, for pan/tilt and zoom.
    public var panTiltMoving: String?
    public var zoomMoving: String?
}

public struct PTZPreset: Sendable, Equatable {
    public var token: String
    public var name: String
    public var position: PTZPosition?
}

/// A PTZ configuration (ONVIF schema `PTZConfiguration`): which node a profile drives.
public struct PTZConfiguration: Sendable, Equatable {
    public var token: String
    public var name: String
    public var nodeToken: String
}

/// A velocity for `ContinuousMove`, each axis in −1…1 (clamped when built).
public struct PTZVelocity: Sendable, Equatable {
    public var pan: Double
    public var tilt: Double
    public var zoom: Double
    public init(pan: Double, tilt: Double, zoom: Double) {
        self.pan = pan
        self.tilt = tilt
        self.zoom = zoom
    }
}

public enum PTZRequests {
    static let ns = OnvifNamespace.ptz
    static let tt = OnvifNamespace.schema

    public static func getNodes() -> String { #"<tptz:GetNodes xmlns:tptz="\#(ns)"/>"# }

    public static func getStatus(profile: String) -> String {
        #"<tptz:GetStatus xmlns:tptz="\#(ns)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken></tptz:GetStatus>"#
    }

    public static func getPresets(profile: String) -> String {
        #"<tptz:GetPresets xmlns:tptz="\#(ns)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken></tptz:GetPresets>"#
    }

    static let panTiltVelocitySpace = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace"
    static let zoomVelocitySpace = "http://www.onvif.org/ver10/tptz/ZoomSpaces/VelocityGenericSpace"

    /// Moves at `velocity` until `Stop` or `timeoutSeconds` (sent as whole seconds, which
    /// every device seen accepts; at least one answers a fractional one with a broken reply).
    /// The velocity names the generic spaces, so −1…1 means what it says whatever the
    /// profile's default space.
    public static func continuousMove(profile: String, velocity: PTZVelocity, timeoutSeconds: Int) -> String {
        let seconds = Swift.max(1, Swift.min(timeoutSeconds, 60))
        return
            #"<tptz:ContinuousMove xmlns:tptz="\#(ns)" xmlns:tt="\#(tt)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken>"#
            + #"<tptz:Velocity><tt:PanTilt x="\#(number(velocity.pan))" y="\#(number(velocity.tilt))" space="\#(panTiltVelocitySpace)"/>"#
            + #"<tt:Zoom x="\#(number(velocity.zoom))" space="\#(zoomVelocitySpace)"/></tptz:Velocity>"#
            + #"<tptz:Timeout>PT\#(seconds)S</tptz:Timeout></tptz:ContinuousMove>"#
    }

    public static func stop(profile: String) -> String {
        #"<tptz:Stop xmlns:tptz="\#(ns)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken><tptz:PanTilt>true</tptz:PanTilt><tptz:Zoom>true</tptz:Zoom></tptz:Stop>"#
    }

    public static func gotoPreset(profile: String, preset: String) -> String {
        #"<tptz:GotoPreset xmlns:tptz="\#(ns)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken><tptz:PresetToken>\#(Soap.escape(preset))</tptz:PresetToken></tptz:GotoPreset>"#
    }

    public static func getConfigurations() -> String { #"<tptz:GetConfigurations xmlns:tptz="\#(ns)"/>"# }

    static let panTiltPositionSpace = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/PositionGenericSpace"
    static let zoomPositionSpace = "http://www.onvif.org/ver10/tptz/ZoomSpaces/PositionGenericSpace"
    static let panTiltTranslationSpace = "http://www.onvif.org/ver10/tptz/PanTiltSpaces/TranslationGenericSpace"
    static let zoomTranslationSpace = "http://www.onvif.org/ver10/tptz/ZoomSpaces/TranslationGenericSpace"

    /// Moves to a position in the generic spaces (pan and tilt −1…1, zoom 0…1, each
    /// clamped). The session checks the node has the space before it sends this.
    public static func absoluteMove(profile: String, to position: PTZVelocity) -> String {
        #"<tptz:AbsoluteMove xmlns:tptz="\#(ns)" xmlns:tt="\#(tt)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken>"#
            + #"<tptz:Position><tt:PanTilt x="\#(number(position.pan))" y="\#(number(position.tilt))" space="\#(panTiltPositionSpace)"/>"#
            + #"<tt:Zoom x="\#(number(Swift.max(0, position.zoom)))" space="\#(zoomPositionSpace)"/></tptz:Position></tptz:AbsoluteMove>"#
    }

    /// Moves by a translation in the generic spaces (each axis −1…1, clamped).
    public static func relativeMove(profile: String, by translation: PTZVelocity) -> String {
        #"<tptz:RelativeMove xmlns:tptz="\#(ns)" xmlns:tt="\#(tt)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken>"#
            + #"<tptz:Translation><tt:PanTilt x="\#(number(translation.pan))" y="\#(number(translation.tilt))" space="\#(panTiltTranslationSpace)"/>"#
            + #"<tt:Zoom x="\#(number(translation.zoom))" space="\#(zoomTranslationSpace)"/></tptz:Translation></tptz:RelativeMove>"#
    }

    /// Saves the current position as a preset named `name`; with `token`, replaces that one.
    public static func setPreset(profile: String, name: String, token: String?) -> String {
        #"<tptz:SetPreset xmlns:tptz="\#(ns)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken>"#
            + #"<tptz:PresetName>\#(Soap.escape(name))</tptz:PresetName>"#
            + (token.map { #"<tptz:PresetToken>\#(Soap.escape($0))</tptz:PresetToken>"# } ?? "") + "</tptz:SetPreset>"
    }

    public static func removePreset(profile: String, preset: String) -> String {
        #"<tptz:RemovePreset xmlns:tptz="\#(ns)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken><tptz:PresetToken>\#(Soap.escape(preset))</tptz:PresetToken></tptz:RemovePreset>"#
    }

    public static func gotoHomePosition(profile: String) -> String {
        #"<tptz:GotoHomePosition xmlns:tptz="\#(ns)"><tptz:ProfileToken>\#(Soap.escape(profile))</tptz:ProfileToken></tptz:GotoHomePosition>"#
    }

    /// A velocity axis in −1…1 with four decimals, written without the C locale's say
    /// (a non-finite value is 0: no move; −0 is 0).
    static func number(_ value: Double) -> String {
        let clamped = value.isFinite ? Swift.max(-1, Swift.min(1, value)) : 0
        let units = Int((clamped * 10_000).rounded())
        let magnitude = abs(units)
        let fraction = String(magnitude % 10_000)
        return (units < 0 ? "-" : "") + "\(magnitude / 10_000)." + String(repeating: "0", count: 4 - fraction.count) + fraction
    }
}

public enum PTZReplies {
    static let ns = OnvifNamespace.ptz
    static let tt = OnvifNamespace.schema
    /// No space or position in any device seen goes near this; beyond it a value is a lie.
    static let largest = 1e6

    public static func nodes(_ reply: [UInt8]) throws -> [PTZNode] {
        let action = "GetNodes"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "GetNodesResponse"))
        return try response.children(ns, "PTZNode").map { node in
            guard let token = node.attributes["token"], !token.isEmpty, token.utf8.count <= 64 else {
                throw OnvifError.malformed(action: action, reason: "a PTZNode without a token (or one over 64 characters)")
            }
            guard let spaces = node.child(tt, "SupportedPTZSpaces") else {
                throw OnvifError.malformed(action: action, reason: "PTZNode \(token) has no SupportedPTZSpaces")
            }
            func list(_ name: String, twoAxes: Bool) throws -> [PTZSpace] {
                try spaces.children(tt, name).map { try space($0, twoAxes: twoAxes, action: action, what: "\(token) \(name)") }
            }
            let presetsText = node.child(tt, "MaximumNumberOfPresets")?.text ?? "0"
            guard let presets = Int(presetsText), (0...10_000).contains(presets) else {
                throw OnvifError.malformed(action: action, reason: "PTZNode \(token): MaximumNumberOfPresets \(Soap.clip(presetsText, 20))")
            }
            return PTZNode(
                token: token, name: PTZReplies.name(node.child(tt, "Name")),
                absolutePanTilt: try list("AbsolutePanTiltPositionSpace", twoAxes: true),
                absoluteZoom: try list("AbsoluteZoomPositionSpace", twoAxes: false),
                relativePanTilt: try list("RelativePanTiltTranslationSpace", twoAxes: true),
                relativeZoom: try list("RelativeZoomTranslationSpace", twoAxes: false),
                continuousPanTilt: try list("ContinuousPanTiltVelocitySpace", twoAxes: true),
                continuousZoom: try list("ContinuousZoomVelocitySpace", twoAxes: false),
                maximumPresets: presets,
                homeSupported: try boolean(node.child(tt, "HomeSupported")?.text ?? "false", action: action, what: "HomeSupported"))
        }
    }

    public static func status(_ reply: [UInt8]) throws -> PTZStatus {
        let action = "GetStatus"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "GetStatusResponse"))
        guard let status = response.child(ns, "PTZStatus") else {
            throw OnvifError.malformed(action: action, reason: "no PTZStatus")
        }
        return PTZStatus(
            position: try status.child(tt, "Position").map { try position($0, action: action) },
            panTiltMoving: try status.path(tt, "MoveStatus", "PanTilt").map { try moveState($0.text, action: action) },
            zoomMoving: try status.path(tt, "MoveStatus", "Zoom").map { try moveState($0.text, action: action) })
    }

    public static func presets(_ reply: [UInt8]) throws -> [PTZPreset] {
        let action = "GetPresets"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "GetPresetsResponse"))
        return try response.children(ns, "Preset").map { preset in
            guard let token = preset.attributes["token"], !token.isEmpty, token.utf8.count <= 64 else {
                throw OnvifError.malformed(action: action, reason: "a Preset without a token (or one over 64 characters)")
            }
            return PTZPreset(
                token: token, name: PTZReplies.name(preset.child(tt, "Name")),
                position: try preset.child(tt, "PTZPosition").map { try position($0, action: action) })
        }
    }

    /// The PTZ configurations: each one's token and the node it drives.
    public static func configurations(_ reply: [UInt8]) throws -> [PTZConfiguration] {
        let action = "GetConfigurations"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "GetConfigurationsResponse"))
        return try response.children(ns, "PTZConfiguration").map { configuration in
            guard let token = configuration.attributes["token"], !token.isEmpty, token.utf8.count <= 64,
                let node = configuration.child(tt, "NodeToken")?.text, !node.isEmpty, node.utf8.count <= 64
            else {
                throw OnvifError.malformed(
                    action: action, reason: "a PTZConfiguration without a token or a NodeToken (or one over 64 characters)")
            }
            return PTZConfiguration(token: token, name: PTZReplies.name(configuration.child(tt, "Name")), nodeToken: node)
        }
    }

    /// The token the device gave a saved preset.
    public static func presetToken(_ reply: [UInt8]) throws -> String {
        let action = "SetPreset"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "SetPresetResponse"))
        guard let token = response.child(ns, "PresetToken")?.text.trimmingWhitespace(), !token.isEmpty, token.utf8.count <= 64 else {
            throw OnvifError.malformed(action: action, reason: "no PresetToken (or one over 64 characters)")
        }
        return token
    }

    /// A reply with nothing in it but its response element (ContinuousMove, Stop, …).
    public static func acknowledgement(_ reply: [UInt8], action: String) throws {
        _ = try Soap.responseBody(reply, action: action, expected: (ns, action + "Response"))
    }

    static func position(_ node: OnvifElement, action: String) throws -> PTZPosition {
        let panTilt = node.child(tt, "PanTilt"), zoom = node.child(tt, "Zoom")
        return PTZPosition(
            pan: try panTilt.map { try coordinate($0, "x", action: action) },
            tilt: try panTilt.map { try coordinate($0, "y", action: action) },
            zoom: try zoom.map { try coordinate($0, "x", action: action) })
    }

    /// A name as the device gave it, cut to 64 bytes.
    static func name(_ element: OnvifElement?) -> String {
        String(decoding: (element?.text ?? "").utf8.prefix(64), as: UTF8.self)
    }

    static func coordinate(_ node: OnvifElement, _ axis: String, action: String) throws -> Double {
        guard let text = node.attributes[axis], let value = decimal(text), abs(value) <= largest else {
            throw OnvifError.malformed(
                action: action, reason: "\(node.name) \(axis)=\(Soap.clip(node.attributes[axis] ?? "missing", 20)) is not a finite number")
        }
        return value
    }

    /// An xs:float as ONVIF writes one (`-0.25`, `1E-3`, surrounding whitespace allowed);
    /// not Swift's wider syntax (hexadecimal, `inf`, `nan`).
    static func decimal(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 32, trimmed.allSatisfy({ "+-.0123456789eE".contains($0) }) else { return nil }
        guard let value = Double(trimmed), value.isFinite else { return nil }
        return value
    }

    static func moveState(_ text: String, action: String) throws -> String {
        guard ["IDLE", "MOVING", "UNKNOWN"].contains(text) else {
            throw OnvifError.malformed(action: action, reason: "MoveStatus \(Soap.clip(text, 20)) (IDLE, MOVING or UNKNOWN)")
        }
        return text
    }

    static func space(_ node: OnvifElement, twoAxes: Bool, action: String, what: String) throws -> PTZSpace {
        func range(_ name: String) throws -> FloatRange {
            guard let r = node.child(tt, name), let minText = r.child(tt, "Min")?.text, let maxText = r.child(tt, "Max")?.text,
                let low = decimal(minText), let high = decimal(maxText), low <= high, abs(low) <= largest, abs(high) <= largest
            else {
                throw OnvifError.malformed(action: action, reason: "\(what): \(name) is not a finite Min ≤ Max")
            }
            return FloatRange(min: low, max: high)
        }
        return PTZSpace(
            uri: String(decoding: (node.child(tt, "URI")?.text ?? "").utf8.prefix(256), as: UTF8.self), x: try range("XRange"),
            y: twoAxes ? try range("YRange") : nil)
    }

    static func boolean(_ text: String, action: String, what: String) throws -> Bool {
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: throw OnvifError.malformed(action: action, reason: "\(what) \(Soap.clip(text, 20)) is not a boolean")
        }
    }
}
