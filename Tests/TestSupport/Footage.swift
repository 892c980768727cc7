import Base
import Catalog
import Foundation
import Logging
import Media
import RTSP
import Recording
import Records
import Synchronization

/// Real recorded footage for tests that need some in a catalog: an ffmpeg-encoded H.264
/// clip fed through Vigil's own `Recorder`, on a wall clock that runs with the frames and
/// ends `endingSecondsAgo` before now (so evidence ranges never reach into the future).
extension TestSupport {
    /// Runs `body` on a fresh SQLite catalog in a new temporary directory, then closes the
    /// catalog and removes the directory whether or not `body` threw. sqlite-nio asserts (in
    /// the debug builds tests run) that a connection is closed before it is freed, so a test
    /// that threw before closing would crash the whole run and hide every other result.
    public static func withCatalog<T>(_ label: String, _ body: (_ directory: String, Catalog) async throws -> T) async throws -> T {
        let dir = try temporaryDirectory(label)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = try await Catalog.openSQLite(path: dir + "/catalog.sqlite")
        do {
            let result = try await body(dir, catalog)
            await catalog.close()
            return result
        } catch {
            await catalog.close()
            throw error
        }
    }

    public static func recordFootage(
        camera: CameraRecord, catalog: Catalog, store: SampleStore, frames count: Int = 150,
        segmentSeconds: Int = 2, endingSecondsAgo: Int64 = 4
    ) async throws {
        let clip = try await clip(codec: .h264, seconds: 4, gop: 25)
        let frames = try frames(of: clip, codec: .h264), parameters = try parameters(of: clip, codec: .h264)
        let micros = Mutex<Int64>(Int64(Date().timeIntervalSince1970 * 1_000_000) - endingSecondsAgo * 1_000_000 - Int64(count) * 40_000)
        var config = RecorderConfiguration()
        config.segmentLength = Ticks90k(segmentSeconds) * 90_000
        let recorder = Recorder(
            camera: camera, catalog: catalog, store: store, runIDs: try await RunIDAllocator(catalog: catalog),
            configuration: config, wallClock: WallClock { micros.withLock { $0 } }, logger: Logger(label: "test"))
        try await recorder.start()
        var timestamp: Ticks90k = 90_000
        for i in 0..<count {
            let f = frames[i % frames.count]
            try await recorder.handle(
                .frame(
                    DepacketizedFrame(
                        frame: EncodedFrame(timestamp: timestamp, isKey: f.isKey, data: f.data),
                        parameters: parameters)))
            timestamp += 3600
            micros.withLock { $0 += 40_000 }
        }
        try await recorder.stop()
    }
}

extension IngestEvent {
    /// One frame as an event of its own, for tests that feed a recorder by hand.
    public static func frame(_ frame: DepacketizedFrame) -> IngestEvent { .frames([frame]) }
}
