import Audit
import Base
import Catalog
import Logging
import NIOPosix
import RTSP
import Records

/// One camera's whole path to the disk, the one way both `vigil serve` (its fleet) and
/// `vigil record` run it: connect (a `CameraSource`, reconnecting), record (a `Recorder`,
/// fed on the socket's own event loop), sign (the camera's chain head, every `signEvery`
/// while recording and once more at the end), stop (the last segment committed).
/// Retention runs from here too when the disk fills (`Retention.enforce`) and after each
/// segment (`Retention.keepFloor`).
public struct CameraPipeline: Sendable {
    public let camera: CameraRecord
    public let source: CameraSource
    public let recorder: Recorder
    private let catalog: Catalog
    private let signer: NoteSigner
    private let signEvery: Duration
    private let clock: WallClock
    private let logger: Logger

    /// `endpoint` names the camera with its credentials; its event loop, when unset, is
    /// one of the process's. `committer` groups the per-second commits of every pipeline
    /// that shares it.
    public init(
        camera: CameraRecord, endpoint: CameraEndpoint, catalog: Catalog, store: SampleStore, runIDs: RunIDAllocator,
        configuration: RecorderConfiguration, policy: RetentionPolicy, committer: ProgressCommitter,
        signer: NoteSigner, signEvery: Duration = .seconds(60), clock: WallClock = .system, logger: Logger
    ) {
        var located = endpoint
        if located.eventLoop == nil { located.eventLoop = MultiThreadedEventLoopGroup.singleton.next() }
        let freeSpace: @Sendable () async -> Void = {
            _ = try? await Retention.enforce(catalog: catalog, store: store, policy: policy, wallClock: clock, logger: logger)
        }
        self.camera = camera
        self.source = CameraSource(endpoint: located, logger: logger)
        self.recorder = Recorder(
            camera: camera, catalog: catalog, store: store, runIDs: runIDs, configuration: configuration,
            wallClock: clock, logger: logger, committer: committer, onDiskFull: freeSpace,
            afterSegment: { await Retention.keepFloor(catalog: catalog, store: store, policy: policy, logger: logger) })
        self.catalog = catalog
        self.signer = signer
        self.signEvery = signEvery
        self.clock = clock
        self.logger = logger
    }

    /// Readies the recorder (its first segment opens with the first key frame).
    public func start() async throws {
        try await recorder.start()
    }

    /// Records until the task is cancelled: each event goes to the recorder, then to
    /// `observe` (status meters, live fan-out). Then commits the last segment and signs the
    /// chain head. Throws only if that last commit or signature fails.
    public func run(observe: @escaping @Sendable (IngestEvent) async -> Void = { _ in }) async throws {
        let source = self.source, recorder = self.recorder
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                // Socket, depacketiser and recorder share one event loop: no thread hand-off.
                await withTaskExecutorPreference(EventLoopExecutor(source.endpoint.eventLoop!)) {
                    await source.run { event in
                        try await recorder.handle(event)
                        await observe(event)
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: signEvery)
                    guard !Task.isCancelled else { return }
                    await signHead()
                }
            }
            await group.next()
            group.cancelAll()
        }
        // The thread pool that runs file syncs and SQLite refuses work from cancelled tasks:
        // the last commit and the last signature run in a fresh task.
        let catalog = self.catalog, signer = self.signer, camera = self.camera, clock = self.clock
        try await Task {
            try await recorder.stop()
            try await ChainHeads.sign(catalog: catalog, signer: signer, site: signer.name, cameraID: camera.id, clock: clock)
        }.value
    }

    private func signHead() async {
        do {
            try await ChainHeads.sign(catalog: catalog, signer: signer, site: signer.name, cameraID: camera.id, clock: clock)
        } catch {
            logger.error("camera \(camera.name): signing its chain head failed: \(error)")
        }
    }
}
