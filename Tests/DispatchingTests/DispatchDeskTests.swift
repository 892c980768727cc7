import Base
import Catalog
import Centre
import Dispatching
import Foundation
import Incidents
import Records
import TestSupport
import Testing

/// The outbox is written with the incident, or not at all; reports go to their category's
/// recipients and updates to everyone told of the report; recipients are checked before
/// they are stored.
@Suite struct DispatchDeskTests {
    struct Refused: Error {}

    @Test func aReportIsStoredWithItsNotificationsOrNotAtAll() async throws {
        try await DispatchSite.with("dispatch-outbox") { site in
            let incident = try await site.report("violence")
            let rows = try await site.desk.notifications(incidentID: incident.id)
            let police = try await site.recipient("police"), guardDuty = try await site.recipient("guard")
            #expect(rows.map(\.recipientID).sorted() == [police.id, guardDuty.id].sorted())
            #expect(rows.allSatisfy { $0.event == "reported" && $0.deliveredMicros == nil && $0.nextMicros == site.clock.now })
            #expect(Set(rows.map(\.idempotencyKey)).count == 2)
            #expect(rows.allSatisfy { $0.idempotencyKey.count == 32 && $0.idempotencyKey.allSatisfy(\.isHexDigit) })
            let first = try #require(rows.first)
            let payload = try DispatchPayload.decode(first.payload)
            #expect(payload.incident.number == incident.number && payload.incident.description == "two men fighting by the fountain")
            #expect(payload.idempotencyKey == first.idempotencyKey && payload.incident.category == "Physical violence or other aggression")

            // A report whose transaction fails leaves neither the incident nor a notification.
            let category = try await site.category("violence")
            let desk = site.desk, now = site.clock.now
            await #expect(throws: Refused.self) {
                _ = try await site.audit.append(
                    AuditEntry(action: .incidentReport, result: .ok, user: "op-1"),
                    with: { () async throws -> Int in
                        _ = try await desk.report(
                            IncidentReport(categoryID: category.id, observedMicros: now, description: "lost"),
                            by: IncidentAuthor(userID: nil, name: "op-1"), nowMicros: now)
                        throw Refused()
                    })
            }
            let all = try await site.catalog.incidents(from: 0, to: now + 1_000_000_000)
            #expect(all.map(\.id) == [incident.id])
            #expect(try await site.desk.allNotifications(sinceMicros: 0).count == 2)
        }
    }

    @Test func anUpdateReachesEveryoneToldOfTheReportAndNoOneElse() async throws {
        try await DispatchSite.with("dispatch-updates") { site in
            let incident = try await site.report("violence")
            // The routes change after the report: the update still goes to both told of it.
            _ = try await site.desk.setRoutes(categoryID: incident.categoryID, recipients: ["guard", "roads"])
            let desk = site.desk, now = site.clock.now
            let change = IncidentChange(priority: 2, note: "the suspect ran towards the station")
            _ = try await site.audit.append(AuditEntry(action: .incidentUpdate, result: .ok, user: "op-1")) {
                try await desk.update(id: incident.id, change, by: IncidentAuthor(userID: nil, name: "op-1"), nowMicros: now)
            }
            let updates = try await site.desk.notifications(incidentID: incident.id).filter { $0.event == "updated" }
            let police = try await site.recipient("police"), guardDuty = try await site.recipient("guard")
            #expect(updates.map(\.recipientID).sorted() == [police.id, guardDuty.id].sorted())
            let payload = try DispatchPayload.decode(try #require(updates.first).payload)
            #expect(payload.change == "priority changed; note: the suspect ran towards the station" && payload.incident.priority == 2)
            // A new report of the category goes by the new routes; a retired recipient is told nothing.
            _ = try await site.desk.changeRecipient("roads", .init(address: "roads@city.example"))
            _ = try await site.desk.changeRecipient("guard", .init(retired: true))
            let second = try await site.report("violence")
            let roads = try await site.recipient("roads")
            #expect(try await site.desk.notifications(incidentID: second.id).map(\.recipientID) == [roads.id])
            // A category routed to no one writes nothing.
            _ = try await site.desk.setRoutes(categoryID: incident.categoryID, recipients: [])
            #expect(try await site.desk.notifications(incidentID: try await site.report("violence").id).isEmpty)
        }
    }

    @Test func recipientsAreCheckedBeforeTheyAreStoredAndSecretsAreSealed() async throws {
        try await DispatchSite.with("dispatch-recipients") { site in
            let desk = site.desk
            let refused: [(String, DispatchDesk.RecipientChange, String)] = [
                ("police", .init(address: "admin"), "a role that reads incidents"),
                ("roads", .init(address: "roads office@city.example"), "an e-mail address"),
                ("roads", .init(address: "roads@city.example>\r\nBcc: x@evil.example"), "an e-mail address"),
                ("roads", .init(channel: "webhook", address: "http://city.example/hook", secret: "0123456789abcdef"), "https"),
                ("roads", .init(channel: "webhook", address: "https://city.example/hook"), "needs a secret"),
                ("roads", .init(channel: "webhook", address: "https://city.example/hook", secret: "short"), "16-200"),
                ("roads", .init(channel: "pager"), "a channel is one of"),
                ("roads", .init(escalateAfterSeconds: 5), "30 s to 24 h")
            ]
            for (key, change, words) in refused {
                let error = await #expect(throws: VigilError.self) { try await desk.changeRecipient(key, change) }
                #expect(error?.message.contains(words) == true, "\(error?.message ?? "") for \(change.fields)")
            }
            let secret = "a-long-shared-secret-42"
            let hook = try await desk.changeRecipient(
                "roads", .init(channel: "webhook", address: "https://roads.city.example/vigil", secret: secret, escalateAfterSeconds: 600))
            #expect(hook.channel == "webhook" && hook.escalateAfterSeconds == 600)
            let stored = try #require(try await site.recipient("roads").sealedSecret)
            let unsealed = try site.keys.unseal(stored)
            #expect(!String(decoding: stored, as: UTF8.self).contains(secret) && unsealed == secret)
            let added = try await desk.addRecipient(
                key: "tram-operator", .init(name: "Tram operator", channel: "email", address: "dispatch@tram.example"))
            #expect(try await desk.recipients().last == added)
            await #expect(throws: VigilError.self) { try await desk.addRecipient(key: "tram-operator", .init(name: "x", channel: "email")) }
            await #expect(throws: VigilError.self) { try await desk.setRoutes(categoryID: 1, recipients: ["nobody"]) }
            // A category routed to recipients, never used, is deleted with its routes.
            let register = IncidentRegister(catalog: site.catalog)
            let graffiti = try await register.addCategory(key: "graffiti", name: "Graffiti", group: "public-order")
            _ = try await desk.setRoutes(categoryID: graffiti.id, recipients: ["guard", "cleaning"])
            #expect(try await register.deleteCategory(id: graffiti.id).key == "graffiti")
            #expect(try await desk.routes()[graffiti.id] == nil)
        }
    }

    @Test func backOffDoublesFromOneSecondToFiveMinutes() {
        #expect(
            (1...12).map { DispatchRules.backOffMicros(afterAttempts: $0) / 1_000_000 } == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]
        )
    }
}

