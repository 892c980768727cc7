// Tours the server runs: a camera visits its presets in order, holding each for its dwell,
// while the tour's weekly schedule says so. A tour holds the camera at the lowest priority:
// anyone steering it pauses the tour, which resumes from the step it was about to take
// once their lease ends. At most one tour runs per camera (the lowest-numbered active one).
// Operators see whether a camera's tour is running or paused (`TourBoard`); its route is
// for supervisors.

import Access
import Base
import Catalog
import Foundation
import Logging
import Onvif
import Records
import Synchronization

/// The rules a tour must meet.
public enum TourRules {
    public static let dwellSeconds = 2...3600
    public static let maximumSteps = 64
    public static let maximumWindows = 14

    public static func validate(_ t: PTZTourRecord) throws {
        try TextField.check(t.name, "a tour's name", maximum: 64)
        guard (1...maximumSteps).contains(t.steps.count) else {
            throw VigilError(.invalid, "a tour has 1 to \(maximumSteps) steps")
        }
        for step in t.steps {
            try TextField.check(step.preset, "a tour step's preset", maximum: 64)
            guard dwellSeconds.contains(step.dwellSeconds) else {
                throw VigilError(.invalid, "a step's dwell is \(dwellSeconds.lowerBound) to \(dwellSeconds.upperBound) seconds")
            }
        }
        guard t.schedule.count <= maximumWindows else {
            throw VigilError(.invalid, "a tour has at most \(maximumWindows) schedule windows")
        }
        for window in t.schedule {
            guard !window.days.isEmpty, window.days.count <= 7, window.days.allSatisfy((1...7).contains) else {
                throw VigilError(.invalid, "a schedule window's days are ISO weekdays, 1 (Monday) to 7 (Sunday)")
            }
            guard (0...1439).contains(window.fromMinute), (0...1440).contains(window.toMinute) else {
                throw VigilError(.invalid, "a schedule window runs between minutes 0 and 1440 of the day")
            }
        }
    }

    /// Whether `windows` (none: always) include `date` in `timeZone`.
    public static func isActive(_ windows: [PTZTourRecord.Window], at date: Date, timeZone: TimeZone) -> Bool {
        guard !windows.isEmpty else { return true }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let parts = calendar.dateComponents([.weekday, .hour, .minute], from: date)
        guard let weekday = parts.weekday, let hour = parts.hour, let minute = parts.minute else { return false }
        let today = (weekday + 5) % 7 + 1 // Calendar's 1 is Sunday; ISO's is Monday
        let yesterday = (today + 5) % 7 + 1
        let now = hour * 60 + minute
        return windows.contains { w in
            if w.fromMinute < w.toMinute { return w.days.contains(today) && (w.fromMinute..<w.toMinute).contains(now) }
            // Past midnight: the evening part on its day, the morning part on the next.
            return (w.days.contains(today) && now >= w.fromMinute) || (w.days.contains(yesterday) && now < w.toMinute)
        }
    }
}

/// What operators may know of a camera's tour: whether it runs.
public enum TourState: String, Sendable, Equatable, Encodable {
    case running, paused
}

/// Each camera's tour state, written by the runner, read by the routes.
public final class TourBoard: Sendable {
    let states = Mutex<[Int64: TourState]>([:])
    public init() {}
    public func state(camera: Int64) -> TourState? { states.withLock { $0[camera] } }
    func set(_ state: TourState?, camera: Int64) { states.withLock { $0[camera] = state } }
}

