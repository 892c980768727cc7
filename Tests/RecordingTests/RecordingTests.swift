import Base
import Catalog
import Foundation
import Logging
import Media
import RTSP
import Records
import Synchronization
import TestSupport
import Testing

@testable import Recording

/// A wall clock the test moves by hand.
final class ManualClock: Sendable {
    let micros = Mutex<Int64>(1_800_000_000_000_000)
    var wallClock: WallClock { WallClock { [self] in micros.withLock { $0 } } }
    func advance(micros delta: Int64) { micros.withLock { $0 += delta } }
    var now: Int64 { micros.withLock { $0 } }
}

/// A data directory with a catalog and a sample store, plus frames from a real clip.
struct Harness {
    let dir: String
    let catalog: Catalog
    let store: SampleStore
    let runIDs: RunIDAllocator
    let clock = ManualClock()
    let frames: [(data: [UInt8], isKey: Bool)]
    let parameters: VideoParameters
    var timestamp: Ticks90k = 1_000_000

    /// Runs `body` on a fresh harness, closed and removed afterwards (`TestSupport.withCatalog`).
    static func with(_ label: String, _ body: (inout Harness) async throws -> Void) async throws {
        let clip = try await TestSupport.clip(codec: .h264, width: 640, height: 360, seconds: 4, gop: 25)
        let frames = try TestSupport.frames(of: clip, codec: .h264), parameters = try TestSupport.parameters(of: clip, codec: .h264)
        try await TestSupport.withCatalog(label) { dir, catalog in
            var h = Harness(
                dir: dir, catalog: catalog, store: try SampleStore(root: dir + "/samples"),
                runIDs: try await RunIDAllocator(catalog: catalog), frames: frames, parameters: parameters)
            try await body(&h)
        }
    }

    func recorder(_ name: String, segmentSeconds: Double = 1.5, flushInterval: Duration = .seconds(1)) async throws -> Recorder {
        let camera = try await catalog.upsertCamera(name: name, url: "rtsp://127.0.0.1/\(name)", retentionDays: 30)
        var config = RecorderConfiguration()
        config.segmentLength = Ticks90k(segmentSeconds * 90_000)
        config.flushInterval = flushInterval
        let r = Recorder(
            camera: camera, catalog: catalog, store: store, runIDs: runIDs, configuration: config,
            wallClock: clock.wallClock, logger: Logger(label: "test"))
        try await r.start()
        return r
    }

    /// Feeds `count` frames at 25 fps (wall clock advancing with them), starting at clip frame `from`.
    mutating func feed(
        _ recorder: Recorder, count: Int, from: Int = 0, parameters: VideoParameters? = nil,
        frames: [(data: [UInt8], isKey: Bool)]? = nil
    ) async throws {
        let source = frames ?? self.frames
        for i in 0..<count {
            let f = source[(from + i) % source.count]
            try await recorder.handle(
                .frame(
                    DepacketizedFrame(
                        frame: EncodedFrame(timestamp: timestamp, isKey: f.isKey, data: f.data),
                        parameters: parameters ?? self.parameters)))
            timestamp += 3600
            clock.advance(micros: 40_000)
        }
    }

}

