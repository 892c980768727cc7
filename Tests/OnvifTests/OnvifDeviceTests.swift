import CameraSim
import Foundation
import Synchronization
import Testing

@testable import Onvif

/// A clock the test moves: the camera's real time, in microseconds.
final class TestClock: Sendable {
    let micros = Mutex<Int64>(Int64(Date().timeIntervalSince1970 * 1_000_000))
    func read() -> Int64 { micros.withLock { $0 } }
    func advance(seconds: Int64) { micros.withLock { $0 += seconds * 1_000_000 } }
}

/// The simulated cameras on a free loopback port, and a session with camera `camera`.
func withSimulatedCamera(
    cameras: Int = 2, skewSeconds: Int64 = 0, password: String = "Str0ng pass", camera: Int = 1,
    cameraClock: TestClock? = nil, _ body: (OnvifDevice, OnvifSimulator) async throws -> Void
) async throws {
    var settings = OnvifResponder.Settings()
    settings.cameras = cameras
    settings.account = UsernameToken(username: "admin", password: "Str0ng pass")
    settings.clockSkewSeconds = skewSeconds
    let responder =
        if let cameraClock { OnvifResponder(settings: settings, wallClock: { cameraClock.read() }) } else {
            OnvifResponder(settings: settings)
        }
    let simulator = try await OnvifSimulator.start(responder: responder)
    let transport = HTTPOnvifTransport(deadline: .seconds(3))
    let (endpoint, account) = try OnvifEndpoint.parse(
        "http://admin:\(password.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)@127.0.0.1:\(simulator.port)/onvif/cam\(camera)/device_service"
    )
    let device = OnvifDevice(endpoint: endpoint, account: account, transport: transport)
    do {
        try await body(device, simulator)
    } catch {
        try await transport.shutdown()
        await simulator.close()
        throw error
    }
    try await transport.shutdown()
    await simulator.close()
}

@Suite("ONVIF: a session with a device over HTTP (the simulated camera)")
struct OnvifDeviceTests {
    @Test func aCameraWhoseClockIsAnHourOutIsStillAnsweredAndItsStreamFound() async throws {
        try await withSimulatedCamera(skewSeconds: 3600, camera: 2) { device, _ in
            let info = try await device.information()
            #expect(info.model == "Simulated PTZ dome")
            let offset = try #require(await device.clockOffsetMicros)
            #expect(abs(offset - 3_600_000_000) < 2_000_000)
            let profiles = try await device.profiles()
            #expect(profiles.map(\.token) == ["main"])
            #expect(profiles.first?.ptzNode == "node0")
            // Camera 2's stream, on the RTSP server the simulator was told of.
            #expect(try await device.streamURI(profile: "main") == "rtsp://127.0.0.1:8554/cam2")
            #expect(try await device.snapshotURI(profile: "main").hasPrefix("http://"))
        }
    }

    @Test func aWrongPasswordIsATypedRefusalNamingDeviceServiceAndAction() async throws {
        try await withSimulatedCamera(password: "guessed-pw-123") { device, simulator in
            let error = try await #require(throws: OnvifDeviceError.self) { try await device.profiles() }
            #expect(error.error.isNotAuthorized)
            #expect(error.code == .deviceFailed)
            #expect(error.service == .device) // the addresses are asked first, from the device service
            #expect(error.description.contains("127.0.0.1:\(simulator.port)"))
            #expect(error.description.contains("GetCapabilities"))
            #expect(!error.description.contains("guessed-pw-123"))
        }
    }

    @Test func aCameraWhoseClockJumpsIsAskedItsTimeAgainAndTheCommandSentOnce() async throws {
        let clock = TestClock()
        try await withSimulatedCamera(cameraClock: clock) { device, _ in
            _ = try await device.nodes()
            let before = try #require(await device.clockOffsetMicros)
            clock.advance(seconds: -7200)
            // The old offset makes a token two hours off, which the camera refuses; the
            // session learns the new time and the command goes through.
            let nodes = try await device.nodes()
            #expect(nodes.map(\.token) == ["node0"])
            let after = try #require(await device.clockOffsetMicros)
            // The device's time is to the second, and a loaded machine stretches the exchange.
            #expect(abs((before - after) - 7_200_000_000) < 5_000_000)
        }
    }

