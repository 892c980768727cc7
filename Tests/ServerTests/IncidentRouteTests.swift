import Access
import Audit
import Base
import Catalog
import Centre
import Foundation
import Records
import TestSupport
import Testing

@testable import Server

/// The incident register over the API: the operator team reports and follows up, each
/// camera named needing live or playback on it; others are refused; administrators keep the
/// categories; every read and change is audited without the incident's words.
@Suite struct IncidentRouteTests {
    static func entries(_ h: ServerHarness, _ action: String) async throws -> [AuditEntry] {
        try await h.catalog.latestAuditEntries(limit: 50, before: nil).map { try AuditEntry.decode($0.body) }.filter { $0.action == action }
    }

    @Test func anOperatorReportsAndFollowsUpAnIncidentAndEachStepIsAudited() async throws {
        try await ServerHarness.with { h in
            let op = try await h.signIn(.operator)
            let now = Date()
            let observed = iso8601(micros: Int64(now.timeIntervalSince1970 * 1e6) - 30_000_000)
            let report: [String: Any] = [
                "category": "person-in-need", "priority": 1, "observed": observed,
                "cameras": [["camera": h.cameraID, "from": observed, "to": iso8601(micros: Int64(now.timeIntervalSince1970 * 1e6))]],
                "description": "a man lying on the bench, not moving"
            ]
            let filed = try await h.request("POST", "/api/incidents", session: op, json: report)
            #expect(filed.status == 201, "\(String(decoding: filed.body, as: UTF8.self))")
            let id = try #require(filed.json?["id"] as? Int)
            #expect((filed.json?["number"] as? String)?.hasSuffix("/1") == true)
            #expect((filed.json?["category"] as? [String: Any])?["key"] as? String == "person-in-need")
            #expect(filed.json?["status"] as? String == "open" && filed.json?["reporter"] as? String == "u-operator")
            let cameras = try #require(filed.json?["cameras"] as? [[String: Any]])
            #expect(cameras.first?["name"] as? String == "gate" && cameras.first?["pan"] == nil)

            let moved = try await h.request(
                "PATCH", "/api/incidents/\(id)", session: op, json: ["status": "notified", "note": "ambulance called at 12:01"])
            #expect(moved.status == 200 && moved.json?["status"] as? String == "notified", "\(String(decoding: moved.body, as: UTF8.self))")
            let back = try await h.request("PATCH", "/api/incidents/\(id)", session: op, json: ["status": "open"])
            #expect(back.status == 409, "\(String(decoding: back.body, as: UTF8.self))")
            let one = try await h.request("GET", "/api/incidents/\(id)", session: op)
            let timeline = try #require(one.json?["updates"] as? [[String: Any]])
            #expect(timeline.compactMap { $0["kind"] as? String } == ["reported", "status", "note"])
            let list = try await h.request("GET", "/api/incidents?status=notified", session: op)
            #expect((try JSONSerialization.jsonObject(with: list.body) as? [[String: Any]])?.compactMap { $0["id"] as? Int } == [id])
            #expect(try await h.request("GET", "/api/incidents?status=lost", session: op).status == 400)

            // Audited, each step, and never with the incident's words.
            let reported = try await Self.entries(h, "incident.report")
            #expect(reported.count == 1 && reported[0].camera == h.cameraID && reported[0].detail?.contains("priority 1") == true)
            #expect(try await Self.entries(h, "incident.view").count == 2)
            let updates = try await Self.entries(h, "incident.update")
            #expect(updates.first?.detail?.contains("status, note → notified") == true, "\(updates)")
            let all = try await h.catalog.latestAuditEntries(limit: 50, before: nil).map { try AuditEntry.decode($0.body) }
            #expect(!all.contains { ($0.detail ?? "").contains("bench") || ($0.detail ?? "").contains("ambulance") })
        }
    }

