import ArgumentParser
import CameraSim
import ChildProcess
import CommandSupport
import Foundation

/// `vigil bench ingest`: Vigil's recorder and ffmpeg's `-c copy` segment recorder record
/// the same simulated streams at the same time; CPU time of each is read from
/// /proc/<pid>/stat and reported per stream, with their ratio.
struct BenchIngest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "CPU per stream: Vigil's recorder vs ffmpeg -c copy, side by side on the same simulated cameras.")

    @Option(name: .long) var cameras: Int = 16
    @Option(name: .long) var seconds: Int = 60
    @Option(name: .long) var port: Int = 18554
    @Option(name: .long, help: "Scratch directory (deleted afterwards).") var work: String = "/tmp/vigil-bench-ingest"
    @Flag(name: .long, help: "Skip ffmpeg (measure Vigil alone).") var vigilOnly = false

    func run() async throws {
        let me = try vigilExecutable()
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work + "/ffmpeg", withIntermediateDirectories: true)
        let clip = try await ClipMaker.ensureDefault(codec: .h264)
        let sim = try ChildProcess.spawn(
            me, ["simulate", "--cameras", "\(cameras * 2)", "--port", "\(port)", "--file", clip], log: work + "/sim.log")
        defer {
            sim.interrupt()
            ChildProcess.waitForExit(sim)
        }
        try await Task.sleep(for: .seconds(2))
        let urls = (1...(cameras * 2)).map { "rtsp://127.0.0.1:\(port)/cam\($0)" }
        let vigilArgs = ["record", "--data", work + "/vigil"] + (0..<cameras).flatMap { ["--camera", "c\($0)=\(urls[$0])"] }
        let vigil = try ChildProcess.spawn(me, vigilArgs, log: work + "/vigil.log")
        var ffmpegs: [Process] = []
        if !vigilOnly {
            guard let ffmpeg = ChildProcess.which("ffmpeg") else { throw ValidationError("ffmpeg not found (apt-get install ffmpeg)") }
            for i in 0..<cameras {
                ffmpegs.append(
                    try ChildProcess.spawn(
                        ffmpeg,
                        [
                            "-nostdin", "-v", "error", "-rtsp_transport", "tcp", "-i", urls[cameras + i],
                            "-c", "copy", "-f", "segment", "-segment_time", "60", "-reset_timestamps", "1",
                            "\(work)/ffmpeg/c\(i)-%05d.mp4"
                        ], log: work + "/ffmpeg-\(i).log"))
            }
        }
        // Let connections settle, then measure a window of `seconds`.
        try await Task.sleep(for: .seconds(3))
        let vigilStart = ChildProcess.cpuSeconds(vigil.processIdentifier)
        let ffmpegStart = ffmpegs.map { ChildProcess.cpuSeconds($0.processIdentifier) }
        let wallStart = Date()
        try await Task.sleep(for: .seconds(seconds))
        let wall = Date().timeIntervalSince(wallStart)
        let vigilCPU = ChildProcess.cpuSeconds(vigil.processIdentifier) - vigilStart
        let ffmpegCPU = zip(ffmpegs, ffmpegStart).reduce(0.0) { $0 + ChildProcess.cpuSeconds($1.0.processIdentifier) - $1.1 }
        vigil.interrupt()
        for f in ffmpegs { f.interrupt() }
        ChildProcess.waitForExit(vigil, timeout: 30)
        for f in ffmpegs { ChildProcess.waitForExit(f, timeout: 30) }
        let vigilPerStream = vigilCPU / wall / Double(cameras) * 100
        say(String(format: "cameras: %d, window: %.1f s, clip: 720p25 H.264 2 Mb/s", cameras, wall))
        say(String(format: "vigil record:   %.3f%% of a core per stream (%.2f CPU-s total)", vigilPerStream, vigilCPU))
        if !vigilOnly {
            let ffmpegPerStream = ffmpegCPU / wall / Double(cameras) * 100
            say(String(format: "ffmpeg -c copy: %.3f%% of a core per stream (%.2f CPU-s total)", ffmpegPerStream, ffmpegCPU))
            say(String(format: "ratio vigil/ffmpeg: %.3f", vigilPerStream / ffmpegPerStream))
        }
        let check = try await ChildProcess.run(me, ["check", "--data", work + "/vigil"])
        say("vigil check after the run: " + (check.status == 0 ? "clean" : "PROBLEMS (see \(work))"))
        if check.status == 0 { try? FileManager.default.removeItem(atPath: work) }
    }
}

struct BenchExport: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "MP4 assembly: time to first byte for a 1-hour range, and throughput vs cat of the same bytes.")

    func run() async throws {
        try await ExportBenchmark.run()
    }
}
