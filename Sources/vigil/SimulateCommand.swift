import ArgumentParser
import CameraSim
import ChildProcess
import CommandSupport
import Foundation
import Media
import Onvif

struct Simulate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Serve N simulated RTSP cameras (rtsp://HOST:PORT/cam1 …) looping an encoded clip; with --onvif-port, PTZ domes whose live picture follows where each points."
    )

    @Option(name: .long, help: "Number of cameras.") var cameras: Int = 4
    @Option(name: .long, help: "TCP port.") var port: Int = 8554
    @Option(name: .long, help: "Listen address.") var host: String = "127.0.0.1"
    @Option(
        name: .long,
        help:
            "Annex B clip (.h264 or .h265) the cameras loop (domes: only with --still-picture); default: a generated 720p25 2 Mb/s H.264 clip."
    )
    var file: String?
    @Option(name: .long, help: "Frames per second to pace the clip at.") var fps: Int = 25
    @Option(name: .long, help: "Require Digest authentication as this user.") var user: String?
    @Option(name: .long, help: "Password for --user.") var password: String?
    @Option(
        name: .long,
        help:
            "Also serve each camera as an ONVIF PTZ dome on this HTTP port (http://HOST:PORT/onvif/camN/device_service; 0: any free port).")
    var onvifPort: Int?
    @Option(
        name: .long,
        help:
            "With --onvif-port, answer WS-Discovery probes on this UDP port of --host (3702 is ONVIF's; 0: any free port); with --host 0.0.0.0, also those multicast to the ONVIF group."
    )
    var discoveryPort: Int?
    @Flag(
        name: .long,
        help:
            "With --onvif-port, loop the clip instead of giving each dome a live picture that follows where it points (an ffmpeg encoder per camera)."
    )
    var stillPicture = false
    @Flag(
        name: .long,
        help:
            "Give each camera a smaller sub-stream for viewing, rtsp://HOST:PORT/camNsub (a generated 320x180 clip, or a dome's 320x180 live picture), and with --onvif-port a second profile, sub, for it."
    )
    var subStreams = false

    func validate() throws {
        guard cameras >= 1 else { throw ValidationError("--cameras must be at least 1") }
        guard (user == nil) == (password == nil) else { throw ValidationError("--user and --password go together") }
        if let onvifPort, !(0...65_535).contains(onvifPort) { throw ValidationError("--onvif-port must be 0...65535") }
        if stillPicture, onvifPort == nil { throw ValidationError("--still-picture is for the domes of --onvif-port") }
        if onvifPort != nil, !stillPicture, !(1...60).contains(fps) {
            throw ValidationError("a dome's live picture runs at 1-60 fps (--fps), or give --still-picture")
        }
        if let discoveryPort {
            guard onvifPort != nil else { throw ValidationError("--discovery-port needs --onvif-port: discovery names the ONVIF address") }
            guard (0...65_535).contains(discoveryPort) else { throw ValidationError("--discovery-port must be 0...65535") }
        }
    }

    func run() async throws {
        let clipPath: String
        if let file { clipPath = file } else { clipPath = try await ClipMaker.ensureDefault(codec: .h264) }
        let clip = try SimulatedClip.load(path: clipPath)
        var config = SimulatorConfiguration()
        config.host = host
        config.port = port
        config.cameras = cameras
        config.framesPerSecond = fps
        if let user, let password { config.credentials = (user, password) }
        if subStreams { config.subClip = try SimulatedClip.load(path: try await ClipMaker.ensureSubStream(codec: clip.codec)) }
        let auth = user.map { "\($0):***@" } ?? ""
        // As ONVIF PTZ domes, each camera's picture is live and follows where it points.
        var responder: OnvifResponder?
        var domes: [Int: LiveDome] = [:], subDomes: [Int: LiveDome] = [:]
        if onvifPort != nil {
            var settings = OnvifResponder.Settings()
            settings.cameras = cameras
            settings.rtspHost = host
            settings.rtspPort = port
            if let user, let password { settings.account = UsernameToken(username: user, password: password) }
            settings.subStreams = subStreams
            let ptz = OnvifResponder(settings: settings)
            responder = ptz
            if !stillPicture {
                domes = try await LiveDome.forEach(of: ptz, cameras: cameras, framesPerSecond: fps)
                if subStreams {
                    subDomes = try await LiveDome.forEach(of: ptz, cameras: cameras, framesPerSecond: fps, width: 320, height: 180)
                }
            }
        }
        let simulator = try await CameraSimulator.start(clip: clip, configuration: config, live: domes, subLive: subDomes)
        if let first = domes[1] {
            say(
                "simulating \(cameras) PTZ domes (H264, a live \(first.width)x\(first.height) picture at \(fps) fps that follows where each points):"
            )
        } else {
            say(
                "simulating \(cameras) \(clip.codec.rawValue) cameras (\(clip.parameters.width)x\(clip.parameters.height), \(fps) fps, clip \(clipPath)):"
            )
        }
        for i in 1...cameras {
            say("  rtsp://\(auth)\(host):\(simulator.port)/cam\(i)" + (subStreams ? "  (sub-stream …/cam\(i)sub)" : ""))
        }
        var onvif: OnvifSimulator?
        var discovery: DiscoveryResponder?
        if let onvifPort, let responder {
            await responder.useRTSPPort(simulator.port)
            let server = try await OnvifSimulator.start(responder: responder, host: host, port: onvifPort)
            onvif = server
            say("and over ONVIF (Device, Media, PTZ):")
            for i in 1...cameras { say("  http://\(auth)\(host):\(server.port)/onvif/cam\(i)/device_service") }
            if let discoveryPort {
                let answering = try await DiscoveryResponder.start(
                    devices: DiscoveryResponder.devices(cameras: cameras, host: host, onvifPort: server.port), host: host,
                    port: discoveryPort)
                discovery = answering
                say(
                    "and to WS-Discovery probes on UDP \(host):\(answering.port)"
                        + (answering.joinedGroup ? " and \(WSDiscovery.multicastGroup)" : " (directed probes only)"))
            }
        }
        _ = await ShutdownSignal.wait()
        await discovery?.close()
        await onvif?.close()
        await simulator.close()
        for dome in domes.values { dome.close() }
        for dome in subDomes.values { dome.close() }
    }
}

struct MakeClip: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "make-clip", abstract: "Generate a test clip with ffmpeg.")
    @Option(name: .long) var codec: String = "h264"
    @Option(name: .long) var out: String
    @Option(name: .long) var seconds: Int = 10
    @Option(name: .long) var width: Int = 1280
    @Option(name: .long) var height: Int = 720
    @Option(name: .long) var fps: Int = 25
    @Option(name: .long) var kbps: Int = 2000

    func run() async throws {
        guard let c = VideoCodec(rawValue: codec.uppercased()) else { throw ValidationError("--codec h264 or h265") }
        try await ClipMaker.make(codec: c, width: width, height: height, fps: fps, seconds: seconds, bitrateKbps: kbps, out: out)
        say(out)
    }
}
