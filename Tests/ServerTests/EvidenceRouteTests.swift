import Access
import Audit
import Base
import Catalog
import Centre
import Evidence
import Foundation
import Recording
import Records
import Server
import TestSupport
import Testing

/// The evidence register over HTTP, on real recorded footage: an investigator registers
/// and exports an exhibit, the court downloads the bundle and it verifies offline, custody
/// and audit follow every step, and only a supervisor releases the hold.
@Suite(.serialized) struct EvidenceRouteTests {
    @Test func registerExportDownloadVerifyAndRelease() async throws {
        try await ServerHarness.with { h in
            let camera = try #require(try await h.catalog.camera(id: h.cameraID))
            try await TestSupport.recordFootage(camera: camera, catalog: h.catalog, store: h.store)
            let segments = try await h.catalog.allSegments()
            #expect(segments.count == 3)
            let investigator = try await h.signIn(.investigator), court = try await h.signIn(.court)
            let supervisor = try await h.signIn(.supervisor)
            let iso = { (micros: Int64) in iso8601(micros: micros) }

            // Refusals first: a range into the future, an unknown body, no purpose.
            let now = WallClock.system.nowMicros()
            for (body, why) in [
                (
                    [
                        "ranges": [["camera": h.cameraID, "from": iso(now - 10_000_000), "to": iso(now + 60_000_000)]],
                        "requestingBody": "police",
                        "caseReference": "X", "purpose": "p"
                    ] as [String: Any], "future"
                ),
                (
                    [
                        "ranges": [["camera": h.cameraID, "from": iso(now - 10_000_000), "to": iso(now - 5_000_000)]],
                        "requestingBody": "press",
                        "caseReference": "X", "purpose": "p"
                    ], "unknown body"
                ),
                (
                    [
                        "ranges": [["camera": h.cameraID, "from": iso(now - 10_000_000), "to": iso(now - 5_000_000)]],
                        "requestingBody": "police",
                        "caseReference": "X", "purpose": " "
                    ], "no purpose"
                )
            ] {
                let r = try await h.request("POST", "/api/evidence", session: investigator, json: body)
                #expect(r.status == 400, "\(why): \(r.status)")
            }
            #expect(try await h.catalog.evidenceItems().isEmpty)

            // Create over the middle segment: first refused, for the camera was never granted.
            let from = segments[1].startMicros + 500_000, to = segments[1].endMicros + 500_000
            let newExhibit: [String: Any] = [
                "ranges": [["camera": h.cameraID, "from": iso(from), "to": iso(to)]], "requestingBody": "police",
                "caseReference": "RSD-12/26", "legalBasis": "art. 15 ustawy o Policji", "purpose": "collision at the gate"
            ]
            let ungranted = try await h.request("POST", "/api/evidence", session: investigator, json: newExhibit)
            #expect(ungranted.status == 403, "an exhibit registered without the camera: \(ungranted.status)")
            let investigatorID = try #require(try await h.catalog.user(named: "u-investigator")).id
            try await h.env.accounts.setGrant(
                GrantRecord(userID: investigatorID, permission: "register-evidence", cameraID: h.cameraID), granted: true, by: nil)
            let created = try await h.request("POST", "/api/evidence", session: investigator, json: newExhibit)
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            // The grant registers evidence; it does not open the camera's footage otherwise.
            for route in ["view.mp4", "export.mp4", "recordings"] {
                let r = try await h.request(
                    "GET", "/api/cameras/\(h.cameraID)/\(route)?from=\(iso(from))&to=\(iso(to))&purpose=x", session: investigator)
                #expect(r.status == 403, "\(route) answered \(r.status) to an investigator")
            }
            let exhibit = try #require(created.json?["exhibit"] as? String)
            #expect(exhibit.wholeMatch(of: /EV-\d{4}-\d{6}/) != nil)
            #expect(created.json?["held"] as? Bool == true)
            #expect(created.json?["segments"] as? Int == 2 && created.json?["heldSegments"] as? Int == 2)

            // The court sees nothing until the investigator shares it; then it is in the
            // register, but the court may neither create nor export.
            let unshared = try await h.request("GET", "/api/evidence", session: court)
            #expect((try JSONSerialization.jsonObject(with: unshared.body) as? [Any])?.isEmpty == true)
            #expect(try await h.request("GET", "/api/evidence/\(exhibit)", session: court).status == 404)
            #expect(
                try await h.request("POST", "/api/evidence/\(exhibit)/shares", session: investigator, json: ["user": "u-court"]).status
                    == 200)
            let list = try await h.request("GET", "/api/evidence", session: court)
            let listed = try #require(try JSONSerialization.jsonObject(with: list.body) as? [[String: Any]])
            #expect(listed.map { $0["exhibit"] as? String } == [exhibit])
            #expect(try await h.request("POST", "/api/evidence/\(exhibit)/exports", session: court, json: [:]).status == 403)

            // Export, kept on the server.
            let exported = try await h.request("POST", "/api/evidence/\(exhibit)/exports", session: investigator, json: [:])
            #expect(exported.status == 201, "\(String(decoding: exported.body, as: UTF8.self))")
            let files = try #require(exported.json?["files"] as? [[String: Any]])
            #expect(
                Set(files.compactMap { $0["name"] as? String }).isSuperset(of: [
                    Manifest.fileName, Manifest.signatureFileName, Manifest.certificateFileName
                ]))
            #expect(files.contains { ($0["name"] as? String)?.hasSuffix(".mp4") == true })

