import Access
import Foundation
import Records
import Testing

/// The video wall's saved views over the API: a user's own views stay theirs, a shared one
/// is offered to every user of the wall but changed only by its owner, and a view is
/// checked against the layouts Vigil draws and the cameras that exist.
struct WorkstationRouteTests {
    @Test func viewsAreTheOwnersAndSharedOnesAreOfferedToEveryoneButChangedOnlyByTheirOwner() async throws {
        try await ServerHarness.with { h in
            let op = try await h.signIn(.operator), supervisor = try await h.signIn(.supervisor)
            let body: [String: Any] = ["name": "North gate", "layout": "2x2", "tiles": [h.cameraID, NSNull(), NSNull(), NSNull()]]
            let saved = try await h.request("POST", "/api/views", session: op, json: body)
            #expect(saved.status == 201, "\(String(decoding: saved.body, as: UTF8.self))")
            let id = try #require(saved.json?["id"] as? Int)
            #expect(saved.json?["mine"] as? Bool == true && saved.json?["shared"] as? Bool == false)

            func names(_ session: ServerHarness.Session) async throws -> [String] {
                let listed = try await h.request("GET", "/api/views", session: session)
                let list = try #require(try JSONSerialization.jsonObject(with: listed.body) as? [[String: Any]])
                return list.compactMap { $0["name"] as? String }
            }
            #expect(try await names(op) == ["North gate"])
            // Private: another user neither sees nor touches it.
            #expect(try await names(supervisor) == [])
            #expect(try await h.request("PUT", "/api/views/\(id)", session: supervisor, json: body).status == 404)
            #expect(try await h.request("DELETE", "/api/views/\(id)", session: supervisor).status == 404)

            // Shared: offered to the supervisor, named as the operator's, still the operator's to change.
            var shared = body
            shared["shared"] = true
            #expect(try await h.request("PUT", "/api/views/\(id)", session: op, json: shared).status == 200)
            let seen = try await h.request("GET", "/api/views", session: supervisor)
            let offered = try #require((try JSONSerialization.jsonObject(with: seen.body) as? [[String: Any]])?.first)
            #expect(offered["owner"] as? String == "u-operator" && offered["mine"] as? Bool == false)
            #expect(offered["tiles"] as? [Any?] != nil && (offered["tiles"] as? [Any])?.first as? Int == Int(h.cameraID))
            #expect(try await h.request("PUT", "/api/views/\(id)", session: supervisor, json: shared).status == 403)
            #expect(try await h.request("DELETE", "/api/views/\(id)", session: supervisor).status == 403)

            // What a view must be.
            for (field, value) in [
                ("layout", "5x5" as Any), ("tiles", [h.cameraID] as Any), ("tiles", [999, NSNull(), NSNull(), NSNull()] as Any),
                ("name", "  " as Any), ("name", "a\u{202E}b" as Any)
            ] {
                var bad = body
                bad[field] = value
                let reply = try await h.request("POST", "/api/views", session: op, json: bad)
                #expect(reply.status == 400, "\(field) = \(value): \(reply.status)")
            }
            // 1+7: one large tile and seven around it.
            var eight = body
            eight["layout"] = "1+7"
            eight["tiles"] = [h.cameraID] + Array(repeating: NSNull(), count: 7)
            #expect(try await h.request("POST", "/api/views", session: op, json: eight).status == 201)

            // The console's push is a WebSocket: a plain request is told to upgrade.
            #expect(try await h.request("GET", "/api/events", session: op).status == 426)
            // An administrator, who watches no camera, has no wall.
            #expect(try await h.request("GET", "/api/views", session: try await h.signIn(.admin)).status == 403)

            #expect(try await h.request("DELETE", "/api/views/\(id)", session: op).status == 204)
            // The 1+7 view, saved under the same name, remains.
            #expect(try await names(op) == ["North gate"])
            #expect(try await names(supervisor) == [])
        }
    }

