import Access
import Centre
import Foundation
import Synchronization
import Testing

@testable import Server

/// The queue of a report's pictures: bounded, worked one at a time, stopped at shutdown
/// with the one in hand finished and the rest handed back; what became of each kept for its
/// requester only.
@Suite struct PictureQueueTests {
    static func job(_ n: Int64) -> PictureQueue.Job {
        PictureQueue.Job(
            incidentID: n, cameraID: 1, atMicros: 0, requestedMicros: 0,
            entry: AuditEntry(action: .incidentSnapshot, result: .ok, user: "op", address: "127.0.0.1", userAgent: "test"),
            principal: Principal(userID: 1, name: "op", role: .operator))
    }

    @Test func itTakesWhatFitsWorksInOrderAndHandsBackTheRestAtShutdown() async throws {
        let queue = PictureQueue()
        let made = Mutex<[Int64]>([])
        let (release, go) = AsyncStream.makeStream(of: Void.self)
        let gate = Mutex<AsyncStream<Void>.Iterator?>(release.makeAsyncIterator())
        // The first picture is held until the test lets it go; the rest are instant.
        let make: @Sendable (PictureQueue.Job) async -> Void = { job in
            if job.incidentID == 0,
                var iterator = gate.withLock({ held in
                    defer { held = nil }
                    return held
                })
            {
                _ = await iterator.next()
            }
            made.withLock { $0.append(job.incidentID) }
        }
        #expect(await queue.enqueue((0..<70).map { Self.job($0) }, make: make) == PictureQueue.capacity)
        // The one in hand leaves its place: one more fits, the next is left out, never waiting.
        try await Task.sleep(for: .milliseconds(50))
        #expect(await queue.enqueue([Self.job(99), Self.job(98)], make: make) == 1)
        // Stopped while the first is in hand: it is finished, the others come back unstarted.
        async let left = queue.stop()
        try await Task.sleep(for: .milliseconds(50))
        go.yield()
        let unstarted = await left
        #expect(made.withLock { $0 } == [0])
        #expect(unstarted.map(\.incidentID) == Array(1..<Int64(PictureQueue.capacity)) + [99])
        #expect(await queue.enqueue([Self.job(100)], make: make) == 0, "stopped: nothing more is taken")
    }

    @Test func whatBecameOfAPictureIsToldToItsRequesterOnly() async {
        let queue = PictureQueue()
        let start = await queue.outcomes(for: 1, after: nil)
        #expect(start.outcomes.isEmpty)
        await queue.record(userID: 1, incident: 5, made: true, text: "made", nowMicros: 1_000_000_000)
        await queue.record(userID: 2, incident: 6, made: false, text: "not made", nowMicros: 1_000_000_000)
        let mine = await queue.outcomes(for: 1, after: start.seq)
        #expect(mine.outcomes.map(\.incident) == [5] && mine.seq == start.seq + 2)
        #expect(await queue.outcomes(for: 1, after: mine.seq).outcomes.isEmpty)
        // Kept for a few minutes only.
        await queue.record(userID: 1, incident: 7, made: true, text: "later", nowMicros: 1_000_000_000 + PictureQueue.outcomeMicros + 1)
        #expect(await queue.outcomes(for: 1, after: start.seq).outcomes.map(\.incident) == [7])
    }
}
