import Access
import CameraSim
import Centre
import Foundation
import Onvif
import PTZ
import Records
import Testing

/// PTZ over the API, against the simulated ONVIF dome: control leases and priorities as the
/// console sees them, each command audited without where the camera points, and the
/// confidential history readable by supervisors only.
@Suite(.serialized) struct PtzRouteTests {
    /// The harness's server with one more camera, a simulated PTZ dome over ONVIF.
    static func withDome(_ body: (ServerHarness, Int64, OnvifSimulator) async throws -> Void) async throws {
        var settings = OnvifResponder.Settings()
        settings.account = UsernameToken(username: "onvif", password: "dome pass")
        let simulator = try await OnvifSimulator.start(responder: OnvifResponder(settings: settings))
        do {
            try await ServerHarness.with { h in
                var dome = CameraRecord(id: 0, name: "dome", url: "rtsp://127.0.0.1:9/cam1", retentionDays: 30)
                dome.enabled = false
                dome.onvifURL = "http://127.0.0.1:\(simulator.port)/onvif/cam1/device_service"
                dome.ptzProfile = "main"
                dome.username = "onvif"
                dome.sealedPassword = try h.env.keys.seal("dome pass")
                dome = try await h.env.cameras.register(dome)
                try await body(h, dome.id, simulator)
            }
        } catch {
            await simulator.close()
            throw error
        }
        await simulator.close()
    }

    /// The entries appended since `size`, decoded.
    static func entries(_ h: ServerHarness, since size: Int) async throws -> [AuditEntry] {
        var found: [AuditEntry] = []
        for seq in size..<(await h.env.audit.size) {
            if let row = try await h.env.audit.storedEntry(at: Int64(seq)) { found.append(try AuditEntry.decode(row.body)) }
        }
        return found
    }

