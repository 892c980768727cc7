import Base
import Catalog
import Centre
import ChildProcess
import Dispatching
import Foundation
import Incidents
import Records
import TestSupport
import Testing

/// The dispatcher against real receivers: the duty consoles, a webhook receiver that checks
/// signatures (scripts/webhook_receiver.py), and aiosmtpd, a mail relay we did not write.
@Suite(.serialized) struct DispatcherTests {
    @Test func aConsoleNotificationIsDeliveredAtOnceAcknowledgedAndOtherwiseEscalated() async throws {
        try await DispatchSite.with("dispatch-console") { site in
            let incident = try await site.report("violence")
            let dispatcher = site.dispatcher()
            #expect(try await dispatcher.round() == 2)
            let rows = try await site.desk.notifications(incidentID: incident.id)
            #expect(rows.allSatisfy { $0.deliveredMicros == site.clock.now && $0.attempts == 1 })
            // The first delivery moved the incident to notified, by Vigil dispatch.
            let register = IncidentRegister(catalog: site.catalog)
            #expect(try await register.incident(id: incident.id).status == "notified")
            let timeline = try await register.updates(incidentID: incident.id)
            #expect(timeline.contains { $0.kind == "status" && $0.status == "notified" && $0.userName == "Vigil dispatch" })
            #expect(try await site.auditActions().filter { $0 == "dispatch.deliver" }.count == 2)
            #expect(try await dispatcher.round() == 0) // nothing is delivered twice

            // The police duty officer acknowledges: the incident is acknowledged.
            let police = try await site.recipient("police")
            let policeRow = try #require(rows.first { $0.recipientID == police.id })
            let desk = site.desk, now = site.clock.now
            let acknowledged = try await site.audit.append(AuditEntry(action: .dispatchAcknowledge, result: .ok, user: "duty-1")) {
                try await desk.acknowledge(id: policeRow.id, by: "duty-1", how: "console", nowMicros: now)
            }.1
            #expect(acknowledged.acknowledgedBy == "duty-1 (console)" && acknowledged.acknowledgedMicros == now)
            #expect(try await register.incident(id: incident.id).status == "acknowledged")
            let again = await #expect(throws: VigilError.self) {
                try await desk.acknowledge(id: policeRow.id, by: "duty-2", how: "console", nowMicros: now)
            }
            #expect(again?.code == .conflict)

            // The guard's is left: after its wait (3 minutes) it escalates, once; a console
            // recipient gets no reminder row (its consoles show it, louder).
            site.clock.advance(seconds: 179)
            #expect(try await dispatcher.round() == 0)
            site.clock.advance(seconds: 2)
            #expect(try await dispatcher.round() == 1)
            let after = try await site.desk.notifications(incidentID: incident.id)
            #expect(after.filter { $0.escalatedMicros != nil }.map(\.recipientID) == [try await site.recipient("guard").id])
            #expect(after.count == 2 && after.first { $0.recipientID == police.id }?.escalatedMicros == nil)
            #expect(try await dispatcher.round() == 0)
            #expect(try await site.auditActions().contains("dispatch.escalate"))
        }
    }

    @Test func aWebhookIsSignedRetriedWithBackOffAndItsRepeatsCarryOneKey() async throws {
        try await DispatchSite.with("dispatch-webhook") { site in
            let secret = "the-police-systems-shared-secret"
            let receiver = try await Receiver.start(dir: site.dir, secret: secret, options: ["--fail", "2"])
            defer { receiver.peer.stop() }
            _ = try await site.desk.changeRecipient("police", .init(channel: "webhook", address: receiver.url, secret: secret))
            _ = try await site.desk.setRoutes(categoryID: try await site.category("violence").id, recipients: ["police"])
            let incident = try await site.report("violence")
            let dispatcher = site.dispatcher()
            // Busy twice (503): each failure is recorded in words and backs off 1 s, then 2 s.
            #expect(try await dispatcher.round() == 0)
            var row = try #require(try await site.desk.notifications(incidentID: incident.id).first)
            #expect(row.attempts == 1 && row.lastError?.contains("503") == true && row.nextMicros == site.clock.now + 1_000_000)
            #expect(try await dispatcher.round() == 0 && receiver.lines.count == 1) // not due yet
            site.clock.advance(seconds: 1)
            #expect(try await dispatcher.round() == 0)
            row = try #require(try await site.desk.notifications(incidentID: incident.id).first)
            #expect(row.attempts == 2 && row.nextMicros == site.clock.now + 2_000_000)
            site.clock.advance(seconds: 2)
            #expect(try await dispatcher.round() == 1)
            row = try #require(try await site.desk.notifications(incidentID: incident.id).first)
            #expect(row.deliveredMicros == site.clock.now && row.attempts == 3 && row.lastError == nil)
            let lines = receiver.lines
            #expect(lines.count == 3 && lines.allSatisfy { $0.valid && $0.key == row.idempotencyKey && $0.bodyKey == row.idempotencyKey })
            #expect(lines.map(\.event) == ["reported", "reported", "reported"] && lines[0].number == incident.number)
            #expect(try await IncidentRegister(catalog: site.catalog).incident(id: incident.id).status == "notified")

            // Unacknowledged past its wait: escalated, and a reminder with a key of its own.
            site.clock.advance(seconds: 181)
            #expect(try await dispatcher.round() == 2) // escalated (the console lane), the reminder sent (the network lane)
            #expect(try await dispatcher.round() == 0)
            let reminder = try #require(try await site.desk.notifications(incidentID: incident.id).first { $0.event == "reminder" })
            #expect(reminder.deliveredMicros != nil && reminder.idempotencyKey != row.idempotencyKey)
            #expect(receiver.lines.last?.event == "reminder" && receiver.lines.last?.key == reminder.idempotencyKey)

            // A wrong secret is refused by the receiver, and the notification waits, in words.
            _ = try await site.desk.changeRecipient("police", .init(secret: "not-the-shared-secret-at-all"))
            let second = try await site.report("violence")
            #expect(try await dispatcher.round() == 0)
            let refused = try #require(try await site.desk.notifications(incidentID: second.id).first)
            #expect(refused.deliveredMicros == nil && refused.lastError?.contains("401") == true, "\(refused.lastError ?? "")")
        }
    }

    /// A CA and a certificate for localhost made by openssl, for the relay's STARTTLS.
    static func certificates(_ dir: String) async throws -> (ca: String, cert: String, key: String) {
        let openssl = try TestSupport.require("openssl")
        let ext = dir + "/relay.ext"
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: ext, atomically: true, encoding: .utf8)
        let steps: [[String]] = [
            [
                "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(dir)/ca.key", "-out",
                "\(dir)/ca.pem", "-days", "2", "-subj", "/CN=Vigil test CA"
            ],
            [
                "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", "\(dir)/relay.key", "-out",
                "\(dir)/relay.csr", "-subj", "/CN=localhost"
            ],
            [
                "x509", "-req", "-in", "\(dir)/relay.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key", "-CAcreateserial", "-out",
                "\(dir)/relay.pem", "-days", "2", "-extfile", ext
            ]
        ]
        for step in steps {
            let r = try await TestSupport.run(openssl, step)
            try #require(r.status == 0, "openssl \(step[0]): \(r.stderr)")
        }
        return ("\(dir)/ca.pem", "\(dir)/relay.pem", "\(dir)/relay.key")
    }

    /// aiosmtpd (Debian's python3-aiosmtpd) delivering into a maildir; with a certificate it
    /// offers STARTTLS and refuses mail before it.
    static func relay(_ dir: String, name: String, tls: (cert: String, key: String)?) async throws -> (Peer, Int, String) {
        let port = TestSupport.freePort()
        let maildir = "\(dir)/\(name)-maildir"
        var args = ["-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)", "-c", "aiosmtpd.handlers.Mailbox"]
        if let tls {
            args = [
                "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)", "--tlscert", tls.cert, "--tlskey", tls.key, "-c",
                "aiosmtpd.handlers.Mailbox"
            ]
        }
        let peer = try Peer("/usr/bin/python3", args + [maildir], log: "\(dir)/\(name).log")
        let deadline = Date().addingTimeInterval(20)
        while !TestSupport.canConnect(port: port) {
            guard Date() < deadline, peer.process.isRunning else { throw ToolError("aiosmtpd did not start: \(peer.output)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        return (peer, port, maildir)
    }

    @Test func anEmailGoesThroughARealRelayOverSTARTTLSWithItsKeyAsMessageID() async throws {
        try await DispatchSite.with("dispatch-mail") { site in
            let certs = try await Self.certificates(site.dir)
            let (peer, port, maildir) = try await Self.relay(site.dir, name: "relay", tls: (certs.cert, certs.key))
            defer { peer.stop() }
            _ = try await site.desk.changeRecipient("ambulance", .init(address: "dyspozytor@ambulans.example"))
            _ = try await site.desk.setRoutes(categoryID: try await site.category("person-in-need").id, recipients: ["ambulance"])
            let incident = try await site.report("person-in-need", description: "Osoba leżąca na przystanku, nie reaguje")
            let dispatcher = site.dispatcher()
            // No relay set up yet: the notification waits, saying so.
            #expect(try await dispatcher.round() == 0)
            var row = try #require(try await site.desk.notifications(incidentID: incident.id).first)
            #expect(row.lastError?.contains("no mail relay is set up") == true)
            // A relay whose certificate the system does not trust: refused, not sent in clear.
            _ = try await site.desk.setMailRelay(
                host: "localhost", port: port, from: "vigil@monitoring.city.example", username: nil, password: nil, tls: "when-offered",
                caFile: nil)
            site.clock.advance(seconds: 2)
            #expect(try await dispatcher.round() == 0)
            row = try #require(try await site.desk.notifications(incidentID: incident.id).first)
            #expect(
                row.deliveredMicros == nil && row.attempts == 2 && row.lastError?.contains("certificate") == true, "\(row.lastError ?? "")")
            #expect(try Self.messages(maildir).isEmpty)
            // The site's CA trusted: delivered over TLS (aiosmtpd refuses mail before STARTTLS).
            _ = try await site.desk.setMailRelay(
                host: "localhost", port: port, from: "vigil@monitoring.city.example", username: nil, password: nil, tls: "required",
                caFile: certs.ca)
            site.clock.advance(seconds: 2)
            #expect(try await dispatcher.round() == 1)
            row = try #require(try await site.desk.notifications(incidentID: incident.id).first)
            #expect(row.deliveredMicros != nil)
            let messages = try Self.messages(maildir)
            try #require(messages.count == 1)
            // Read back by Python's own e-mail parser, not by ours.
            let parsed = try await TestSupport.run(
                "/usr/bin/python3",
                [
                    "-c",
                    """
                    import email, email.policy, sys
                    m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=email.policy.default)
                    print(m['Subject']); print(m['Message-ID']); print(m['To']); print(m['X-Vigil-Idempotency-Key'])
                    print(m.get_content())
                    """, messages[0]
                ])
            let lines = parsed.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(
                lines.first == "Incident \(incident.number), priority 1: Person lying, or needing help", "\(parsed.stdout) \(parsed.stderr)"
            )
            #expect(lines.dropFirst().first?.hasPrefix("<\(row.idempotencyKey)@") == true)
            #expect(lines.dropFirst(2).first == "dyspozytor@ambulans.example" && lines.dropFirst(3).first == row.idempotencyKey)
            #expect(parsed.stdout.contains("Osoba leżąca na przystanku, nie reaguje"))
        }
    }

    @Test func aRelayWithoutTLSIsRefusedWhenTLSIsRequiredAndUsedInClearOnlyWhenAllowed() async throws {
        try await DispatchSite.with("dispatch-plain-relay") { site in
            let (peer, port, maildir) = try await Self.relay(site.dir, name: "plain", tls: nil)
            defer { peer.stop() }
            let mail = SMTPClient()
            let message = MailMessage(
                to: "roads@city.example", subject: "Zgłoszenie 2026/7: znak drogowy", text: ".starts with a dot\nline two",
                idempotencyKey: "0123456789abcdef0123456789abcdef", dateMicros: site.clock.now)
            let required = MailSettings(host: "127.0.0.1", port: port, from: "vigil@city.example", requireTLS: true, caFile: nil)
            let refused = await #expect(throws: SMTPError.self) { try await mail.send(message, via: required) }
            #expect(refused?.description.contains("does not offer STARTTLS") == true)
            let withPassword = MailSettings(
                host: "127.0.0.1", port: port, from: "vigil@city.example", username: "vigil", password: "pw", requireTLS: false, caFile: nil
            )
            let clear = await #expect(throws: SMTPError.self) { try await mail.send(message, via: withPassword) }
            #expect(clear?.description.contains("not sent in clear") == true)
            #expect(try Self.messages(maildir).isEmpty)
            try await mail.send(
                message, via: MailSettings(host: "127.0.0.1", port: port, from: "vigil@city.example", requireTLS: false, caFile: nil))
            let messages = try Self.messages(maildir)
            try #require(messages.count == 1)
            let raw = try String(contentsOfFile: messages[0], encoding: .utf8)
            // Dot-stuffing undone by the relay: the line still starts with one dot.
            #expect(raw.contains("\n.starts with a dot") && !raw.contains("..starts"))
        }
    }

    static func messages(_ maildir: String) throws -> [String] {
        let new = maildir + "/new"
        return ((try? FileManager.default.contentsOfDirectory(atPath: new)) ?? []).map { new + "/" + $0 }
    }
}

/// The city's figures by recipient come from the outbox: how many reports each service was
/// sent, and how long from report to its delivery and its acknowledgement.
@Suite struct DispatchFiguresTests {
    @Test func figuresCountTheReportsEachServiceWasSentAndTimeItsAcknowledgement() async throws {
        try await DispatchSite.with("dispatch-figures") { site in
            let first = try await site.report("violence"), second = try await site.report("littering")
            site.clock.advance(seconds: 5)
            #expect(try await site.dispatcher().round() == 3) // not to cleaning, which has no address
            let police = try #require(try await site.desk.notifications(incidentID: first.id).first { $0.recipientID == 1 })
            site.clock.advance(seconds: 60)
            let desk = site.desk, now = site.clock.now
            _ = try await site.audit.append(AuditEntry(action: .dispatchAcknowledge, result: .ok, user: "duty-1")) {
                try await desk.acknowledge(id: police.id, by: "duty-1", how: "console", nowMicros: now)
            }
            let year = Calendar(identifier: .gregorian).dateComponents(
                in: TimeZone(identifier: "UTC")!, from: Date(timeIntervalSince1970: Double(first.observedMicros) / 1e6)
            ).year!
            let figures = try await IncidentRegister(catalog: site.catalog).statistics(
                year: year, month: nil, timeZone: TimeZone(identifier: "UTC")!)
            #expect(figures.byRecipient.map(\.key) == ["police", "guard", "cleaning"], "\(figures.byRecipient)")
            #expect(figures.byRecipient.map(\.count) == [1, 2, 1])
            let policeFigure = figures.byRecipient[0]
            #expect(policeFigure.toDelivery.count == 1 && policeFigure.toDelivery.medianSeconds == 5)
            #expect(policeFigure.toAcknowledgement.count == 1 && policeFigure.toAcknowledgement.medianSeconds == 65)
            #expect(figures.byRecipient[1].toAcknowledgement.count == 0 && figures.byRecipient[1].toDelivery.count == 2)
            // The cleaning service has no address: told of nothing yet, though sent the report.
            #expect(figures.byRecipient[2].toDelivery.count == 0)
            #expect(figures.csv.contains("recipient,police,City police duty station,1\r\n"))
            #expect(figures.csv.contains("recipient police,to acknowledgement,median seconds,65\r\n"))
            _ = second
        }
    }
}

/// What the review of dispatch found: nothing waits unseen, nothing sounds for a closed
/// incident, and no slow receiver holds up the duty consoles.
@Suite(.serialized) struct DispatchEscalationTests {
    @Test func aServiceNotSetUpEscalatesOnTheConsolesAndATelephoneConfirmationEndsIt() async throws {
        try await DispatchSite.with("dispatch-not-set-up") { site in
            let incident = try await site.report("person-in-need")
            let dispatcher = site.dispatcher()
            #expect(try await dispatcher.round() == 2) // the two duty consoles; the ambulance has no address
            let ambulance = try await site.recipient("ambulance")
            var waiting = try #require(try await site.desk.notifications(incidentID: incident.id).first { $0.recipientID == ambulance.id })
            #expect(waiting.deliveredMicros == nil && waiting.lastError?.contains("is not set up") == true)
            site.clock.advance(seconds: 181)
            #expect(try await dispatcher.round() == 3) // all three escalate: two unacknowledged, one never delivered
            waiting = try #require(try await site.desk.notifications(incidentID: incident.id).first { $0.recipientID == ambulance.id })
            #expect(waiting.escalatedMicros != nil)
            // No reminder for what never reached the service.
            #expect(try await site.desk.notifications(incidentID: incident.id).allSatisfy { $0.event == "reported" })
            // The operator telephones the ambulance and records it: it is no longer tried,
            // even once the service is set up.
            let desk = site.desk, now = site.clock.now
            let phoned = try await desk.acknowledge(id: waiting.id, by: "op-1", how: "telephone", nowMicros: now)
            #expect(phoned.acknowledgedBy == "op-1 (telephone)" && phoned.deliveredMicros == nil)
            _ = try await desk.changeRecipient(
                "ambulance", .init(channel: "webhook", address: "http://127.0.0.1:9/hook", secret: "0123456789abcdefgh"))
            site.clock.advance(seconds: 600)
            #expect(try await site.catalog.dueOutbox(nowMicros: site.clock.now, limit: 10).isEmpty)
        }
    }

    @Test func aClosedIncidentNeverEscalates() async throws {
        try await DispatchSite.with("dispatch-closed") { site in
            let incident = try await site.report("violence")
            let dispatcher = site.dispatcher()
            #expect(try await dispatcher.round() == 2)
            let desk = site.desk, now = site.clock.now
            _ = try await site.audit.append(AuditEntry(action: .incidentUpdate, result: .ok, user: "op-1")) {
                try await desk.update(
                    id: incident.id, IncidentChange(status: .closed, note: "a false alarm"), by: IncidentAuthor(userID: nil, name: "op-1"),
                    nowMicros: now)
            }
            site.clock.advance(seconds: 3600)
            #expect(try await dispatcher.round() == 2) // the update to both; no escalation
            #expect(try await site.desk.notifications(incidentID: incident.id).allSatisfy { $0.escalatedMicros == nil })
            // Nor is it among the consoles' waiting ones once it is a day old.
            site.clock.advance(seconds: 2 * 86_400)
            #expect(try await site.desk.allNotifications(sinceMicros: site.clock.now - 86_400_000_000).isEmpty)
        }
    }

    @Test func aHangingWebhookDoesNotHoldUpTheDutyConsoles() async throws {
        try await DispatchSite.with("dispatch-lanes") { site in
            let secret = "the-police-systems-shared-secret"
            let receiver = try await Receiver.start(dir: site.dir, secret: secret, options: ["--hang-first"])
            defer { receiver.peer.stop() }
            _ = try await site.desk.changeRecipient("police", .init(channel: "webhook", address: receiver.url, secret: secret))
            let incident = try await site.report("violence")
            let dispatcher = site.dispatcher()
            let running = Task { await dispatcher.run() }
            let guardDuty = try await site.recipient("guard")
            let deadline = Date().addingTimeInterval(10)
            var rows: [OutboxRecord] = []
            while Date() < deadline {
                rows = try await site.desk.notifications(incidentID: incident.id)
                if receiver.lines.count == 1, rows.contains(where: { $0.recipientID == guardDuty.id && $0.deliveredMicros != nil }) {
                    break
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            // The webhook holds its request (up to its 20 s limit); the guard's console has its report.
            #expect(receiver.lines.count == 1)
            #expect(rows.contains { $0.recipientID == guardDuty.id && $0.deliveredMicros != nil }, "\(rows)")
            #expect(rows.contains { $0.recipientID != guardDuty.id && $0.deliveredMicros == nil })
            running.cancel()
            await running.value
        }
    }
}
