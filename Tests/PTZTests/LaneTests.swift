import Access
import Base
import CameraSim
import Catalog
import Centre
import Foundation
import Onvif
import Records
import Synchronization
import TestSupport
import Testing

@testable import PTZ

/// The camera's lane: commands reach the camera one at a time in the order they came, and
/// the lease is checked when a command's turn comes, so a command queued behind a
/// take-over is refused, never sent after the new holder's.
@Suite("PTZ: one lane per camera")
struct LaneTests {
    /// The simulated dome answered in this process, with ContinuousMove held at a gate
    /// until the test opens it, and the velocities the camera was given, in order.
    final class GatedTransport: OnvifTransport {
        let responder: OnvifResponder
        let held = Mutex<[CheckedContinuation<Void, Never>]>([])
        let open = Mutex(false)
        let moves = Mutex<[Double]>([])

        init(responder: OnvifResponder) { self.responder = responder }

        func post(url: String, soapAction: String, body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
            let isMove = soapAction.hasSuffix("ContinuousMove")
            if isMove, !open.withLock({ $0 }) {
                await withCheckedContinuation { continuation in
                    let wait = open.withLock { isOpen in
                        if !isOpen { held.withLock { $0.append(continuation) } }
                        return !isOpen
                    }
                    if !wait { continuation.resume() }
                }
            }
            let reply = await responder.respond(camera: 0, body: body)
            if isMove, let last = await responder.lastMove(camera: 0) { moves.withLock { $0.append(last.velocity.pan) } }
            return reply
        }

        var waiting: Int { held.withLock { $0.count } }

        func release() {
            let waiting = open.withLock { isOpen in
                isOpen = true
                return held.withLock { all in
                    defer { all = [] }
                    return all
                }
            }
            for continuation in waiting { continuation.resume() }
        }
    }

    @Test func aCommandQueuedBehindATakeOverIsRefusedNotSentAfterIt() async throws {
        let dir = try TestSupport.temporaryDirectory("lanes")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let catalog = try await Catalog.openSQLite(path: "\(dir)/catalog.sqlite")
        let keys = try SiteKeys.loadOrCreate(directory: "\(dir)/keys", siteName: "test-site")
        let transport = GatedTransport(responder: OnvifResponder(settings: OnvifResponder.Settings()))
        var dome = CameraRecord(id: 0, name: "dome", url: "rtsp://127.0.0.1:9/cam1", retentionDays: 30)
        dome.onvifURL = "http://192.0.2.9/onvif/cam1/device_service"
        dome.ptzProfile = "main"
        dome = try await catalog.addCamera(dome)
        let control = CameraControl(cameras: CameraRegistry(catalog: catalog), keys: keys, catalog: catalog, transport: transport)
        let anna = Principal(userID: 7, name: "Anna", role: .operator)
        let police = Principal(userID: 9, name: "Piotr", role: .policeDuty)
        let id = dome.id

        // Anna's first move reaches the camera and is held there; her second waits behind
        // it in the lane, her lease still good. Then the police duty officer takes the
        // camera (as opening a control channel does: at once, not in the lane).
        let first = Task { try await control.move(camera: id, pan: 0.1, tilt: 0, zoom: 0, by: anna) }
        for _ in 0..<500 where transport.waiting == 0 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(transport.waiting == 1, "the first move never reached the camera")
        let second = Task { try await control.move(camera: id, pan: 0.2, tilt: 0, zoom: 0, by: anna) }
        for _ in 0..<500 where await control.queued[id] != 2 { try await Task.sleep(for: .milliseconds(10)) }
        try #require(await control.queued[id] == 2, "Anna's second move never joined the lane")
        #expect(transport.moves.withLock { $0 }.isEmpty, "a command went past the one ahead of it in the lane")
        let officer = try #require(Controller.user(id: police.userID, name: police.name, role: police.role))
        let taken = try await control.arbiter.acquire(camera: id, for: officer)
        #expect(taken.holder.identity == .user(9))

        transport.release()
        _ = try await first.value
        // Her second move's turn came after the take-over: refused, not sent.
        let refused = await #expect(throws: VigilError.self) { try await second.value }
        #expect(refused?.code == .conflict, "\(String(describing: refused))")
        try await control.move(camera: id, pan: 0.9, tilt: 0, zoom: 0, by: police)
        #expect(transport.moves.withLock { $0 } == [0.1, 0.9])
        await catalog.close()
    }
}
