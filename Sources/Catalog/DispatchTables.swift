// Dispatch (migration 12): the services the centre tells (seeded here as the city has them;
// data from then on), which categories go to whom, the mail relay, and the outbox, whose
// rows are written in the incident's own transaction and then delivered at least once.

import Base
import Foundation
import Records
import SQLKit

extension Catalog {
    /// The city's recipients. The duty officers' consoles work at once; a service without
    /// an address is not set up, and its notifications wait, failing in words, until it is.
    /// Each with the wait before an unacknowledged report escalates: 3 minutes for the
    /// emergency services, 5 for the patrols, an hour for the municipal services (whose
    /// reports are seldom urgent, and an alarm every three minutes would be noise).
    static let cityRecipients: [(key: String, name: String, channel: String, address: String, wait: Int)] = [
        ("police", "City police duty station", "console", "police-duty", 180),
        ("guard", "Municipal guard duty officer", "console", "guard-duty", 180),
        ("guard-patrols", "Municipal guard patrols", "email", "", 300),
        ("ambulance", "Ambulance service", "email", "", 180),
        ("fire", "Fire service", "email", "", 180),
        ("roads", "Municipal services: roads and signs", "email", "", 3600),
        ("cleaning", "Municipal services: cleaning", "email", "", 3600),
        ("green", "Municipal services: green areas", "email", "", 3600),
        ("other", "Other", "email", "", 3600)
    ]

    /// Default routing: safety to the police and the guard (a person in need to the
    /// ambulance too), public order to the guard, infrastructure and cleanliness to the
    /// guard and the municipal service that mends them.
    static let cityRoutes: [(category: String, recipients: [String])] = [
        ("violence", ["police", "guard"]), ("unsupervised-minor", ["police", "guard"]),
        ("person-in-need", ["police", "guard", "ambulance"]), ("theft-or-damage", ["police", "guard"]),
        ("road-hazard", ["police", "guard"]), ("public-place-rules", ["guard"]), ("littering", ["guard", "cleaning"]),
        ("cleanliness-neglect", ["guard", "cleaning"]), ("infrastructure", ["guard", "roads"]), ("other", ["guard"])
    ]

    static func migrateToDispatch(_ db: any SQLDatabase) async throws {
        try await db.create(table: "dispatch_recipients")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("key", type: .text, .notNull, .unique)
            .column("name", type: .text, .notNull)
            .column("channel", type: .text, .notNull)
            .column("address", type: .text, .notNull, .default(""))
            .column("sealed_secret", type: .blob)
            .column("escalate_after_s", type: .int, .notNull, .default(180))
            .column("retired", type: .int, .notNull, .default(0))
            .run()
        for r in cityRecipients {
            try await db.raw(
                """
                INSERT INTO dispatch_recipients (key, name, channel, address, escalate_after_s)
                VALUES (\(bind: r.key), \(bind: r.name), \(bind: r.channel), \(bind: r.address), \(bind: r.wait))
                """
            ).run()
        }
        try await db.create(table: "dispatch_routes")
            .column("category_id", type: .bigint, .notNull, .references("incident_categories", "id"))
            .column("recipient_id", type: .bigint, .notNull, .references("dispatch_recipients", "id"))
            .primaryKey("category_id", "recipient_id")
            .run()
        for route in cityRoutes {
            for r in route.recipients {
                try await db.raw(
                    """
                    INSERT INTO dispatch_routes (category_id, recipient_id)
                    SELECT c.id, r.id FROM incident_categories c, dispatch_recipients r WHERE c.key = \(bind: route.category) AND r.key = \(bind: r)
                    """
                ).run()
            }
        }
        try await db.create(table: "dispatch_outbox")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("incident_id", type: .bigint, .notNull, .references("incidents", "id"))
            .column("recipient_id", type: .bigint, .notNull, .references("dispatch_recipients", "id"))
            .column("event", type: .text, .notNull)
            .column("idempotency_key", type: .text, .notNull, .unique)
            .column("payload", type: .text, .notNull)
            .column("created_micros", type: .bigint, .notNull)
            .column("attempts", type: .int, .notNull, .default(0))
            .column("next_micros", type: .bigint, .notNull)
            .column("last_error", type: .text)
            .column("delivered_micros", type: .bigint)
            .column("acknowledged_micros", type: .bigint)
            .column("acknowledged_by", type: .text)
            .column("escalated_micros", type: .bigint)
            .run()
        try await db.raw("CREATE INDEX dispatch_outbox_due ON dispatch_outbox (next_micros) WHERE delivered_micros IS NULL").run()
        try await db.create(index: "dispatch_outbox_by_incident").on("dispatch_outbox").column("incident_id").run()
        try await db.create(index: "dispatch_outbox_by_created").on("dispatch_outbox").column("created_micros").run()
        try await db.raw(
            """
            CREATE INDEX dispatch_outbox_open ON dispatch_outbox (created_micros)
            WHERE event = 'reported' AND acknowledged_micros IS NULL AND escalated_micros IS NULL
            """
        ).run()
        try await db.create(table: "dispatch_mail_relay")
            .column("id", type: .int, .primaryKey(autoIncrement: false))
            .column("host", type: .text, .notNull)
            .column("port", type: .int, .notNull)
            .column("sender", type: .text, .notNull)
            .column("username", type: .text)
            .column("sealed_password", type: .blob)
            .column("tls", type: .text, .notNull)
            .column("ca_file", type: .text)
            .run()
    }