@Suite("Recording: segments, gaps, recovery, retention, check, export")
struct RecordingTests {
    @Test func segmentsAreCutAtTheFirstKeyFrameAfterTheLength() async throws {
        try await Harness.with("cut") { (h: inout Harness) in
            let r = try await h.recorder("a")
            try await h.feed(r, count: 250) // 10 s, a key frame every second
            try await r.stop()
            let camera = try #require(try await h.catalog.camera(named: "a"))
            let segments = try await h.catalog.segments(cameraID: camera.id, from: 0, to: Int64.max / 2)
            // 1.5 s asked: each cut waits for the key frame at 2 s.
            #expect(segments.map(\.frameCount) == [50, 50, 50, 50, 50])
            #expect(segments.allSatisfy { $0.state == .closed && $0.duration == 50 * 3600 })
            for (a, b) in zip(segments, segments.dropFirst()) { #expect(a.endMicros == b.startMicros) } // contiguous
            for s in segments {
                #expect(try h.store.sha256(cameraID: s.cameraID, fileName: s.fileName) == s.sha256)
                #expect(try SampleIndex.decode(s.sampleIndex).first?.isKey == true)
            }
            #expect(try await Checker.check(catalog: h.catalog, store: h.store).isClean)
        }
    }

    /// A camera that sends one key frame and then only inter frames (or lies in its
    /// timestamps, each frame claiming a 10 s step) cannot grow one segment without end.
    @Test func aSegmentWithoutANewKeyFrameIsClosedPastItsOverrun() async throws {
        try await Harness.with("overrun") { (h: inout Harness) in
            let camera = try await h.catalog.upsertCamera(name: "a", url: "rtsp://127.0.0.1/a", retentionDays: 30)
            var config = RecorderConfiguration()
            config.segmentLength = 2 * ticksPerSecond
            config.maxSegmentOverrun = 10 * ticksPerSecond
            let r = Recorder(
                camera: camera, catalog: h.catalog, store: h.store, runIDs: h.runIDs, configuration: config,
                wallClock: h.clock.wallClock, logger: Logger(label: "test"))
            try await r.start()
            let key = h.frames.first { $0.isKey }!, inter = h.frames.first { !$0.isKey }!
            var timestamp: Ticks90k = 0
            for i in 0..<400 {
                let f = i == 0 ? key : inter
                try await r.handle(
                    .frame(
                        DepacketizedFrame(
                            frame: EncodedFrame(timestamp: timestamp, isKey: f.isKey, data: f.data),
                            parameters: h.parameters)))
                timestamp += 3600
                h.clock.advance(micros: 40_000)
            }
            try await r.stop()
            let segments = try await h.catalog.allSegments()
            // 12 s of frames (2 s + 10 s overrun) in the one segment, the rest skipped until a key frame.
            #expect(segments.map(\.frameCount) == [300], "\(segments.map(\.frameCount))")
            #expect(await r.statistics.framesSkippedWaitingForKey == 100)
        }
    }

    @Test func framesBeforeTheFirstKeyFrameAreNotRecorded() async throws {
        try await Harness.with("key") { (h: inout Harness) in
            let r = try await h.recorder("a", segmentSeconds: 60)
            try await h.feed(r, count: 30, from: 10) // starts mid-GOP: 15 frames to skip
            try await r.stop()
            #expect(await r.statistics.framesSkippedWaitingForKey == 15)
            let segments = try await h.catalog.allSegments()
            #expect(segments.map(\.frameCount) == [15])
        }
    }

    @Test func droppedCameraIsAGapAndRecordingResumes() async throws {
        try await Harness.with("gap") { (h: inout Harness) in
            let r = try await h.recorder("a", segmentSeconds: 60)
            try await h.feed(r, count: 50)
            try await r.handle(.disconnected(RTSPError(.timeout("no data"), camera: "a")))
            h.clock.advance(micros: 3_000_000)
            h.timestamp += 1_000_000 // the camera's clock moved on too
            try await r.handle(.disconnected(RTSPError(.connection("refused"), camera: "a"))) // a failed retry: same gap
            try await h.feed(r, count: 50)
            try await r.stop()
            let camera = try #require(try await h.catalog.camera(named: "a"))
            let segments = try await h.catalog.segments(cameraID: camera.id, from: 0, to: Int64.max / 2)
            let gaps = try await h.catalog.gaps(cameraID: camera.id, from: 0, to: Int64.max / 2)
            #expect(segments.count == 2)
            #expect(gaps.count == 2) // the outage, and the open "recorder stopped" at the end
            #expect(gaps[0].startMicros == segments[0].endMicros && gaps[0].endMicros == segments[1].startMicros)
            #expect(gaps[0].reason.contains("no data"))
            #expect(segments[1].startMicros - segments[0].endMicros == 3_000_000)
            #expect(gaps[1].endMicros == nil && gaps[1].reason == "recorder stopped")
        }
    }

    @Test func parameterChangeStartsANewSegment() async throws {
        try await Harness.with("params") { (h: inout Harness) in
            let otherClip = try await TestSupport.clip(codec: .h264, width: 352, height: 288, seconds: 4, gop: 25)
            let other = (
                frames: try TestSupport.frames(of: otherClip, codec: .h264),
                parameters: try TestSupport.parameters(of: otherClip, codec: .h264)
            )
            let r = try await h.recorder("a", segmentSeconds: 60)
            try await h.feed(r, count: 40)
            try await h.feed(r, count: 30, parameters: other.parameters, frames: other.frames) // starts with a key frame
            try await r.stop()
            let segments = try await h.catalog.allSegments()
            #expect(segments.map(\.frameCount) == [40, 30])
            #expect(try segments.map { try VideoParameters(codec: $0.codec, parameterSets: $0.parameterSets).width } == [640, 352])
            let camera = try #require(try await h.catalog.camera(named: "a"))
            let plan = try await Exporter.plan(catalog: h.catalog, store: h.store, cameraID: camera.id, from: 0, to: Int64.max / 2)
            let out = h.dir + "/two-sizes.mp4"
            try Data(try plan.mp4(creationUnixSeconds: 0).read(0..<Int64.max)).write(to: URL(fileURLWithPath: out))
            let decode = try await TestSupport.strictDecode(out)
            #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
            #expect(try await TestSupport.probe(out).frames == 70)
        }
    }

    /// A recorder that dies (no stop) leaves an open row and bytes past it; recovery keeps
    /// what the row describes, cuts the rest, closes the row and opens a gap.
    @Test func crashRecoveryKeepsCommittedFramesAndCutsTheRest() async throws {
        try await Harness.with("crash") { (h: inout Harness) in
            let r = try await h.recorder("a", segmentSeconds: 60, flushInterval: .zero)
            try await h.feed(r, count: 60)
            // "kill -9": the recorder is abandoned; unflushed bytes follow the last commit.
            let open = try await h.catalog.segments(state: .open)
            #expect(open.count == 1)
            let row = try #require(open.first)
            let path = h.store.path(cameraID: row.cameraID, fileName: row.fileName)
            let handle = try #require(FileHandle(forWritingAtPath: path))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(repeating: 0xEE, count: 777))
            try handle.close()
            let fileSizeBefore = try #require(h.store.size(cameraID: row.cameraID, fileName: row.fileName))
            var actions = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
            // The unindexed tail is kept aside, the segment is closed and then joins the camera's hash chain.
            #expect(actions.first?.hasPrefix("quarantined-tail") == true, "\(actions)")
            actions.removeFirst()
            #expect(
                actions.count == 2 && actions[0].hasPrefix("recovered-segment")
                    && actions[1] == "chained: camera a: chain extended to position 0",
                "\(actions)")
            let fixed = try #require(try await h.catalog.allSegments().first)
            #expect(fixed.state == .closed && fixed.frameCount == row.frameCount && fixed.byteCount == row.byteCount)
            #expect(fileSizeBefore - fixed.byteCount >= 777)
            #expect(h.store.size(cameraID: row.cameraID, fileName: row.fileName) == fixed.byteCount)
            // The frame held back for its duration and the bytes after the last commit are all that is lost.
            #expect(fixed.frameCount >= 58)
            let gaps = try await h.catalog.openGaps(cameraID: row.cameraID)
            #expect(gaps.first?.startMicros == fixed.endMicros && gaps.first?.reason == "recorder stopped unexpectedly")
            #expect(try await Checker.check(catalog: h.catalog, store: h.store).isClean)
            #expect(try await h.catalog.maintenanceLog().map(\.action) == ["quarantined-tail", "recovered-segment", "chained"])
            let tail = try #require(h.store.quarantined().first)
            #expect(tail.bytes == fileSizeBefore - fixed.byteCount)
            // A new recorder closes that gap with its first frame.
            let r2 = try await h.recorder("a", segmentSeconds: 60)
            try await h.feed(r2, count: 25)
            try await r2.stop()
            let closed = try await h.catalog.gaps(cameraID: row.cameraID, from: 0, to: Int64.max / 2)
            #expect(closed.first?.endMicros != nil)
        }
    }

