import Base
import Catalog
import Logging
import Media
import NIOPosix
import RTSP
import Records

public struct RecorderConfiguration: Sendable {
    /// A segment is cut at the first key frame at least this long after its start.
    public var segmentLength: Ticks90k = 60 * ticksPerSecond
    /// The segment lengths, in seconds, that a camera or a command may ask for.
    public static let allowedSegmentSeconds = 1...3600
    /// How often written frames are made durable (fdatasync + catalog row). A `kill -9`
    /// loses at most this much, plus one frame, plus the group commit's window. Flushes
    /// fall on a grid of this interval shared by every recorder of the process, so that
    /// their commits can be grouped (`ProgressCommitter`).
    public var flushInterval: Duration = .seconds(1)
    /// When the RTP clock and the wall clock disagree by more than this, the next segment
    /// starts a new run anchored to the wall clock.
    public var maxDriftMicros: Int64 = 1_000_000
    /// A timestamp jump bigger than this (or backwards) is a discontinuity: the segment
    /// ends and a new run starts at the next key frame.
    public var maxFrameGap: Ticks90k = 10 * ticksPerSecond
    /// A segment still without a new key frame this long after its start is closed, and
    /// frames are skipped until the next key frame: a camera that never sends one again
    /// (or lies in its timestamps) cannot grow one segment's index without bound.
    public var maxSegmentOverrun: Ticks90k = 10 * 60 * ticksPerSecond

    public init() {}
}

/// Hands out run ids: each contiguous stretch of recording of one camera has its own.
public actor RunIDAllocator {
    private var next: Int64

    public init(catalog: Catalog) async throws {
        next = try await catalog.maxRunID() + 1
    }

    public func allocate() -> Int64 {
        defer { next += 1 }
        return next
    }
}

