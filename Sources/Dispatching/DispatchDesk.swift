import Access
import Base
import Catalog
import Centre
import Crypto
import Foundation
import Incidents
import Records

/// What a recipient is told: the incident's summary, the event, and the key that names this
/// notification on every attempt. No imagery; the description is the operator's words.
public struct DispatchPayload: Codable, Sendable, Equatable {
    public struct Incident: Codable, Sendable, Equatable {
        public var id: Int64
        public var number: String
        public var category: String
        public var group: String
        public var priority: Int
        public var status: String
        public var observed: String
        public var reported: String
        public var location: String
        public var address: String
        public var latitude: Double?
        public var longitude: Double?
        public var cameras: [String]
        public var description: String
    }
    public var event: String
    public var idempotencyKey: String
    public var recipient: String
    public var incident: Incident
    /// For an update: what changed (field names, and a note's words).
    public var change: String?

    public var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
    }

    public static func decode(_ text: String) throws -> DispatchPayload {
        try JSONDecoder().decode(DispatchPayload.self, from: Data(text.utf8))
    }

    /// The subject line of an e-mail, and the first line the consoles show.
    public var subject: String {
        let what = event == "reported" ? "Incident" : event == "reminder" ? "REMINDER: incident" : "Update: incident"
        let place = incident.location.isEmpty ? incident.address : incident.location
        return "\(what) \(incident.number), priority \(incident.priority): \(incident.category)" + (place.isEmpty ? "" : " at \(place)")
    }

    /// The plain-text body of an e-mail.
    public var text: String {
        var lines = [subject, ""]
        if let change { lines += ["Changed: \(change)", ""] }
        lines += [
            "Category:  \(incident.category)", "Priority:  \(incident.priority) (1 urgent, 2 high, 3 normal)",
            "Status:    \(IncidentStatus(rawValue: incident.status)?.words ?? incident.status)", "Observed:  \(incident.observed)",
            "Reported:  \(incident.reported)", "Place:     \(incident.location)"
        ]
        if !incident.address.isEmpty { lines.append("Address:   \(incident.address)") }
        if let lat = incident.latitude, let lon = incident.longitude { lines.append("Map point: \(lat), \(lon)") }
        if !incident.cameras.isEmpty { lines.append("Cameras:   \(incident.cameras.joined(separator: ", "))") }
        lines += ["", incident.description, "", "Notification \(idempotencyKey), sent by Vigil for \(recipient)."]
        return lines.joined(separator: "\n")
    }
}

/// Dispatch's configuration and its writes to the outbox. Every write is a catalog write
/// only, so that each runs inside the audit trail's transaction with the entry that
/// records it, and the outbox rows go in the incident's own transaction.
public struct DispatchDesk: Sendable {
    let catalog: Catalog
    let keys: SiteKeys

    public init(catalog: Catalog, keys: SiteKeys) {
        self.catalog = catalog
        self.keys = keys
    }

    /// The desk of the register's own catalog.
    public init(register: IncidentRegister, keys: SiteKeys) {
        self.init(catalog: register.catalog, keys: keys)
    }

    // MARK: Reports and changes, with their notifications

    /// Files a report (`IncidentRegister.report`) and writes its notifications to its
    /// category's recipients. Catalog writes only: run inside the audit trail's
    /// `append(with:entry:)`, the incident, its notifications and its entry are one
    /// transaction, stored together or not at all.
    public func report(_ r: IncidentReport, by author: IncidentAuthor, nowMicros: Int64) async throws -> IncidentRecord {
        let incident = try await IncidentRegister(catalog: catalog).report(r, by: author, nowMicros: nowMicros)
        try await enqueue(incident, event: "reported", nowMicros: nowMicros)
        return incident
    }

    /// Changes an incident (`IncidentRegister.update`) and tells every recipient told of its
    /// report what changed: the fields, the new status, a note's words.
    public func update(id: Int64, _ change: IncidentChange, by author: IncidentAuthor, nowMicros: Int64) async throws -> IncidentRecord {
        let incident = try await IncidentRegister(catalog: catalog).update(id: id, change, by: author, nowMicros: nowMicros)
        var said = change.fields.filter { $0 != "note" && $0 != "status" }.map { "\($0) changed" }
        if let status = change.status { said.append("now \(status.words)") }
        if let note = change.note { said.append("note: \(note)") }
        try await enqueue(incident, event: "updated", change: said.joined(separator: "; "), nowMicros: nowMicros)
        return incident
    }