    @Test func orphanFilesAreQuarantinedNeverDeleted() async throws {
        try await Harness.with("orphan") { h in
            #expect(try await Recovery.reconcile(catalog: h.catalog, store: h.store).isEmpty)
            let camera = try await h.catalog.upsertCamera(name: "a", url: "rtsp://x", retentionDays: 30)
            let f = try h.store.create(cameraID: camera.id, fileName: "123-1-1.sample")
            try f.append([1, 2, 3])
            f.close()
            let actions = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
            let moved = "\(h.store.quarantineRoot)/\(camera.id)/123-1-1.sample"
            #expect(actions == ["quarantined-orphan: camera a, file 123-1-1.sample: 3 bytes with no catalog row, moved to \(moved)"])
            #expect(h.store.fileNames(cameraID: camera.id).isEmpty)
            #expect(FileManager.default.contents(atPath: moved) == Data([1, 2, 3]))
            // The same name again is kept beside the first, never over it.
            let g = try h.store.create(cameraID: camera.id, fileName: "123-1-1.sample")
            try g.append([4])
            g.close()
            _ = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
            #expect(h.store.quarantined().map(\.bytes) == [3, 1])
            #expect(try await Checker.check(catalog: h.catalog, store: h.store).quarantined.files == 2)
            #expect(try h.store.purgeQuarantine().count == 2)
            #expect(h.store.quarantined().isEmpty)
        }
    }