/// Records one camera. Events must come from one producer, one at a time (the camera's
/// `CameraSource` awaits each before reading more), which is what keeps the segment state
/// consistent across the awaits of a flush.
public actor Recorder {
    public struct Statistics: Sendable {
        public var framesWritten = 0
        public var segmentsClosed = 0
        public var framesSkippedWaitingForKey = 0
        public var lastFrameMicros: Int64?
        public var maxDriftMicros: Int64 = 0
        /// Wall time up to which frames are durable (file synced and row committed).
        public var committedThroughMicros: Int64?
    }

    public let camera: CameraRecord
    private let catalog: Catalog
    private let store: SampleStore
    private let wall: WallClock
    private let config: RecorderConfiguration
    private let runIDs: RunIDAllocator
    private let logger: Logger
    private let monotonic = ContinuousClock()
    /// The origin of the flush grid, shared by every recorder of the process.
    private static let flushEpoch = ContinuousClock.now
    private let committer: ProgressCommitter
    /// Called when a write fails for lack of space, so retention can free some.
    private let onDiskFull: @Sendable () async -> Void
    /// Called after each segment is closed and chained: where the free-space floor is
    /// checked, so the volume is cleared before it fills (SQLite needs room to commit).
    private let afterSegment: @Sendable () async -> Void

    private var segment: OpenSegment?
    private var pending: (frame: EncodedFrame, parameters: VideoParameters)?
    private var run: Run?
    private var lastDuration: UInt32 = 3600
    private var lastEndMicros: Int64?
    private var openGapID: Int64?
    public private(set) var statistics = Statistics()

    struct Run {
        var id: Int64
        var wallStartMicros: Int64
        var startTimestamp: Ticks90k
        var segmentsInRun = 0
    }

    struct OpenSegment {
        var rowID: Int64?
        var file: SampleFile
        var fileName: String
        var startMicros: Int64
        var startTimestamp: Ticks90k
        var parameters: VideoParameters
        /// The frames written to the file, and their total duration (their size is the
        /// file's `length`).
        var entries: [SampleEntry] = []
        var duration: Ticks90k = 0
        /// The slot of the flush grid in which the segment was last flushed (or started).
        var flushSlot: Int
        /// Frames accepted and staged in the file's buffer, not yet written: they go to
        /// the file in one write at the next flush (or sooner, past `maxHeldBytes`).
        var held: [SampleEntry] = []
    }

    /// Frames held for one write are written early past this many bytes.
    static let maxHeldBytes = 4 << 20

    public init(
        camera: CameraRecord, catalog: Catalog, store: SampleStore, runIDs: RunIDAllocator,
        configuration: RecorderConfiguration = RecorderConfiguration(), wallClock: WallClock = .system,
        logger: Logger, committer: ProgressCommitter? = nil, onDiskFull: @escaping @Sendable () async -> Void = {},
        afterSegment: @escaping @Sendable () async -> Void = {}
    ) {
        self.camera = camera
        self.catalog = catalog
        self.store = store
        self.runIDs = runIDs
        self.config = configuration
        self.wall = wallClock
        self.logger = logger
        self.onDiskFull = onDiskFull
        self.afterSegment = afterSegment
        self.committer = committer ?? ProgressCommitter(catalog: catalog, window: .zero)
    }

    /// Notes the time the recorder was not running: a gap from the camera's last segment
    /// to the first new frame (unless recovery or a previous stop already opened one).
    public func start() async throws {
        let open = try await catalog.openGaps(cameraID: camera.id)
        if let gap = open.last {
            openGapID = gap.id
        } else if let last = try await catalog.lastSegment(cameraID: camera.id) {
            openGapID = try await catalog.openGap(cameraID: camera.id, startMicros: last.endMicros, reason: "recorder not running")
        }
    }

    public func handle(_ event: IngestEvent) async throws {
        switch event {
        case .playing:
            break
        case let .frames(frames):
            for depacketized in frames {
                try await accept(depacketized.frame, parameters: depacketized.parameters)
            }
        case let .disconnected(error):
            try await endRun(gapReason: "camera disconnected: \(error.reason)")
        }
    }

    /// Ends recording cleanly: the last frame and segment are committed.
    public func stop() async throws {
        try await endRun(gapReason: "recorder stopped")
    }

    // MARK: Frames

    private func accept(_ frame: EncodedFrame, parameters: VideoParameters) async throws {
        let now = wall.nowMicros()
        statistics.lastFrameMicros = now
        if let p = pending {
            let delta = frame.timestamp - p.frame.timestamp
            if delta <= 0 || delta > config.maxFrameGap {
                logger.warning("timestamp discontinuity of \(delta) ticks; ending the run", metadata: ["camera": "\(camera.name)"])
                try await endRun(gapReason: nil)
            } else {
                lastDuration = UInt32(delta)
                try await write(p.frame, duration: lastDuration)
                pending = nil
            }
        }
        // Fields are read through `segment!`, not a bound copy: a copy alive across the
        // flush would make its write copy the segment's index.
        if segment != nil {
            let age = frame.timestamp - segment!.startTimestamp
            let parametersChanged = parameters != segment!.parameters
            if frame.isKey && (age >= config.segmentLength || parametersChanged) {
                try await closeSegment()
                try await startSegment(frame, parameters: parameters, now: now)
            } else if age >= config.segmentLength + config.maxSegmentOverrun {
                logger.warning(
                    "no key frame for \(age / ticksPerSecond) s; segment closed, waiting for a key frame",
                    metadata: ["camera": "\(camera.name)"])
                try await closeSegment()
                run = nil
                statistics.framesSkippedWaitingForKey += 1
                return
            } else if parametersChanged {
                // New parameters mid-GOP: nothing can be decoded until the next key frame.
                try await closeSegment()
                run = nil
                statistics.framesSkippedWaitingForKey += 1
                return
            } else if let slot = flushSlotIfDue(after: segment!.flushSlot) {
                segment!.flushSlot = slot
                try await flush()
            }
        } else {
            guard frame.isKey else {
                statistics.framesSkippedWaitingForKey += 1
                return
            }
            try await startSegment(frame, parameters: parameters, now: now)
        }
        pending = (frame, parameters)
    }

    private func startSegment(_ frame: EncodedFrame, parameters: VideoParameters, now: Int64) async throws {
        var startMicros: Int64
        if var r = run {
            startMicros = r.wallStartMicros + (frame.timestamp - r.startTimestamp) * 1_000_000 / ticksPerSecond
            let drift = now - startMicros
            statistics.maxDriftMicros = max(statistics.maxDriftMicros, abs(drift))
            if abs(drift) > config.maxDriftMicros {
                logger.warning("RTP clock drifted \(drift) µs from the wall clock; re-anchoring", metadata: ["camera": "\(camera.name)"])
                startMicros = max(now, lastEndMicros ?? now)
                r = Run(id: await runIDs.allocate(), wallStartMicros: startMicros, startTimestamp: frame.timestamp)
            }
            r.segmentsInRun += 1
            run = r
        } else {
            startMicros = max(now, lastEndMicros ?? now)
            run = Run(id: await runIDs.allocate(), wallStartMicros: startMicros, startTimestamp: frame.timestamp, segmentsInRun: 1)
            if let gap = openGapID {
                try await catalog.closeGap(id: gap, endMicros: startMicros)
                openGapID = nil
            }
            try await catalog.closeOpenGaps(cameraID: camera.id, endMicros: startMicros)
        }
        let fileName = "\(startMicros)-\(run!.id)-\(run!.segmentsInRun).sample"
        let file = try store.create(cameraID: camera.id, fileName: fileName)
        segment = OpenSegment(
            file: file, fileName: fileName, startMicros: startMicros, startTimestamp: frame.timestamp,
            parameters: parameters, flushSlot: flushSlot())
    }

    /// Takes a frame for the open segment's file: its bytes are staged, to be written
    /// with the others held since the last flush. The segment is mutated in place: a copy
    /// of it would copy its index.
    private func write(_ frame: EncodedFrame, duration: UInt32) async throws {
        guard segment != nil else { return }
        let staged = segment!.file.stage(frame.data)
        segment!.held.append(SampleEntry(duration: duration, byteCount: UInt32(frame.data.count), isKey: frame.isKey))
        if staged >= Self.maxHeldBytes { try await writeHeld() }
    }

    /// Writes the held frames (a thread-pool job: the write may wait for the disk).
    private func writeHeld() async throws {
        guard segment != nil, !segment!.held.isEmpty else { return }
        let file = segment!.file
        do {
            try await NIOThreadPool.singleton.runIfActive { try file.writeStaged() }
        } catch {
            if Self.isWriteFailure(error) { return try await heldFramesLost(to: error) }
            throw error
        }
        heldFramesWritten()
    }

    /// A failed write of the staged frames, as opposed to a failure before or after it.
    private static func isWriteFailure(_ error: any Error) -> Bool {
        if case RecordingError.io(operation: "write", _, _)? = error as? RecordingError { return true }
        return false
    }

    /// The held frames are in the file: only now do they count (index, size, duration).
    private func heldFramesWritten() {
        for entry in segment!.held { segment!.duration += Ticks90k(entry.duration) }
        segment!.entries.append(contentsOf: segment!.held)
        statistics.framesWritten += segment!.held.count
        segment!.held.removeAll(keepingCapacity: true)
    }

    /// A write failed (the volume is full, the disk failed): the segment is closed at its
    /// last whole frame, with what reached the file before.
    private func heldFramesLost(to error: any Error) async throws {
        logger.error("\(error); closing the segment at its last whole frame", metadata: ["camera": "\(camera.name)"])
        segment!.file.discardStaged()
        segment!.held = []
        try await closeSegment(after: error)
    }

    /// After a failed write: the segment is closed with what reached the file, the run
    /// ends, the lost frames are a gap on record (closed when recording resumes), and
    /// retention is asked to make room.
    private func closeSegment(after failure: any Error) async throws {
        try await closeSegment()
        run = nil
        pending = nil
        if openGapID == nil {
            openGapID = try await catalog.openGap(
                cameraID: camera.id, startMicros: lastEndMicros ?? wall.nowMicros(),
                reason: "sample file write failed (frames lost until recording resumes): \(failure)")
        }
        await onDiskFull()
    }

    private func flushSlot() -> Int {
        config.flushInterval > .zero ? Int(Self.flushEpoch.duration(to: monotonic.now) / config.flushInterval) : 0
    }

    /// The grid slot to flush in, when the clock has entered a new one since `last`; with
    /// a zero interval, every frame.
    private func flushSlotIfDue(after last: Int) -> Int? {
        guard config.flushInterval > .zero else { return last &+ 1 }
        let slot = flushSlot()
        return slot != last ? slot : nil
    }

    /// Writes the held frames and makes them durable, then records them in the catalog
    /// (in that order). A segment's first flush inserts its row; later ones go through
    /// the group commit, whose thread-pool job does the write and the sync.
    private func flush() async throws {
        // Fields are read through `segment!`, not a bound copy: a copy alive across the
        // awaits would make `heldFramesWritten` copy the segment's index.
        guard segment != nil, !(segment!.entries.isEmpty && segment!.held.isEmpty) else { return }
        let file = segment!.file, startMicros = segment!.startMicros
        let entries = segment!.entries + segment!.held
        let duration = segment!.held.reduce(segment!.duration) { $0 + Ticks90k($1.duration) }
        let byteCount = file.length + Int64(file.stagedByteCount)
        let index = SampleIndex.encode(entries)
        do {
            if let id = segment!.rowID {
                try await committer.commit(
                    file: file,
                    progress: SegmentProgress(
                        id: id, duration: duration, byteCount: byteCount,
                        frameCount: entries.count, sampleIndex: index))
            } else {
                var first = row(for: segment!, index: index, sha256: nil)
                (first.duration, first.byteCount, first.frameCount) = (duration, byteCount, entries.count)
                try await NIOThreadPool.singleton.runIfActive { try file.writeStagedAndSync() }
                segment?.rowID = try await catalog.insertSegment(first)
            }
        } catch {
            if Self.isWriteFailure(error) { return try await heldFramesLost(to: error) }
            if file.stagedByteCount == 0 { heldFramesWritten() }
            throw error
        }
        heldFramesWritten()
        statistics.committedThroughMicros = startMicros + duration * 1_000_000 / ticksPerSecond
    }

    private func closeSegment() async throws {
        try await writeHeld()
        guard let s = segment else { return }
        segment = nil
        if s.entries.isEmpty {
            s.file.close()
            if let id = s.rowID { try await catalog.deleteSegment(id: id) }
            try store.remove(cameraID: camera.id, fileName: s.fileName)
            return
        }
        let file = s.file
        try await NIOThreadPool.singleton.runIfActive { try file.complete() }
        file.close()
        let digest = file.digest()
        let index = SampleIndex.encode(s.entries)
        if let id = s.rowID {
            try await catalog.updateSegment(
                id: id, duration: s.duration, byteCount: s.file.length, frameCount: s.entries.count,
                sampleIndex: index, sha256: digest)
        } else {
            _ = try await catalog.insertSegment(row(for: s, index: index, sha256: digest))
        }
        try await SegmentChain.extend(catalog: catalog, cameraID: camera.id)
        lastEndMicros = s.startMicros + s.duration * 1_000_000 / ticksPerSecond
        statistics.committedThroughMicros = lastEndMicros
        statistics.segmentsClosed += 1
        await afterSegment()
    }

    private func row(for s: OpenSegment, index: [UInt8], sha256: [UInt8]?) -> SegmentRecord {
        SegmentRecord(
            cameraID: camera.id, runID: run?.id ?? 0, fileName: s.fileName, startMicros: s.startMicros,
            duration: s.duration, byteCount: s.file.length, frameCount: s.entries.count, codec: s.parameters.codec,
            parameterSets: s.parameters.parameterSets, sampleIndex: index, sha256: sha256,
            state: sha256 == nil ? .open : .closed)
    }

    /// Writes the frame held back for its duration (using the previous frame's duration),
    /// closes the segment, and — if a reason is given — opens a gap from its end.
    private func endRun(gapReason: String?) async throws {
        if let p = pending {
            pending = nil
            try await write(p.frame, duration: lastDuration)
        }
        try await closeSegment()
        run = nil
        // While a gap is open (the camera keeps failing to reconnect), it stays one gap
        // with its first reason rather than a row per retry.
        if let reason = gapReason, openGapID == nil {
            let start = lastEndMicros ?? wall.nowMicros()
            openGapID = try await catalog.openGap(cameraID: camera.id, startMicros: start, reason: reason)
        }
    }
}
