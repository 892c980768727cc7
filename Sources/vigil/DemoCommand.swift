import ArgumentParser
import CameraSim
import Foundation
import Media
import RTSP
import Recording

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start simulated cameras and record them, printing where the data goes and how to export.")

    @Option(name: .long, help: "Data directory.") var data: String = "./data"
    @Option(name: .long, help: "Number of simulated cameras.") var cameras: Int = 4
    @Option(name: .long, help: "Simulator port.") var port: Int = 8554
    @Option(name: .long, help: "Segment length in seconds.") var segmentSeconds: Int = 60

    func run() async throws {
        let clip = try SimulatedClip.load(path: try ClipMaker.ensureDefault(codec: .h264))
        var config = SimulatorConfiguration()
        config.port = port
        config.cameras = cameras
        let password = randomHex(bytes: 8)
        config.credentials = ("demo", password)
        let simulator = try await CameraSimulator.start(clip: clip, configuration: config)
        let dataOptions = try DataOptions.parse(["--data", data])
        let session = try await RecordingSession.open(data: dataOptions, logger: makeLogger("vigil.demo"))
        let args = try (1...cameras).map { try CameraArgument("cam\($0)=rtsp://demo:\(password)@127.0.0.1:\(simulator.port)/cam\($0)") }
        let absolute = URL(fileURLWithPath: data).standardizedFileURL.path
        let now = WallClock.system.nowMicros()
        let from = iso8601(micros: now), to = iso8601(micros: now + 120_000_000)
        say("""

            Vigil demo: \(cameras) simulated cameras (720p25 H.264, Digest auth) recorded into \(absolute)
              catalog:  \(absolute)/catalog.sqlite
              samples:  \(absolute)/samples/<camera id>/*.sample
            In another terminal, while this runs or after Ctrl-C:
              vigil recordings --data \(absolute) --camera cam1
              vigil export --data \(absolute) --camera cam1 --from \(from) --to \(to) --out cam1.mp4
              vigil check --data \(absolute)
            (vigil is at .build/release/vigil after the demo script built it.) Ctrl-C stops cleanly.

            """)
        var recorderConfig = RecorderConfiguration()
        recorderConfig.segmentLength = Ticks90k(segmentSeconds) * ticksPerSecond
        try await session.record(cameras: args, retentionDays: RetentionPolicy.defaultDays, configuration: recorderConfig,
                                 policy: RetentionPolicy(), until: { await ShutdownSignal.wait() })
        await simulator.close()
    }
}
