import Access
import Audit
import Base
import Catalog
import Centre
import Dispatching
import Foundation
import Logging
import Records
import Server
import TestSupport
import Testing

/// Dispatch over the API: each duty console sees and acknowledges its own notifications,
/// the team records a telephone acknowledgement, administrators set up the recipients and
/// routes; refusals and changes are audited, secrets never shown.
@Suite struct DispatchRouteTests {
    static func list(_ reply: ServerHarness.Reply) -> [[String: Any]] {
        (try? JSONSerialization.jsonObject(with: reply.body) as? [[String: Any]]) ?? []
    }

    static func report(_ h: ServerHarness, _ session: ServerHarness.Session) async throws -> Int {
        let observed = iso8601(micros: Int64(Date().timeIntervalSince1970 * 1e6) - 30_000_000)
        let filed = try await h.request(
            "POST", "/api/incidents", session: session,
            json: ["category": "violence", "priority": 1, "observed": observed, "description": "a fight by the fountain"])
        #expect(filed.status == 201, "\(String(decoding: filed.body, as: UTF8.self))")
        return try #require(filed.json?["id"] as? Int)
    }

    @Test func eachDutyConsoleAcknowledgesItsOwnAndTheIncidentFollows() async throws {
        try await ServerHarness.with { h in
            let op = try await h.signIn(.operator), police = try await h.signIn(.policeDuty), guardDuty = try await h.signIn(.guardDuty)
            let id = try await Self.report(h, op)
            let policeList = Self.list(try await h.request("GET", "/api/notifications", session: police))
            #expect(policeList.map { $0["recipient"] as? String } == ["police"] && policeList.first?["delivered"] == nil)
            #expect(
                Self.list(try await h.request("GET", "/api/notifications", session: guardDuty)).map { $0["recipient"] as? String } == [
                    "guard"
                ])
            #expect(
                Set(Self.list(try await h.request("GET", "/api/notifications", session: op)).compactMap { $0["recipient"] as? String }) == [
                    "police", "guard"
                ])
            // The list names the incident, never its words.
            #expect(
                !String(decoding: try await h.request("GET", "/api/notifications", session: op).body, as: UTF8.self).contains("fountain"))
            let policeID = try #require(policeList.first?["id"] as? Int)
            // Not delivered yet: nothing to acknowledge.
            #expect(try await h.request("POST", "/api/notifications/\(policeID)/ack", session: police, json: [:]).status == 409)

            var logger = Logger(label: "dispatch")
            logger.logLevel = .critical
            let dispatcher = Dispatcher(catalog: h.catalog, audit: h.env.audit, keys: h.env.keys, logger: logger)
            #expect(try await dispatcher.round() == 2)
            #expect(try await h.request("GET", "/api/incidents/\(id)", session: op).json?["status"] as? String == "notified")

            // Another duty's console is refused, audited.
            let foreign = try await h.request("POST", "/api/notifications/\(policeID)/ack", session: guardDuty, json: [:])
            #expect(foreign.status == 403, "\(String(decoding: foreign.body, as: UTF8.self))")
            let done = try await h.request("POST", "/api/notifications/\(policeID)/ack", session: police, json: ["how": "console"])
            #expect(done.status == 200 && done.json?["acknowledgedBy"] as? String == "u-police-duty (console)")
            #expect(try await h.request("POST", "/api/notifications/\(policeID)/ack", session: police, json: [:]).status == 409)
            let incident = try await h.request("GET", "/api/incidents/\(id)", session: op)
            #expect(incident.json?["status"] as? String == "acknowledged")
            let notifications = try #require(incident.json?["notifications"] as? [[String: Any]])
            #expect(notifications.count == 2 && notifications.contains { $0["acknowledgedBy"] as? String == "u-police-duty (console)" })
            // The guard's console is acknowledged by telephone, recorded by the operator.
            let guardID = try #require(notifications.first { $0["recipient"] as? String == "guard" }?["id"] as? Int)
            // Not by another duty console, by telephone either: the desk records calls.
            let byPolice = try await h.request("POST", "/api/notifications/\(guardID)/ack", session: police, json: ["how": "telephone"])
            #expect(byPolice.status == 403, "\(String(decoding: byPolice.body, as: UTF8.self))")
            let phoned = try await h.request("POST", "/api/notifications/\(guardID)/ack", session: op, json: ["how": "telephone"])

            #expect(phoned.status == 200 && phoned.json?["acknowledgedBy"] as? String == "u-operator (telephone)")
            let acks = try await IncidentRouteTests.entries(h, "dispatch.acknowledge")
            #expect(acks.map(\.result).sorted() == ["denied", "denied", "ok", "ok"], "\(acks)")
            for role in [Role.admin, .investigator] {
                #expect(try await h.request("GET", "/api/notifications", session: try await h.signIn(role)).status == 403)
            }
        }
    }

    @Test func administratorsSetUpRecipientsAndRoutesAndNoSecretIsShown() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin), op = try await h.signIn(.operator)
            let all = try await h.request("GET", "/api/dispatch/recipients", session: admin)
            let recipients = try #require(all.json?["recipients"] as? [[String: Any]])
            #expect(recipients.count == 9 && recipients.first { $0["key"] as? String == "ambulance" }?["ready"] as? Bool == false)
            let ambulance = try #require(recipients.first { $0["key"] as? String == "ambulance" }?["id"] as? Int)
            let police = try #require(recipients.first { $0["key"] as? String == "police" }?["id"] as? Int)
            let secret = "the shared secret of the police system"
            let hook = try await h.request(
                "PATCH", "/api/dispatch/recipients/\(police)", session: admin,
                json: ["channel": "webhook", "address": "https://police.city.example/vigil", "secret": secret])
            #expect(hook.status == 200 && hook.json?["hasSecret"] as? Bool == true, "\(String(decoding: hook.body, as: UTF8.self))")
            #expect(!String(decoding: hook.body, as: UTF8.self).contains("shared secret"))
            let bad = try await h.request(
                "PATCH", "/api/dispatch/recipients/\(ambulance)", session: admin, json: ["address": "not an address"])
            #expect(bad.status == 400)
            #expect(
                try await h.request("PATCH", "/api/dispatch/recipients/\(ambulance)", session: admin, json: ["address": "112@city.example"])
                    .status == 200)
            let categories = Self.list(try await h.request("GET", "/api/incident-categories", session: admin))
            let violence = try #require(categories.first { $0["key"] as? String == "violence" }?["id"] as? Int)
            let routed = try await h.request(
                "PUT", "/api/dispatch/routes/\(violence)", session: admin, json: ["recipients": ["police", "ambulance"]])
            let keys = try JSONSerialization.jsonObject(with: routed.body) as? [String]
            #expect(routed.status == 200 && keys == ["police", "ambulance"])
            let after = try await h.request("GET", "/api/dispatch/recipients", session: admin)
            #expect((after.json?["routes"] as? [String: [String]])?["\(violence)"]?.sorted() == ["ambulance", "police"])
            #expect(
                try await h.request("PUT", "/api/dispatch/routes/\(violence)", session: admin, json: ["recipients": ["nobody"]]).status
                    == 404)
            let added = try await h.request(
                "POST", "/api/dispatch/recipients", session: admin,
                json: ["key": "tram-operator", "name": "Tram operator", "channel": "email", "address": "duty@tram.example"])
            #expect(added.status == 201 && added.json?["ready"] as? Bool == true)
            // The operator team may not set dispatch up; refused and audited.
            #expect(try await h.request("GET", "/api/dispatch/recipients", session: op).status == 403)
            let changes = try await IncidentRouteTests.entries(h, "dispatch.change")
            #expect(changes.filter { $0.result == "ok" }.count == 4 && changes.filter { $0.result == "denied" }.count == 1, "\(changes)")
            let log = try await h.catalog.latestAuditEntries(limit: 100, before: nil).map { String(decoding: $0.body, as: UTF8.self) }
            #expect(!log.contains { $0.contains("shared secret") })
            #expect(changes.contains { $0.detail?.contains("channel, address, secret") == true })
        }
    }
}