    /// Retention deletes the row, then the file; a crash in between leaves a file whose
    /// deletion is on record. It goes (kept, it would outlive its legal limit).
    @Test func aFileRetentionHadDeletedIsRemovedNotQuarantined() async throws {
        try await Harness.with("retention-crash") { (h: inout Harness) in
            #expect(try await Recovery.reconcile(catalog: h.catalog, store: h.store).isEmpty)
            let r = try await h.recorder("a")
            try await h.feed(r, count: 150)
            try await r.stop()
            let victim = try #require(try await h.catalog.allSegments().first)
            #expect(try await h.catalog.deleteExpiredSegment(id: victim.id, reason: "retention: test"))
            let actions = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
            #expect(actions.contains { $0.hasPrefix("removed-deleted-segment-file") && $0.contains(victim.fileName) }, "\(actions)")
            #expect(h.store.size(cameraID: victim.cameraID, fileName: victim.fileName) == nil)
            #expect(h.store.quarantined().isEmpty)
        }
    }

    @Test func aLostCatalogStopsStartUpAndTouchesNoFile() async throws {
        try await Harness.with("lost-catalog") { (h: inout Harness) in
            let r = try await h.recorder("a")
            try await h.feed(r, count: 150)
            try await r.stop()
            _ = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
            let before = h.store.census()
            #expect(before.files == 3)
            // A new, empty catalog beside the same files: `mv catalog.sqlite /tmp; vigil serve`.
            try await TestSupport.withCatalog("lost-catalog-new") { _, fresh in
                await #expect(throws: RecordingError.self) { try await Recovery.reconcile(catalog: fresh, store: h.store) }
                // A store from before the identity note, beside an empty catalog, is refused too.
                try FileManager.default.removeItem(atPath: h.store.catalogMarkerPath)
                do {
                    _ = try await Recovery.reconcile(catalog: fresh, store: h.store)
                    Issue.record("an empty catalog beside 3 sample files was accepted")
                } catch let RecordingError.refusedToStart(why) {
                    #expect(why.contains("3 sample files") && why.contains("Nothing was changed"), "\(why)")
                }
            }
            #expect(h.store.census() == before)
            #expect(h.store.quarantined().isEmpty)
        }
    }

    /// The samples volume is not mounted: an empty directory where the footage was. Start-up
    /// refuses (the catalog's rows stay), and the disk floor deletes no row whose file it
    /// cannot see: both would otherwise empty the catalog of an archive only out of sight.
    @Test func anUnmountedSamplesVolumeStopsStartUpAndTheFloorDeletesNothing() async throws {
        try await Harness.with("unmounted") { (h: inout Harness) in
            let r = try await h.recorder("a")
            try await h.feed(r, count: 150)
            try await r.stop()
            _ = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
            let rows = try await h.catalog.allSegments()
            #expect(rows.count == 3)
            let mounted = h.dir + "/samples-volume"
            try FileManager.default.moveItem(atPath: h.store.root, toPath: mounted)
            try FileManager.default.createDirectory(atPath: h.store.root, withIntermediateDirectories: false)
            do {
                _ = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
                Issue.record("start-up went on beside an empty samples directory")
            } catch let RecordingError.refusedToStart(why) {
                #expect(why.contains("is the samples volume mounted") && why.contains("3 recorded segments"), "\(why)")
            }
            let deleted = try await Retention.enforce(
                catalog: h.catalog, store: h.store, policy: RetentionPolicy(freeBytesFloor: Int64.max / 4),
                wallClock: h.clock.wallClock, logger: Logger(label: "t"))
            #expect(deleted.isEmpty)
            #expect(try await h.catalog.allSegments() == rows)
            // Mounted again, all is as it was.
            try FileManager.default.removeItem(atPath: h.store.root)
            try FileManager.default.moveItem(atPath: mounted, toPath: h.store.root)
            #expect(try await Recovery.reconcile(catalog: h.catalog, store: h.store).isEmpty)
            #expect(try await Checker.check(catalog: h.catalog, store: h.store).isClean)
        }
    }