    @Test func aReportsPictureIsMadeFromTheRecordingAndEachLookIsAudited() async throws {
        try await ServerHarness.with { h in
            let camera = try #require(try await h.catalog.camera(id: h.cameraID))
            try await TestSupport.recordFootage(camera: camera, catalog: h.catalog, store: h.store)
            let now = WallClock.system.nowMicros()
            let start = try #require(
                try await h.catalog.segments(cameraID: h.cameraID, from: now - 3_600_000_000, to: now).first?.startMicros)
            let at = start + 2_000_000
            let op = try await h.signIn(.operator), admin = try await h.signIn(.admin)
            let report: [String: Any] = [
                "category": "theft-or-damage", "observed": iso8601(micros: at), "description": "a car window broken",
                "cameras": [["camera": h.cameraID, "from": iso8601(micros: at - 30_000_000), "to": iso8601(micros: at + 30_000_000)]],
                // The second is of a moment before anything was recorded.
                "snapshots": [
                    ["camera": h.cameraID, "at": iso8601(micros: at)], ["camera": h.cameraID, "at": iso8601(micros: at - 20_000_000)]
                ]
            ]
            let filed = try await h.request("POST", "/api/incidents", session: op, json: report)
            #expect(filed.status == 201, "\(String(decoding: filed.body, as: UTF8.self))")
            let id = try #require(filed.json?["id"] as? Int)
            // Answered at once; the pictures are made after, each said on the timeline.
            #expect(filed.json?["snapshotsPending"] as? Int == 2)
            var shown: [String: Any] = [:]
            for _ in 0..<300 { // up to 60 s: a decode may wait its turn on a busy machine
                shown = try await h.request("GET", "/api/incidents/\(id)", session: op).json ?? [:]
                let kinds = (shown["updates"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
                if kinds.filter({ $0 == "snapshot" }).count == 2 { break }
                try await Task.sleep(for: .milliseconds(200))
            }
            let pictures = try #require(shown["snapshots"] as? [[String: Any]])
            try #require(pictures.count == 1, "\(shown)")
            #expect(pictures[0]["width"] as? Int == 640 && pictures[0]["takenBy"] as? String == "u-operator")
            let missed = (shown["updates"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.filter {
                $0.hasPrefix("no picture")
            }
            #expect(missed.count == 1 && missed[0].contains("recorded nothing"), "\(missed)")
            let url = try #require(pictures[0]["url"] as? String)
            let picture = try await h.request("GET", url, session: op)
            #expect(picture.status == 200 && picture.headers["content-type"] == "image/jpeg")
            #expect(picture.body.count == pictures[0]["bytes"] as? Int)
            #expect(JPEGSize.read([UInt8](picture.body))! == (640, 360))
            #expect(try await h.request("GET", "/api/incidents/\(id)/snapshots/999", session: op).status == 404)
            #expect(try await h.request("GET", url, session: admin).status == 403)

            // A later picture: of the incident's camera in its range only.
            let outside = try await h.request(
                "POST", "/api/incidents/\(id)/snapshots", session: op, json: ["camera": h.cameraID, "at": iso8601(micros: at + 40_000_000)])
            #expect(outside.status == 400, "\(String(decoding: outside.body, as: UTF8.self))")
            let later = try await h.request(
                "POST", "/api/incidents/\(id)/snapshots", session: op, json: ["camera": h.cameraID, "at": iso8601(micros: at + 1_000_000)])
            #expect(later.status == 201, "\(String(decoding: later.body, as: UTF8.self))")

            // Each picture made, missed, looked at or refused is one entry on the camera.
            let entries = try await Self.entries(h, "incident.snapshot")
            #expect(entries.map(\.result).sorted() == ["denied", "denied", "failed", "failed", "ok", "ok", "ok"].sorted(), "\(entries)")
            #expect(entries.filter { $0.detail?.hasPrefix("viewed picture") == true }.count == 1)
            #expect(
                entries.filter { $0.result != "denied" && $0.detail?.contains("no picture 999") != true }.allSatisfy {
                    $0.camera == h.cameraID
                })
        }
    }

    @Test func aPictureNeedsPlaybackOrLiveViewOfTheLastMinute() {
        let now: Int64 = 1_800_000_000_000_000
        let live = Principal(userID: 1, name: "wall", role: .investigator, grants: [.live: [7]])
        let playback = Principal(userID: 2, name: "desk", role: .investigator, grants: [.playback: [7]])
        #expect(IncidentRoutes.mayPicture(live, camera: 7, askedMicros: now - 59_000_000, requestedMicros: now))
        #expect(!IncidentRoutes.mayPicture(live, camera: 7, askedMicros: now - 61_000_000, requestedMicros: now))
        #expect(!IncidentRoutes.mayPicture(live, camera: 8, askedMicros: now, requestedMicros: now))
        #expect(IncidentRoutes.mayPicture(playback, camera: 7, askedMicros: now - 86_400_000_000, requestedMicros: now))
        #expect(!IncidentRoutes.mayPicture(playback, camera: 8, askedMicros: now, requestedMicros: now))
        #expect(!IncidentRoutes.mayPicture(live, camera: 7, askedMicros: Int64.min, requestedMicros: Int64.min))
    }

    @Test func onlyTheOperatorTeamMayByRoleNeverByGrant() async throws {
        try await ServerHarness.with { h in
            for role in [Role.admin, .investigator, .mediaOfficer, .court] {
                let s = try await h.signIn(role)
                #expect(try await h.request("GET", "/api/incidents", session: s).status == 403, "\(role)")
            }
            #expect(try await Self.entries(h, "incident.view").filter { $0.result == "denied" }.count == 4)
            // The register is the operator team's by role: no grant gives it to another.
            let user = try await h.env.accounts.addUser(name: "clerk", role: .mediaOfficer, password: ServerHarness.password)
            let admin = try await h.signIn(.admin)
            let granted = try await h.request(
                "POST", "/api/users/\(user.id)/grants", session: admin, json: ["permission": "incidents"])
            #expect(
                granted.status == 400 && (granted.json?["error"] as? String)?.contains("belongs to roles (operator") == true,
                "\(String(decoding: granted.body, as: UTF8.self))")
            // A grant stored before this rule counts for nothing.
            try await h.catalog.addGrant(GrantRecord(userID: user.id, permission: "incidents", cameraID: nil))
            let clerk = try await h.signIn(name: "clerk")
            // Nor does the console offer it: the session's permissions leave it out.
            let me = try await h.request("GET", "/api/session", session: clerk)
            #expect((me.json?["permissions"] as? [String])?.contains("incidents") == false, "\(String(decoding: me.body, as: UTF8.self))")
            let observed = iso8601(micros: Int64(Date().timeIntervalSince1970 * 1e6))
            let refused = try await h.request(
                "POST", "/api/incidents", session: clerk, json: ["category": "littering", "observed": observed, "description": "bags"])
            #expect(refused.status == 403, "\(String(decoding: refused.body, as: UTF8.self))")
            #expect(try await Self.entries(h, "incident.report").map(\.result) == ["denied"])
        }
    }

    @Test func administratorsKeepTheCategories() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin), op = try await h.signIn(.operator)
            let added = try await h.request(
                "POST", "/api/incident-categories", session: admin, json: ["key": "graffiti", "name": "Graffiti", "group": "public-order"])
            #expect(added.status == 201, "\(String(decoding: added.body, as: UTF8.self))")
            let cid = try #require(added.json?["id"] as? Int)
            #expect(
                try await h.request("POST", "/api/incident-categories", session: op, json: ["key": "k", "name": "n"]).status == 403)
            let observed = iso8601(micros: Int64(Date().timeIntervalSince1970 * 1e6))
            let filed = try await h.request(
                "POST", "/api/incidents", session: op, json: ["category": cid, "observed": observed, "description": "a tag"])
            #expect(filed.status == 201)
            let delete = try await h.request("DELETE", "/api/incident-categories/\(cid)", session: admin)
            #expect(delete.status == 409 && (delete.json?["error"] as? String)?.contains("retire it instead") == true)
            let retired = try await h.request("PATCH", "/api/incident-categories/\(cid)", session: admin, json: ["retired": true])
            #expect(retired.status == 200 && retired.json?["retired"] as? Bool == true)
            let refused = try await h.request(
                "POST", "/api/incidents", session: op, json: ["category": "graffiti", "observed": observed, "description": "another"])
            #expect(refused.status == 400 && (refused.json?["error"] as? String)?.contains("retired") == true)
            #expect(try await Self.entries(h, "incident.category-change").filter { $0.result == "ok" }.count == 2)
        }
    }
}

