import Catalog
import Media
import Records

/// What a time range of one camera turns into: the frames to play (as runs of sample
/// files), where they really start and end, and the gaps inside the range.
public struct ExportPlan: Sendable {
    public var runs: [SampleRun]
    /// Wall-clock time of the first frame included (a key frame at or before `from`).
    public var firstFrameMicros: Int64
    /// Wall-clock end of the last frame included.
    public var endMicros: Int64
    /// Ticks at the start hidden by an edit list (0 unless trimming was asked for).
    public var trimStart: Ticks90k
    public var frameCount: Int
    public var duration: Ticks90k
    public var segmentIDs: [Int64]
    public var gaps: [GapRecord]

    /// Builds the progressive MP4 over the plan, without reading any sample data.
    public func mp4(creationUnixSeconds: Int64) throws -> VirtualMP4 {
        try MP4.progressive(runs: runs, trimStart: trimStart, creationUnixSeconds: creationUnixSeconds)
    }
}

public enum Exporter {
    /// The most frames one file served over HTTP may hold: 12 hours at 25 fps. A plan holds
    /// about 12 bytes a frame and its `moov` up to 16 more, so one answer stays under ~30 MB
    /// however long the range asked for (a week at 25 fps would be over 400 MB).
    public static let maximumServedFrames = 1_080_000

    /// Selects the frames of `camera` that overlap `[from, to)` (microseconds). The file
    /// starts at the key frame at or before `from` so it decodes from its first byte; with
    /// `trimToStart`, an edit list hides the frames before `from`. Gaps between segments
    /// are not filled: the file's timeline is the recorded footage back to back, and the
    /// plan lists the gaps so callers can report them. `maxFrames`: refuse (`RecordingError.tooLarge`) a range holding more frames, checked
    /// from the catalog's counts before any index is read.
    public static func plan(
        catalog: Catalog, store: SampleStore, cameraID: Int64, from: Int64, to: Int64,
        trimToStart: Bool = false, maxFrames: Int? = nil
    ) async throws -> ExportPlan {
        guard from < to else { throw RecordingError.invalid("empty range: from must be before to") }
        if let maxFrames {
            let frames = try await catalog.frameCount(cameraID: cameraID, from: from, to: to)
            guard frames <= maxFrames else {
                let hours = Double(maxFrames) / 25 / 3600
                throw RecordingError.tooLarge(
                    "this range holds \(frames) frames; one file holds at most \(maxFrames) (\(String(format: "%.0f", hours)) hours at 25 fps): ask for a shorter range"
                )
            }
        }
        let segments = try await catalog.segments(cameraID: cameraID, from: from, to: to)
        var runs: [SampleRun] = []
        var ids: [Int64] = []
        var firstFrameMicros: Int64?
        var endMicros: Int64 = 0
        var trim: Ticks90k = 0
        for segment in segments {
            let entries = try SampleIndex.decode(segment.sampleIndex)
            guard entries.count == segment.frameCount else {
                throw RecordingError.invalid("segment \(segment.id): index has \(entries.count) frames, row says \(segment.frameCount)")
            }
            // Frame i covers [start_i, start_i + duration_i) in wall time.
            var selected: [SampleEntry] = []
            var offset: Int64 = 0
            var selectionOffset: Int64 = 0
            var ticks: Ticks90k = 0
            var lastKey: (index: Int, offset: Int64, ticks: Ticks90k)?
            var firstSelected: Int?
            for (i, e) in entries.enumerated() {
                let startMicros = segment.startMicros + ticks * 1_000_000 / ticksPerSecond
                let endOfFrame = segment.startMicros + (ticks + Ticks90k(e.duration)) * 1_000_000 / ticksPerSecond
                if e.isKey && firstSelected == nil { lastKey = (i, offset, ticks) }
                if startMicros >= to { break }
                if endOfFrame > from && firstSelected == nil, let key = lastKey {
                    firstSelected = key.index
                    selectionOffset = key.offset
                    // Take from the key frame up to this frame too.
                    selected = Array(entries[key.index..<i])
                    if firstFrameMicros == nil {
                        firstFrameMicros = segment.startMicros + key.ticks * 1_000_000 / ticksPerSecond
                        if trimToStart { trim = max(0, (from - firstFrameMicros!) * ticksPerSecond / 1_000_000) }
                    }
                }
                if firstSelected != nil {
                    selected.append(e)
                    endMicros = endOfFrame
                }
                offset += Int64(e.byteCount)
                ticks += Ticks90k(e.duration)
            }
            guard !selected.isEmpty else { continue }
            let parameters = try VideoParameters(codec: segment.codec, parameterSets: segment.parameterSets)
            runs.append(
                SampleRun(
                    parameters: parameters, path: store.path(cameraID: cameraID, fileName: segment.fileName),
                    fileOffset: selectionOffset, samples: selected))
            ids.append(segment.id)
        }
        guard let first = firstFrameMicros, !runs.isEmpty else {
            throw RecordingError.notFound("no recording of this camera in the requested range")
        }
        let gaps = try await catalog.gaps(cameraID: cameraID, from: from, to: to)
        let frames = runs.reduce(0) { $0 + $1.samples.count }
        let duration = runs.reduce(Ticks90k(0)) { $0 + $1.duration }
        if trim >= duration { trim = 0 }
        return ExportPlan(
            runs: runs, firstFrameMicros: first, endMicros: endMicros, trimStart: trim, frameCount: frames,
            duration: duration, segmentIDs: ids, gaps: gaps)
    }
}
