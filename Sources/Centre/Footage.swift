// What has been recorded, as the server shows and serves it: a range's coverage and gaps,
// the footage of a range as an MP4 assembled on the fly from the sample files (Recording's
// `Exporter`), and the recording volume's free space. Who may see it and the audit entry
// for each look are the caller's (the server's routes).

import Base
import Catalog
import Crypto
import Media
import Recording
import Records

public struct Footage: Sendable {
    let catalog: Catalog
    let store: SampleStore
    /// Pictures of recorded frames (an incident's snapshots), made by ffmpeg two at a time.
    public let stills: Stills

    public init(catalog: Catalog, store: SampleStore) {
        self.catalog = catalog
        self.store = store
        self.stills = Stills(catalog: catalog, store: store)
    }

    /// The most frames one served file may hold (`Exporter.maximumServedFrames`).
    public static let maximumServedFrames = Exporter.maximumServedFrames

    /// Spans of `[from, to)` with footage (segments less than half a second apart are one
    /// span), the gaps that touch it, and how many segments it draws on.
    public struct Coverage: Sendable {
        public var recorded: [(from: Int64, to: Int64)]
        public var gaps: [GapRecord]
        public var segmentCount: Int
        /// Where the range's MP4 (`mp4`) starts: the key frame it must begin with, at or
        /// before `from` (the first frame after it when none is before). Nil: nothing recorded.
        public var playsFromMicros: Int64?
        /// The stretches of the range held as evidence (unreleased exhibits), clipped to it.
        public var held: [(from: Int64, to: Int64)] = []
    }

    public func coverage(cameraID: Int64, from: Int64, to: Int64) async throws -> Coverage {
        let segments = try await catalog.segments(cameraID: cameraID, from: from, to: to)
        var recorded: [(from: Int64, to: Int64)] = []
        for s in segments {
            let start = max(s.startMicros, from), end = min(s.endMicros, to)
            guard end > start else { continue }
            if let last = recorded.last, start - last.to <= 500_000 {
                recorded[recorded.count - 1].to = max(last.to, end)
            } else {
                recorded.append((start, end))
            }
        }
        let gaps = try await catalog.gaps(cameraID: cameraID, from: from, to: to)
        var playsFrom: Int64?
        for s in segments {
            playsFrom = try Self.firstKeyFrame(of: s, from: from, to: to)
            if playsFrom != nil { break }
        }
        let held = try await catalog.heldRanges(cameraID: cameraID, from: from, to: to).map { (max($0.from, from), min($0.to, to)) }
        return Coverage(recorded: recorded, gaps: gaps, segmentCount: segments.count, playsFromMicros: playsFrom, held: held)
    }

    /// The time of the key frame an export of `[from, to)` starts this segment with, as
    /// Recording's `Exporter.plan` chooses it: the latest key frame at or before the first
    /// frame that ends after `from`; nil when the segment has none before `to`.
    static func firstKeyFrame(of s: SegmentRecord, from: Int64, to: Int64) throws -> Int64? {
        var ticks: Ticks90k = 0
        var lastKey: Int64?
        for e in try SampleIndex.decode(s.sampleIndex) {
            let start = s.startMicros + ticks * 1_000_000 / ticksPerSecond
            let end = s.startMicros + (ticks + Ticks90k(e.duration)) * 1_000_000 / ticksPerSecond
            if start >= to { return nil }
            if e.isKey { lastKey = start }
            if end > from, let key = lastKey { return key }
            ticks += Ticks90k(e.duration)
        }
        return nil
    }

    public func gaps(cameraID: Int64, from: Int64, to: Int64) async throws -> [GapRecord] {
        try await catalog.gaps(cameraID: cameraID, from: from, to: to)
    }

    /// A range's footage as a file to serve: nothing is materialised, bytes are read from
    /// the sample files as they are asked for.
    public struct Served: Sendable {
        public var file: VirtualMP4
        /// A strong validator (RFC 9110 §8.8.3): the segments, their sizes and states, and
        /// the range.
        public var etag: String
        public var frameCount: Int
        public var firstFrameMicros: Int64
    }

    /// Throws `RecordingError.tooLarge` for a range of more than `maxFrames` frames,
    /// `.notFound` for one with nothing recorded and `.invalid` for an empty one; anything
    /// else that stops the file (a damaged index, an unreadable row) is the server's own
    /// failure, not the request's.
    public func mp4(cameraID: Int64, from: Int64, to: Int64, maxFrames: Int) async throws -> Served {
        guard from < to else { throw RecordingError.invalid("empty range: from must be before to") }
        let plan: ExportPlan
        let file: VirtualMP4
        do {
            plan = try await Exporter.plan(
                catalog: catalog, store: store, cameraID: cameraID, from: from, to: to, maxFrames: maxFrames)
            file = try plan.mp4(creationUnixSeconds: plan.firstFrameMicros / 1_000_000)
        } catch let error as RecordingError {
            switch error {
            case .tooLarge, .notFound: throw error // the request's: too long a range, or one with nothing recorded
            default: throw VigilError(.failure, "footage of camera \(cameraID) could not be assembled: \(error)")
            }
        } catch let error as any CodedError where error.code != .failure {
            throw VigilError(.failure, "footage of camera \(cameraID) could not be assembled: \(error)")
        }
        return Served(
            file: file, etag: Self.etag(plan: plan, size: file.size), frameCount: plan.frameCount,
            firstFrameMicros: plan.firstFrameMicros)
    }

    static func etag(plan: ExportPlan, size: Int64) -> String {
        var h = SHA256()
        for r in plan.runs { h.update(data: Array("\(r.path):\(r.fileOffset):\(r.samples.count);".utf8)) }
        h.update(data: Array("\(plan.trimStart):\(size)".utf8))
        return "\"" + hex(h.finalize().prefix(12)) + "\""
    }

    /// Free bytes on the recording volume (nil when it cannot be read).
    public func freeBytes() -> Int64? { store.freeBytes() }
}
