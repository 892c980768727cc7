import ArgumentParser
import Base
import CameraSim
import Catalog
import Centre
import ChildProcess
import CommandSupport
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import Onvif
import Records
import Synchronization

/// `vigil bench ptz`: how long a joystick's move takes from the browser's control channel
/// to the camera, through a real `vigil serve`, against a simulated dome served in this
/// process (so the move's arrival is read from the camera's own record, on the same
/// monotonic clock as its sending). Side by side: the same move sent straight to the
/// camera by Vigil's ONVIF client, and by onvif-zeep-async (the peer, a client we did not
/// write), each timed request to reply.
struct BenchPtz: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ptz",
        abstract: "Control-channel move → camera latency p50/p99 through `vigil serve`, beside direct ONVIF clients (target p99 < 50 ms).")

    @Option(name: .long) var moves: Int = 300
    @Option(name: .long, help: "TCP port for the server.") var port: Int = 18700
    @Option(
        name: .long,
        help: "Python with onvif-zeep-async for the peer (default: the one scripts/test.sh installs, .build-tools/onvif-peers).")
    var python: String = ".build-tools/onvif-peers/bin/python"
    @Option(name: .long, help: "Scratch directory (deleted afterwards).") var work: String = "/tmp/vigil-bench-ptz"

    func validate() throws {
        guard (10...100_000).contains(moves) else { throw ValidationError("--moves must be 10...100000") }
    }

    static func monotonic() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func run() async throws {
        let me = try vigilExecutable()
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var settings = OnvifResponder.Settings()
        settings.account = UsernameToken(username: "bench", password: "bench pass 1")
        let responder = OnvifResponder(settings: settings, monotonic: Self.monotonic)
        let camera = try await OnvifSimulator.start(responder: responder)
        let deviceURL = "http://127.0.0.1:\(camera.port)/onvif/cam1/device_service"

        let data = try DataOptions.parse(["--data", work + "/data"])
        let site = try await Site.open(data, recover: false, logger: makeLogger("vigil.bench"))
        var dome = CameraRecord(id: 0, name: "bench-dome", url: "rtsp://127.0.0.1:9/cam1", retentionDays: 1)
        dome.enabled = false // steered, not recorded: the picture is not what is measured
        dome.onvifURL = deviceURL
        dome.ptzProfile = "main"
        dome.username = "bench"
        dome.sealedPassword = try site.keys.seal("bench pass 1")
        let cameraID = try await CameraRegistry(catalog: site.catalog).register(dome).id
        let steerer = try await site.accounts.addUser(name: "bench-operator", role: .operator, password: randomToken(bytes: 16))
        let token = try await site.accounts.issueAPIToken(userID: steerer.id, name: "bench").token
        await site.catalog.close()

        let listen = "127.0.0.1:\(port)"
        let server = try ChildProcess.spawn(me, ["serve", "--data", data.data, "--listen", listen], log: work + "/serve.log")
        defer {
            server.interrupt()
            ChildProcess.waitForExit(server, timeout: 30)
        }
        try await Task.sleep(for: .seconds(4))
        guard server.isRunning else { throw ValidationError("vigil serve exited: see \(work)/serve.log") }

        // Through the server: each move a velocity the camera has not had, sent on the
        // control channel; its latency is its arrival at the camera less its sending.
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        let moves = self.moves
        let measured = Measured()
        _ = try await WebSocketClient.connect(
            url: "ws://\(listen)/api/cameras/\(cameraID)/ptz/ws", configuration: WebSocketClientConfiguration(additionalHeaders: headers),
            logger: Logger(label: "vigil.bench.ptz")
        ) { inbound, outbound, _ in
            let drain = Task { for try await _ in inbound {} } // the server's status messages
            defer { drain.cancel() }
            for i in 0..<moves {
                let pan = (i.isMultiple(of: 2) ? 1.0 : -1.0) * (0.2 + Double(i % 500) * 0.001)
                let sent = Self.monotonic()
                try await outbound.write(.text(#"{"pan":\#(pan),"tilt":0,"zoom":0}"#))
                let deadline = sent + 5
                while true {
                    if let last = await responder.lastMove(camera: 0), abs(last.velocity.pan - pan) < 1e-9 {
                        measured.values.withLock { $0.append(last.at - sent) }
                        break
                    }
                    guard Self.monotonic() < deadline else { throw ValidationError("move \(i) did not reach the camera in 5 s") }
                    try await Task.sleep(for: .microseconds(200))
                }
                try await Task.sleep(for: .milliseconds(10))
            }
            try await outbound.write(.text(#"{"type":"release"}"#))
            try await outbound.close(.normalClosure, reason: nil)
        }
        let throughServer = measured.values.withLock { $0 }
        guard throughServer.count == moves else { throw ValidationError("the control channel closed early: see \(work)/serve.log") }

        // Straight to the camera with Vigil's own ONVIF client (no server, no channel).
        let (endpoint, account) = try OnvifEndpoint.parse(
            deviceURL.replacingOccurrences(of: "http://", with: "http://bench:bench%20pass%201@"))
        let device = OnvifDevice(endpoint: endpoint, account: account, transport: HTTPOnvifTransport.shared)
        try await device.synchroniseClock()
        var direct: [Double] = []
        for i in 0..<moves {
            let started = Self.monotonic()
            try await device.continuousMove(
                profile: "main", velocity: PTZVelocity(pan: i.isMultiple(of: 2) ? 0.3 : -0.3, tilt: 0, zoom: 0), timeoutSeconds: 5)
            direct.append(Self.monotonic() - started)
        }
        try await device.stop(profile: "main")

        say("moves: \(moves), one every 10 ms after the last arrived; loopback; the dome simulated in this process")
        say(Self.line("through vigil serve (control channel → camera, one way)", throughServer))
        say(Self.line("Vigil's ONVIF client straight to the camera (request → reply)", direct))
        if FileManager.default.isExecutableFile(atPath: python) {
            let peer = try await ChildProcess.run(
                python, ["scripts/bench_ptz_peer.py", "--port", "\(camera.port)", "--moves", "\(moves)"])
            let last = peer.stdout.split(separator: "\n").last.map(String.init) ?? ""
            guard peer.status == 0, let json = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Double],
                let p50 = json["p50"], let p99 = json["p99"]
            else { throw ValidationError("the peer failed or printed no summary: \(peer.stderr.suffix(500)) \(peer.stdout.suffix(300))") }
            say(
                String(
                    format: "%@: p50 %.2f ms, p99 %.2f ms", "onvif-zeep-async straight to the camera (request → reply)", p50 * 1000,
                    p99 * 1000))
            say(
                String(
                    format: "ratio, through Vigil's server vs the peer straight to the camera: p50 %.2f, p99 %.2f",
                    Self.quantile(throughServer, 0.5) / p50, Self.quantile(throughServer, 0.99) / p99))
        } else {
            say("peer not run: \(python) is missing (scripts/test.sh installs it; or pass --python with onvif-zeep-async installed)")
        }
        await camera.close()
        try? FileManager.default.removeItem(atPath: work)
    }

    /// The latencies the channel's handler measured.
    final class Measured: Sendable {
        let values = Mutex<[Double]>([])
    }

    static func quantile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * q).rounded(.down)))]
    }

    static func line(_ what: String, _ values: [Double]) -> String {
        String(
            format: "%@: p50 %.2f ms, p99 %.2f ms, max %.2f ms", what, quantile(values, 0.5) * 1000, quantile(values, 0.99) * 1000,
            (values.max() ?? 0) * 1000)
    }
}