/// Runs the tours: a tick a second, each due step sent on its own task (a camera that does
/// not answer holds up no other).
public actor TourRunner {
    struct Progress {
        var tour: Int64
        var next: Int
        var due: Duration
    }

    let catalog: Catalog
    let control: CameraControl
    public nonisolated let board: TourBoard
    let timeZone: TimeZone
    let logger: Logger
    let tick: Duration
    var progress: [Int64: Progress] = [:] // by camera

    public init(
        catalog: Catalog, control: CameraControl, board: TourBoard, timeZone: TimeZone = .current, tick: Duration = .seconds(1),
        logger: Logger
    ) {
        self.catalog = catalog
        self.control = control
        self.board = board
        self.timeZone = timeZone
        self.tick = tick
        self.logger = logger
    }

    /// Until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await step(now: .now)
            try? await Task.sleep(for: tick)
        }
    }

    /// One tick: which tour each camera runs now, and the steps that are due.
    func step(now: ContinuousClock.Instant) async {
        let tours: [PTZTourRecord]
        do { tours = try await catalog.tours() } catch {
            logger.error("tours could not be read: \(error)")
            return
        }
        let wall = Date()
        var active: [Int64: PTZTourRecord] = [:]
        for t in tours where t.enabled && !t.steps.isEmpty && TourRules.isActive(t.schedule, at: wall, timeZone: timeZone) {
            if active[t.cameraID] == nil { active[t.cameraID] = t }
        }
        for camera in Set(progress.keys).union(board.states.withLock { Set($0.keys) }) where active[camera] == nil {
            if let stopped = progress.removeValue(forKey: camera) { await control.arbiter.releaseAll(by: .tour(stopped.tour)) }
            board.set(nil, camera: camera)
        }
        let elapsed = now - ContinuousClock.Instant.runnerOrigin
        var due: [(PTZTourRecord, Int)] = []
        for (camera, t) in active {
            var p = progress[camera].flatMap { $0.tour == t.id ? $0 : nil } ?? Progress(tour: t.id, next: 0, due: elapsed)
            p.next %= t.steps.count
            progress[camera] = p
            if p.due <= elapsed { due.append((t, p.next)) }
        }
        let outcomes = await withTaskGroup(of: (Int64, Result<Void, any Error>).self) { group in
            for (t, index) in due {
                let control = self.control
                group.addTask {
                    do {
                        try await control.tourStep(camera: t.cameraID, tour: t.id, preset: t.steps[index].preset)
                        return (t.cameraID, .success(()))
                    } catch {
                        return (t.cameraID, .failure(error))
                    }
                }
            }
            var all: [(Int64, Result<Void, any Error>)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        for (camera, outcome) in outcomes {
            guard let t = active[camera], var p = progress[camera] else { continue }
            switch outcome {
            case .success:
                p.due = elapsed + .seconds(t.steps[p.next].dwellSeconds)
                p.next = (p.next + 1) % t.steps.count
                board.set(.running, camera: camera)
            case let .failure(error as VigilError) where error.code == .conflict:
                // Someone steers the camera: try the same step again next tick.
                board.set(.paused, camera: camera)
            case let .failure(error):
                // Which preset failed stays out of the log (the route is confidential): the
                // camera's own failure is said, a missing preset only as such.
                let why =
                    (error as? OnvifDeviceError)?.description ?? (error as? any CodedError).map { "\($0.code)" } ?? "\(type(of: error))"
                logger.warning("tour \(t.id) on camera \(camera): a step failed: \(why)")
                p.due = elapsed + .seconds(10)
                board.set(.paused, camera: camera)
            }
            progress[camera] = p
        }
    }
}

extension ContinuousClock.Instant {
    /// Where the runner counts its durations from.
    static let runnerOrigin = ContinuousClock.now
}

/// The tours as the routes read and change them. Writes are catalog writes only, so each
/// can run inside `AuditTrail.append(with:entry:)` with the entry that records it.
public struct TourRegister: Sendable {
    let catalog: Catalog

    public init(catalog: Catalog) { self.catalog = catalog }

    public func all() async throws -> [PTZTourRecord] { try await catalog.tours() }

    public func tour(id: Int64) async throws -> PTZTourRecord {
        guard let t = try await catalog.tour(id: id) else { throw VigilError(.notFound, "no such tour") }
        return t
    }

    /// Checks a tour against the rules and its camera (which must have PTZ).
    public func check(_ t: PTZTourRecord) async throws {
        try TourRules.validate(t)
        guard let camera = try await catalog.camera(id: t.cameraID) else { throw VigilError(.invalid, "no camera \(t.cameraID)") }
        guard camera.ptzProfile != nil else { throw VigilError(.invalid, "camera \(camera.name) has no PTZ: it cannot tour") }
    }

    public func add(_ t: PTZTourRecord) async throws -> PTZTourRecord {
        try await check(t)
        return try await catalog.addTour(t)
    }

    public func replace(_ t: PTZTourRecord) async throws {
        try await check(t)
        guard try await catalog.tour(id: t.id) != nil else { throw VigilError(.notFound, "no such tour") }
        try await catalog.updateTour(t)
    }

    public func remove(id: Int64) async throws {
        guard try await catalog.deleteTour(id: id) else { throw VigilError(.notFound, "no such tour") }
    }
}
