import Base
import Catalog
import Centre
import Foundation
import Incidents
import Logging
import Records

/// Delivers the outbox (docs/design/dispatch.md). Each round it takes the notifications
/// that are due, delivers each through its recipient's channel and records the outcome, with
/// its audit entry, in a transaction of its own; then it escalates those left unacknowledged.
///
/// At least once, with the idempotency key: a crash after a delivery and before its record
/// sends the notification again on restart, with the same key, and the receiver drops the
/// repeat. Nothing written to the outbox is lost: a failure backs off (1 s … 5 min) and is
/// tried again, for ever, with the last error in words for the administrator to see.
public struct Dispatcher: Sendable {
    let catalog: Catalog
    let desk: DispatchDesk
    let audit: AuditTrail
    let keys: SiteKeys
    let clock: WallClock
    let logger: Logger
    let mail: SMTPClient
    let webhook: Webhook
    /// Called after each round that delivered, acknowledged or escalated something (the
    /// server pushes the consoles' notifications then).
    let onChange: @Sendable () -> Void

    public init(
        catalog: Catalog, audit: AuditTrail, keys: SiteKeys, clock: WallClock = .system, logger: Logger, mail: SMTPClient = SMTPClient(),
        webhook: Webhook = Webhook(), onChange: @escaping @Sendable () -> Void = {}
    ) {
        self.catalog = catalog
        self.desk = DispatchDesk(catalog: catalog, keys: keys)
        self.audit = audit
        self.keys = keys
        self.clock = clock
        self.logger = logger
        self.mail = mail
        self.webhook = webhook
        self.onChange = onChange
    }