    /// The camera page's "find cameras" and "add camera" over ONVIF: the simulated domes
    /// answer the probe, one is added by its address with its account apart, the probe then
    /// marks it as added; a refused account or credentials in the address add nothing.
    @Test func anAdministratorFindsDomesOnTheNetworkAndAddsOneByItsONVIFAddress() async throws {
        var settings = OnvifResponder.Settings()
        settings.cameras = 2
        settings.account = UsernameToken(username: "onvif", password: "dome pass")
        let simulator = try await OnvifSimulator.start(responder: OnvifResponder(settings: settings))
        let responder = try await DiscoveryResponder.start(
            devices: DiscoveryResponder.devices(cameras: 2, host: "127.0.0.1", onvifPort: simulator.port), host: "127.0.0.1", port: 0,
            multicast: false)
        func close() async {
            await responder.close()
            await simulator.close()
        }
        do {
            try await ServerHarness.with(configure: { $0.finder = CameraFinder(targets: ["127.0.0.1:\(responder.port)"]) }) { h in
                let admin = try await h.signIn(.admin), op = try await h.signIn(.operator)
                #expect(try await h.request("POST", "/api/cameras/discover", session: op, json: [:]).status == 403)
                #expect(try await h.request("POST", "/api/cameras/discover", session: admin, json: ["seconds": 60]).status == 400)
                let before = await h.env.audit.size
                let found = try await h.request("POST", "/api/cameras/discover", session: admin, json: ["seconds": 0.5])
                #expect(found.status == 200, "\(String(decoding: found.body, as: UTF8.self))")
                let cameras = try #require(found.json?["cameras"] as? [[String: Any]])
                let dome1 = "http://127.0.0.1:\(simulator.port)/onvif/cam1/device_service"
                #expect(cameras.compactMap { $0["address"] as? String } == [dome1, dome1.replacingOccurrences(of: "cam1", with: "cam2")])
                #expect(cameras.allSatisfy { $0["cameraID"] == nil && $0["namesAnotherHost"] as? Bool == false })

                let cameraCount = try await h.env.cameras.all().count
                let inAddress = try await h.request(
                    "POST", "/api/cameras", session: admin,
                    json: ["name": "dome 1", "onvif": dome1.replacingOccurrences(of: "http://", with: "http://onvif:dome%20pass@")])
                #expect(inAddress.status == 400, "\(String(decoding: inAddress.body, as: UTF8.self))")
                let refused = try await h.request(
                    "POST", "/api/cameras", session: admin,
                    json: ["name": "dome 1", "onvif": dome1, "username": "onvif", "password": "wrong"])
                #expect(refused.status == 502 && (refused.json?["error"] as? String ?? "").contains("refused"), "\(refused.json ?? [:])")
                #expect(
                    try await h.request(
                        "POST", "/api/cameras", session: admin, json: ["name": "dome 1", "onvif": dome1, "url": "rtsp://h/x"]
                    )
                    .status == 400)
                #expect(try await h.env.cameras.all().count == cameraCount, "a camera was added by a refused request")

                let added = try await h.request(
                    "POST", "/api/cameras", session: admin,
                    json: ["name": "dome 1", "onvif": dome1, "username": "onvif", "password": "dome pass", "location": "Rynek"])
                #expect(added.status == 201, "\(String(decoding: added.body, as: UTF8.self))")
                #expect(added.json?["ptz"] as? Bool == true && added.json?["url"] as? String == "rtsp://127.0.0.1:8554/cam1")
                #expect(added.json?["location"] as? String == "Rynek" && added.json?["hasPassword"] as? Bool == true)
                let id = try #require(added.json?["id"] as? Int)

                let again = try await h.request("POST", "/api/cameras/discover", session: admin, json: [:])
                let marked = try #require(again.json?["cameras"] as? [[String: Any]])
                #expect(marked.map { $0["cameraID"] as? Int } == [id, nil] && marked.first?["cameraName"] as? String == "dome 1")

                let entries = try await Self.entries(h, since: before)
                #expect(entries.filter { $0.action == "camera.discover" }.count == 2)
                let entry = try #require(entries.first { $0.action == "camera.add" })
                #expect(entry.detail == "over ONVIF: Vigil Simulated PTZ dome, profile main, PTZ", "\(entry.detail ?? "")")
                #expect(!String(decoding: try JSONEncoder().encode(entries), as: UTF8.self).contains("dome pass"))
            }
        } catch {
            await close()
            throw error
        }
        await close()
    }

    @Test func anOperatorMovesTheDomeAndTheEntrySaysWhoAndWhichCameraButNotWhere() async throws {
        try await Self.withDome { h, dome, simulator in
            let op = try await h.signIn(.operator)
            let before = await h.env.audit.size
            let moved = try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: op, json: ["pan": 0.75, "tilt": 0.5])
            #expect(moved.status == 200, "\(String(decoding: moved.body, as: UTF8.self))")
            #expect((moved.json?["holder"] as? String) == "u-operator (operator)")
            // When the lease ends, as ISO 8601 (a JSON date left to its default encoding
            // would be seconds since 2001).
            let until = try #require(moved.json?["until"] as? String)
            #expect(until.hasSuffix("Z") && until.hasPrefix("20"), "\(until)")
            try await Task.sleep(for: .milliseconds(300))
            let stopped = try await h.request("POST", "/api/cameras/\(dome)/ptz/stop", session: op)
            #expect(stopped.status == 200)
            let position = try #require(await simulator.responder.position(camera: 0))
            #expect(position.pan > 0.05 && position.tilt > 0.03)

            let entries = try await Self.entries(h, since: before)
            #expect(entries.map(\.action) == ["ptz.move", "ptz.stop"])
            #expect(entries.allSatisfy { $0.result == "ok" && $0.camera == dome && $0.user == "u-operator" })
            let text = String(decoding: try JSONEncoder().encode(entries), as: UTF8.self)
            #expect(!text.contains("0.75") && !text.contains("pan"), "an audit entry gives away the movement: \(text)")

            let view = try await h.request("GET", "/api/cameras/\(dome)/ptz", session: op)
            #expect(view.status == 200)
            #expect(abs((view.json?["pan"] as? Double ?? -9) - position.pan) < 1e-6)
            #expect((view.json?["control"] as? [String: Any])?["yours"] as? Bool == true)
        }
    }

    /// A camera is given back when its holder signs out, and when an administrator takes
    /// the holder's right to steer away: the next operator is not refused for a lease whose
    /// holder can no longer use it.
    @Test func signingOutOrLosingTheRightToSteerGivesTheCameraBack() async throws {
        try await Self.withDome { h, dome, _ in
            let second = try await h.env.accounts.addUser(name: "u-operator-2", role: .operator, password: ServerHarness.password)
            let admin = try await h.signIn(.admin)
            var first = try await h.signIn(.operator)
            let other = try await h.signIn(name: "u-operator-2")
            func move(_ session: ServerHarness.Session) async throws -> Int {
                try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: session, json: ["pan": 0.2]).status
            }
            #expect(try await move(first) == 200)
            #expect(try await move(other) == 409)
            #expect(try await h.request("DELETE", "/api/session", session: first).status == 204)
            #expect(try await move(other) == 200, "the camera stayed with an operator who signed out")

            first = try await h.signIn(.operator)
            #expect(try await move(first) == 409)
            let demoted = try await h.request("PATCH", "/api/users/\(second.id)", session: admin, json: ["role": "investigator"])
            #expect(demoted.status == 200, "\(String(decoding: demoted.body, as: UTF8.self))")
            #expect(try await move(first) == 200, "the camera stayed with a user who may no longer steer")
        }
    }

    @Test func anEqualPriorityIsRefusedWithWhoHoldsItAndAHigherOneTakesOver() async throws {
        try await Self.withDome { h, dome, _ in
            let op = try await h.signIn(.operator), supervisor = try await h.signIn(.supervisor)
            let police = try await h.signIn(.policeDuty), guardOfficer = try await h.signIn(.guardDuty)
            #expect(try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: guardOfficer, json: ["pan": 0.1]).status == 200)
            // The supervisor ranks below the guard's duty officer: refused, told who and until when.
            let before = await h.env.audit.size
            let refused = try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: supervisor, json: ["pan": -0.1])
            #expect(refused.status == 409)
            let message = refused.errorText
            #expect(message.contains("u-guard-duty (municipal-guard duty officer)") && message.contains("until"))
            #expect(try await Self.entries(h, since: before).map(\.result) == ["denied"])
            // The police duty officer takes it; the guard officer's next command is told so.
            #expect(try await h.request("POST", "/api/cameras/\(dome)/ptz/stop", session: police).status == 200)
            let told = try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: guardOfficer, json: ["tilt": 0.2])
            #expect(told.status == 409)
            #expect(told.errorText.contains("u-police-duty (police duty officer) took over"))
            // Released, the camera is anyone's again.
            #expect(try await h.request("POST", "/api/cameras/\(dome)/ptz/release", session: police).status == 204)
            #expect(try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: op, json: ["zoom": 0.3]).status == 200)
        }
    }

    @Test func presetsAreSavedVisitedAndRemovedByName() async throws {
        try await Self.withDome { h, dome, simulator in
            let op = try await h.signIn(.operator)
            let path = "/api/cameras/\(dome)/ptz/presets/Market%20square"
            #expect(try await h.request("PUT", path, session: op).status == 204)
            let saved = try #require(await simulator.responder.position(camera: 0))
            #expect(try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: op, json: ["pan": 1]).status == 200)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await h.request("POST", path + "/goto", session: op).status == 204)
            #expect(await simulator.responder.position(camera: 0) == saved)
            let view = try await h.request("GET", "/api/cameras/\(dome)/ptz", session: op)
            #expect((view.json?["presets"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["Market square"])
            #expect(try await h.request("DELETE", path, session: op).status == 204)
            let before = await h.env.audit.size
            let gone = try await h.request("POST", path + "/goto", session: op)
            #expect(gone.status == 404)
            // The refusal is audited, without the preset's name.
            let entries = try await Self.entries(h, since: before)
            #expect(entries.map(\.result) == ["failed"])
            #expect(!String(decoding: try JSONEncoder().encode(entries), as: UTF8.self).contains("Market"))
        }
    }

    @Test func theHistoryIsTheSupervisorsAloneAndHoldsEveryCommand() async throws {
        try await Self.withDome { h, dome, _ in
            let op = try await h.signIn(.operator), supervisor = try await h.signIn(.supervisor), auditor = try await h.signIn(.admin)
            #expect(
                try await h.request("POST", "/api/cameras/\(dome)/ptz/move", session: op, json: ["pan": 0.5, "tilt": -0.25]).status == 200)
            #expect(try await h.request("POST", "/api/cameras/\(dome)/ptz/stop", session: op).status == 200)
            let iso = ISO8601DateFormatter()
            let from = iso.string(from: Date().addingTimeInterval(-60)), to = iso.string(from: Date().addingTimeInterval(60))
            let url = "/api/cameras/\(dome)/ptz/history?from=\(from)&to=\(to)"
            #expect(try await h.request("GET", url, session: op).status == 403)
            #expect(try await h.request("GET", url, session: auditor).status == 403)
            let reply = try await h.request("GET", url, session: supervisor)
            #expect(reply.status == 200)
            let rows = try #require(try JSONSerialization.jsonObject(with: reply.body) as? [[String: Any]])
            #expect(rows.compactMap { $0["command"] as? String } == ["move", "stop"])
            #expect(rows.first?["pan"] as? Double == 0.5 && rows.first?["tilt"] as? Double == -0.25)
        }
    }

    @Test func aCameraWithoutPTZOrADomeThatDoesNotAnswerIsSaidInWords() async throws {
        try await ServerHarness.with { h in
            let op = try await h.signIn(.operator)
            let plain = try await h.request("POST", "/api/cameras/\(h.cameraID)/ptz/move", session: op, json: ["pan": 0.5])
            #expect(plain.status == 404)
            #expect(plain.errorText.contains("has no PTZ"))
            // A dome whose ONVIF address answers nothing (port 9, discard): 502 with the reason.
            var dead = CameraRecord(id: 0, name: "dead-dome", url: "rtsp://127.0.0.1:9/x", retentionDays: 30)
            dead.enabled = false
            dead.onvifURL = "http://127.0.0.1:9/onvif/device_service"
            dead.ptzProfile = "main"
            dead = try await h.env.cameras.register(dead)
            let before = await h.env.audit.size
            let reply = try await h.request("POST", "/api/cameras/\(dead.id)/ptz/move", session: op, json: ["pan": 0.5])
            #expect(reply.status == 502)
            #expect(reply.errorText.contains("no reply"))
            #expect(try await Self.entries(h, since: before).map(\.result) == ["failed"])
            let wild = try await h.request("POST", "/api/cameras/\(dead.id)/ptz/move", session: op, json: ["pan": 7])
            #expect(wild.status == 400)
        }
    }
}

