// Segments, their write progress and gaps as rows (Catalog's RecordingTables stores them;
// Recording writes and reads the sample files they describe).

import Media

/// One recorded segment: a sample file and the index that makes it playable.
public struct SegmentRecord: Sendable, Equatable {
    public enum State: String, Sendable { case open, closed }

    public var id: Int64
    public var cameraID: Int64
    /// Segments of one run follow each other without a gap.
    public var runID: Int64
    /// File name inside the camera's sample directory.
    public var fileName: String
    /// Wall-clock time of the first frame, microseconds since the Unix epoch.
    public var startMicros: Int64
    public var duration: Ticks90k
    public var byteCount: Int64
    public var frameCount: Int
    public var codec: VideoCodec
    /// (VPS,) SPS, PPS.
    public var parameterSets: [[UInt8]]
    /// `SampleIndex`-encoded per-frame durations, sizes and key flags.
    public var sampleIndex: [UInt8]
    /// SHA-256 of the whole sample file; nil while the segment is still being written.
    public var sha256: [UInt8]?
    public var state: State
    public var held: Bool

    public var endMicros: Int64 { startMicros + duration * 1_000_000 / ticksPerSecond }

    public init(
        id: Int64 = 0, cameraID: Int64, runID: Int64, fileName: String, startMicros: Int64, duration: Ticks90k,
        byteCount: Int64, frameCount: Int, codec: VideoCodec, parameterSets: [[UInt8]], sampleIndex: [UInt8],
        sha256: [UInt8]?, state: State, held: Bool = false
    ) {
        self.id = id
        self.cameraID = cameraID
        self.runID = runID
        self.fileName = fileName
        self.startMicros = startMicros
        self.duration = duration
        self.byteCount = byteCount
        self.frameCount = frameCount
        self.codec = codec
        self.parameterSets = parameterSets
        self.sampleIndex = sampleIndex
        self.sha256 = sha256
        self.state = state
        self.held = held
    }
}

/// How far an open segment has been written and synced: what its row says until the next.
public struct SegmentProgress: Sendable, Equatable {
    public var id: Int64
    public var duration: Ticks90k
    public var byteCount: Int64
    public var frameCount: Int
    public var sampleIndex: [UInt8]

    public init(id: Int64, duration: Ticks90k, byteCount: Int64, frameCount: Int, sampleIndex: [UInt8]) {
        self.id = id
        self.duration = duration
        self.byteCount = byteCount
        self.frameCount = frameCount
        self.sampleIndex = sampleIndex
    }
}

/// A stretch of time in which a camera was not recorded, and why.
public struct GapRecord: Sendable, Equatable {
    public var id: Int64
    public var cameraID: Int64
    public var startMicros: Int64
    /// nil while the camera is still away.
    public var endMicros: Int64?
    public var reason: String

    public init(id: Int64, cameraID: Int64, startMicros: Int64, endMicros: Int64?, reason: String) {
        self.id = id
        self.cameraID = cameraID
        self.startMicros = startMicros
        self.endMicros = endMicros
        self.reason = reason
    }
}
