import Foundation
import Logging
import Media
import Records
import TestSupport
import Testing

@testable import Catalog
@testable import Recording

/// The per-camera segment hash chain: made as segments close, verified by `vigil check`,
/// broken by every kind of tampering, kept intact by retention.
@Suite("Segment hash chain and evidence holds")
struct ChainTests {
    /// Runs `body` on five closed segments of camera "a", chained as they were recorded.
    static func withRecorded(_ label: String, _ body: (inout Harness, [SegmentRecord]) async throws -> Void) async throws {
        try await Harness.with(label) { h in
            let r = try await h.recorder("a")
            try await h.feed(r, count: 250)
            try await r.stop()
            let segments = try await h.catalog.allSegments()
            try #require(segments.count == 5)
            try await body(&h, segments)
        }
    }

    func problems(_ h: Harness) async throws -> [String] {
        try await Checker.check(catalog: h.catalog, store: h.store).problems
    }

    @Test func segmentsAreChainedInOrderAsTheyClose() async throws {
        try await Self.withRecorded("chain") { h, segments in
            let links = try await h.catalog.chainLinks(cameraID: segments[0].cameraID)
            #expect(links.map(\.segmentID) == segments.map(\.id))
            #expect(links.map(\.position) == [0, 1, 2, 3, 4])
            #expect(links[0].previousLink == SegmentChain.genesis)
            for (a, b) in zip(links, links.dropFirst()) { #expect(b.previousLink == a.link) }
            for (l, s) in zip(links, segments) { #expect(l.sha256 == s.sha256) }
            #expect(try await problems(h).isEmpty)
        }
    }

    /// Chaining runs at every segment close; finding what is unchained must look up each
    /// candidate in the chain (its unique segment-id index), never read the camera's whole
    /// chain, which grows by 525 000 links a year.
    @Test func findingUnchainedSegmentsDoesNotReadTheWholeChain() async throws {
        try await Self.withRecorded("chain-plan") { h, segments in
            let query = Catalog.unchainedSegmentsQuery(cameraID: segments[0].cameraID, startingFrom: segments[3].startMicros)
            let plan = try await h.catalog.database.raw("EXPLAIN QUERY PLAN \(query)").all()
                .map { try $0.decode(column: "detail", as: String.self) }
            #expect(plan.contains { $0.contains("segment_chain") && $0.contains("(segment_id=?)") }, "\(plan)")
            #expect(!plan.contains { $0.contains("segment_chain") && $0.contains("(camera_id=?)") }, "\(plan)")
            #expect(!plan.contains { $0.contains("SCAN") && $0.contains("segment_chain") }, "\(plan)")
            // And it finds what it must: unchain the last two, and they come back in order.
            try await h.catalog.database.raw(
                "DELETE FROM segment_chain WHERE segment_id IN (\(bind: segments[3].id), \(bind: segments[4].id))"
            ).run()
            let found = try await h.catalog.unchainedSegments(cameraID: segments[0].cameraID, startingFrom: segments[2].startMicros)
            #expect(found.map(\.id) == [segments[3].id, segments[4].id])
        }
    }

    /// The signer asks for every camera's newest head every minute; the answer must come
    /// from the end of the key, not from reading a head a minute since recording began.
    @Test func theLatestChainHeadIsReadFromTheEndOfTheKey() async throws {
        try await Self.withRecorded("chain-head-plan") { h, segments in
            let camera = segments[0].cameraID
            #expect(try await h.catalog.latestChainHead(cameraID: camera) == nil)
            for position: Int64 in [0, 2, 4] {
                try await h.catalog.addChainHead(
                    ChainHeadRecord(cameraID: camera, position: position, note: "head \(position)", signedMicros: position))
            }
            try await h.catalog.addChainHead(ChainHeadRecord(cameraID: camera + 1, position: 9, note: "another camera", signedMicros: 9))
            #expect(try await h.catalog.latestChainHead(cameraID: camera)?.note == "head 4")
            // One row comes back, found by the index in its order (no sort of all of them).
            #expect(try await h.catalog.database.raw(Catalog.latestChainHeadQuery(cameraID: camera)).all().count == 1)
            let plan = try await h.catalog.database.raw("EXPLAIN QUERY PLAN \(Catalog.latestChainHeadQuery(cameraID: camera))").all()
                .map { try $0.decode(column: "detail", as: String.self) }
            #expect(plan.count == 1 && plan[0].hasPrefix("SEARCH chain_heads USING") && plan[0].hasSuffix("(camera_id=?)"), "\(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "\(plan)")
        }
    }

    @Test func removingASegmentOutsideRetentionBreaksTheChain() async throws {
        try await Self.withRecorded("chain-remove") { h, segments in
            try await h.catalog.database.raw("DELETE FROM segments WHERE id = \(bind: segments[2].id)").run()
            try h.store.remove(cameraID: segments[2].cameraID, fileName: segments[2].fileName)
            #expect(try await problems(h).contains { $0.contains("position 2") && $0.contains("removed outside retention") })
            // Hiding it by also removing its link breaks the links' succession instead.
            try await h.catalog.database.raw("DELETE FROM segment_chain WHERE segment_id = \(bind: segments[2].id)").run()
            let after = try await problems(h)
            #expect(after.contains { $0.contains("position 3") && $0.contains("positions 2…2 are missing") })
            #expect(after.contains { $0.contains("position 3") && $0.contains("does not follow") })
        }
    }

    @Test func reorderingOrAlteringSegmentRowsBreaksTheChain() async throws {
        try await Self.withRecorded("chain-reorder") { h, segments in
            // Swap two segments' start times.
            try await h.catalog.database.raw(
                "UPDATE segments SET start_micros = \(bind: segments[3].startMicros) WHERE id = \(bind: segments[1].id)"
            ).run()
            try await h.catalog.database.raw(
                "UPDATE segments SET start_micros = \(bind: segments[1].startMicros) WHERE id = \(bind: segments[3].id)"
            ).run()
            let swapped = try await problems(h)
            #expect(swapped.contains { $0.contains("position 1") && $0.contains("differs from what was chained") })
            #expect(swapped.contains { $0.contains("position 3") && $0.contains("differs from what was chained") })
            // Rewriting the chain record to match the altered row is caught by the next link.
            var link = try #require(try await h.catalog.chainLinks(cameraID: segments[1].cameraID, from: 1, through: 1).first)
            link.startMicros = segments[3].startMicros
            let forged = SegmentChain.link(of: link)
            try await h.catalog.database.raw(
                """
                UPDATE segment_chain SET start_micros = \(bind: link.startMicros), link = \(bind: Data(forged)) WHERE position = 1
                """
            ).run()
            #expect(try await problems(h).contains { $0.contains("position 2") && $0.contains("does not follow") })
        }
    }

    @Test func alteringTheSampleIndexBreaksTheChain() async throws {
        try await Self.withRecorded("chain-index") { h, segments in
            // Same bytes, same frame count, different timing: only the index changes.
            var entries = try SampleIndex.decode(segments[0].sampleIndex)
            entries[1].duration += 1800
            entries[2].duration -= 1800
            try await h.catalog.database.raw(
                "UPDATE segments SET sample_index = \(bind: Data(SampleIndex.encode(entries))) WHERE id = \(bind: segments[0].id)"
            ).run()
            #expect(try await problems(h).contains { $0.contains("position 0") && $0.contains("differs from what was chained") })
        }
    }

    @Test func aDeletedSegmentsIdIsNeverHandedOutAgain() async throws {
        try await Self.withRecorded("chain-ids") { (h: inout Harness, segments) in
            // The newest segment goes (the disk floor may delete the newest unheld one).
            try await h.catalog.deleteSegment(id: segments[4].id, reason: "retention: test")
            try h.store.remove(cameraID: segments[4].cameraID, fileName: segments[4].fileName)
            let r = try await h.recorder("a")
            try await h.feed(r, count: 100)
            try await r.stop()
            let newer = try await h.catalog.allSegments().filter { $0.startMicros > segments[4].startMicros }
            #expect(!newer.isEmpty && newer.allSatisfy { $0.id > segments[4].id }, "\(newer.map(\.id)) reuse \(segments[4].id)")
            #expect(try await problems(h).isEmpty)
        }
    }

    @Test func retentionKeepsTheChainVerifiableAndExhibitsHoldTheirSegments() async throws {
        try await Self.withRecorded("chain-retention") { h, segments in
            let camera = segments[0].cameraID
            // An exhibit over part of segment 3 holds it; nothing else does.
            let exhibit = try await h.catalog.addEvidence(
                EvidenceRecord(
                    requestingBody: "police", caseReference: "RSD-1/26", legalBasis: "art. 15 ust. 1 pkt 1", purpose: "test",
                    createdBy: "t", createdMicros: h.clock.now,
                    ranges: [
                        .init(cameraID: camera, fromMicros: segments[3].startMicros + 500_000, toMicros: segments[3].startMicros + 900_000)
                    ]),
                year: 2026)
            #expect(exhibit.exhibit == "EV-2026-000001")
            #expect(try await h.catalog.heldByEvidence(segmentIDs: segments.map(\.id)) == [segments[3].id])
            // The disk floor deletes everything it may, oldest first: the held segment stays.
            let deleted = try await Retention.enforce(
                catalog: h.catalog, store: h.store, policy: RetentionPolicy(freeBytesFloor: Int64.max / 4),
                wallClock: h.clock.wallClock, logger: Logger(label: "t"))
            #expect(deleted == [0, 1, 2, 4].map { segments[$0].fileName })
            #expect(try await h.catalog.allSegments().map(\.id) == [segments[3].id])
            #expect(h.store.size(cameraID: camera, fileName: segments[3].fileName) == segments[3].byteCount)
            // The chain still verifies: the deleted segments' links remain, marked.
            let links = try await h.catalog.chainLinks(cameraID: camera)
            #expect(links.count == 5 && links.filter { $0.deletedMicros != nil }.count == 4)
            #expect(links[0].deletedReason?.hasPrefix("retention: disk floor") == true)
            #expect(try await problems(h).isEmpty)
            // Released: the next pass may delete it.
            try await h.catalog.releaseEvidence(id: exhibit.id, by: "supervisor", reason: "case closed", atMicros: h.clock.now)
            #expect(try await h.catalog.heldByEvidence(segmentIDs: [segments[3].id]).isEmpty)
            let later = try await Retention.enforce(
                catalog: h.catalog, store: h.store, policy: RetentionPolicy(freeBytesFloor: Int64.max / 4),
                wallClock: h.clock.wallClock, logger: Logger(label: "t"))
            #expect(later == [segments[3].fileName])
        }
    }

    static func exhibit(camera: Int64, from: Int64, to: Int64, at: Int64) -> EvidenceRecord {
        EvidenceRecord(
            requestingBody: "police", caseReference: "RSD-2/26", legalBasis: "art. 15", purpose: "test", createdBy: "t",
            createdMicros: at, ranges: [.init(cameraID: camera, fromMicros: from, toMicros: to)])
    }

    /// Retention selects, then deletes: an exhibit made in between keeps its footage,
    /// because the hold is checked again in the statement that deletes.
    @Test func anExhibitMadeMidSweepKeepsItsFootage() async throws {
        try await Self.withRecorded("mid-sweep") { h, segments in
            let camera = segments[0].cameraID
            let selected = try await h.catalog.oldestDeletableSegments(limit: 10)
            #expect(selected.map(\.id) == segments.map(\.id))
            _ = try await h.catalog.addEvidence(
                Self.exhibit(
                    camera: camera, from: segments[1].startMicros, to: segments[1].startMicros + 1,
                    at: h.clock.now), year: 2026)
            var kept: [Int64] = []
            for s in selected where !(try await h.catalog.deleteExpiredSegment(id: s.id, reason: "retention: test")) { kept.append(s.id) }
            #expect(kept == [segments[1].id])
            #expect(try await h.catalog.allSegments().map(\.id) == [segments[1].id])
            let links = try await h.catalog.chainLinks(cameraID: camera)
            #expect(links.filter { $0.deletedMicros == nil }.map(\.segmentID) == [segments[1].id])
        }
    }

    /// Two processes registering exhibits at once (the server and `vigil evidence create`)
    /// get different numbers; a failed exhibit leaves nothing behind; numbers follow the
    /// highest, not the count.
    @Test func exhibitNumbersStayUniqueAndAnExhibitIsWholeOrAbsent() async throws {
        try await Self.withRecorded("exhibits") { h, segments in
            let camera = segments[0].cameraID
            let other = try await Catalog.openSQLite(path: h.dir + "/catalog.sqlite")
            let now = h.clock.now
            let numbers: [String]
            do {
                numbers = try await withThrowingTaskGroup(of: String.self) { group in
                    for i in 0..<12 {
                        let catalog = i % 2 == 0 ? h.catalog : other
                        group.addTask {
                            try await catalog.addEvidence(Self.exhibit(camera: camera, from: now - 1000, to: now, at: now), year: 2026)
                                .exhibit
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                await other.close()
            } catch {
                await other.close()
                throw error
            }
            #expect(Set(numbers).count == 12, "\(numbers.sorted())")
            // A range naming no camera fails the insert: no exhibit without its ranges.
            await #expect(throws: (any Error).self) {
                try await h.catalog.addEvidence(Self.exhibit(camera: 999_999, from: now - 1000, to: now, at: now), year: 2026)
            }
            #expect(try await h.catalog.evidence(exhibit: "EV-2026-000013") == nil)
            // A gap in the numbers (a row removed by hand) never makes two exhibits share one.
            try await h.catalog.database.raw(
                "DELETE FROM evidence_ranges WHERE evidence_id = (SELECT id FROM evidence_items WHERE exhibit = 'EV-2026-000003')"
            ).run()
            try await h.catalog.database.raw("DELETE FROM evidence_items WHERE exhibit = 'EV-2026-000003'").run()
            let next = try await h.catalog.addEvidence(Self.exhibit(camera: camera, from: now - 1000, to: now, at: now), year: 2026)
            #expect(next.exhibit == "EV-2026-000013")
        }
    }
}
