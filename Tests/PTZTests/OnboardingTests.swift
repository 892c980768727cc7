import CameraSim
import Centre
import Foundation
import Onvif
import Testing

@testable import PTZ

@Suite("PTZ: adding a camera over ONVIF")
struct OnboardingTests {
    @Test func theMainStreamAndThePTZProfileAreFoundAndTheAccountKeptApart() async throws {
        var settings = OnvifResponder.Settings()
        settings.cameras = 3
        settings.rtspPort = 8554
        // The camera names another host for its stream: the recorder is not sent there.
        settings.rtspHost = "10.9.8.7"
        settings.account = UsernameToken(username: "admin", password: "p@ss word")
        settings.clockSkewSeconds = -86_400
        let simulator = try await OnvifSimulator.start(responder: OnvifResponder(settings: settings))
        defer { Task { await simulator.close() } }
        let found = try await CameraOnboarding.inspect("http://admin:p%40ss%20word@127.0.0.1:\(simulator.port)/onvif/cam3/device_service")
        #expect(found.streamURL == "rtsp://127.0.0.1:8554/cam3")
        #expect(found.namedStreamHost == "10.9.8.7")
        #expect(found.ptzProfile == "main" && found.profile == "main")
        #expect(found.onvifURL == "http://127.0.0.1:\(simulator.port)/onvif/cam3/device_service")
        #expect(found.username == "admin" && found.password == "p@ss word")
        #expect(found.device.model == "Simulated PTZ dome")
        // A wrong password stops onboarding with the device's refusal, the password not in it.
        let error = try await #require(throws: OnvifDeviceError.self) {
            try await CameraOnboarding.inspect("http://admin:guess@127.0.0.1:\(simulator.port)/onvif/cam3/device_service")
        }
        #expect(error.error.isNotAuthorized && !error.description.contains("guess"))
        #expect(found.subStreamURL == nil, "a camera with one profile has no sub-stream")
    }

    /// A camera with a second, smaller profile: its stream is the sub-stream, on the device's
    /// own host like the main one, and the record carries it.
    @Test func aSmallerSecondProfileIsTheSubStream() async throws {
        var settings = OnvifResponder.Settings()
        settings.cameras = 2
        settings.rtspHost = "10.9.8.7"
        settings.subStreams = true
        let simulator = try await OnvifSimulator.start(responder: OnvifResponder(settings: settings))
        defer { Task { await simulator.close() } }
        let found = try await CameraOnboarding.inspect("http://127.0.0.1:\(simulator.port)/onvif/cam2/device_service")
        #expect(found.profile == "main" && found.streamURL == "rtsp://127.0.0.1:8554/cam2")
        #expect(found.subProfile == "sub" && found.subStreamURL == "rtsp://127.0.0.1:8554/cam2sub")
        #expect(found.summary.contains("sub-stream profile sub"))
        let keys = try SiteKeys.loadOrCreate(directory: NSTemporaryDirectory() + "vigil-onboarding-\(UUID().uuidString)", siteName: "t")
        #expect(try found.record(name: "cam2", retentionDays: 30, keys: keys).subStreamURL == found.subStreamURL)
    }
}
