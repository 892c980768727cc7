import Access
import Base
import Centre
import Dispatching
import Foundation
import HTTPTypes
import Hummingbird
import Records

/// Dispatch (docs/design/dispatch.md): the duty consoles' notifications and their
/// acknowledgement (`incidents`), and its set-up, the recipients and the routes
/// (`manage-dispatch`, administrators).
///
/// A console's list of notifications is not audited as a read: it carries an incident's
/// number, category, priority and place, never its description or who reported it; opening
/// the incident is the audited read. Every acknowledgement and every change is audited.
struct DispatchRoutes {
    let env: ServerEnvironment
    /// How far back the consoles' list reaches.
    static let listHours: Int64 = 24

    struct RecipientView: Encodable {
        var id: Int64
        var key: String
        var name: String
        var channel: String
        var address: String
        /// Whether a webhook's secret is set (the secret itself is never shown).
        var hasSecret: Bool
        var escalateAfter: Int
        var retired: Bool
        /// Not set up: nothing can be delivered to it.
        var ready: Bool
    }

    struct NotificationView: Encodable {
        var id: Int64
        var incident: Int64
        var number: String
        var subject: String
        var priority: Int
        var recipient: String
        var recipientName: String
        var channel: String
        var event: String
        var created: String
        var attempts: Int
        var lastError: String?
        var delivered: String?
        var acknowledged: String?
        var acknowledgedBy: String?
        var escalated: String?
        /// Addressed to the viewer's own duty console.
        var mine: Bool
        /// Whether its recipient is set up (an address, not retired): one that is not must be
        /// told by telephone.
        var ready: Bool
        /// What the viewer may do with it now: `console` (acknowledge it as its duty
        /// console), `telephone` (record that the service confirmed by phone).
        var actions: [String]
    }

    /// The rows as `p` sees them, with what `p` may do with each.
    func views(_ rows: [OutboxRecord], for p: Principal) async throws -> [NotificationView] {
        let recipients = Dictionary(uniqueKeysWithValues: try await env.dispatch.recipients().map { ($0.id, $0) })
        return rows.map { row in
            let payload = try? DispatchPayload.decode(row.payload)
            let r = recipients[row.recipientID]
            let console = r?.channel == "console"
            let mine = console && r?.address == p.role.rawValue
            var actions: [String] = []
            let open = row.acknowledgedMicros == nil && row.event == "reported" && row.nextMicros < Int64.max
            if open, console, row.deliveredMicros != nil, mine || p.role == .supervisor { actions.append("console") }
            // A telephone confirmation is recorded by the operator team's desk (operators and
            // supervisors), delivered or not: a service not set up is told by telephone.
            if open, !mine, Self.recordsTelephone(p) { actions.append("telephone") }
            return NotificationView(
                id: row.id, incident: row.incidentID, number: payload?.incident.number ?? "", subject: payload?.subject ?? "",
                priority: payload?.incident.priority ?? 3, recipient: r?.key ?? "", recipientName: r?.name ?? "", channel: r?.channel ?? "",
                event: row.event, created: iso8601(micros: row.createdMicros), attempts: row.attempts, lastError: row.lastError,
                delivered: row.deliveredMicros.map { iso8601(micros: $0) },
                acknowledged: row.acknowledgedMicros.map { iso8601(micros: $0) },
                acknowledgedBy: row.acknowledgedBy, escalated: row.escalatedMicros.map { iso8601(micros: $0) }, mine: mine,
                ready: r.map { !$0.address.isEmpty && !$0.retired } ?? false, actions: actions)
        }
    }

    /// What a console's list looks like now, to tell whether it changed (the push).
    func digest(for p: Principal) async throws -> String {
        try await notifications(for: p).map {
            "\($0.id):\($0.deliveredMicros ?? 0):\($0.acknowledgedMicros ?? 0):\($0.escalatedMicros ?? 0)"
        }.joined(separator: ",")
    }

    static func view(_ r: DispatchRecipientRecord) -> RecipientView {
        RecipientView(
            id: r.id, key: r.key, name: r.name, channel: r.channel, address: r.address, hasSecret: r.sealedSecret != nil,
            escalateAfter: r.escalateAfterSeconds, retired: r.retired, ready: !r.address.isEmpty && !r.retired)
    }

    /// Operators and supervisors record a service's confirmation taken by telephone.
    static func recordsTelephone(_ p: Principal) -> Bool { p.role == .operator || p.role == .supervisor }

    /// The notifications a principal's console shows: its role's (a duty officer's), or every
    /// recipient's (a supervisor's, and an operator's, who files the reports).
    func notifications(for p: Principal) async throws -> [OutboxRecord] {
        let since = env.clock.nowMicros() - Self.listHours * 3_600_000_000
        if p.role == .policeDuty || p.role == .guardDuty {
            return try await env.dispatch.consoleNotifications(role: p.role.rawValue, sinceMicros: since)
        }
        return try await env.dispatch.allNotifications(sinceMicros: since)
    }

    struct AckInput: Decodable {
        /// `console` (the duty officer's own), or `telephone` (the service confirmed by phone,
        /// recorded by whoever took the call).
        var how: String?
    }

    struct RecipientInput: Decodable {
        var key: String?
        var name: String?
        var channel: String?
        var address: String?
        var secret: String?
        var escalateAfter: Int?
        var retired: Bool?
    }