extension IncidentRouteTests {
    /// Where a dome pointed when an incident was reported is kept, and shown to those who may
    /// read steering history only.
    @Test func aDomesPositionIsKeptWithTheReportForSupervisorsOnly() async throws {
        try await PtzRouteTests.withDome { h, dome, _ in
            let op = try await h.signIn(.operator), supervisor = try await h.signIn(.supervisor)
            let micros = Int64(Date().timeIntervalSince1970 * 1e6)
            let now = iso8601(micros: micros), before = iso8601(micros: micros - 10_000_000)
            let filed = try await h.request(
                "POST", "/api/incidents", session: op,
                json: [
                    "category": "road-hazard", "observed": now, "cameras": [["camera": dome, "from": before, "to": now]],
                    "description": "a fallen sign"
                ])
            #expect(filed.status == 201, "\(String(decoding: filed.body, as: UTF8.self))")
            let id = try #require(filed.json?["id"] as? Int)
            let asOperator = try await h.request("GET", "/api/incidents/\(id)", session: op)
            let seen = try #require((asOperator.json?["cameras"] as? [[String: Any]])?.first)
            #expect(seen["pan"] == nil && seen["zoom"] == nil, "\(seen)")
            let asSupervisor = try await h.request("GET", "/api/incidents/\(id)", session: supervisor)
            let kept = try #require((asSupervisor.json?["cameras"] as? [[String: Any]])?.first)
            #expect(kept["pan"] is Double && kept["tilt"] is Double && kept["zoom"] is Double, "\(kept)")
        }
    }
}

