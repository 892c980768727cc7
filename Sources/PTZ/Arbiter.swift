// Who steers which camera: one lease per camera, held by a user or a tour, renewed by each
// command and released after `idleRelease` without one. A higher priority takes a camera at
// once and the one who lost it is told who has it; an equal or lower one is refused with
// who holds it and until when.

import Access
import Base
import Foundation

/// Whose hand wins (the city's order: police duty officer, municipal guard duty officer,
/// the centre's supervisor, an operator, then the automatic tour).
public enum ControlPriority: Int, Sendable, Comparable, Codable {
    case tour = 0
    case `operator` = 1
    case supervisor = 2
    case guardDuty = 3
    case policeDuty = 4

    /// The priority of a role that may steer cameras; nil for one that may not.
    public init?(role: Role) {
        switch role {
        case .operator: self = .operator
        case .supervisor: self = .supervisor
        case .guardDuty: self = .guardDuty
        case .policeDuty: self = .policeDuty
        case .investigator, .prosecutor, .court, .mediaOfficer, .admin: return nil
        }
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    /// As a control-room screen says it.
    public var title: String {
        switch self {
        case .tour: "automatic tour"
        case .operator: "operator"
        case .supervisor: "supervisor"
        case .guardDuty: "municipal-guard duty officer"
        case .policeDuty: "police duty officer"
        }
    }
}

/// Who asks for a camera: a signed-in user, or a tour the server runs.
public struct Controller: Sendable, Hashable {
    public enum Identity: Sendable, Hashable {
        case user(Int64)
        case tour(Int64)
    }

    public var identity: Identity
    /// What others are told holds the camera (a user's name; a tour is only "tour": its
    /// name and route are for supervisors).
    public var name: String
    public var priority: ControlPriority

    public init(identity: Identity, name: String, priority: ControlPriority) {
        self.identity = identity
        self.name = name
        self.priority = priority
    }

    public static func user(id: Int64, name: String, role: Role) -> Controller? {
        ControlPriority(role: role).map { Controller(identity: .user(id), name: name, priority: $0) }
    }

    public static func tour(id: Int64) -> Controller { Controller(identity: .tour(id), name: "tour", priority: .tour) }

    /// "Anna Nowak (police duty officer)".
    public var shown: String { priority == .tour ? "the automatic tour" : "\(name) (\(priority.title))" }
}

/// A camera's lease: who holds it and when it ends unless renewed.
public struct ControlLease: Sendable, Equatable {
    public var holder: Controller
    public var until: Date
}

/// What happened to a camera's control, for those watching it (the control channel, tours).
public enum ControlEvent: Sendable, Equatable {
    /// `holder` took the camera; `from` had it and lost it.
    case taken(camera: Int64, holder: Controller, from: Controller?)
    /// The camera is free again (released, or its lease ran out).
    case released(camera: Int64, by: Controller)
}

public actor ControlArbiter {
    public static let idleRelease: Duration = .seconds(30)

    struct Held {
        var holder: Controller
        var expires: Duration
    }

    let idle: Duration
    /// Monotonic time since any origin, for expiry; and the wall clock, to say "until".
    let monotonic: @Sendable () -> Duration
    let wall: @Sendable () -> Date
    var leases: [Int64: Held] = [:]
    /// Who lost which camera to whom, until they are told (their next command's refusal).
    var lost: [Controller.Identity: [Int64: Controller]] = [:]
    var watchers: [UUID: AsyncStream<ControlEvent>.Continuation] = [:]

    public init(
        idleRelease: Duration = ControlArbiter.idleRelease,
        monotonic: @escaping @Sendable () -> Duration = { .nanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds)) },
        wall: @escaping @Sendable () -> Date = { Date() }
    ) {
        idle = idleRelease
        self.monotonic = monotonic
        self.wall = wall
    }

    /// Takes or renews control of `camera` for `controller` and returns the lease. Refused
    /// (`conflict`) while someone of equal or higher priority holds it; a controller who
    /// lost the camera to a higher one is told so once.
    public func acquire(camera: Int64, for controller: Controller) throws -> ControlLease {
        let now = monotonic()
        if let winner = lost[controller.identity]?.removeValue(forKey: camera), let held = current(camera, now), held.holder == winner {
            throw VigilError(.conflict, "\(winner.shown) took over this camera; control is theirs until \(clock(held.expires, now))")
        }
        if let held = current(camera, now), held.holder.identity != controller.identity {
            guard controller.priority > held.holder.priority else {
                throw VigilError(.conflict, "this camera is controlled by \(held.holder.shown) until \(clock(held.expires, now))")
            }
            lost[held.holder.identity, default: [:]][camera] = controller
            leases[camera] = Held(holder: controller, expires: now + idle)
            publish(.taken(camera: camera, holder: controller, from: held.holder))
        } else {
            let fresh = current(camera, now) == nil
            leases[camera] = Held(holder: controller, expires: now + idle)
            if fresh { publish(.taken(camera: camera, holder: controller, from: nil)) }
        }
        return ControlLease(holder: controller, until: until(now + idle, now))
    }

    /// Who holds `camera` now, if anyone.
    public func lease(of camera: Int64) -> ControlLease? {
        let now = monotonic()
        return current(camera, now).map { ControlLease(holder: $0.holder, until: until($0.expires, now)) }
    }

    /// Gives `camera` back if `controller` holds it; true when it did.
    @discardableResult
    public func release(camera: Int64, by controller: Controller.Identity) -> Bool {
        guard let held = current(camera, monotonic()), held.holder.identity == controller else { return false }
        leases[camera] = nil
        publish(.released(camera: camera, by: held.holder))
        return true
    }

    /// Gives back every camera `controller` holds (sign-out, a disabled account, a tour
    /// deleted).
    public func releaseAll(by controller: Controller.Identity) {
        for camera in leases.keys.sorted() { release(camera: camera, by: controller) }
        lost[controller] = nil
    }

    /// Control events from now on, until the stream's consumer stops.
    public func events() -> AsyncStream<ControlEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: ControlEvent.self, bufferingPolicy: .bufferingNewest(256))
        let id = UUID()
        watchers[id] = continuation
        continuation.onTermination = { _ in Task { await self.unwatch(id) } }
        return stream
    }

    func unwatch(_ id: UUID) { watchers[id] = nil }

    func publish(_ event: ControlEvent) {
        for watcher in watchers.values { watcher.yield(event) }
    }

    /// The lease of `camera` if it has not run out; one that has is dropped and announced.
    func current(_ camera: Int64, _ now: Duration) -> Held? {
        guard let held = leases[camera] else { return nil }
        guard held.expires > now else {
            leases[camera] = nil
            publish(.released(camera: camera, by: held.holder))
            return nil
        }
        return held
    }

    func until(_ expires: Duration, _ now: Duration) -> Date {
        let left = expires - now
        return wall().addingTimeInterval(Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
    }

    /// "14:03:27 UTC".
    func clock(_ expires: Duration, _ now: Duration) -> String {
        let seconds = Int(until(expires, now).timeIntervalSince1970.rounded(.up)) % 86_400
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60)) UTC"
    }
}