    struct RoutesInput: Decodable {
        var recipients: [String]
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        let denied = IncidentRoutes(env: env).denied
        t.add(.get, "/api/notifications", .incidents, onDenied: denied(.incidentView)) { _, _, principal in
            try json(try await views(try await notifications(for: principal), for: principal))
        }
        t.add(.post, "/api/notifications/{nid}/ack", .incidents, onDenied: denied(.dispatchAcknowledge)) { request, context, principal in
            let id = try pathID(context, "nid", "a notification id")
            let input = try await request.decode(as: AckInput.self, context: context)
            let how = input.how ?? "console"
            guard how == "console" || how == "telephone" else {
                throw APIError(status: .badRequest, message: "how is console or telephone")
            }
            let row = try await mapErrors { try await env.dispatch.notification(id: id) }
            let recipient = try await env.dispatch.recipients().first { $0.id == row.recipientID }
            // A console's notification is acknowledged by its own duty role (or a supervisor);
            // a telephone confirmation, of any, is recorded by operators and supervisors.
            if how == "telephone", !Self.recordsTelephone(principal) {
                try await env.audit.append(
                    AuditEntry(
                        .dispatchAcknowledge, .denied, principal: principal, request: request, context: context,
                        detail: "notification \(id): a telephone confirmation is recorded by operators and supervisors"))
                throw APIError(status: .forbidden, message: "a telephone confirmation is recorded by operators and supervisors")
            }
            guard row.event == "reported" else {
                throw APIError(status: .badRequest, message: "only a report is acknowledged, not an update or a reminder")
            }
            if recipient?.channel == "console", how == "console" {
                guard principal.role.rawValue == recipient?.address || principal.role == .supervisor else {
                    try await env.audit.append(
                        AuditEntry(
                            .dispatchAcknowledge, .denied, principal: principal, request: request, context: context,
                            detail: "notification \(id) is for the \(recipient?.address ?? "?") console"))
                    throw APIError(status: .forbidden, message: "this notification is for the \(recipient?.address ?? "?") console")
                }
            } else if how == "console" {
                throw APIError(
                    status: .badRequest,
                    message:
                        "\(recipient?.name ?? "its recipient") is told by \(recipient?.channel ?? "?"): record a telephone acknowledgement")
            }
            let now = env.clock.nowMicros()
            let done = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.dispatch.acknowledge(id: id, by: principal.name, how: how, nowMicros: now) },
                    entry: { _ in
                        AuditEntry(
                            .dispatchAcknowledge, .ok, principal: principal, request: request, context: context,
                            detail: "notification \(id) (incident id \(row.incidentID)) for \(recipient?.key ?? "?"), by \(how)")
                    }
                ).1
            }
            return try json(try await views([done], for: principal).first)
        }
        t.add(.get, "/api/dispatch/recipients", .manageDispatch, onDenied: denied(.dispatchChange)) { _, _, _ in
            struct Answer: Encodable {
                var recipients: [RecipientView]
                var routes: [String: [String]]
            }
            let recipients = try await env.dispatch.recipients()
            let keys = Dictionary(uniqueKeysWithValues: recipients.map { ($0.id, $0.key) })
            let routes = try await env.dispatch.routes()
            return try json(
                Answer(
                    recipients: recipients.map(Self.view),
                    routes: Dictionary(uniqueKeysWithValues: routes.map { (String($0.key), $0.value.compactMap { keys[$0] }) })))
        }
        t.add(.post, "/api/dispatch/recipients", .manageDispatch, onDenied: denied(.dispatchChange)) { request, context, principal in
            let input = try await request.decode(as: RecipientInput.self, context: context)
            guard let key = input.key else { throw APIError(status: .badRequest, message: "a new recipient needs a key") }
            let change = Self.change(input)
            let added = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.dispatch.addRecipient(key: key, change) },
                    entry: {
                        AuditEntry(
                            .dispatchChange, .ok, principal: principal, request: request, context: context,
                            detail: "recipient \($0.key) (id \($0.id)) added, \($0.channel)")
                    }
                ).1
            }
            return try json(Self.view(added), status: .created)
        }
        t.add(.patch, "/api/dispatch/recipients/{rid}", .manageDispatch, onDenied: denied(.dispatchChange)) { request, context, principal in
            let id = try pathID(context, "rid", "a recipient id")
            let input = try await request.decode(as: RecipientInput.self, context: context)
            guard input.key == nil else { throw APIError(status: .badRequest, message: "a recipient's key never changes") }
            let change = Self.change(input)
            let changed = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.dispatch.changeRecipient(String(id), change) },
                    entry: {
                        AuditEntry(
                            .dispatchChange, .ok, principal: principal, request: request, context: context,
                            detail: "recipient \($0.key) (id \($0.id)): " + change.fields.joined(separator: ", "))
                    }
                ).1
            }
            return try json(Self.view(changed))
        }
        t.add(.put, "/api/dispatch/routes/{cid}", .manageDispatch, onDenied: denied(.dispatchChange)) { request, context, principal in
            let id = try pathID(context, "cid", "a category id")
            let input = try await request.decode(as: RoutesInput.self, context: context)
            let chosen = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.dispatch.setRoutes(categoryID: id, recipients: input.recipients) },
                    entry: {
                        AuditEntry(
                            .dispatchChange, .ok, principal: principal, request: request, context: context,
                            detail: "category \(id) goes to " + ($0.isEmpty ? "no one" : $0.map(\.key).joined(separator: ", ")))
                    }
                ).1
            }
            return try json(chosen.map(\.key))
        }
    }

    static func change(_ input: RecipientInput) -> DispatchDesk.RecipientChange {
        DispatchDesk.RecipientChange(
            name: input.name, channel: input.channel, address: input.address, secret: input.secret,
            escalateAfterSeconds: input.escalateAfter, retired: input.retired)
    }
}