    @Test func continuousMoveStopPresetsAndHomeMoveTheSimulatedDome() async throws {
        try await withSimulatedCamera { device, simulator in
            let node = try #require(try await device.nodes().first)
            #expect(node.maximumPresets == 64 && node.homeSupported)
            #expect(try await device.ptzConfigurations().map(\.nodeToken) == ["node0"])
            try await device.continuousMove(profile: "main", velocity: PTZVelocity(pan: 1, tilt: -1, zoom: 0.5), timeoutSeconds: 5)
            try await Task.sleep(for: .milliseconds(400))
            try await device.stop(profile: "main")
            let status = try await device.status(profile: "main")
            let stopped = try #require(status.position)
            #expect(try #require(stopped.pan) > 0.1)
            #expect(try #require(stopped.tilt) < -0.1)
            #expect(try #require(stopped.zoom) > 0.05)
            #expect(status.panTiltMoving == "IDLE")
            // The camera's own state agrees with what the client read.
            let actual = try #require(await simulator.responder.position(camera: 0))
            #expect(abs(actual.pan - stopped.pan!) < 1e-9)

            let token = try await device.setPreset(profile: "main", name: "Market square")
            try await device.absoluteMove(profile: "main", node: node, to: PTZVelocity(pan: -0.5, tilt: 0.25, zoom: 0.75))
            #expect(try await device.status(profile: "main").position == PTZPosition(pan: -0.5, tilt: 0.25, zoom: 0.75))
            try await device.relativeMove(profile: "main", node: node, by: PTZVelocity(pan: 0.25, tilt: 0, zoom: -0.25))
            #expect(try await device.status(profile: "main").position == PTZPosition(pan: -0.25, tilt: 0.25, zoom: 0.5))
            try await device.gotoPreset(profile: "main", preset: token)
            #expect(try await device.status(profile: "main").position == stopped)
            let presets = try await device.presets(profile: "main")
            #expect(presets.map(\.name) == ["Market square"] && presets.first?.token == token)
            try await device.gotoHomePosition(profile: "main", node: node)
            #expect(try await device.status(profile: "main").position == PTZPosition(pan: 0, tilt: 0, zoom: 0))
            try await device.removePreset(profile: "main", preset: token)
            #expect(try await device.presets(profile: "main").isEmpty)
            // A preset the camera does not have is its fault, typed.
            let error = try await #require(throws: OnvifDeviceError.self) { try await device.gotoPreset(profile: "main", preset: token) }
            guard case let .fault(action, _, subcode, _) = error.error else {
                Issue.record("not a fault: \(error)")
                return
            }
            #expect(action == "GotoPreset" && subcode == "NoToken" && error.service == .ptz)
        }
    }

    @Test func aNodeWithoutTheSpaceOrHomeIsRefusedBeforeAnythingIsSent() async throws {
        let transport = RecordingTransport(reply: (200, []))
        let device = OnvifDevice(endpoint: OnvifEndpoint(host: "192.0.2.7", port: 80), account: nil, transport: transport)
        let bare = PTZNode(
            token: "n", name: "", absolutePanTilt: [], absoluteZoom: [], relativePanTilt: [], relativeZoom: [], continuousPanTilt: [],
            continuousZoom: [], maximumPresets: 0, homeSupported: false)
        for attempt in [
            { try await device.absoluteMove(profile: "p", node: bare, to: PTZVelocity(pan: 0, tilt: 0, zoom: 0)) },
            { try await device.relativeMove(profile: "p", node: bare, by: PTZVelocity(pan: 0, tilt: 0, zoom: 0)) },
            { try await device.gotoHomePosition(profile: "p", node: bare) }
        ] as [@Sendable () async throws -> Void] {
            let error = try await #require(throws: OnvifDeviceError.self) { try await attempt() }
            guard case .unsupported = error.error else {
                Issue.record("\(error)")
                continue
            }
            #expect(error.code == .invalid)
        }
        #expect(transport.urls.withLock { $0 }.isEmpty)
    }

