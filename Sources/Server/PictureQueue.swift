import Access
import Base
import Centre
import Foundation
import ServiceLifecycle

/// The pictures reports ask for, made one after another after each report's answer has
/// gone: a slow decode never holds up an operator. The queue is bounded (a picture beyond
/// it is left out and said so in the report's answer), worked by one task started with the
/// first picture, and at shutdown (`PictureService`) the one in hand is finished and the
/// rest are said on their incidents' timelines as not made. What became of each picture is
/// kept for its requester for a few minutes, for the console's push (`EventRoutes`).
public actor PictureQueue {
    struct Job: Sendable {
        var incidentID: Int64
        var cameraID: Int64
        var atMicros: Int64
        /// When the report asked for it.
        var requestedMicros: Int64
        /// The report's audit entry, completed for the picture's own.
        var entry: AuditEntry
        var principal: Principal
    }

    /// What became of one picture, for its requester's console.
    struct Outcome: Sendable, Encodable {
        var type = "picture"
        var seq: Int
        var incident: Int64
        var made: Bool
        var text: String
        /// For pruning (not sent).
        var userID: Int64
        var atMicros: Int64

        enum CodingKeys: String, CodingKey { case type, seq, incident, made, text }
    }

    /// Pictures waiting at once, across all reports: a minute or more of ffmpeg's work.
    static let capacity = 64
    /// How long an outcome waits for its requester's console, and how many are kept.
    static let outcomeMicros: Int64 = 5 * 60_000_000
    static let outcomesKept = 200

    private var jobs: [Job] = []
    private var worker: Task<Void, Never>?
    private var stopping = false
    private var outcomes: [Outcome] = []
    private var seq = 0

    public init() {}

    /// Queues what fits of `new`, to be made by `make` (the first caller's, for the queue's
    /// life); returns how many were taken.
    func enqueue(_ new: [Job], make: @escaping @Sendable (Job) async -> Void) -> Int {
        guard !stopping else { return 0 }
        let taken = Array(new.prefix(max(0, Self.capacity - jobs.count)))
        jobs += taken
        if worker == nil, !jobs.isEmpty { worker = Task { await self.work(make) } }
        return taken.count
    }

    private func work(_ make: @Sendable (Job) async -> Void) async {
        while !stopping, !jobs.isEmpty {
            let job = jobs.removeFirst()
            await make(job)
        }
        worker = nil
    }

    /// Stops taking pictures: waits for the one in hand and returns those never started.
    func stop() async -> [Job] {
        stopping = true
        let left = jobs
        jobs = []
        await worker?.value
        return left
    }

    /// Keeps what became of a picture for its requester's console.
    func record(userID: Int64, incident: Int64, made: Bool, text: String, nowMicros: Int64) {
        seq += 1
        outcomes.append(Outcome(seq: seq, incident: incident, made: made, text: text, userID: userID, atMicros: nowMicros))
        outcomes.removeAll { $0.atMicros < nowMicros - Self.outcomeMicros }
        if outcomes.count > Self.outcomesKept { outcomes.removeFirst(outcomes.count - Self.outcomesKept) }
    }

    /// `userID`'s outcomes after `seq` (nil: only the latest sequence number, to start from).
    func outcomes(for userID: Int64, after seq: Int?) -> (seq: Int, outcomes: [Outcome]) {
        guard let seq else { return (self.seq, []) }
        return (self.seq, outcomes.filter { $0.userID == userID && $0.seq > seq })
    }
}

/// At shutdown, finishes the picture in hand and says the others were not made: on their
/// incidents' timelines and in the audit log, before the log is sealed.
public struct PictureService: Service {
    let env: ServerEnvironment

    public init(environment: ServerEnvironment) {
        self.env = environment
    }

    public func run() async throws {
        try? await gracefulShutdown()
        let left = await env.pictures.stop()
        let routes = IncidentRoutes(env: env)
        for job in left {
            try? await routes.noteMissed(job, .failed, "the server stopped before it could be made")
        }
    }
}
