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

/// What operators may know of a camera's tour: whether it runs, is paused (someone steers
/// the camera), or is failing (none of its last steps was taken: the camera does not
/// answer, or its presets are gone).
public enum TourState: String, Sendable, Equatable, Encodable {
    case running, paused, failing
}

/// Each camera's tour state, written by the runner, read by the routes.
public final class TourBoard: Sendable {
    let states = Mutex<[Int64: TourState]>([:])
    public init() {}
    public func state(camera: Int64) -> TourState? { states.withLock { $0[camera] } }
    func set(_ state: TourState?, camera: Int64) { states.withLock { $0[camera] = state } }
}

/// Runs the tours: a tick a second, each due step sent on its own task (a camera that does
/// not answer holds up no other). A step's dwell counts from the tick that sent it.
public actor TourRunner {
    struct Progress {
        var tour: Int64
        var next: Int
        var due: Duration
        /// Steps failed in a row (none taken): as many as the tour has is `failing`.
        var failures = 0
    }

    let catalog: Catalog
    let control: CameraControl
    public nonisolated let board: TourBoard
    let timeZone: TimeZone
    let logger: Logger
    let tick: Duration
    var progress: [Int64: Progress] = [:] // by camera
    /// The step being sent, by camera.
    var inFlight: [Int64: Task<Void, Never>] = [:]

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

    /// One tick: which tour each camera runs now, and the steps that are due, each sent on
    /// a task of its own (a camera that is slow to answer holds up no other camera's tour;
    /// a camera whose step is still being sent is skipped). `wall`: the time the schedule
    /// is read at.
    func step(now: ContinuousClock.Instant, wall: Date = Date()) async {
        let tours: [PTZTourRecord]
        do { tours = try await catalog.tours() } catch {
            logger.error("tours could not be read: \(error)")
            return
        }
        var active: [Int64: PTZTourRecord] = [:]
        for t in tours where t.enabled && !t.steps.isEmpty && TourRules.isActive(t.schedule, at: wall, timeZone: timeZone) {
            if active[t.cameraID] == nil { active[t.cameraID] = t }
        }
        for camera in Set(progress.keys).union(board.states.withLock { Set($0.keys) }) where active[camera] == nil {
            if let stopped = progress.removeValue(forKey: camera) { await control.arbiter.releaseAll(by: .tour(stopped.tour)) }
            board.set(nil, camera: camera)
        }
        let elapsed = now - ContinuousClock.Instant.runnerOrigin
        for (camera, t) in active {
            // Another tour took over this camera (a window ended, one was disabled): the
            // old one gives the camera back first.
            if let old = progress[camera], old.tour != t.id {
                await control.arbiter.releaseAll(by: .tour(old.tour))
                progress[camera] = nil
            }
            var p = progress[camera] ?? Progress(tour: t.id, next: 0, due: elapsed)
            p.next %= t.steps.count
            progress[camera] = p
            guard p.due <= elapsed, inFlight[camera] == nil else { continue }
            let (control, index) = (self.control, p.next)
            inFlight[camera] = Task {
                let outcome: Result<Void, any Error>
                do {
                    try await control.tourStep(camera: t.cameraID, tour: t.id, preset: t.steps[index].preset)
                    outcome = .success(())
                } catch {
                    outcome = .failure(error)
                }
                self.finish(camera: camera, tour: t, index: index, outcome: outcome, startedAt: elapsed)
            }
        }
    }

    /// Waits for the steps being sent (for tests).
    func settle() async {
        while let task = inFlight.first?.value { await task.value }
    }

    func finish(camera: Int64, tour t: PTZTourRecord, index: Int, outcome: Result<Void, any Error>, startedAt: Duration) {
        inFlight[camera] = nil
        guard var p = progress[camera], p.tour == t.id, index < t.steps.count else { return }
        switch outcome {
        case .success:
            p.due = startedAt + .seconds(t.steps[index].dwellSeconds)
            p.next = (index + 1) % t.steps.count
            p.failures = 0
            board.set(.running, camera: camera)
        case let .failure(error as VigilError) where error.code == .conflict:
            // Someone steers the camera: the same step is tried again next tick.
            board.set(.paused, camera: camera)
        case let .failure(error):
            // A step that fails (a preset removed, the camera not answering) is passed over:
            // one bad step does not stop the tour. The log says the kind of failure only
            // (`auditReason`): which preset, or the camera's own words, stay out of it.
            logger.warning("tour \(t.id) on camera \(camera): a step failed: \(CameraControl.auditReason(error))")
            p.due = startedAt + .seconds(10)
            p.next = (index + 1) % t.steps.count
            p.failures += 1
            board.set(p.failures >= t.steps.count ? .failing : .running, camera: camera)
        }
        progress[camera] = p
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
        guard camera.removedMicros == nil || !t.enabled else {
            throw VigilError(.invalid, "camera \(camera.name) was removed: it cannot tour")
        }
        guard camera.ptzProfile != nil || !t.enabled else { throw VigilError(.invalid, "camera \(camera.name) has no PTZ: it cannot tour") }
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