    /// A ceiling dome that tilts only downwards and zooms only half way: a position or
    /// translation past its declared ranges is refused, naming the axis, before it is sent.
    @Test func aValueOutsideTheNodesDeclaredRangeIsRefusedBeforeItIsSent() async throws {
        let transport = RecordingTransport(reply: (200, []))
        let device = OnvifDevice(endpoint: OnvifEndpoint(host: "192.0.2.7", port: 80), account: nil, transport: transport)
        let space = { (uri: String, x: FloatRange, y: FloatRange?) in PTZSpace(uri: uri, x: x, y: y) }
        let node = PTZNode(
            token: "ceiling", name: "",
            absolutePanTilt: [space(PTZRequests.panTiltPositionSpace, FloatRange(min: -1, max: 1), FloatRange(min: -1, max: 0))],
            absoluteZoom: [space(PTZRequests.zoomPositionSpace, FloatRange(min: 0, max: 0.5), nil)],
            relativePanTilt: [space(PTZRequests.panTiltTranslationSpace, FloatRange(min: -0.5, max: 0.5), FloatRange(min: -1, max: 1))],
            relativeZoom: [], continuousPanTilt: [], continuousZoom: [], maximumPresets: 0, homeSupported: false)
        let refusals: [(String, @Sendable () async throws -> Void)] = [
            ("tilt 0.25", { try await device.absoluteMove(profile: "p", node: node, to: PTZVelocity(pan: 0, tilt: 0.25, zoom: 0)) }),
            ("zoom 0.75", { try await device.absoluteMove(profile: "p", node: node, to: PTZVelocity(pan: 0, tilt: -0.5, zoom: 0.75)) }),
            ("pan 0.75", { try await device.relativeMove(profile: "p", node: node, by: PTZVelocity(pan: 0.75, tilt: 0, zoom: 0)) })
        ]
        for (axis, attempt) in refusals {
            let error = try await #require(throws: OnvifDeviceError.self) { try await attempt() }
            #expect(error.code == .invalid && "\(error)".contains(axis) && "\(error)".contains("ceiling"), "\(error)")
        }
        #expect(transport.urls.withLock { $0 }.isEmpty)
        // Within the ranges both pass the check, and go on to the device (whose empty
        // replies fail them there, not as unsupported).
        let accepted: [@Sendable () async throws -> Void] = [
            { try await device.absoluteMove(profile: "p", node: node, to: PTZVelocity(pan: 1, tilt: -1, zoom: 0.5)) },
            { try await device.relativeMove(profile: "p", node: node, by: PTZVelocity(pan: -0.5, tilt: 1, zoom: 3)) }
        ]
        for attempt in accepted {
            let error = try await #require(throws: OnvifDeviceError.self) { try await attempt() }
            if case .unsupported = error.error { Issue.record("refused within the node's ranges: \(error)") }
        }
        #expect(!transport.urls.withLock { $0 }.isEmpty)
    }
}

/// A listening TCP socket on a free loopback port, and the port.
func loopbackListener() throws -> (Int32, Int) {
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    try withUnsafeMutablePointer(to: &address) { pointer in
        try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            guard bind(listener, $0, length) == 0, listen(listener, 4) == 0, getsockname(listener, $0, &length) == 0 else {
                close(listener)
                throw POSIXError(.EADDRINUSE)
            }
        }
    }
    return (listener, Int(UInt16(bigEndian: address.sin_port)))
}

/// A transport that answers one fixed reply and keeps the URLs it was asked.
final class RecordingTransport: OnvifTransport {
    let reply: (status: Int, body: [UInt8])
    let urls = Mutex<[String]>([])
    init(reply: (Int, [UInt8])) { self.reply = reply }
    func post(url: String, soapAction: String, body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
        urls.withLock { $0.append(url) }
        return reply
    }
}

@Suite("ONVIF: addresses and what no reply means")
struct OnvifTransportTests {
    @Test func theAccountIsKeptApartFromTheAddress() throws {
        let (endpoint, account) = try OnvifEndpoint.parse("http://op%40site:p%3Ass@cam-12.city.local:8080/onvif/device_service")
        #expect(endpoint == OnvifEndpoint(host: "cam-12.city.local", port: 8080, path: "/onvif/device_service"))
        #expect(account?.username == "op@site" && account?.password == "p:ss")
        #expect(!endpoint.description.contains("p:ss") && !endpoint.description.contains("op"))
        let (v6, none) = try OnvifEndpoint.parse("https://[fd00::12]/")
        #expect(v6.description == "https://[fd00::12]:443/" && none == nil)
        for bad in ["rtsp://cam/onvif", "http:///onvif", "http://cam:70000/", "cam12"] {
            #expect(throws: OnvifError.self, "\(bad)") { try OnvifEndpoint.parse(bad) }
        }
    }