/// Footage asked for from an incident, over the API: the operator asks, an investigator
/// lists, refuses or records the exhibit registered, each step audited.
@Suite struct ExhibitRequestRouteTests {
    @Test func anOperatorAsksAndAnInvestigatorDecides() async throws {
        try await ServerHarness.with { h in
            let op = try await h.signIn(.operator), investigator = try await h.signIn(.investigator)
            let now = Int64(Date().timeIntervalSince1970 * 1e6)
            let filed = try await h.request(
                "POST", "/api/incidents", session: op,
                json: [
                    "category": "theft-or-damage", "observed": iso8601(micros: now - 60_000_000), "description": "a bike stolen",
                    "cameras": [["camera": h.cameraID, "from": iso8601(micros: now - 120_000_000), "to": iso8601(micros: now - 1_000_000)]]
                ])
            let id = try #require(filed.json?["id"] as? Int)
            let asked = try await h.request(
                "POST", "/api/incidents/\(id)/exhibit-request", session: op, json: ["reason": "the owner went to the police"])
            #expect(asked.status == 201 && asked.json?["pending"] as? Bool == true, "\(String(decoding: asked.body, as: UTF8.self))")
            let qid = try #require(asked.json?["id"] as? Int)
            #expect(
                try await h.request("POST", "/api/incidents/\(id)/exhibit-request", session: op, json: ["reason": "again"]).status == 409)
            #expect(try await h.request("GET", "/api/exhibit-requests", session: op).status == 403)
            let list = try await h.request("GET", "/api/exhibit-requests", session: investigator)
            let pending = (try JSONSerialization.jsonObject(with: list.body) as? [[String: Any]]) ?? []
            #expect(pending.count == 1 && pending.first?["reason"] as? String == "the owner went to the police")
            #expect((pending.first?["cameras"] as? [[String: Any]])?.first?["name"] as? String == "gate")
            // Decided with an exhibit that does not exist: not found.
            #expect(
                try await h.request("POST", "/api/exhibit-requests/\(qid)/decide", session: investigator, json: ["exhibit": "2026/E-99"])
                    .status == 404)
            // The exhibit registered by the investigator under the register's own rules, then
            // recorded against the request.
            let investigatorID = try #require(try await h.catalog.user(named: "u-investigator")?.id)
            let exhibit = try await h.env.evidence.create(
                ranges: [EvidenceRecord.Range(cameraID: h.cameraID, fromMicros: now - 120_000_000, toMicros: now - 1_000_000)],
                requestingBody: "police", caseReference: "RSD-1/26", legalBasis: "", purpose: "a stolen bike",
                by: EvidenceRegister.Agent(
                    user: "u-investigator", userID: investigatorID, role: "investigator", address: nil, userAgent: nil),
                actor: nil)
            // Both an exhibit and a refusal: refused. An exhibit of other times, or one whose hold
            // was released, keeps nothing of the incident: refused, and the request stays.
            let both = try await h.request(
                "POST", "/api/exhibit-requests/\(qid)/decide", session: investigator, json: ["exhibit": exhibit.exhibit, "refusal": "y"])
            #expect(both.status == 400)
            let agent = EvidenceRegister.Agent(
                user: "u-investigator", userID: investigatorID, role: "investigator", address: nil, userAgent: nil)
            let elsewhen = try await h.env.evidence.create(
                ranges: [EvidenceRecord.Range(cameraID: h.cameraID, fromMicros: now - 7_200_000_000, toMicros: now - 3_600_000_000)],
                requestingBody: "police", caseReference: "RSD-2/26", legalBasis: "", purpose: "another matter", by: agent, actor: nil)
            let wrong = try await h.request(
                "POST", "/api/exhibit-requests/\(qid)/decide", session: investigator, json: ["exhibit": elsewhen.exhibit])
            #expect(
                wrong.status == 400 && (wrong.json?["error"] as? String)?.contains("does not cover gate") == true,
                "\(String(decoding: wrong.body, as: UTF8.self))")
            let released = try await h.env.evidence.create(
                ranges: [EvidenceRecord.Range(cameraID: h.cameraID, fromMicros: now - 120_000_000, toMicros: now - 1_000_000)],
                requestingBody: "police", caseReference: "RSD-3/26", legalBasis: "", purpose: "released", by: agent, actor: nil)
            try await h.env.evidence.release(exhibit: released.exhibit, reason: "no longer needed", by: agent)
            #expect(
                try await h.request(
                    "POST", "/api/exhibit-requests/\(qid)/decide", session: investigator, json: ["exhibit": released.exhibit]
                ).status == 400)
            let decided = try await h.request(
                "POST", "/api/exhibit-requests/\(qid)/decide", session: investigator, json: ["exhibit": exhibit.exhibit])
            #expect(
                decided.status == 200 && decided.json?["outcome"] as? String == "registered",
                "\(String(decoding: decided.body, as: UTF8.self))")
            #expect(
                try await h.request("POST", "/api/exhibit-requests/\(qid)/decide", session: investigator, json: ["refusal": "late"]).status
                    == 409)
            // The operator sees it registered, not the exhibit's number (numbers are not probed).
            let shown = try await h.request("GET", "/api/incidents/\(id)", session: op)
            let seen = (shown.json?["exhibitRequests"] as? [[String: Any]])?.first
            #expect(seen?["outcome"] as? String == "registered" && seen?["exhibit"] == nil, "\(String(describing: seen))")
            let entries = try await IncidentRouteTests.entries(h, "incident.exhibit-request")
            #expect(
                entries.filter { $0.result == "ok" }.count == 3 && entries.contains { $0.detail?.contains("registered as exhibit") == true }
            )
        }
    }
}