/// Personal data does not outlive its period: an incident past its retention keeps what the
/// figures count and loses its words, its people and what its notifications carried.
@Suite struct IncidentRetentionTests {
    @Test func anIncidentPastItsRetentionKeepsItsFiguresAndLosesItsPersonalData() async throws {
        try await DispatchSite.with("incident-retention") { site in
            let register = IncidentRegister(catalog: site.catalog)
            let old = try await site.report("violence", description: "Jan Kowalski hit a man by the fountain")
            #expect(try await site.dispatcher().round() == 2) // the report, to the police and the guard
            // The police are told by e-mail from now on, with no relay set up: their update waits.
            _ = try await site.desk.changeRecipient("police", .init(channel: "email", address: "duty@police.example"))
            let desk = site.desk, now = site.clock.now
            _ = try await site.audit.append(AuditEntry(action: .incidentUpdate, result: .ok, user: "op-1")) {
                try await desk.update(
                    id: old.id, IncidentChange(address: "ul. Długa 5", note: "his wife Anna called"),
                    by: IncidentAuthor(userID: nil, name: "op-1"), nowMicros: now)
            }
            #expect(try await site.dispatcher().round() == 1) // the guard's update
            site.clock.advance(seconds: 40 * 86_400)
            let recent = try await site.report("littering", description: "Piotr dumped bags")
            let yearOf = { (micros: Int64) in
                Calendar(identifier: .gregorian).dateComponents(
                    in: TimeZone(identifier: "UTC")!, from: Date(timeIntervalSince1970: Double(micros) / 1e6)
                ).year!
            }
            let utc = TimeZone(identifier: "UTC")!
            let before = try await register.statistics(year: yearOf(old.observedMicros), month: nil, timeZone: utc)

            await #expect(throws: VigilError.self) { try await register.removePersonalData(retentionDays: 10, nowMicros: site.clock.now) }
            #expect(try await register.personalDataIsDue(retentionDays: 30, nowMicros: site.clock.now))
            let removed = try await register.removePersonalData(retentionDays: 30, nowMicros: site.clock.now)
            #expect(removed == [old.id])
            #expect(try await register.personalDataIsDue(retentionDays: 30, nowMicros: site.clock.now) == false)
            #expect(try await register.removePersonalData(retentionDays: 30, nowMicros: site.clock.now).isEmpty)

            let cleared = try await register.incident(id: old.id)
            #expect(cleared.description.isEmpty && cleared.reporterName.isEmpty && cleared.address.isEmpty)
            #expect(cleared.anonymisedMicros == site.clock.now && cleared.categoryID == old.categoryID && cleared.priority == 1)
            let timeline = try await register.updates(incidentID: old.id)
            #expect(timeline.allSatisfy { $0.userName.isEmpty } && timeline.filter { $0.kind == "note" }.allSatisfy { $0.text.isEmpty })
            #expect(timeline.contains { $0.kind == "status" && $0.status == "notified" })
            // Its notifications carry nothing now; one not yet delivered is withdrawn, never sent.
            let rows = try await site.desk.notifications(incidentID: old.id)
            #expect(rows.allSatisfy { $0.payload == "{}" } && rows.count == 4)
            let withdrawn = rows.filter { $0.deliveredMicros == nil }
            #expect(withdrawn.count == 1 && withdrawn.allSatisfy { $0.lastError?.hasPrefix("withdrawn") == true })
            #expect(
                try await site.catalog.dueOutbox(nowMicros: site.clock.now + 86_400_000_000, limit: 10).allSatisfy {
                    $0.incidentID != old.id
                })
            // What the figures count is unchanged; the recent incident is untouched.
            #expect(
                try await register.statistics(year: yearOf(old.observedMicros), month: nil, timeZone: utc).byCategory == before.byCategory)
            #expect(try await register.incident(id: recent.id).description == "Piotr dumped bags")
            let refused = await #expect(throws: VigilError.self) {
                try await register.update(
                    id: old.id, IncidentChange(note: "again"), by: IncidentAuthor(userID: nil, name: "op-1"), nowMicros: site.clock.now)
            }
            #expect(refused?.code == .conflict)
        }
    }
}