extension ServerHarness.Reply {
    /// The error's words, or "" when the reply has none.
    var errorText: String {
        guard let text = json?["error"] as? String else { return "" }
        return text
    }
}

extension PtzRouteTests {
    @Test func toursAreTheSupervisorsAndTheirEntriesHoldNoRoute() async throws {
        try await Self.withDome { h, dome, _ in
            let op = try await h.signIn(.operator), supervisor = try await h.signIn(.supervisor)
            let body: [String: Any] = [
                "camera": dome, "name": "Night round",
                "steps": [["preset": "Secret gate", "dwellSeconds": 20], ["preset": "Back alley", "dwellSeconds": 30]],
                "schedule": [["days": [5, 6], "fromMinute": 1320, "toMinute": 360]]
            ]
            #expect(try await h.request("POST", "/api/tours", session: op, json: body).status == 403)
            #expect(try await h.request("GET", "/api/tours", session: op).status == 403)
            let before = await h.env.audit.size
            let created = try await h.request("POST", "/api/tours", session: supervisor, json: body)
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            let id = try #require(created.json?["id"] as? Int)
            let listed = try await h.request("GET", "/api/tours", session: supervisor)
            #expect(String(decoding: listed.body, as: UTF8.self).contains("Secret gate"))
            var changed = body
            changed["enabled"] = false
            #expect(try await h.request("PUT", "/api/tours/\(id)", session: supervisor, json: changed).status == 200)
            #expect(try await h.request("DELETE", "/api/tours/\(id)", session: supervisor).status == 204)
            #expect(try await h.request("GET", "/api/tours/\(id)", session: supervisor).status == 404)
            let entries = try await Self.entries(h, since: before)
            #expect(entries.map(\.action) == ["ptz.tour-change", "ptz.tour-view", "ptz.tour-change", "ptz.tour-change"])
            #expect(entries.filter { $0.action == "ptz.tour-change" }.allSatisfy { $0.camera == dome })
            let text = String(decoding: try JSONEncoder().encode(entries), as: UTF8.self)
            #expect(!text.contains("Secret") && !text.contains("alley"), "a tour's route reached the audit log: \(text)")
            // A camera without PTZ cannot tour.
            var plain = body
            plain["camera"] = h.cameraID
            #expect(try await h.request("POST", "/api/tours", session: supervisor, json: plain).status == 400)
        }
    }
}