    /// An open segment whose row describes no whole frame of its file: the file's bytes go
    /// to the quarantine like any file no row describes, not to the bin.
    @Test func anOpenSegmentWithNoWholeFrameIsQuarantinedNotDeleted() async throws {
        try await Harness.with("no-whole-frame") { (h: inout Harness) in
            let r = try await h.recorder("a", segmentSeconds: 60, flushInterval: .zero)
            try await h.feed(r, count: 30)
            // "kill -9", then the file loses all but a few bytes of its first frame.
            let row = try #require(try await h.catalog.segments(state: .open).first)
            let path = h.store.path(cameraID: row.cameraID, fileName: row.fileName)
            try h.store.truncate(cameraID: row.cameraID, fileName: row.fileName, to: 10)
            let actions = try await Recovery.reconcile(catalog: h.catalog, store: h.store)
            #expect(actions.first?.hasPrefix("quarantined-segment") == true, "\(actions)")
            #expect(!FileManager.default.fileExists(atPath: path))
            #expect(h.store.quarantined().map(\.bytes) == [10])
            #expect(try await h.catalog.allSegments().isEmpty)
        }
    }

    @Test func anOlderCatalogMovesNewerFootageAsideInsteadOfDeletingIt() async throws {
        try await Harness.with("older-catalog") { (h: inout Harness) in
            #expect(try await Recovery.reconcile(catalog: h.catalog, store: h.store).isEmpty)
            let r = try await h.recorder("a", segmentSeconds: 3, flushInterval: .zero)
            try await h.feed(r, count: 50)
            // A copy of the catalog while the first segment is open: a backup.
            let backup = h.dir + "/backup.sqlite"
            try await h.catalog.database.raw("VACUUM INTO \(bind: backup)").run()
            try await h.feed(r, count: 400, from: 50)
            try await r.stop()
            let recorded = h.store.census()
            #expect(recorded.files >= 1)
            let older = try await Catalog.openSQLite(path: backup)
            let actions: [String]
            do {
                actions = try await Recovery.reconcile(catalog: older, store: h.store)
                await older.close()
            } catch {
                await older.close()
                throw error
            }
            // Nothing is deleted: what the old catalog cannot describe is in the quarantine.
            let kept = h.store.census(), aside = h.store.quarantined()
            #expect(kept.bytes + aside.reduce(0) { $0 + $1.bytes } >= recorded.bytes, "\(actions)")
            #expect(actions.contains { $0.hasPrefix("quarantined-tail") }, "\(actions)")
            #expect(actions.contains { $0.hasPrefix("quarantined-orphan") }, "\(actions)")
        }
    }

