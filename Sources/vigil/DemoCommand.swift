import Access
import ArgumentParser
import Base
import CameraSim
import Catalog
import Centre
import CommandSupport
import Foundation
import Media
import Onvif
import PTZ
import RTSP
import Recording
import Records
import Synchronization

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the centre (vigil serve) with simulated cameras, printing the console URL and the first logins.")

    @Option(name: .long, help: "Data directory.") var data: String = "./data"
    @Option(name: .long, help: "Number of simulated cameras.") var cameras: Int = 4
    @Option(name: .long, help: "Simulator port.") var port: Int = 8554
    @Option(name: .long, help: "HOST:PORT for the console and API.") var listen: String = "127.0.0.1:8080"
    @Option(name: .long, help: "Segment length in seconds.") var segmentSeconds: Int = 60

    func run() async throws {
        let clip = try await SimulatedClip.load(path: ClipMaker.ensureDefault(codec: .h264))
        var config = SimulatorConfiguration()
        config.port = port
        // One dome more than is recorded: it is on the network but not added, for the camera
        // page's "Find cameras" to find and add.
        config.cameras = cameras + 1
        let password = randomHex(bytes: 8)
        config.credentials = ("demo", password)
        // Each camera is also a PTZ dome over ONVIF (on any free port), whose live picture
        // follows where it points, and is added the way a real one is: its stream and PTZ
        // profile are asked over ONVIF.
        var onvifSettings = OnvifResponder.Settings()
        onvifSettings.cameras = cameras + 1
        onvifSettings.rtspPort = port
        onvifSettings.account = UsernameToken(username: "demo", password: password)
        // Each also has a 320x180 sub-stream (a second ONVIF profile), which the wall's small
        // tiles show.
        onvifSettings.subStreams = true
        let responder = OnvifResponder(settings: onvifSettings)
        let domes = try await LiveDome.forEach(of: responder, cameras: cameras + 1, framesPerSecond: 25)
        let subDomes = try await LiveDome.forEach(of: responder, cameras: cameras + 1, framesPerSecond: 25, width: 320, height: 180)
        let simulator = try await CameraSimulator.start(clip: clip, configuration: config, live: domes, subLive: subDomes)
        await responder.useRTSPPort(simulator.port)
        let onvif = try await OnvifSimulator.start(responder: responder)
        // They answer WS-Discovery probes on loopback (not on the site's network: the demo
        // does not announce itself to real cameras' clients), where the server's probe goes.
        let discovery = try await DiscoveryResponder.start(
            devices: DiscoveryResponder.devices(cameras: cameras + 1, host: "127.0.0.1", onvifPort: onvif.port), host: "127.0.0.1",
            port: 0, multicast: false)
        var settings = ServerSettings()
        settings.data = data
        settings.listen = listen
        settings.segmentSeconds = segmentSeconds
        settings.discoveryTargets = ["multicast", "127.0.0.1:\(discovery.port)"]
        let absolute = URL(fileURLWithPath: data).standardizedFileURL.path
        let logins = LoginsBox()
        try await CentreRunner(settings: settings).run(
            beforeStart: { site in
                for i in 1...cameras {
                    let found = try await CameraOnboarding.inspect(
                        "http://demo:\(password)@127.0.0.1:\(onvif.port)/onvif/cam\(i)/device_service")
                    let fresh = try found.record(name: "cam\(i)", retentionDays: RetentionPolicy.defaultDays, keys: site.keys)
                    var record = try await site.catalog.camera(named: "cam\(i)") ?? fresh
                    record.url = fresh.url
                    record.username = fresh.username
                    record.sealedPassword = fresh.sealedPassword
                    record.onvifURL = fresh.onvifURL
                    record.ptzProfile = fresh.ptzProfile
                    record.subStreamURL = fresh.subStreamURL
                    record.segmentSeconds = segmentSeconds
                    record.location = "simulated camera \(i)"
                    // Two areas, so that the wall's camera tree shows its grouping.
                    record.area = i % 2 == 1 ? "Old Town" : "Station district"
                    if record.id == 0 {
                        _ = try await site.registerCamera(record, detail: "demo simulator")
                    } else {
                        try await site.catalog.updateCamera(record)
                    }
                }
                if try await site.catalog.users().isEmpty {
                    // One-time passwords: each must be changed at first sign-in.
                    for (name, role) in [("admin", Role.admin), ("operator", Role.operator)] {
                        let oneTime = randomToken(bytes: 9)
                        try await site.auditCommandLine(
                            .userAdd, detail: "user \(name) as \(role.rawValue) (demo, one-time password)",
                            change: try await site.accounts.prepareUser(name: name, role: role, password: oneTime, oneTime: true))
                        logins.add("\(name) / \(oneTime)   (\(role.title); one-time password, change it at first sign-in)")
                    }
                }
            },
            onRunning: { url in
                say(
                    """

                    Vigil demo: \(cameras) simulated PTZ domes (a live 640x360 H.264 picture that follows where each points, and a 320x180 sub-stream for small tiles; Digest auth; ONVIF PTZ) recorded into \(absolute)
                    Console: \(url)
                    \(logins.text.isEmpty ? "Accounts exist already (vigil user passwd --data \(absolute) NAME resets one)." : "First logins:\n" + logins.text)
                    The administrator has no imagery rights; the operator sees live video and playback, and steers the cameras from their live tiles.
                    One more simulated dome is on the network, not yet added: the administrator finds it under Cameras → Add a camera → Find cameras on the network (its user is demo, its password \(password)).
                    From the command line (vigil is at .build/release/vigil):
                      vigil recordings --data \(absolute) --camera cam1
                      vigil audit verify --data \(absolute)
                      vigil check --data \(absolute)
                    Ctrl-C stops cleanly.

                    """)
            })
        await discovery.close()
        await onvif.close()
        await simulator.close()
        for dome in domes.values { dome.close() }
        for dome in subDomes.values { dome.close() }
    }
}

/// Logins created before the server starts, printed once it listens.
final class LoginsBox: Sendable {
    private let lines = Mutex([String]())
    func add(_ line: String) { lines.withLock { $0.append(line) } }
    var text: String { lines.withLock { $0.map { "  " + $0 }.joined(separator: "\n") } }
}