extension PtzRouteTests {
    @Test func aRoleThatDoesNotSteerIsRefusedEvenWithAGrantAndTheHistoryIsNotGrantable() async throws {
        try await Self.withDome { h, dome, _ in
            let admin = try await h.signIn(.admin)
            let users = try await h.request("GET", "/api/users", session: admin)
            let list = try #require(try JSONSerialization.jsonObject(with: users.body) as? [[String: Any]])
            let id = { (name: String) in list.first { $0["name"] as? String == name }?["id"] as? Int }
            let investigator = try #require(id("u-investigator")), op = try #require(id("u-operator"))
            let granted = try await h.request(
                "POST", "/api/users/\(investigator)/grants", session: admin, json: ["permission": "ptz", "camera": dome])
            #expect(granted.status == 200 || granted.status == 201 || granted.status == 204, "\(granted.errorText)")
            let moved = try await h.request(
                "POST", "/api/cameras/\(dome)/ptz/move", session: try await h.signIn(.investigator), json: ["pan": 0.5])
            #expect(moved.status == 403 && moved.errorText.contains("does not steer"), "\(moved.status) \(moved.errorText)")
            let history = try await h.request("POST", "/api/users/\(op)/grants", session: admin, json: ["permission": "ptz-history"])
            #expect(history.status == 400 && history.errorText.contains("supervisor"), "\(history.status) \(history.errorText)")
            // A refused reading of the history is audited.
            let op2 = try await h.signIn(.operator)
            let before = await h.env.audit.size
            let iso = ISO8601DateFormatter()
            let url =
                "/api/cameras/\(dome)/ptz/history?from=\(iso.string(from: Date().addingTimeInterval(-60)))&to=\(iso.string(from: Date()))"
            #expect(try await h.request("GET", url, session: op2).status == 403)
            #expect(try await Self.entries(h, since: before).map { "\($0.action) \($0.result)" } == ["ptz.history-view denied"])
        }
    }
}
