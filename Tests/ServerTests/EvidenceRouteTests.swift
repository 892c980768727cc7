import Audit
import Catalog
import Centre
import Evidence
import Foundation
import Recording
import Server
import TestSupport
import Testing

/// The evidence register over HTTP, on real recorded footage: an investigator registers
/// and exports an exhibit, the court downloads the bundle and it verifies offline, custody
/// and audit follow every step, and only a supervisor releases the hold.
@Suite(.serialized) struct EvidenceRouteTests {
    @Test func registerExportDownloadVerifyAndRelease() async throws {
        try await ServerHarness.with { h in
            let camera = try #require(try await h.env.catalog.camera(id: h.cameraID))
            try await TestSupport.recordFootage(camera: camera, catalog: h.env.catalog, store: h.env.store)
            let segments = try await h.env.catalog.allSegments()
            #expect(segments.count == 3)
            let investigator = try await h.signIn(.investigator), court = try await h.signIn(.court)
            let supervisor = try await h.signIn(.supervisor)
            let iso = { (micros: Int64) in iso8601(micros: micros) }

            // Refusals first: a range into the future, an unknown body, no purpose.
            let now = currentMicros()
            for (body, why) in [
                (["ranges": [["camera": h.cameraID, "from": iso(now - 10_000_000), "to": iso(now + 60_000_000)]], "requestingBody": "police",
                  "caseReference": "X", "purpose": "p"] as [String: Any], "future"),
                (["ranges": [["camera": h.cameraID, "from": iso(now - 10_000_000), "to": iso(now - 5_000_000)]], "requestingBody": "press",
                  "caseReference": "X", "purpose": "p"], "unknown body"),
                (["ranges": [["camera": h.cameraID, "from": iso(now - 10_000_000), "to": iso(now - 5_000_000)]], "requestingBody": "police",
                  "caseReference": "X", "purpose": " "], "no purpose"),
            ] {
                let r = try await h.request("POST", "/api/evidence", session: investigator, json: body)
                #expect(r.status == 400, "\(why): \(r.status)")
            }
            #expect(try await h.env.catalog.evidenceItems().isEmpty)

            // Create over the middle segment.
            let from = segments[1].startMicros + 500_000, to = segments[1].endMicros + 500_000
            let created = try await h.request("POST", "/api/evidence", session: investigator, json: [
                "ranges": [["camera": h.cameraID, "from": iso(from), "to": iso(to)]], "requestingBody": "police",
                "caseReference": "RSD-12/26", "legalBasis": "art. 15 ustawy o Policji", "purpose": "collision at the gate"])
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            let exhibit = try #require(created.json?["exhibit"] as? String)
            #expect(exhibit.wholeMatch(of: /EV-\d{4}-\d{6}/) != nil)
            #expect(created.json?["held"] as? Bool == true)
            #expect(created.json?["segments"] as? Int == 2 && created.json?["heldSegments"] as? Int == 2)

            // The court sees it in the register but may neither create nor export.
            let list = try await h.request("GET", "/api/evidence", session: court)
            let listed = try #require(try JSONSerialization.jsonObject(with: list.body) as? [[String: Any]])
            #expect(listed.map { $0["exhibit"] as? String } == [exhibit])
            #expect(try await h.request("POST", "/api/evidence/\(exhibit)/exports", session: court, json: [:]).status == 403)

            // Export, kept on the server.
            let exported = try await h.request("POST", "/api/evidence/\(exhibit)/exports", session: investigator, json: [:])
            #expect(exported.status == 201, "\(String(decoding: exported.body, as: UTF8.self))")
            let files = try #require(exported.json?["files"] as? [[String: Any]])
            #expect(Set(files.compactMap { $0["name"] as? String }).isSuperset(of: [Manifest.fileName, Manifest.signatureFileName, Manifest.certificateFileName]))
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
                let entry = try AuditEntry.decode(try #require(try await h.env.catalog.latestAuditEntries(limit: 1, before: nil).first).body)
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
            for path in ["/api/evidence/\(exhibit)/exports/\(exportID)/..%2F..%2F..%2Fcatalog.sqlite",
                         "/api/evidence/\(exhibit)/exports/..%2F..%2Fkeys/site-rsa.pem",
                         "/api/evidence/\(exhibit)/exports/\(exportID)/nothing.mp4"] {
                let before = await h.env.audit.size
                let r = try await h.request("GET", path, session: court)
                // 404 from the route; Hummingbird's FileMiddleware, which looks for a static
                // file after an API 404, answers 400 to a path holding "..".
                let text = String(decoding: r.body, as: UTF8.self)
                #expect([400, 404].contains(r.status) && !text.contains("SQLite format") && !text.contains("PRIVATE KEY"), "\(path) answered \(r.status) \(String(decoding: r.body, as: UTF8.self))")
                #expect(await h.env.audit.size == before + 1, "\(path) was not audited")
            }

            // Custody: hand-over by the investigator, acknowledged by the court.
            #expect(try await h.request("POST", "/api/evidence/\(exhibit)/handover", session: investigator,
                                        json: ["to": "Sąd Rejonowy, II Wydział Karny", "purpose": "trial"]).status == 200)
            #expect(try await h.request("POST", "/api/evidence/\(exhibit)/acknowledge", session: court, json: ["note": "signed by clerk"]).status == 200)

            // Only a supervisor releases, with a reason, once.
            #expect(try await h.request("POST", "/api/evidence/\(exhibit)/release", session: investigator, json: ["reason": "x"]).status == 403)
            #expect(try await h.request("POST", "/api/evidence/\(exhibit)/release", session: supervisor, json: ["reason": " "]).status == 400)
            let released = try await h.request("POST", "/api/evidence/\(exhibit)/release", session: supervisor, json: ["reason": "case closed"])
            #expect(released.status == 200 && released.json?["held"] as? Bool == false && released.json?["heldSegments"] as? Int == 0)
            #expect(try await h.request("POST", "/api/evidence/\(exhibit)/release", session: supervisor, json: ["reason": "again"]).status == 409)

            let shown = try await h.request("GET", "/api/evidence/\(exhibit)", session: court)
            let custody = try #require(shown.json?["custody"] as? [[String: Any]])
            #expect(custody.compactMap { $0["kind"] as? String }
                    == ["created", "exported"] + Array(repeating: "downloaded", count: files.count) + ["handed-over", "acknowledged", "hold-released"])
            #expect(custody.first { $0["kind"] as? String == "handed-over" }?["counterpart"] as? String == "Sąd Rejonowy, II Wydział Karny")
            let actions = try await h.env.catalog.latestAuditEntries(limit: 200, before: nil).map { try AuditEntry.decode($0.body).action }
            for kind in ["created", "exported", "handed-over", "acknowledged", "hold-released"] {
                #expect(actions.contains("evidence.\(kind)"), "no audit entry for \(kind)")
            }
        }
    }
}