    // MARK: Recipients and routes

    public func recipients() async throws -> [DispatchRecipientRecord] { try await catalog.dispatchRecipients() }

    public func recipient(_ reference: String) async throws -> DispatchRecipientRecord {
        let all = try await recipients()
        guard let r = all.first(where: { $0.key == reference || String($0.id) == reference }) else {
            throw VigilError(.notFound, "no dispatch recipient \(reference) (they are: \(all.map(\.key).joined(separator: ", ")))")
        }
        return r
    }

    /// What a recipient may be set to, checked: its channel, its address for that channel
    /// (empty: not set up), a webhook's secret, the wait before escalation.
    public struct RecipientChange: Sendable {
        public var name: String?
        public var channel: String?
        public var address: String?
        public var secret: String?
        public var escalateAfterSeconds: Int?
        public var retired: Bool?

        public init(
            name: String? = nil, channel: String? = nil, address: String? = nil, secret: String? = nil, escalateAfterSeconds: Int? = nil,
            retired: Bool? = nil
        ) {
            self.name = name
            self.channel = channel
            self.address = address
            self.secret = secret
            self.escalateAfterSeconds = escalateAfterSeconds
            self.retired = retired
        }

        /// Names of the fields given (the audit entry names these, never the secret).
        public var fields: [String] {
            [
                ("name", name != nil), ("channel", channel != nil), ("address", address != nil), ("secret", secret != nil),
                ("escalate-after", escalateAfterSeconds != nil), ("retired", retired != nil)
            ].filter(\.1).map(\.0)
        }
    }