    /// Rounds every second until cancelled, in two lanes: the duty consoles' notifications
    /// and the escalations, which take no network and so are never held up, and the e-mails
    /// and webhooks, whose round waits for its slowest delivery (20 s at most each).
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.loop { try await self.consoleRound() } }
            group.addTask { await self.loop { try await self.networkRound() } }
        }
    }

    private func loop(_ round: @Sendable () async throws -> Int) async {
        while !Task.isCancelled {
            do {
                if try await round() > 0 { onChange() }
            } catch {
                logger.error("dispatch: a round failed: \(error)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// One round of both lanes, one after the other (what `run` does each second, for
    /// tests and tools). Returns how many notifications changed.
    @discardableResult
    public func round() async throws -> Int {
        try await consoleRound() + networkRound()
    }

    /// The duty consoles' due notifications delivered (recorded: the consoles read them),
    /// then the escalations.
    func consoleRound() async throws -> Int {
        try await deliverDue(console: true) + escalate()
    }

    /// The e-mails and webhooks due, a few at a time.
    func networkRound() async throws -> Int {
        try await deliverDue(console: false)
    }

    private func deliverDue(console: Bool) async throws -> Int {
        let due = try await catalog.dueOutbox(nowMicros: clock.nowMicros(), limit: DispatchRules.batch, console: console)
        guard !due.isEmpty else { return 0 }
        let recipients = Dictionary(uniqueKeysWithValues: try await catalog.dispatchRecipients().map { ($0.id, $0) })
        let relay = console ? nil : try await catalog.mailRelay()
        return await withTaskGroup(of: Int.self) { group in
            var started = 0, delivered = 0
            for row in due {
                if started >= DispatchRules.concurrentDeliveries, let done = await group.next() { delivered += done }
                group.addTask { await self.deliver(row, to: recipients[row.recipientID], relay: relay) ? 1 : 0 }
                started += 1
            }
            for await done in group { delivered += done }
            return delivered
        }
    }

    /// Delivers one notification and records the outcome; true when it was delivered.
    func deliver(_ row: OutboxRecord, to recipient: DispatchRecipientRecord?, relay: MailRelayRecord?) async -> Bool {
        do {
            guard let recipient else { throw VigilError(.notFound, "its recipient \(row.recipientID) no longer exists") }
            try await hand(row, to: recipient, relay: relay)
            try await record(row, deliveredTo: recipient)
            return true
        } catch {
            let attempts = row.attempts + 1
            let next = clock.nowMicros() + DispatchRules.backOffMicros(afterAttempts: attempts)
            let words = String(describing: error).prefix(500)
            logger.warning(
                "dispatch: notification \(row.id) (incident \(row.incidentID)) not delivered, attempt \(attempts): \(words); next in \(DispatchRules.backOffMicros(afterAttempts: attempts) / 1_000_000) s"
            )
            do { try await catalog.recordOutboxFailure(id: row.id, error: String(words), nextMicros: next) } catch {
                logger.error("dispatch: cannot record notification \(row.id)'s failure: \(error)")
            }
            return false
        }
    }

    /// Hands `row` to its recipient through the recipient's channel.
    func hand(_ row: OutboxRecord, to recipient: DispatchRecipientRecord, relay: MailRelayRecord?) async throws {
        guard !recipient.address.isEmpty else {
            throw VigilError(
                .invalid, "\(recipient.name) is not set up: it has no address (vigil dispatch set \(recipient.key) --address …)")
        }
        let payload = try DispatchPayload.decode(row.payload)
        switch recipient.channel {
        case "console":
            return // the row is there for the role's consoles from now on
        case "email":
            guard let relay else { throw VigilError(.invalid, "no mail relay is set up (vigil dispatch mail …)") }
            let settings = MailSettings(
                host: relay.host, port: relay.port, from: relay.from, username: relay.username,
                password: try relay.sealedPassword.map { try keys.unseal($0) }, requireTLS: relay.tls == "required", caFile: relay.caFile)
            let message = MailMessage(
                to: recipient.address, subject: payload.subject, text: payload.text, idempotencyKey: row.idempotencyKey,
                dateMicros: clock.nowMicros())
            try await mail.send(message, via: settings, timeout: .seconds(DispatchRules.deliveryTimeoutSeconds))
        case "webhook":
            guard let sealed = recipient.sealedSecret else { throw VigilError(.invalid, "\(recipient.name) has no secret to sign with") }
            try await webhook.send(
                to: recipient.address, secret: try keys.unseal(sealed), idempotencyKey: row.idempotencyKey, body: row.payload,
                nowMicros: clock.nowMicros())
        default:
            throw VigilError(.invalid, "\(recipient.name) has an unknown channel \(recipient.channel)")
        }
    }

    /// Records a delivery with its audit entry; the first delivery of a report moves the
    /// incident from open to notified, by Vigil dispatch.
    func record(_ row: OutboxRecord, deliveredTo recipient: DispatchRecipientRecord) async throws {
        let now = clock.nowMicros()
        let catalog = self.catalog, desk = self.desk
        _ = try await audit.append(
            with: { () async throws -> Bool in
                guard try await catalog.recordOutboxDelivery(id: row.id, atMicros: now) else { return false }
                if row.event == "reported" {
                    try await desk.advance(incidentID: row.incidentID, to: .notified, note: nil, nowMicros: now)
                }
                return true
            },
            entry: { first in
                AuditEntry(
                    action: .dispatchDeliver, result: .ok, user: DispatchRules.author,
                    detail:
                        "notification \(row.id) (\(row.event), incident id \(row.incidentID)) \(first ? "delivered" : "delivered again") "
                        + "to \(recipient.key) by \(recipient.channel), attempt \(row.attempts + 1), key \(row.idempotencyKey)")
            })
    }

    /// Marks the reports left unacknowledged past their recipient's wait (since delivery, or
    /// since written when they could not be delivered) as escalated: the consoles sound them
    /// louder to the duty officers, operators and supervisors, and an e-mail or webhook
    /// recipient that had the report is sent a reminder.
    func escalate() async throws -> Int {
        let now = clock.nowMicros()
        let rows = try await catalog.outboxToEscalate(nowMicros: now)
        guard !rows.isEmpty else { return 0 }
        let recipients = Dictionary(uniqueKeysWithValues: try await catalog.dispatchRecipients().map { ($0.id, $0) })
        let catalog = self.catalog, desk = self.desk
        for row in rows {
            let recipient = recipients[row.recipientID]
            // A reminder goes only where the report went; one never delivered escalates on
            // the consoles alone (the operators telephone the service).
            let remind = row.deliveredMicros != nil && (recipient.map { $0.channel != "console" && !$0.retired } ?? false)
            _ = try await audit.append(
                with: { () async throws -> Bool in
                    guard try await catalog.markOutboxEscalated(id: row.id, atMicros: now) else { return false }
                    if remind { try await desk.enqueueReminder(of: row, nowMicros: now) }
                    return true
                },
                entry: { escalated in
                    AuditEntry(
                        action: .dispatchEscalate, result: escalated ? .ok : .failed, user: DispatchRules.author,
                        detail: "notification \(row.id) (incident id \(row.incidentID)) to \(recipient?.key ?? "?") "
                            + (row.deliveredMicros == nil ? "not delivered since " : "unacknowledged since ")
                            + iso8601(micros: row.deliveredMicros ?? row.createdMicros)
                            + (escalated ? (remind ? "; a reminder is sent" : "") : "; acknowledged meanwhile, not escalated"))
                })
            logger.warning(
                "dispatch: notification \(row.id) to \(recipient?.key ?? "?") \(row.deliveredMicros == nil ? "not delivered" : "unacknowledged"): escalated"
            )
        }
        return rows.count
    }
}