    @Test func checkNamesAFlippedByteATruncatedFileAndAnOrphan() async throws {
        try await Harness.with("check") { (h: inout Harness) in
            let r = try await h.recorder("a")
            try await h.feed(r, count: 150) // 3 segments
            try await r.stop()
            #expect(try await Checker.check(catalog: h.catalog, store: h.store).isClean)
            let segments = try await h.catalog.allSegments()
            let victim = h.store.path(cameraID: segments[0].cameraID, fileName: segments[0].fileName)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: victim))
            bytes[bytes.count / 2] ^= 0x01
            try bytes.write(to: URL(fileURLWithPath: victim))
            let truncated = h.store.path(cameraID: segments[1].cameraID, fileName: segments[1].fileName)
            try h.store.truncate(cameraID: segments[1].cameraID, fileName: segments[1].fileName, to: 1000)
            let orphan = try h.store.create(cameraID: segments[0].cameraID, fileName: "stray.sample")
            orphan.close()
            let report = try await Checker.check(catalog: h.catalog, store: h.store)
            #expect(!report.isClean)
            #expect(report.problems.contains { $0.contains(victim) && $0.contains("SHA-256 mismatch") })
            #expect(report.problems.contains { $0.contains(truncated) && $0.contains("file is 1000 bytes") })
            #expect(report.problems.contains { $0.contains("stray.sample") && $0.contains("orphan") })
            #expect(!report.problems.contains { $0.contains(h.store.path(cameraID: segments[2].cameraID, fileName: segments[2].fileName)) })
        }
    }

    @Test func retentionDeletesExpiredFootageButNeverHeldSegments() async throws {
        try await Harness.with("retention") { (h: inout Harness) in
            let r = try await h.recorder("a")
            try await h.feed(r, count: 150) // 3 segments
            try await r.stop()
            let segments = try await h.catalog.allSegments()
            try await h.catalog.setHeld(segmentIDs: [segments[1].id], held: true)
            h.clock.advance(micros: 29 * 86_400_000_000)
            #expect(
                try await Retention.enforce(
                    catalog: h.catalog, store: h.store, policy: RetentionPolicy(freeBytesFloor: 0),
                    wallClock: h.clock.wallClock, logger: Logger(label: "t")
                ).isEmpty)
            h.clock.advance(micros: 2 * 86_400_000_000) // past 30 days
            let deleted = try await Retention.enforce(
                catalog: h.catalog, store: h.store, policy: RetentionPolicy(freeBytesFloor: 0),
                wallClock: h.clock.wallClock, logger: Logger(label: "t"))
            #expect(Set(deleted) == [segments[0].fileName, segments[2].fileName])
            #expect(try await h.catalog.allSegments().map(\.id) == [segments[1].id])
            #expect(h.store.fileNames(cameraID: segments[0].cameraID) == [segments[1].fileName])
            #expect(try await Checker.check(catalog: h.catalog, store: h.store).isClean)
        }
    }

    @Test func diskFloorDeletesOldestFirstAndKeepsHeld() async throws {
        try await Harness.with("floor") { (h: inout Harness) in
            let r = try await h.recorder("a")
            try await h.feed(r, count: 200) // 4 segments
            try await r.stop()
            let segments = try await h.catalog.allSegments()
            try await h.catalog.setHeld(segmentIDs: [segments[0].id], held: true)
            // A floor no disk can meet: everything deletable goes, oldest first, the held segment stays.
            let deleted = try await Retention.enforce(
                catalog: h.catalog, store: h.store, policy: RetentionPolicy(freeBytesFloor: Int64.max / 4),
                wallClock: h.clock.wallClock, logger: Logger(label: "t"))
            #expect(deleted == segments[1...].map(\.fileName))
            #expect(try await h.catalog.allSegments().map(\.id) == [segments[0].id])
            #expect(h.store.size(cameraID: segments[0].cameraID, fileName: segments[0].fileName) == segments[0].byteCount)
        }
    }

    /// Fault injection: the sample volume (a 1 MiB tmpfs of its own; the tests run as root)
    /// fills while frames keep coming. Each failed write closes its segment at the last
    /// whole frame, opens a gap for the lost frames and asks retention for room; nothing
    /// throws, every file stays exactly as its row says, and once there is room again the
    /// recorder records on and the gap closes.
    @Test func aFullVolumeClosesSegmentsAtWholeFramesAndRecordingGoesOn() async throws {
        try await Harness.with("full") { (h: inout Harness) in
            let volume = h.dir + "/volume"
            try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
            let mount = try await TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", volume])
            try #require(mount.status == 0, "cannot mount a small tmpfs volume (needs root): \(mount.stderr)")
            defer { umount2(volume, 2 /* MNT_DETACH */) }
            let store = try SampleStore(root: volume + "/samples")
            let camera = try await h.catalog.upsertCamera(name: "full", url: "rtsp://127.0.0.1/full", retentionDays: 30)
            var config = RecorderConfiguration()
            config.segmentLength = Ticks90k(1.5 * 90_000)
            config.flushInterval = .zero // every frame is written and committed as it comes
            let asked = Mutex(0)
            let r = Recorder(
                camera: camera, catalog: h.catalog, store: store, runIDs: h.runIDs, configuration: config,
                wallClock: h.clock.wallClock, logger: Logger(label: "test"), onDiskFull: { asked.withLock { $0 += 1 } })
            try await r.start()

            // Three volumes' worth of frames.
            let average = h.frames.map(\.data.count).reduce(0, +) / h.frames.count
            try await h.feed(r, count: 3 * (1 << 20) / average)
            #expect(asked.withLock { $0 } > 0, "no write failed: the volume never filled")
            let full = try await Checker.check(catalog: h.catalog, store: store)
            #expect(full.isClean, "\(full.problems)")
            let lost = try await h.catalog.gaps(cameraID: camera.id, from: 0, to: Int64.max / 2)
            #expect(lost.contains { $0.reason.contains("write failed") && $0.reason.contains("frames lost") }, "\(lost)")
            let writtenWhileFull = await r.statistics.framesWritten

            // Room again: recording goes on and the gap is closed where it resumed.
            let grown = try await TestSupport.run("/bin/mount", ["-o", "remount,size=64m", volume])
            try #require(grown.status == 0, "\(grown.stderr)")
            try await h.feed(r, count: 100)
            try await r.stop()
            #expect(await r.statistics.framesWritten >= writtenWhileFull + 75, "at most a GOP waits for the next key frame")
            let after = try await Checker.check(catalog: h.catalog, store: store)
            #expect(after.isClean, "\(after.problems)")
            let gaps = try await h.catalog.gaps(cameraID: camera.id, from: 0, to: Int64.max / 2)
            let writeGaps = gaps.filter { $0.reason.contains("write failed") }
            #expect(!writeGaps.isEmpty && writeGaps.allSatisfy { $0.endMicros != nil }, "\(gaps)")
            let segments = try await h.catalog.allSegments()
            #expect(segments.allSatisfy { $0.state == .closed && $0.frameCount > 0 })
        }
    }

    @Test func retentionOverTheLegalLimitIsRefused() {
        #expect(throws: RecordingError.self) { try RetentionPolicy.validate(days: 91) }
        #expect(throws: RecordingError.self) { try RetentionPolicy.validate(days: 0) }
        #expect((try? RetentionPolicy.validate(days: 90)) == 90)
    }

    @Test func exportStartsAtThePrecedingKeyFrameAndSpansSegments() async throws {
        try await Harness.with("export") { (h: inout Harness) in
            let r = try await h.recorder("a")
            let t0 = h.clock.now
            try await h.feed(r, count: 250)
            try await r.stop()
            let camera = try #require(try await h.catalog.camera(named: "a"))
            // From 2.5 s (mid-GOP) to 7.3 s: starts at the key frame at 2 s, ends with the frame covering 7.3 s.
            let plan = try await Exporter.plan(
                catalog: h.catalog, store: h.store, cameraID: camera.id,
                from: t0 + 2_500_000, to: t0 + 7_300_000)
            #expect(plan.firstFrameMicros == t0 + 2_000_000)
            #expect(plan.frameCount == 133) // frames 50..<183
            #expect(plan.runs.count == 3 && plan.runs.allSatisfy { $0.samples.first?.isKey == true })
            let out = h.dir + "/range.mp4"
            try Data(try plan.mp4(creationUnixSeconds: 0).read(0..<Int64.max)).write(to: URL(fileURLWithPath: out))
            let decode = try await TestSupport.strictDecode(out)
            #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
            #expect(try await TestSupport.probe(out).frames == plan.frameCount)
            let trimmed = try await Exporter.plan(
                catalog: h.catalog, store: h.store, cameraID: camera.id,
                from: t0 + 2_500_000, to: t0 + 7_300_000, trimToStart: true)
            #expect(trimmed.trimStart == 45_000)
            await #expect(throws: RecordingError.self) {
                try await Exporter.plan(catalog: h.catalog, store: h.store, cameraID: camera.id, from: t0 - 10_000_000, to: t0 - 5_000_000)
            }
        }
    }
}

@Suite struct WriterLockTests {
    @Test func aSecondWriterOfTheSameDirectoryIsRefusedByName() throws {
        let dir = try TestSupport.temporaryDirectory("writer-lock")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try WriterLock.acquire(dataDirectory: dir, command: "serve")
        do {
            _ = try WriterLock.acquire(dataDirectory: dir, command: "record")
            Issue.record("a second writer took the lock")
        } catch let RecordingError.refusedToStart(why) {
            #expect(why.contains("pid \(getpid()) (vigil serve"), "\(why)")
        }
        first.release()
        let again = try WriterLock.acquire(dataDirectory: dir, command: "record")
        again.release()
    }
}