    @Test func aCameraAreaIsSetAndShown() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin)
            let changed = try await h.request("PATCH", "/api/cameras/\(h.cameraID)", session: admin, json: ["area": "Old Town"])
            #expect(changed.status == 200 && changed.json?["area"] as? String == "Old Town")
            let op = try await h.signIn(.operator)
            #expect(try await h.request("GET", "/api/cameras/\(h.cameraID)", session: op).json?["area"] as? String == "Old Town")
            let bad = try await h.request(
                "PATCH", "/api/cameras/\(h.cameraID)", session: admin, json: ["area": String(repeating: "x", count: 65)])
            #expect(bad.status == 400)
        }
    }

    /// Removing a camera: administrators only, audited, once; the camera then is neither
    /// changed, watched live nor steered, its password is forgotten, its footage stays
    /// listed for playback, and its name stays taken.
    @Test func aRemovedCameraStaysOnRecordButIsNoLongerUsed() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin), op = try await h.signIn(.operator)
            let path = "/api/cameras/\(h.cameraID)"
            #expect(try await h.request("PATCH", path, session: admin, json: ["password": "gate pass"]).status == 200)
            let liveBefore = try await h.request("GET", path + "/live", session: op).status
            // A steerable camera with a tour: the tour stops with the camera.
            _ = try await h.env.cameras.update(id: h.cameraID) {
                $0.onvifURL = "http://192.0.2.1/onvif/device_service"
                $0.ptzProfile = "main"
            }
            let tour = try await h.env.tours.add(
                PTZTourRecord(
                    id: 0, cameraID: h.cameraID, name: "round", steps: [.init(preset: "Gate", dwellSeconds: 10)], schedule: [],
                    enabled: true))
            #expect(try await h.request("DELETE", path, session: op).status == 403)
            let before = await h.env.audit.size
            let removed = try await h.request("DELETE", path, session: admin)
            #expect(removed.status == 200, "\(String(decoding: removed.body, as: UTF8.self))")
            #expect(removed.json?["removed"] is String && removed.json?["footageUntil"] is String)
            #expect(removed.json?["enabled"] as? Bool == false && removed.json?["hasPassword"] as? Bool == false)
            let entries = try await PtzRouteTests.entries(h, since: before)
            #expect(entries.map(\.action) == ["camera.remove"] && entries.first?.camera == h.cameraID)

            let seen = try await h.request("GET", path, session: op)
            #expect(seen.json?["removed"] is String && seen.json?["mayLive"] as? Bool == false)
            #expect(seen.json?["mayPlayback"] as? Bool == true, "its footage is still played back")
            let liveAfter = try await h.request("GET", path + "/live", session: op).status
            #expect(liveBefore != 404 && liveAfter == 404)
            let again = try await h.request("DELETE", path, session: admin)
            #expect(again.status == 409 && String(decoding: again.body, as: UTF8.self).contains("already removed"))
            let edit = try await h.request("PATCH", path, session: admin, json: ["area": "Old Town"])
            #expect(edit.status == 409 && String(decoding: edit.body, as: UTF8.self).contains("cannot be changed"))
            let name = try #require(seen.json?["name"] as? String)
            let readd = try await h.request("POST", "/api/cameras", session: admin, json: ["name": name, "url": "rtsp://127.0.0.1:9/x"])
            #expect(readd.status == 409 && String(decoding: readd.body, as: UTF8.self).contains("was removed on"))
            let steer = try await h.request("POST", path + "/ptz/stop", session: op)
            #expect(steer.status == 404 && String(decoding: steer.body, as: UTF8.self).contains("was removed"))
            #expect(try await h.env.tours.tour(id: tour.id).enabled == false)
            // Its footage is still asked for as any other's.
            let now = Date()
            let coverage = try await h.request(
                "GET", path + "/recordings?from=\((now - 600).ISO8601Format())&to=\(now.ISO8601Format())", session: op)
            #expect(coverage.status == 200)
            let stored = try await h.env.cameras.camera(id: h.cameraID)
            #expect(stored?.sealedPassword == nil && stored?.removedMicros != nil)
        }
    }
}
