// The recorders of every enabled camera, kept in step with the camera registry: a camera
// added, edited or disabled (through the API or `vigil camera` beside a running server)
// starts, restarts or stops its recorder within a couple of seconds. Each camera's frames
// go to its recorder and to the live hub; its status (connected, fps, bitrate, last frame)
// is kept for the API and metrics.

import Base
import Catalog
import Foundation
import Logging
import Media
import NIOPosix
import RTSP
import Recording
import Records
import Synchronization

public struct CameraStatus: Sendable, Codable, Equatable {
    public var recording = false
    public var connected = false
    public var lastFrameMicros: Int64?
    public var framesPerSecond = 0.0
    public var bitsPerSecond = 0.0
    public var lastError: String?
    /// Since when the camera has given no frames (UTC µs): its last frame's time when the
    /// pictures stopped first, else the first failure's; cleared by the next frame. Nil
    /// while it records, or before its first try.
    public var downSinceMicros: Int64?
    /// Wall time up to which this camera's footage is durable.
    public var committedThroughMicros: Int64?
}

public actor RecorderFleet {
    private struct Running {
        var camera: CameraRecord
        var task: Task<Void, Never>
    }

    struct Meter {
        var status = CameraStatus()
        var windowStart: UInt64 = 0
        var frames = 0
        var bytes = 0
    }

    /// Per-camera status, written by each camera's ingest task without an actor hop.
    final class Meters: Sendable {
        private let state = Mutex([Int64: Meter]())

        func withLock<T>(_ body: (inout [Int64: Meter]) -> T) -> T {
            state.withLock { body(&$0) }
        }
    }

    let catalog: Catalog
    let store: SampleStore
    public let live: LiveHub
    /// The cameras' sub-streams, pulled while someone watches them (never recorded).
    public nonisolated let subStreams: SubStreams
    private let keys: SiteKeys
    private let logger: Logger
    private let policy: RetentionPolicy
    private var runIDs: RunIDAllocator?
    /// One group commit for every camera's per-second progress.
    private let committer: ProgressCommitter
    private var running: [Int64: Running] = [:]
    private var poked = false
    private let meters = Meters()

    /// Wall time: the recorders' segment times, retention's cut-off, cameras' last frame.
    private nonisolated let clock: WallClock

    /// How often each camera's chain head is signed while it records (and once when it stops).
    private let signEvery: Duration

    public init(
        catalog: Catalog, store: SampleStore, keys: SiteKeys, live: LiveHub, policy: RetentionPolicy, logger: Logger,
        signEvery: Duration = .seconds(60), clock: WallClock = .system
    ) {
        self.clock = clock
        self.signEvery = signEvery
        self.catalog = catalog
        self.store = store
        self.keys = keys
        self.live = live
        subStreams = SubStreams(keys: keys, logger: logger, clock: clock)
        self.policy = policy
        self.logger = logger
        committer = ProgressCommitter(catalog: catalog)
    }

    /// Runs until cancelled, then stops every recorder with its last segment committed.
    public func run() async {
        do { runIDs = try await RunIDAllocator(catalog: catalog) } catch {
            logger.critical("cannot start recording: \(error)")
            return
        }
        var lastRetention = ContinuousClock.now - .seconds(3600)
        while !Task.isCancelled {
            await reconcile()
            if ContinuousClock.now - lastRetention >= .seconds(60) {
                lastRetention = .now
                do {
                    _ = try await Retention.enforce(catalog: catalog, store: store, policy: policy, wallClock: clock, logger: logger)
                } catch {
                    logger.error("retention: \(error)")
                }
            }
            for _ in 0..<8 where !poked && !Task.isCancelled { try? await Task.sleep(for: .milliseconds(250)) }
            poked = false
        }
        for r in running.values { r.task.cancel() }
        for r in running.values { await r.task.value }
        running = [:]
        await subStreams.close()
    }

    /// Re-reads the registry now instead of at the next poll.
    public func poke() { poked = true }

    public nonisolated func status(camera: Int64) -> CameraStatus {
        var status = meters.withLock { $0[camera]?.status } ?? CameraStatus()
        status.recording = status.recording && (status.lastFrameMicros.map { clock.nowMicros() - $0 < 10_000_000 } ?? false)
        if !status.recording, status.downSinceMicros == nil, let last = status.lastFrameMicros {
            // Connected, but the pictures stopped: down since the last one.
            status.downSinceMicros = last
            status.lastError = status.lastError ?? "the camera sends no pictures"
        }
        return status
    }

    /// Whether a recorder started for `a` records `b` the same: the same stream, account,
    /// segment length and name (its log and segments' camera).
    static func recordsTheSame(_ a: CameraRecord) -> (CameraRecord) -> Bool {
        { b in
            a.url == b.url && a.username == b.username && a.sealedPassword == b.sealedPassword && a.segmentSeconds == b.segmentSeconds
                && a.name == b.name && a.enabled == b.enabled
        }
    }

    private func reconcile() async {
        let cameras: [CameraRecord]
        do { cameras = try await catalog.cameras() } catch {
            logger.error("cannot read cameras: \(error)")
            return
        }
        let wanted = Dictionary(uniqueKeysWithValues: cameras.filter { $0.enabled && $0.removedMicros == nil }.map { ($0.id, $0) })
        // Sub-streams being watched follow the registry too (switched off, removed, changed).
        await subStreams.follow(cameras)
        // A change the recorder does not use (a place, an area, the retention, PTZ) keeps it
        // running: a restart would cut the recording for nothing.
        for (id, r) in running where wanted[id].map(Self.recordsTheSame(r.camera)) == true {
            running[id]?.camera = wanted[id]!
        }
        for (id, r) in running where wanted[id] != r.camera {
            r.task.cancel()
            await r.task.value
            running[id] = nil
            meters.withLock { $0[id] = nil }
            live.reset(camera: id)
            logger.info("recorder of \(r.camera.name) stopped (\(wanted[id] == nil ? "disabled or removed" : "settings changed"))")
        }
        for (id, camera) in wanted where running[id] == nil {
            running[id] = Running(camera: camera, task: startRecorder(camera))
        }
    }

    private func startRecorder(_ camera: CameraRecord) -> Task<Void, Never> {
        let catalog = self.catalog, store = self.store, logger = self.logger, live = self.live, meters = self.meters
        let policy = self.policy, clock = self.clock, signEvery = self.signEvery
        let runIDs = self.runIDs!, committer = self.committer
        let endpoint: CameraEndpoint
        do {
            var url = try RTSPURL(camera.url)
            url.user = camera.username
            url.password = try camera.sealedPassword.map(keys.unseal)
            endpoint = CameraEndpoint(name: camera.name, url: url)
        } catch {
            logger.error("camera \(camera.name): \(error)")
            let now = clock.nowMicros()
            meters.withLock { m in
                m[camera.id, default: Meter()].status.lastError = (error as? RTSPError)?.reason ?? "\(error)"
                m[camera.id]!.status.downSinceMicros = m[camera.id]!.status.downSinceMicros ?? now
            }
            return Task {}
        }
        var configuration = RecorderConfiguration()
        configuration.segmentLength = Ticks90k(camera.segmentSeconds) * ticksPerSecond
        var located = endpoint
        // Read in batches while nobody watches the camera live, packet by packet while someone does.
        located.readBatching = ReadBatching { live.viewerCount(camera: camera.id) > 0 }
        let pipeline = CameraPipeline(
            camera: camera, endpoint: located, catalog: catalog, store: store, runIDs: runIDs,
            configuration: configuration, policy: policy, committer: committer, signer: keys.signer,
            signEvery: signEvery, clock: clock, logger: logger)
        let recorder = pipeline.recorder
        logger.info("recording \(camera.name) from \(camera.url)")
        return Task {
            do { try await pipeline.start() } catch { logger.error("camera \(camera.name): \(error)") }
            do {
                try await pipeline.run { event in
                    Self.note(event, camera: camera.id, meters: meters, live: live, clock: clock)
                    if case .frames = event {
                    } else {
                        let committed = await recorder.statistics.committedThroughMicros
                        meters.withLock { $0[camera.id, default: Meter()].status.committedThroughMicros = committed }
                    }
                }
            } catch {
                logger.error("camera \(camera.name): \(error)")
            }
            meters.withLock { $0[camera.id]?.status.connected = false }
        }
    }

    private static func note(_ event: IngestEvent, camera: Int64, meters: Meters, live: LiveHub, clock: WallClock) {
        switch event {
        case .playing:
            meters.withLock { m in
                m[camera, default: Meter()].status.connected = true
                m[camera]!.status.lastError = nil
            }
        case let .frames(frames):
            let arrived = clock.nowMicros()
            for f in frames { live.publish(camera: camera, parameters: f.parameters, frame: f.frame, receivedMicros: arrived) }
            let now = DispatchTime.now().uptimeNanoseconds
            meters.withLock { m in
                var meter = m[camera] ?? Meter()
                meter.status.connected = true
                meter.status.recording = true
                meter.status.lastFrameMicros = arrived
                meter.status.downSinceMicros = nil
                meter.frames += frames.count
                meter.bytes += frames.reduce(0) { $0 + $1.frame.data.count }
                if meter.windowStart == 0 { meter.windowStart = now }
                let elapsed = Double(now - meter.windowStart) / 1e9
                if elapsed >= 2 {
                    meter.status.framesPerSecond = Double(meter.frames) / elapsed
                    meter.status.bitsPerSecond = Double(meter.bytes * 8) / elapsed
                    meter.frames = 0
                    meter.bytes = 0
                    meter.windowStart = now
                }
                m[camera] = meter
            }
        case let .disconnected(error):
            live.reset(camera: camera)
            let now = clock.nowMicros()
            meters.withLock { m in
                // Down since the first failure, or since the last picture when the pictures stopped first.
                let status = m[camera]?.status
                m[camera, default: Meter()].status.downSinceMicros = status?.downSinceMicros ?? status?.lastFrameMicros ?? now
                m[camera, default: Meter()].status.connected = false
                m[camera]!.status.recording = false
                m[camera]!.status.lastError = error.reason
                m[camera]!.status.framesPerSecond = 0
                m[camera]!.status.bitsPerSecond = 0
            }
        }
    }
}