            // The court downloads every file; each download is one custody event and one audit entry.
            let bundle = try TestSupport.temporaryDirectory("downloaded")
            defer { try? FileManager.default.removeItem(atPath: bundle) }
            for file in files {
                let name = try #require(file["name"] as? String), url = try #require(file["url"] as? String)
                let before = await h.env.audit.size
                let reply = try await h.request("GET", url, session: court)
                #expect(reply.status == 200)
                #expect(await h.env.audit.size == before + 1)
                let entry = try AuditEntry.decode(
                    try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first).body)
                #expect(entry.action == "evidence.downloaded" && entry.user == "u-court" && entry.caseReference == "RSD-12/26")
                #expect(reply.body.count == file["bytes"] as? Int)
                try reply.body.write(to: URL(fileURLWithPath: "\(bundle)/\(name)"))
            }
            let certificate = try String(contentsOfFile: "\(bundle)/\(Manifest.certificateFileName)", encoding: .utf8)
            let published = try SiteCertificate.loadOrCreate(directory: "\(h.directory)/keys", siteName: "test-site").pem
            #expect(certificate == published)
            let report = try EvidenceVerifier.verify(path: bundle, pinned: [published])
            #expect(report.passed, "\(report.findings.filter { $0.status == .fail }.map(\.detail))")

            // Names outside the export are never served, encoded or not.
            let exportID = try #require(exported.json?["id"] as? String)
            for path in [
                "/api/evidence/\(exhibit)/exports/\(exportID)/..%2F..%2F..%2Fcatalog.sqlite",
                "/api/evidence/\(exhibit)/exports/..%2F..%2Fkeys/site-rsa.pem",
                "/api/evidence/\(exhibit)/exports/\(exportID)/nothing.mp4"
            ] {
                let before = await h.env.audit.size
                let r = try await h.request("GET", path, session: court)
                // 404 from the route; Hummingbird's FileMiddleware, which looks for a static
                // file after an API 404, answers 400 to a path holding "..".
                let text = String(decoding: r.body, as: UTF8.self)
                #expect(
                    [400, 404].contains(r.status) && !text.contains("SQLite format") && !text.contains("PRIVATE KEY"),
                    "\(path) answered \(r.status) \(String(decoding: r.body, as: UTF8.self))")
                #expect(await h.env.audit.size == before + 1, "\(path) was not audited")
            }

            // Custody: hand-over by the investigator, acknowledged by the court.
            #expect(
                try await h.request(
                    "POST", "/api/evidence/\(exhibit)/handover", session: investigator,
                    json: ["to": "Sąd Rejonowy, II Wydział Karny", "purpose": "trial"]
                ).status == 200)
            #expect(
                try await h.request("POST", "/api/evidence/\(exhibit)/acknowledge", session: court, json: ["note": "signed by clerk"])
                    .status == 200)

            // Only a supervisor releases, with a reason, once.
            #expect(
                try await h.request("POST", "/api/evidence/\(exhibit)/release", session: investigator, json: ["reason": "x"]).status == 403)
            #expect(
                try await h.request("POST", "/api/evidence/\(exhibit)/release", session: supervisor, json: ["reason": " "]).status == 400)
            let released = try await h.request(
                "POST", "/api/evidence/\(exhibit)/release", session: supervisor, json: ["reason": "case closed"])
            #expect(released.status == 200 && released.json?["held"] as? Bool == false && released.json?["heldSegments"] as? Int == 0)
            #expect(
                try await h.request("POST", "/api/evidence/\(exhibit)/release", session: supervisor, json: ["reason": "again"]).status
                    == 409)

            let shown = try await h.request("GET", "/api/evidence/\(exhibit)", session: court)
            let custody = try #require(shown.json?["custody"] as? [[String: Any]])
            #expect(
                custody.compactMap { $0["kind"] as? String }
                    == ["created", "shared", "exported"] + Array(repeating: "downloaded", count: files.count) + [
                        "handed-over", "acknowledged", "hold-released"
                    ])
            #expect(custody.first { $0["kind"] as? String == "handed-over" }?["counterpart"] as? String == "Sąd Rejonowy, II Wydział Karny")
            let actions = try await h.catalog.latestAuditEntries(limit: 200, before: nil).map { try AuditEntry.decode($0.body).action }
            for kind in ["created", "shared", "exported", "handed-over", "acknowledged", "hold-released"] {
                #expect(actions.contains("evidence.\(kind)"), "no audit entry for \(kind)")
            }
        }
    }

    /// Per-exhibit visibility: the supervisor sees the register, an investigator their own
    /// exhibits and those shared with them, prosecutor and court only what was shared;
    /// only the registering investigator or a supervisor shares; every change is audited.
    @Test func exhibitsAreVisiblePerExhibitAndSharedByTheirOwnerOrASupervisor() async throws {
        try await ServerHarness.with { h in
            // No footage is needed: an exhibit holds whatever its range covers, here nothing.
            let now = WallClock.system.nowMicros()
            _ = try await h.env.accounts.addUser(name: "u-investigator-2", role: .investigator, password: ServerHarness.password)
            for name in ["u-investigator", "u-investigator-2"] {
                let id = try #require(try await h.catalog.user(named: name)).id
                try await h.env.accounts.setGrant(
                    GrantRecord(userID: id, permission: "register-evidence", cameraID: nil), granted: true, by: nil)
            }
            let owner = try await h.signIn(.investigator), supervisor = try await h.signIn(.supervisor)
            let prosecutor = try await h.signIn(.prosecutor), court = try await h.signIn(.court)
            let reply = try await h.request(
                "POST", "/api/session", json: ["username": "u-investigator-2", "password": ServerHarness.password])
            let colleague = ServerHarness.Session(
                cookie: String(try #require(reply.headers["set-cookie"]).split(separator: ";")[0].split(separator: "=")[1]),
                csrf: try #require(reply.json?["csrfToken"] as? String))
            func register(_ session: ServerHarness.Session, _ reference: String) async throws -> String {
                let r = try await h.request(
                    "POST", "/api/evidence", session: session,
                    json: [
                        "ranges": [
                            ["camera": h.cameraID, "from": iso8601(micros: now - 120_000_000), "to": iso8601(micros: now - 60_000_000)]
                        ],
                        "requestingBody": "police", "caseReference": reference, "purpose": "p"
                    ])
                #expect(r.status == 201, "\(String(decoding: r.body, as: UTF8.self))")
                return try #require(r.json?["exhibit"] as? String)
            }
            func listed(_ session: ServerHarness.Session) async throws -> Set<String> {
                let r = try await h.request("GET", "/api/evidence", session: session)
                return Set(
                    (try JSONSerialization.jsonObject(with: r.body) as? [[String: Any]] ?? []).compactMap { $0["exhibit"] as? String })
            }
            let mine = try await register(owner, "A-1"), theirs = try await register(colleague, "B-2")
            #expect(try await listed(supervisor) == [mine, theirs])
            #expect(try await listed(owner) == [mine])
            #expect(try await listed(colleague) == [theirs])
            #expect(try await listed(prosecutor).isEmpty)
            #expect(try await listed(court).isEmpty)
            // Another's exhibit is "not found", whatever is asked of it.
            #expect(try await h.request("GET", "/api/evidence/\(theirs)", session: owner).status == 404)
            #expect(try await h.request("POST", "/api/evidence/\(theirs)/exports", session: owner, json: [:]).status == 404)
            #expect(
                try await h.request("POST", "/api/evidence/\(theirs)/handover", session: owner, json: ["to": "x", "purpose": "y"]).status
                    == 404)
            #expect(
                try await h.request("POST", "/api/evidence/\(theirs)/shares", session: owner, json: ["user": "u-investigator"]).status
                    == 404)

            // Sharing: the owner shares with the prosecutor; the prosecutor may not pass it on;
            // a user whose role cannot see evidence is refused; the supervisor shares anything.
            let shared = try await h.request("POST", "/api/evidence/\(mine)/shares", session: owner, json: ["user": "u-prosecutor"])
            #expect(shared.status == 200 && (shared.json?["sharedWith"] as? [[String: Any]])?.first?["user"] as? String == "u-prosecutor")
            #expect(try await listed(prosecutor) == [mine])
            #expect(try await h.request("GET", "/api/evidence/\(mine)", session: prosecutor).json?["mayShare"] as? Bool == false)
            #expect(
                try await h.request("POST", "/api/evidence/\(mine)/shares", session: prosecutor, csrf: true, json: ["user": "u-court"])
                    .status == 403)
            #expect(try await h.request("POST", "/api/evidence/\(mine)/shares", session: owner, json: ["user": "u-operator"]).status == 400)
            #expect(
                try await h.request("POST", "/api/evidence/\(mine)/shares", session: owner, json: ["user": "u-prosecutor"]).status == 409)
            #expect(try await h.request("POST", "/api/evidence/\(mine)/shares", session: owner, json: ["user": "nobody"]).status == 400)
            #expect(
                try await h.request("POST", "/api/evidence/\(theirs)/shares", session: supervisor, json: ["user": "u-court"]).status == 200)
            #expect(try await listed(court) == [theirs])

            // Unsharing takes it away again, at once.
            #expect(try await h.request("DELETE", "/api/evidence/\(mine)/shares/u-prosecutor", session: owner).status == 200)
            #expect(try await listed(prosecutor).isEmpty)
            #expect(try await h.request("GET", "/api/evidence/\(mine)", session: prosecutor).status == 404)
            #expect(try await h.request("DELETE", "/api/evidence/\(mine)/shares/u-prosecutor", session: owner).status == 404)

            // A name with '@' and a Polish letter: the console sends it percent-encoded in the path.
            _ = try await h.env.accounts.addUser(name: "łukasz@sąd", role: .court, password: ServerHarness.password)
            #expect(try await h.request("POST", "/api/evidence/\(mine)/shares", session: owner, json: ["user": "łukasz@sąd"]).status == 200)
            let encoded = try #require("łukasz@sąd".addingPercentEncoding(withAllowedCharacters: .alphanumerics))
            #expect(try await h.request("DELETE", "/api/evidence/\(mine)/shares/\(encoded)", session: owner).status == 200)

            let entries = try await h.catalog.latestAuditEntries(limit: 50, before: nil).map { try AuditEntry.decode($0.body) }
            let sharing = entries.filter { $0.action == "evidence.shared" || $0.action == "evidence.unshared" }.reversed()
            #expect(
                sharing.map { "\($0.action) \($0.user ?? "") \($0.detail ?? "")" } == [
                    "evidence.shared u-investigator exhibit \(mine): to u-prosecutor",
                    "evidence.shared u-supervisor exhibit \(theirs): to u-court",
                    "evidence.unshared u-investigator exhibit \(mine): to u-prosecutor",
                    "evidence.shared u-investigator exhibit \(mine): to łukasz@sąd",
                    "evidence.unshared u-investigator exhibit \(mine): to łukasz@sąd"
                ])
        }
    }
}