    @Test func aServiceAddressKeepsOnlyItsPathOnTheDevicesOwnHost() {
        let endpoint = OnvifEndpoint(host: "10.1.2.3", port: 80)
        #expect(endpoint.resolve("http://169.254.169.254/latest/meta-data?x=1") == "http://10.1.2.3:80/latest/meta-data?x=1")
        #expect(endpoint.resolve("http://192.168.0.10:8899/onvif/ptz") == "http://10.1.2.3:80/onvif/ptz")
        #expect(endpoint.resolve(nil) == "http://10.1.2.3:80/onvif/device_service")
    }

    @Test func aStatusWithoutASoapReplyIsTheStatusAndAFaultIsTheFault() async throws {
        let unauthorised = OnvifDevice(
            endpoint: OnvifEndpoint(host: "192.0.2.7", port: 80), account: nil, transport: RecordingTransport(reply: (401, [])))
        let error = try await #require(throws: OnvifDeviceError.self) { try await unauthorised.information() }
        #expect(error.error == .httpStatus(action: "GetDeviceInformation", status: 401))
        #expect(error.description.contains("HTTP authentication"))
        let fault = envelope(
            #"<s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Reason><s:Text xml:lang="en">busy</s:Text></s:Reason></s:Fault>"#)
        let refused = OnvifDevice(
            endpoint: OnvifEndpoint(host: "192.0.2.7", port: 80), account: nil, transport: RecordingTransport(reply: (500, fault)))
        let faultError = try await #require(throws: OnvifDeviceError.self) { try await refused.information() }
        #expect(faultError.error == .fault(action: "GetDeviceInformation", code: "Receiver", subcode: nil, reason: "busy"))
    }

    @Test func aReplyTrickledAByteAtATimeIsCutOffAtTheDeadline() async throws {
        // A head at once, then a body one byte every 100 ms: each byte resets a read
        // timeout, so only a deadline over the whole exchange ends it.
        let (listener, port) = try loopbackListener()
        defer { close(listener) }
        let trickler = Thread {
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { return }
            defer { close(connection) }
            // The whole request first, as a server reads it, then the reply.
            var request: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 4096)
            while !String(decoding: request, as: UTF8.self).contains("</s:Envelope>") {
                let n = read(connection, &chunk, chunk.count)
                guard n > 0 else { return }
                request += chunk[0..<n]
            }
            let head = Array("HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml\r\nContent-Length: 100000\r\n\r\n<".utf8)
            guard write(connection, head, head.count) == head.count else { return }
            for _ in 0..<600 {
                usleep(100_000)
                guard write(connection, " ", 1) == 1 else { return }
            }
        }
        trickler.start()
        // Silences of up to 30 s are let through, so only the deadline can end this one.
        let transport = HTTPOnvifTransport(deadline: .milliseconds(800), readTimeout: .seconds(30))
        let device = OnvifDevice(endpoint: OnvifEndpoint(host: "127.0.0.1", port: port), account: nil, transport: transport)
        let started = ContinuousClock.now
        let error = try await #require(throws: OnvifDeviceError.self) { try await device.information() }
        try await transport.shutdown()
        guard case let .unreachable(_, reason) = error.error else {
            Issue.record("\(error)")
            return
        }
        #expect(reason.contains("no complete reply within 800 ms"), "\(reason)")
        #expect(ContinuousClock.now - started < .seconds(20), "the trickle ran 60 s; the deadline must end it first")
    }

    @Test func aDeviceThatNeverAnswersIsCutOffAtTheDeadline() async throws {
        // A listening socket nobody accepts from: the connection is made, no reply comes.
        let (listener, port) = try loopbackListener()
        defer { close(listener) }
        let transport = HTTPOnvifTransport(deadline: .milliseconds(500))
        let device = OnvifDevice(endpoint: OnvifEndpoint(host: "127.0.0.1", port: port), account: nil, transport: transport)
        let started = ContinuousClock.now
        let error = try await #require(throws: OnvifDeviceError.self) { try await device.information() }
        try await transport.shutdown()
        guard case .unreachable = error.error else {
            Issue.record("\(error)")
            return
        }
        // Cut off, not left waiting: the default has no read deadline at all. (How soon
        // depends on the machine's load; the deadline itself is 0.5 s.)
        #expect(ContinuousClock.now - started < .seconds(15))
    }
}