    public func addRecipient(key: String, _ change: RecipientChange) async throws -> DispatchRecipientRecord {
        // Starting with a letter: a key is never taken for an id.
        guard (1...40).contains(key.utf8.count), let first = key.utf8.first, (0x61...0x7A).contains(first),
            key.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D })
        else { throw VigilError(.invalid, "a recipient's key is 1-40 lower-case letters, digits and '-', starting with a letter") }
        guard try await recipients().allSatisfy({ $0.key != key }) else { throw VigilError(.conflict, "recipient \(key) exists already") }
        guard let name = change.name, let channel = change.channel else {
            throw VigilError(.invalid, "a new recipient needs a name and a channel (\(DispatchRules.channels.joined(separator: ", ")))")
        }
        var r = DispatchRecipientRecord(id: 0, key: key, name: name, channel: channel)
        try apply(change, to: &r)
        return try await catalog.addDispatchRecipient(r)
    }

    public func changeRecipient(_ reference: String, _ change: RecipientChange) async throws -> DispatchRecipientRecord {
        guard !change.fields.isEmpty else { throw VigilError(.invalid, "say what changes") }
        var r = try await recipient(reference)
        try apply(change, to: &r)
        try await catalog.updateDispatchRecipient(r)
        return r
    }

    private func apply(_ change: RecipientChange, to r: inout DispatchRecipientRecord) throws {
        if let name = change.name {
            try TextField.check(name, "a recipient's name", maximum: 100)
            r.name = name
        }
        if let channel = change.channel {
            guard DispatchRules.channels.contains(channel) else {
                throw VigilError(.invalid, "a channel is one of \(DispatchRules.channels.joined(separator: ", "))")
            }
            if channel != r.channel, change.address == nil { r.address = "" }
            r.channel = channel
        }
        if let address = change.address { r.address = address }
        if let secret = change.secret {
            guard secret.isEmpty || (16...200).contains(secret.utf8.count) else {
                throw VigilError(.invalid, "a webhook's secret is 16-200 characters (or empty to remove it)")
            }
            r.sealedSecret = secret.isEmpty ? nil : try keys.seal(secret)
        }
        if let wait = change.escalateAfterSeconds {
            guard DispatchRules.escalateAfterRange.contains(wait) else {
                throw VigilError(.invalid, "the wait before escalation is 30 s to 24 h, in seconds")
            }
            r.escalateAfterSeconds = wait
        }
        if let retired = change.retired { r.retired = retired }
        if !r.address.isEmpty {
            switch r.channel {
            case "console":
                guard let role = Role(rawValue: r.address), role.permissions.contains(.incidents) else {
                    let roles = Role.allCases.filter { $0.permissions.contains(.incidents) }.map(\.rawValue)
                    throw VigilError(
                        .invalid, "a console recipient's address is a role that reads incidents: \(roles.joined(separator: ", "))")
                }
            case "email": try DispatchRules.checkEmail(r.address)
            default:
                try DispatchRules.checkWebhookURL(r.address)
                guard r.sealedSecret != nil else { throw VigilError(.invalid, "a webhook needs a secret to sign with (16-200 characters)") }
            }
        }
    }

    /// Each category's recipients.
    public func routes() async throws -> [Int64: [Int64]] {
        Dictionary(grouping: try await catalog.dispatchRoutes(), by: \.categoryID).mapValues { $0.map(\.recipientID) }
    }

    /// Sends category `categoryID` to `recipients` (keys or ids) from now on.
    public func setRoutes(categoryID: Int64, recipients references: [String]) async throws -> [DispatchRecipientRecord] {
        guard try await catalog.incidentCategories().contains(where: { $0.id == categoryID }) else {
            throw VigilError(.notFound, "there is no incident category \(categoryID)")
        }
        guard references.count <= 32 else { throw VigilError(.invalid, "a category goes to at most 32 recipients") }
        var chosen: [DispatchRecipientRecord] = []
        for reference in references {
            let r = try await recipient(reference)
            guard !r.retired else { throw VigilError(.invalid, "recipient \(r.key) is retired") }
            if !chosen.contains(where: { $0.id == r.id }) { chosen.append(r) }
        }
        try await catalog.setDispatchRoutes(categoryID: categoryID, recipientIDs: chosen.map(\.id))
        return chosen
    }

    // MARK: The mail relay

    public func mailRelay() async throws -> MailRelayRecord? { try await catalog.mailRelay() }

    public func setMailRelay(
        host: String, port: Int, from: String, username: String?, password: String?, tls: String, caFile: String?
    ) async throws -> MailRelayRecord {
        guard !host.isEmpty, host.utf8.count <= 253, host.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "/" })
        else { throw VigilError(.invalid, "the relay's host is a name or an address") }
        guard (1...65535).contains(port) else { throw VigilError(.invalid, "the relay's port is 1-65535") }
        try DispatchRules.checkEmail(from)
        guard ["when-offered", "required"].contains(tls) else { throw VigilError(.invalid, "tls is when-offered or required") }
        if let username { try TextField.check(username, "the relay's user name", maximum: 200) }
        guard (username == nil) == (password == nil) else { throw VigilError(.invalid, "give the relay's user name and password together") }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw VigilError(.invalid, "cannot read the certificate authorities at \(caFile)")
        }
        let relay = MailRelayRecord(
            host: host, port: port, from: from, username: username, sealedPassword: try password.map { try keys.seal($0) }, tls: tls,
            caFile: caFile)
        try await catalog.setMailRelay(relay)
        return relay
    }

    // MARK: The outbox

    /// Writes the notifications of `incident`'s report (to its category's recipients) or of
    /// a change (to every recipient told of its report), in the caller's transaction. Returns
    /// how many were written.
    @discardableResult
    public func enqueue(_ incident: IncidentRecord, event: String, change: String? = nil, nowMicros: Int64) async throws -> Int {
        let recipients = try await catalog.dispatchRecipients()
        let ids: [Int64]
        if event == "reported" {
            ids = try await catalog.dispatchRoutes().filter { $0.categoryID == incident.categoryID }.map(\.recipientID)
        } else {
            ids = try await catalog.notifiedRecipientIDs(incidentID: incident.id)
        }
        let chosen = recipients.filter { ids.contains($0.id) && !$0.retired }
        guard !chosen.isEmpty else { return 0 }
        let summary = try await summary(incident)
        let rows = chosen.map { r in
            let key = Self.newKey()
            let payload = DispatchPayload(event: event, idempotencyKey: key, recipient: r.name, incident: summary, change: change)
            return OutboxRecord(
                id: 0, incidentID: incident.id, recipientID: r.id, event: event, idempotencyKey: key, payload: payload.json,
                createdMicros: nowMicros)
        }
        try await catalog.addOutboxRows(rows)
        return rows.count
    }

    /// A reminder of a report left unacknowledged: the incident as it is now, a new key.
    func enqueueReminder(of row: OutboxRecord, nowMicros: Int64) async throws {
        let incident = try await IncidentRegister(catalog: catalog).incident(id: row.incidentID)
        let recipient = try await recipients().first { $0.id == row.recipientID }
        let key = Self.newKey()
        let payload = DispatchPayload(
            event: "reminder", idempotencyKey: key, recipient: recipient?.name ?? "", incident: try await summary(incident),
            change: "not acknowledged since \(iso8601(micros: row.deliveredMicros ?? row.createdMicros))")
        try await catalog.addOutboxRows([
            OutboxRecord(
                id: 0, incidentID: row.incidentID, recipientID: row.recipientID, event: "reminder", idempotencyKey: key,
                payload: payload.json, createdMicros: nowMicros)
        ])
    }

    func summary(_ i: IncidentRecord) async throws -> DispatchPayload.Incident {
        let category = try await catalog.incidentCategories().first { $0.id == i.categoryID }
        var cameras: [String] = []
        for c in i.cameras { cameras.append(try await catalog.camera(id: c.cameraID)?.name ?? "camera \(c.cameraID)") }
        return DispatchPayload.Incident(
            id: i.id, number: i.number, category: category?.name ?? "category \(i.categoryID)", group: category?.group ?? "other",
            priority: i.priority, status: i.status, observed: iso8601(micros: i.observedMicros),
            reported: iso8601(micros: i.reportedMicros),
            location: i.location, address: i.address, latitude: i.latitude, longitude: i.longitude, cameras: cameras,
            description: i.description)
    }

    static func newKey() -> String {
        SymmetricKey(size: .bits128).withUnsafeBytes { $0.map { String(format: "%02x", $0) }.joined() }
    }

    public func notifications(incidentID: Int64) async throws -> [OutboxRecord] { try await catalog.outbox(incidentID: incidentID) }

    public func notification(id: Int64) async throws -> OutboxRecord {
        guard let row = try await catalog.outbox(id: id) else { throw VigilError(.notFound, "no such notification") }
        return row
    }

    /// The notifications of the last `hours` for the consoles of `role`, newest first.
    public func consoleNotifications(role: String, sinceMicros: Int64, limit: Int = 100) async throws -> [OutboxRecord] {
        let ids = try await recipients().filter { $0.channel == "console" && $0.address == role }.map(\.id)
        return try await catalog.outbox(recipientIDs: ids, sinceMicros: sinceMicros, limit: limit)
    }

    /// Every recipient's notifications since `sinceMicros` (supervisors see them all).
    public func allNotifications(sinceMicros: Int64, limit: Int = 100) async throws -> [OutboxRecord] {
        try await catalog.outbox(recipientIDs: try await recipients().map(\.id), sinceMicros: sinceMicros, limit: limit)
    }

    /// Records that notification `id` was acknowledged by `who` (a duty officer, or someone
    /// noting a telephone call); the first acknowledgement of an incident's report moves it
    /// to acknowledged, by Vigil dispatch. Catalog writes only: run it inside the audit
    /// trail's transaction.
    public func acknowledge(id: Int64, by who: String, how: String, nowMicros: Int64) async throws -> OutboxRecord {
        let row = try await notification(id: id)
        guard row.deliveredMicros != nil || how != "console" else {
            throw VigilError(.conflict, "notification \(id) has not been delivered yet")
        }
        guard try await catalog.acknowledgeOutbox(id: id, by: "\(who) (\(how))", atMicros: nowMicros) else {
            throw VigilError(.conflict, "notification \(id) was acknowledged already by \(row.acknowledgedBy ?? "someone")")
        }
        let recipient = try await catalog.dispatchRecipients().first { $0.id == row.recipientID }
        try await advance(
            incidentID: row.incidentID, to: .acknowledged,
            note: "acknowledged for \(recipient?.name ?? "recipient \(row.recipientID)") by \(who) (\(how))", nowMicros: nowMicros)
        return try await notification(id: id)
    }

    /// Moves incident `incidentID` forward to `status` as Vigil dispatch, if it is behind it
    /// (an incident already further on, or closed, stays as it is).
    func advance(incidentID: Int64, to status: IncidentStatus, note: String?, nowMicros: Int64) async throws {
        let register = IncidentRegister(catalog: catalog)
        let incident = try await register.incident(id: incidentID)
        // An incident past its retention takes no more lines: its report stays delivered or
        // acknowledged in the outbox, the incident as it was.
        guard incident.anonymisedMicros == nil else { return }
        let current = IncidentStatus(rawValue: incident.status) ?? .open
        let author = IncidentAuthor(userID: nil, name: DispatchRules.author)
        if current.mayMove(to: status), status != .closed {
            _ = try await register.update(id: incidentID, IncidentChange(status: status, note: note), by: author, nowMicros: nowMicros)
        } else if let note {
            _ = try await register.update(id: incidentID, IncidentChange(note: note), by: author, nowMicros: nowMicros)
        }
    }
}
