import CameraSim
import Catalog
import ChildProcess
import CommandSupport
import Crypto
import Foundation
import Logging
import Media
import Recording
import Records

/// Builds one hour of recording (60 segments of 60 s from the default clip), then measures
/// the time to the first 64 KiB of an MP4 of the whole hour and the throughput of
/// streaming all of it, against `cat` of the same sample files.
enum ExportBenchmark {
    static func run() async throws {
        let work = "/tmp/vigil-bench-export"
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let catalog = try await Catalog.openSQLite(path: work + "/catalog.sqlite")
        let store = try SampleStore(root: work + "/samples")
        let camera = try await catalog.upsertCamera(name: "bench", url: "rtsp://bench", retentionDays: 30)
        let start: Int64 = 1_700_000_000_000_000
        let paths = try await BenchFootage.record(catalog: catalog, store: store, cameraID: camera.id, minutes: 60, start: start)
        // Time to first byte, best of 5 (the catalog and files are warm after the first).
        var ttfb: [Double] = []
        var mp4: VirtualMP4?
        for _ in 0..<5 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let plan = try await Exporter.plan(catalog: catalog, store: store, cameraID: camera.id, from: start, to: start + 3_600_000_000)
            let file = try plan.mp4(creationUnixSeconds: start / 1_000_000)
            _ = try file.read(0..<65_536)
            ttfb.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            mp4 = file
        }
        await catalog.close()
        guard let mp4 else { return }
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        var vigilRates: [Double] = []
        var catRates: [Double] = []
        let total = paths.reduce(Int64(0)) { $0 + (Int64((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0)) }
        for _ in 0..<3 {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try mp4.write(toFileDescriptor: devNull)
            vigilRates.append(Double(mp4.size) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9) / 1e6)
            let c0 = DispatchTime.now().uptimeNanoseconds
            let cat = Process()
            cat.executableURL = URL(fileURLWithPath: "/bin/cat")
            cat.arguments = paths
            cat.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            try ChildProcess.launch(cat)
            ChildProcess.waitForExit(cat)
            catRates.append(Double(total) / (Double(DispatchTime.now().uptimeNanoseconds - c0) / 1e9) / 1e6)
        }
        let best = ttfb.min() ?? 0
        say(String(format: "1-hour range: %d segments, %d frames, %.1f MB MP4", 60, 90_000, Double(mp4.size) / 1e6))
        say(String(format: "time to first 64 KiB: %.1f ms (best of 5; first run %.1f ms)", best, ttfb.first ?? 0))
        say(
            String(
                format: "streaming throughput: vigil %.0f MB/s, cat %.0f MB/s, ratio %.2f (best of 3 each, page cache warm)",
                vigilRates.max() ?? 0, catRates.max() ?? 0, (vigilRates.max() ?? 0) / (catRates.max() ?? 1)))
    }
}

/// Recorded footage for benchmarks, written the way the recorder leaves it: one closed
/// segment of 60 s (1500 frames of the default 720p clip, looped) per minute, each a
/// sample file with its catalog row and SHA-256. Returns the sample files' paths.
enum BenchFootage {
    static func record(catalog: Catalog, store: SampleStore, cameraID: Int64, minutes: Int, start: Int64) async throws -> [String] {
        let clipPath = try await ClipMaker.ensureDefault(codec: .h264)
        let bytes = [UInt8](FileManager.default.contents(atPath: clipPath) ?? Data())
        let frames = NALUnits.storedFrames(codec: .h264, annexB: bytes)
        let parameters = try VideoParameters(firstParameterSetsIn: bytes, codec: .h264)
        var paths: [String] = []
        for s in 0..<minutes {
            let name = "\(s).sample"
            let file = try store.create(cameraID: cameraID, fileName: name)
            var entries: [SampleEntry] = []
            var blob: [UInt8] = []
            for i in 0..<1500 {
                let f = frames[i % frames.count]
                blob += f.data
                entries.append(SampleEntry(duration: 3600, byteCount: UInt32(f.data.count), isKey: f.isKey))
            }
            try file.append(blob)
            file.close()
            paths.append(store.path(cameraID: cameraID, fileName: name))
            _ = try await catalog.insertSegment(
                SegmentRecord(
                    cameraID: cameraID, runID: 1, fileName: name, startMicros: start + Int64(s) * 60_000_000, duration: 1500 * 3600,
                    byteCount: Int64(blob.count), frameCount: 1500, codec: .h264, parameterSets: parameters.parameterSets,
                    sampleIndex: SampleIndex.encode(entries), sha256: Array(SHA256.hash(data: blob)), state: .closed))
        }
        return paths
    }
}
