import Access
import Base
import CameraSim
import Catalog
import Centre
import Foundation
import Logging
import Onvif
import Records
import TestSupport
import Testing

@testable import PTZ

@Suite("PTZ: tours and their schedule")
struct TourTests {
    static let warsaw = TimeZone(identifier: "Europe/Warsaw")!

    /// 2026-12-02 is a Wednesday (ISO weekday 3).
    static func date(_ text: String) -> Date {
        let f = ISO8601DateFormatter()
        f.timeZone = warsaw
        f.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withDashSeparatorInDate]
        return f.date(from: text)!
    }

    @Test func aWindowHoldsOnItsDaysAndOneOverMidnightRunsIntoTheNextMorning() {
        let workdays = PTZTourRecord.Window(days: [1, 2, 3, 4, 5], fromMinute: 8 * 60, toMinute: 16 * 60)
        #expect(TourRules.isActive([workdays], at: Self.date("2026-12-02T08:00:00"), timeZone: Self.warsaw))
        #expect(!TourRules.isActive([workdays], at: Self.date("2026-12-02T16:00:00"), timeZone: Self.warsaw))
        #expect(!TourRules.isActive([workdays], at: Self.date("2026-12-05T10:00:00"), timeZone: Self.warsaw)) // Saturday
        let fridayNight = PTZTourRecord.Window(days: [5], fromMinute: 22 * 60, toMinute: 6 * 60)
        #expect(TourRules.isActive([fridayNight], at: Self.date("2026-12-04T23:30:00"), timeZone: Self.warsaw))
        #expect(TourRules.isActive([fridayNight], at: Self.date("2026-12-05T05:59:00"), timeZone: Self.warsaw))
        #expect(!TourRules.isActive([fridayNight], at: Self.date("2026-12-05T06:00:00"), timeZone: Self.warsaw))
        #expect(!TourRules.isActive([fridayNight], at: Self.date("2026-12-04T05:00:00"), timeZone: Self.warsaw)) // Thursday night
        #expect(TourRules.isActive([], at: Self.date("2026-12-04T05:00:00"), timeZone: Self.warsaw))
        // Sunday is 7, and a Sunday night runs into Monday morning.
        let sundayNight = PTZTourRecord.Window(days: [7], fromMinute: 23 * 60, toMinute: 60)
        #expect(TourRules.isActive([sundayNight], at: Self.date("2026-12-06T23:30:00"), timeZone: Self.warsaw))
        #expect(TourRules.isActive([sundayNight], at: Self.date("2026-12-07T00:30:00"), timeZone: Self.warsaw))
        #expect(!TourRules.isActive([sundayNight], at: Self.date("2026-12-05T23:30:00"), timeZone: Self.warsaw))
        #expect(
            TourRules.isActive(
                [PTZTourRecord.Window(days: [1], fromMinute: 0, toMinute: 60)], at: Self.date("2026-12-07T00:30:00"), timeZone: Self.warsaw)
        )
    }

    @Test func aTourOutsideTheRulesIsRefusedWithWhy() {
        let step = PTZTourRecord.Step(preset: "Gate", dwellSeconds: 10)
        let bad: [(PTZTourRecord, String)] = [
            (PTZTourRecord(id: 0, cameraID: 1, name: "", steps: [step], schedule: [], enabled: true), "name"),
            (PTZTourRecord(id: 0, cameraID: 1, name: "n", steps: [], schedule: [], enabled: true), "steps"),
            (
                PTZTourRecord(id: 0, cameraID: 1, name: "n", steps: [.init(preset: "Gate", dwellSeconds: 1)], schedule: [], enabled: true),
                "dwell"
            ),
            (
                PTZTourRecord(
                    id: 0, cameraID: 1, name: "n", steps: [step], schedule: [.init(days: [0], fromMinute: 0, toMinute: 10)], enabled: true),
                "weekdays"
            ),
            (
                PTZTourRecord(
                    id: 0, cameraID: 1, name: "n", steps: [step], schedule: [.init(days: [1], fromMinute: 0, toMinute: 2000)], enabled: true
                ),
                "1440"
            )
        ]
        for (tour, word) in bad {
            let error = #expect(throws: VigilError.self) { try TourRules.validate(tour) }
            #expect(error?.message.contains(word) == true, "\(error?.message ?? "")")
        }
    }

    @Test func theServerRunsATourThatPausesForAPersonAndResumesWhereItWas() async throws {
        let dir = try TestSupport.temporaryDirectory("tours")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = try await Catalog.openSQLite(path: "\(dir)/catalog.sqlite")
        let keys = try SiteKeys.loadOrCreate(directory: "\(dir)/keys", siteName: "test-site")
        let simulator = try await OnvifSimulator.start(responder: OnvifResponder(settings: OnvifResponder.Settings()))
        var dome = CameraRecord(id: 0, name: "dome", url: "rtsp://127.0.0.1:9/cam1", retentionDays: 30)
        dome.onvifURL = "http://127.0.0.1:\(simulator.port)/onvif/cam1/device_service"
        dome.ptzProfile = "main"
        dome = try await catalog.addCamera(dome)
        let control = CameraControl(cameras: CameraRegistry(catalog: catalog), keys: keys, catalog: catalog)
        let operatorUser = Principal(userID: 7, name: "Anna", role: .operator)
        // Two presets: the dome turned left and right.
        _ = try await control.move(camera: dome.id, pan: -1, tilt: 0, zoom: 0, by: operatorUser)
        try await Task.sleep(for: .milliseconds(300))
        _ = try await control.stop(camera: dome.id, by: operatorUser)
        try await control.savePreset(camera: dome.id, name: "Left", by: operatorUser)
        let left = try #require(await simulator.responder.position(camera: 0))
        _ = try await control.move(camera: dome.id, pan: 1, tilt: 0, zoom: 0, by: operatorUser)
        try await Task.sleep(for: .milliseconds(600))
        _ = try await control.stop(camera: dome.id, by: operatorUser)
        try await control.savePreset(camera: dome.id, name: "Right", by: operatorUser)
        let right = try #require(await simulator.responder.position(camera: 0))
        #expect(await control.release(camera: dome.id, by: operatorUser))

        let tour = try await TourRegister(catalog: catalog).add(
            PTZTourRecord(
                id: 0, cameraID: dome.id, name: "Market",
                steps: [.init(preset: "Left", dwellSeconds: 5), .init(preset: "Right", dwellSeconds: 5)],
                schedule: [], enabled: true))
        let runner = TourRunner(catalog: catalog, control: control, board: control.tours, logger: Logger(label: "test"))
        var now = ContinuousClock.now
        await runner.step(now: now)
        await runner.settle()
        #expect(await simulator.responder.position(camera: 0) == left)
        #expect(control.tours.state(camera: dome.id) == .running)
        now += .seconds(2)
        await runner.step(now: now) // Left's dwell is not over
        await runner.settle()
        #expect(await simulator.responder.position(camera: 0) == left)
        // An operator takes the camera: the tour's next step waits.
        _ = try await control.move(camera: dome.id, pan: 0, tilt: 0.5, zoom: 0, by: operatorUser)
        now += .seconds(4)
        await runner.step(now: now)
        await runner.settle()
        #expect(control.tours.state(camera: dome.id) == .paused)
        _ = try await control.stop(camera: dome.id, by: operatorUser)
        let steered = try #require(await simulator.responder.position(camera: 0))
        #expect(steered != left && steered != right)
        // Released, the tour resumes with the step it was about to take.
        #expect(await control.release(camera: dome.id, by: operatorUser))
        now += .seconds(1)
        await runner.step(now: now)
        await runner.settle()
        #expect(await simulator.responder.position(camera: 0) == right)
        #expect(control.tours.state(camera: dome.id) == .running)
        // The history says the tour's steps were the tour's, the operator's the operator's.
        let history = try await control.history(camera: dome.id, fromMicros: 0, toMicros: Int64.max)
        #expect(history.filter { $0.tourID == tour.id }.map(\.preset) == ["Left", "Right"])
        #expect(history.filter { $0.userID == 7 }.count >= 6)
        // Disabled, the tour stops and gives the camera back.
        var disabled = tour
        disabled.enabled = false
        try await TourRegister(catalog: catalog).replace(disabled)
        await runner.step(now: now + .seconds(10))
        await runner.settle()
        #expect(control.tours.state(camera: dome.id) == nil)
        #expect(await control.arbiter.lease(of: dome.id) == nil)
        await simulator.close()
        await catalog.close()
    }
}