extension IncidentRouteTests {
    /// The figures: for the operator team and the administrators, JSON or CSV, nothing personal.
    @Test func theCitysFiguresAreCountsOnly() async throws {
        try await ServerHarness.with { h in
            let op = try await h.signIn(.operator), admin = try await h.signIn(.admin), media = try await h.signIn(.mediaOfficer)
            let observed = iso8601(micros: Int64(Date().timeIntervalSince1970 * 1e6))
            let filed = try await h.request(
                "POST", "/api/incidents", session: op,
                json: ["category": "littering", "observed": observed, "location": "Secret Street 5", "description": "Jan Kowalski again"])
            #expect(filed.status == 201)
            let year = Calendar(identifier: .gregorian).dateComponents(in: .current, from: Date()).year!
            let figures = try await h.request("GET", "/api/incident-statistics?year=\(year)", session: admin)
            #expect(figures.status == 200 && figures.json?["total"] as? Int == 1, "\(String(decoding: figures.body, as: UTF8.self))")
            let text = String(decoding: figures.body, as: UTF8.self)
            #expect(!text.contains("Kowalski") && !text.contains("Secret Street") && !text.contains("u-operator"))
            let csv = try await h.request("GET", "/api/incident-statistics?year=\(year)&format=csv", session: op)
            #expect(csv.status == 200 && csv.headers["content-type"]?.hasPrefix("text/csv") == true)
            #expect(String(decoding: csv.body, as: UTF8.self).contains("category,littering,"))
            #expect(try await h.request("GET", "/api/incident-statistics?year=\(year)", session: media).status == 403)
            #expect(try await h.request("GET", "/api/incident-statistics?year=\(year)&month=13", session: op).status == 400)
            #expect(try await h.request("GET", "/api/incident-statistics", session: op).status == 400)
        }
    }
}