    // MARK: Recipients and routes

    public func dispatchRecipients() async throws -> [DispatchRecipientRecord] {
        let rows = try await run("read dispatch recipients") {
            try await database.raw("SELECT * FROM dispatch_recipients ORDER BY id").all()
        }
        return try rows.map { row in
            DispatchRecipientRecord(
                id: try row.decode(column: "id", as: Int64.self), key: try row.decode(column: "key", as: String.self),
                name: try row.decode(column: "name", as: String.self), channel: try row.decode(column: "channel", as: String.self),
                address: try row.decode(column: "address", as: String.self),
                sealedSecret: try row.decode(column: "sealed_secret", as: Data?.self).map { [UInt8]($0) },
                escalateAfterSeconds: try row.decode(column: "escalate_after_s", as: Int.self),
                retired: try row.decode(column: "retired", as: Int.self) != 0)
        }
    }

    public func addDispatchRecipient(_ r: DispatchRecipientRecord) async throws -> DispatchRecipientRecord {
        let rows = try await run("insert dispatch recipient \(r.key)") {
            try await database.raw(
                """
                INSERT INTO dispatch_recipients (key, name, channel, address, sealed_secret, escalate_after_s, retired)
                VALUES (\(bind: r.key), \(bind: r.name), \(bind: r.channel), \(bind: r.address), \(bind: r.sealedSecret.map { Data($0) }),
                        \(bind: r.escalateAfterSeconds), \(bind: r.retired ? 1 : 0))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert dispatch recipient returned no id")
        }
        var added = r
        added.id = id
        return added
    }

    public func updateDispatchRecipient(_ r: DispatchRecipientRecord) async throws {
        try await run("update dispatch recipient \(r.id)") {
            try await database.raw(
                """
                UPDATE dispatch_recipients SET name = \(bind: r.name), channel = \(bind: r.channel), address = \(bind: r.address),
                       sealed_secret = \(bind: r.sealedSecret.map { Data($0) }), escalate_after_s = \(bind: r.escalateAfterSeconds),
                       retired = \(bind: r.retired ? 1 : 0)
                WHERE id = \(bind: r.id)
                """
            ).run()
        }
    }

    /// Every route: which recipients each category goes to.
    public func dispatchRoutes() async throws -> [(categoryID: Int64, recipientID: Int64)] {
        let rows = try await run("read dispatch routes") {
            try await database.raw("SELECT category_id, recipient_id FROM dispatch_routes ORDER BY category_id, recipient_id").all()
        }
        return try rows.map {
            (try $0.decode(column: "category_id", as: Int64.self), try $0.decode(column: "recipient_id", as: Int64.self))
        }
    }

    /// Sets the recipients category `categoryID` goes to, in place of those it had.
    public func setDispatchRoutes(categoryID: Int64, recipientIDs: [Int64]) async throws {
        try await transaction("set dispatch routes of category \(categoryID)") {
            try await run("clear dispatch routes of category \(categoryID)") {
                try await database.raw("DELETE FROM dispatch_routes WHERE category_id = \(bind: categoryID)").run()
            }
            for r in Set(recipientIDs).sorted() {
                try await run("add dispatch route \(categoryID) → \(r)") {
                    try await database.raw(
                        "INSERT INTO dispatch_routes (category_id, recipient_id) VALUES (\(bind: categoryID), \(bind: r))"
                    )
                    .run()
                }
            }
        }
    }

    // MARK: The mail relay

    public func mailRelay() async throws -> MailRelayRecord? {
        let rows = try await run("read the mail relay") {
            try await database.raw("SELECT * FROM dispatch_mail_relay WHERE id = 1").all()
        }
        return try rows.first.map { row in
            MailRelayRecord(
                host: try row.decode(column: "host", as: String.self), port: try row.decode(column: "port", as: Int.self),
                from: try row.decode(column: "sender", as: String.self), username: try row.decode(column: "username", as: String?.self),
                sealedPassword: try row.decode(column: "sealed_password", as: Data?.self).map { [UInt8]($0) },
                tls: try row.decode(column: "tls", as: String.self), caFile: try row.decode(column: "ca_file", as: String?.self))
        }
    }

    public func setMailRelay(_ m: MailRelayRecord) async throws {
        try await run("set the mail relay") {
            try await database.raw(
                """
                INSERT INTO dispatch_mail_relay (id, host, port, sender, username, sealed_password, tls, ca_file)
                VALUES (1, \(bind: m.host), \(bind: m.port), \(bind: m.from), \(bind: m.username), \(bind: m.sealedPassword.map { Data($0) }),
                        \(bind: m.tls), \(bind: m.caFile))
                ON CONFLICT (id) DO UPDATE SET host = excluded.host, port = excluded.port, sender = excluded.sender,
                       username = excluded.username, sealed_password = excluded.sealed_password, tls = excluded.tls, ca_file = excluded.ca_file
                """
            ).run()
        }
    }

    // MARK: The outbox

    public func addOutboxRows(_ rows: [OutboxRecord]) async throws {
        for o in rows {
            try await run("write notification \(o.idempotencyKey)") {
                try await database.raw(
                    """
                    INSERT INTO dispatch_outbox (incident_id, recipient_id, event, idempotency_key, payload, created_micros, next_micros)
                    VALUES (\(bind: o.incidentID), \(bind: o.recipientID), \(bind: o.event), \(bind: o.idempotencyKey), \(bind: o.payload),
                            \(bind: o.createdMicros), \(bind: o.nextMicros))
                    """
                ).run()
            }
        }
    }

    /// Notifications not yet delivered nor acknowledged (by telephone) whose next attempt is
    /// due: those never tried first, then the oldest. `console`: only the duty consoles'
    /// (true), only the others' (false), or all (nil).
    public func dueOutbox(nowMicros: Int64, limit: Int, console: Bool? = nil) async throws -> [OutboxRecord] {
        var lane: SQLQueryString = ""
        if let console {
            lane =
                "AND recipient_id \(unsafeRaw: console ? "IN" : "NOT IN") (SELECT id FROM dispatch_recipients WHERE channel = 'console') "
        }
        return try await outbox(
            "read due notifications",
            where: "delivered_micros IS NULL AND acknowledged_micros IS NULL AND next_micros <= \(bind: nowMicros) " + lane
                + "ORDER BY attempts > 0, next_micros, id LIMIT \(bind: limit)")
    }

    public func outbox(incidentID: Int64) async throws -> [OutboxRecord] {
        try await outbox("read incident \(incidentID)'s notifications", where: "incident_id = \(bind: incidentID) ORDER BY id")
    }

    public func outbox(id: Int64) async throws -> OutboxRecord? {
        try await outbox("read notification \(id)", where: "id = \(bind: id)").first
    }

    /// Notifications to any of `recipientIDs` written since `sinceMicros`, and, whatever
    /// their age, the reports still waiting for an acknowledgement of an incident not closed;
    /// newest first.
    public func outbox(recipientIDs: [Int64], sinceMicros: Int64, limit: Int) async throws -> [OutboxRecord] {
        guard !recipientIDs.isEmpty else { return [] }
        let list = SQLList(recipientIDs.map { SQLBind($0) })
        return try await outbox(
            "read notifications",
            where: """
                recipient_id IN (\(list)) AND (created_micros >= \(bind: sinceMicros)
                  OR (event = 'reported' AND acknowledged_micros IS NULL AND next_micros < \(bind: Int64.max)
                      AND incident_id IN (SELECT id FROM incidents WHERE status <> 'closed' AND anonymised_micros IS NULL)))
                ORDER BY id DESC LIMIT \(bind: limit)
                """)
    }

    /// Reports unacknowledged and not yet escalated, of incidents not closed, whose
    /// recipient's wait has passed since their delivery, or since they were written when
    /// they could not be delivered (a service not set up, a relay down, a withdrawn one
    /// aside).
    public func outboxToEscalate(nowMicros: Int64) async throws -> [OutboxRecord] {
        try await outbox(
            "read notifications to escalate",
            where: """
                event = 'reported' AND acknowledged_micros IS NULL AND escalated_micros IS NULL AND next_micros < \(bind: Int64.max)
                AND COALESCE(delivered_micros, created_micros)
                    + 1000000 * (SELECT escalate_after_s FROM dispatch_recipients r WHERE r.id = recipient_id) <= \(bind: nowMicros)
                AND incident_id IN (SELECT id FROM incidents WHERE status <> 'closed' AND anonymised_micros IS NULL)
                ORDER BY id LIMIT 100
                """)
    }

    /// The recipients an incident's report was written for: its updates go to each.
    public func notifiedRecipientIDs(incidentID: Int64) async throws -> [Int64] {
        let rows = try await run("read incident \(incidentID)'s recipients") {
            try await database.raw(
                "SELECT DISTINCT recipient_id FROM dispatch_outbox WHERE incident_id = \(bind: incidentID) AND event = 'reported' ORDER BY recipient_id"
            ).all()
        }
        return try rows.map { try $0.decode(column: "recipient_id", as: Int64.self) }
    }

    /// Records notification `id` as delivered at `micros`; false if it already was.
    public func recordOutboxDelivery(id: Int64, atMicros micros: Int64) async throws -> Bool {
        let rows = try await run("record notification \(id) delivered") {
            try await database.raw(
                """
                UPDATE dispatch_outbox SET delivered_micros = \(bind: micros), attempts = attempts + 1, last_error = NULL
                WHERE id = \(bind: id) AND delivered_micros IS NULL RETURNING id
                """
            ).all()
        }
        return !rows.isEmpty
    }

    /// Records a failed attempt and when to try again.
    public func recordOutboxFailure(id: Int64, error: String, nextMicros: Int64) async throws {
        try await run("record notification \(id) failed") {
            try await database.raw(
                """
                UPDATE dispatch_outbox SET attempts = attempts + 1, last_error = \(bind: error), next_micros = \(bind: nextMicros)
                WHERE id = \(bind: id) AND delivered_micros IS NULL AND next_micros < \(bind: Int64.max)
                """
            ).run()
        }
    }

    /// Records who acknowledged notification `id`; false if it already was acknowledged.
    public func acknowledgeOutbox(id: Int64, by: String, atMicros micros: Int64) async throws -> Bool {
        let rows = try await run("acknowledge notification \(id)") {
            try await database.raw(
                """
                UPDATE dispatch_outbox SET acknowledged_micros = \(bind: micros), acknowledged_by = \(bind: by)
                WHERE id = \(bind: id) AND acknowledged_micros IS NULL RETURNING id
                """
            ).all()
        }
        return !rows.isEmpty
    }

    /// Marks notification `id` escalated; false if it already was, or was acknowledged meanwhile.
    public func markOutboxEscalated(id: Int64, atMicros micros: Int64) async throws -> Bool {
        let rows = try await run("escalate notification \(id)") {
            try await database.raw(
                """
                UPDATE dispatch_outbox SET escalated_micros = \(bind: micros)
                WHERE id = \(bind: id) AND escalated_micros IS NULL AND acknowledged_micros IS NULL RETURNING id
                """
            ).all()
        }
        return !rows.isEmpty
    }

    private func outbox(_ operation: String, where condition: SQLQueryString) async throws -> [OutboxRecord] {
        let rows = try await run(operation) {
            try await database.raw("SELECT * FROM dispatch_outbox WHERE " + condition).all()
        }
        return try rows.map { row in
            var o = OutboxRecord(
                id: try row.decode(column: "id", as: Int64.self), incidentID: try row.decode(column: "incident_id", as: Int64.self),
                recipientID: try row.decode(column: "recipient_id", as: Int64.self),
                event: try row.decode(column: "event", as: String.self),
                idempotencyKey: try row.decode(column: "idempotency_key", as: String.self),
                payload: try row.decode(column: "payload", as: String.self),
                createdMicros: try row.decode(column: "created_micros", as: Int64.self))
            o.attempts = try row.decode(column: "attempts", as: Int.self)
            o.nextMicros = try row.decode(column: "next_micros", as: Int64.self)
            o.lastError = try row.decode(column: "last_error", as: String?.self)
            o.deliveredMicros = try row.decode(column: "delivered_micros", as: Int64?.self)
            o.acknowledgedMicros = try row.decode(column: "acknowledged_micros", as: Int64?.self)
            o.acknowledgedBy = try row.decode(column: "acknowledged_by", as: String?.self)
            o.escalatedMicros = try row.decode(column: "escalated_micros", as: Int64?.self)
            return o
        }
    }
}
