// A simulated camera's PTZ mechanism: where it points, how it moves, its presets. Pan and
// tilt run −1…1, zoom 0…1 (ONVIF's generic spaces); at full velocity pan and tilt cross
// half their range a second and zoom a quarter, and a continuous move stops at its timeout
// as a real dome's does.

import Foundation

public struct PTZPoint: Sendable, Equatable {
    public var pan: Double
    public var tilt: Double
    public var zoom: Double
    public init(pan: Double, tilt: Double, zoom: Double) {
        self.pan = pan
        self.tilt = tilt
        self.zoom = zoom
    }

    func clamped() -> PTZPoint {
        PTZPoint(pan: min(1, max(-1, pan)), tilt: min(1, max(-1, tilt)), zoom: min(1, max(0, zoom)))
    }
}

/// One camera's mechanism. Times are seconds on any monotonic clock the caller keeps.
public struct SimulatedPTZ: Sendable {
    public static let panTiltSpeed = 0.5
    public static let zoomSpeed = 0.25
    public static let maximumPresets = 64

    public struct Preset: Sendable, Equatable {
        public var token: String
        public var name: String
        public var point: PTZPoint
    }

    var start: PTZPoint
    var startTime: Double
    var velocity = PTZPoint(pan: 0, tilt: 0, zoom: 0)
    var until: Double
    public private(set) var presets: [Preset] = []
    var nextPreset = 1

    public init(at point: PTZPoint = PTZPoint(pan: 0, tilt: 0, zoom: 0), time: Double) {
        start = point.clamped()
        startTime = time
        until = time
    }

    /// Where it points at `time`.
    public func position(at time: Double) -> PTZPoint {
        let t = max(0, min(time, until) - startTime)
        return PTZPoint(
            pan: start.pan + velocity.pan * Self.panTiltSpeed * t, tilt: start.tilt + velocity.tilt * Self.panTiltSpeed * t,
            zoom: start.zoom + velocity.zoom * Self.zoomSpeed * t
        ).clamped()
    }

    public func isMoving(at time: Double) -> Bool {
        time < until && velocity != PTZPoint(pan: 0, tilt: 0, zoom: 0) && position(at: time) != position(at: until)
    }

    public mutating func move(velocity v: PTZPoint, for seconds: Double, at time: Double) {
        start = position(at: time)
        startTime = time
        velocity = PTZPoint(pan: min(1, max(-1, v.pan)), tilt: min(1, max(-1, v.tilt)), zoom: min(1, max(-1, v.zoom)))
        until = time + max(0, seconds)
    }

    public mutating func stop(at time: Double) { jump(to: position(at: time), at: time) }

    /// Goes to `point` at once (a real dome takes a second or two; the picture follows).
    public mutating func jump(to point: PTZPoint, at time: Double) {
        start = point.clamped()
        startTime = time
        velocity = PTZPoint(pan: 0, tilt: 0, zoom: 0)
        until = time
    }

    /// Saves the position as a preset; replaces `token`'s when given. Nil when full or
    /// when `token` names none.
    public mutating func savePreset(name: String, token: String?, at time: Double) -> String? {
        let point = position(at: time)
        if let token {
            guard let i = presets.firstIndex(where: { $0.token == token }) else { return nil }
            presets[i].name = name
            presets[i].point = point
            return token
        }
        guard presets.count < Self.maximumPresets else { return nil }
        let token = "preset\(nextPreset)"
        nextPreset += 1
        presets.append(Preset(token: token, name: name, point: point))
        return token
    }

    public mutating func removePreset(_ token: String) -> Bool {
        guard let i = presets.firstIndex(where: { $0.token == token }) else { return false }
        presets.remove(at: i)
        return true
    }

    public func preset(_ token: String) -> Preset? { presets.first { $0.token == token } }
}
