import ArgumentParser
import Catalog
import Centre
import CommandSupport
import Foundation
import Logging
import Media
import NIOPosix
import RTSP
import Recording
import Records

struct Record: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record cameras until SIGINT/SIGTERM, then stop cleanly (last segment committed).")

    @OptionGroup var dataOptions: DataOptions

    @Option(name: .long, parsing: .singleValue, help: "NAME=rtsp://user:pass@host:port/path (repeatable).")
    var camera: [String] = []

    @Option(name: .long, help: "Cut segments at the first key frame after this many seconds.")
    var segmentSeconds: Int = 60

    @Option(name: .long, help: "Keep recordings this many days (at most 90, the legal limit).")
    var retentionDays: Int = RetentionPolicy.defaultDays

    @Option(name: .long, help: "Delete the oldest unheld footage when free space falls below this many MiB.")
    var diskFloorMB: Int64 = 1024

    func validate() throws {
        guard !camera.isEmpty else { throw ValidationError("give at least one --camera NAME=URL") }
        let lengths = RecorderConfiguration.allowedSegmentSeconds
        guard lengths.contains(segmentSeconds) else {
            throw ValidationError("--segment-seconds must be \(lengths.lowerBound)...\(lengths.upperBound)")
        }
        _ = try RetentionPolicy.validate(days: retentionDays)
    }

    func run() async throws {
        let cameras = try camera.map(CameraArgument.init)
        let recording = try await RecordingSession.open(data: dataOptions, logger: makeLogger("vigil.record"))
        var configuration = RecorderConfiguration()
        configuration.segmentLength = Ticks90k(segmentSeconds) * ticksPerSecond
        try await recording.record(
            cameras: cameras, retentionDays: retentionDays, configuration: configuration,
            policy: RetentionPolicy(freeBytesFloor: diskFloorMB << 20), until: { await ShutdownSignal.wait() })
    }
}

struct CameraArgument {
    var name: String
    var url: RTSPURL

    init(_ text: String) throws {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else {
            throw ValidationError("--camera expects NAME=rtsp://..., got \"\(RTSPURL.redact(text))\"")
        }
        name = String(text[..<eq])
        url = try RTSPURL(String(text[text.index(after: eq)...]))
    }
}

/// Everything `record` and `demo` share: the catalog and store opened and recovered, and
/// the loop that records until told to stop.
struct RecordingSession {
    let catalog: Catalog
    let store: SampleStore
    let logger: Logger
    let dataDirectory: String
    /// Held until the process exits: one recording process per data directory.
    let writer: WriterLock
    let keys: SiteKeys

    static func open(data: DataOptions, logger: Logger) async throws -> RecordingSession {
        try FileManager.default.createDirectory(atPath: data.data, withIntermediateDirectories: true)
        let writer = try WriterLock.acquire(dataDirectory: data.data, command: "record")
        let catalog = try await Catalog.openSQLite(path: data.catalogPath)
        let (store, keys) = try await Site.closingOnError(catalog) {
            let store = try SampleStore(root: data.samplesPath)
            for action in try await Recovery.reconcile(catalog: catalog, store: store) {
                say("recovery: \(action)")
            }
            return (store, try await Site.loadKeys(data, catalog: catalog, siteName: "vigil"))
        }
        return RecordingSession(catalog: catalog, store: store, logger: logger, dataDirectory: data.data, writer: writer, keys: keys)
    }

    func record(
        cameras: [CameraArgument], retentionDays: Int, configuration: RecorderConfiguration,
        policy: RetentionPolicy, until stop: @escaping @Sendable () async -> Int32
    ) async throws {
        let runIDs = try await RunIDAllocator(catalog: catalog)
        let catalog = self.catalog, store = self.store, logger = self.logger
        let committer = ProgressCommitter(catalog: catalog)
        var pipelines: [CameraPipeline] = []
        for c in cameras {
            let record = try await catalog.upsertCamera(name: c.name, url: c.url.requestURL, retentionDays: retentionDays)
            var endpoint = CameraEndpoint(name: c.name, url: c.url)
            // Nobody watches live here: read each camera a few times a second.
            endpoint.readBatching = ReadBatching()
            let pipeline = CameraPipeline(
                camera: record, endpoint: endpoint, catalog: catalog, store: store, runIDs: runIDs,
                configuration: configuration, policy: policy, committer: committer,
                signer: keys.signer, logger: logger)
            try await pipeline.start()
            pipelines.append(pipeline)
            say("recording \(c.name) from \(c.url) into \(store.directory(cameraID: record.id))")
        }
        defer { say("stopped") }
        do {
            try await recordAll(
                pipelines,
                freeSpace: {
                    _ = try? await Retention.enforce(catalog: catalog, store: store, policy: policy, logger: logger)
                }, until: stop)
            let (batches, flushes) = (await committer.batches, await committer.requests)
            say("group commit: \(flushes) per-second flushes in \(batches) catalog commits")
        } catch {
            await catalog.close()
            throw error
        }
        await catalog.close()
    }

    /// Runs every pipeline, and retention each minute, until `stop` returns; each pipeline
    /// then commits its last segment and signs its chain head.
    private func recordAll(
        _ pipelines: [CameraPipeline], freeSpace: @escaping @Sendable () async -> Void,
        until stop: @escaping @Sendable () async -> Int32
    ) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pipeline in pipelines {
                group.addTask { try await pipeline.run() }
            }
            group.addTask {
                while !Task.isCancelled {
                    await freeSpace()
                    try? await Task.sleep(for: .seconds(60))
                }
            }
            let signal = await stop()
            say("received signal \(signal): stopping, committing the last segments")
            group.cancelAll()
            try await group.waitForAll()
        }
    }
}
