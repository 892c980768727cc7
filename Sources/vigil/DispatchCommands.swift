import ArgumentParser
import Base
import Catalog
import Centre
import CommandSupport
import Dispatching
import Foundation
import Incidents
import Records

// Dispatch from the command line: who is told of which categories, their addresses, the
// mail relay, and the outbox's state. Every change is audited as the person at the
// command line; secrets are read from files, never from the command line (it shows in
// `ps` and in shell histories).

struct DispatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch", abstract: "Set up who is told of incidents, and see the notifications' state.",
        subcommands: [Recipients.self, Add.self, Set.self, Route.self, Mail.self, Outbox.self])

    /// One notification per line: id, recipient, event, state.
    static func lines(_ rows: [OutboxRecord], _ recipients: [DispatchRecipientRecord]) -> [String] {
        rows.map { o in
            let r = recipients.first { $0.id == o.recipientID }?.key ?? "recipient \(o.recipientID)"
            var state = "waiting (\(o.attempts) attempts)"
            if let error = o.lastError { state += ": \(error)" }
            if let d = o.deliveredMicros { state = "delivered \(iso8601(micros: d))" }
            if let a = o.acknowledgedMicros { state += ", acknowledged \(iso8601(micros: a)) by \(o.acknowledgedBy ?? "?")" }
            if let e = o.escalatedMicros { state += ", escalated \(iso8601(micros: e))" }
            return "\(o.id)\t\(r)\t\(o.event)\t\(state)"
        }
    }

    static func secret(_ path: String?) throws -> String? {
        guard let path else { return nil }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw ValidationError("cannot read \(path)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func change(
        _ dataOptions: DataOptions, detail: String, _ body: @escaping @Sendable (DispatchDesk) async throws -> String
    ) async throws -> String {
        try await CameraCommand.onSite(dataOptions) { site in
            let desk = DispatchDesk(catalog: site.catalog, keys: site.keys)
            let entry = site.commandLineEntry(.dispatchChange, camera: nil, detail: detail)
            return try await site.audit.append(entry) { try await body(desk) }.1
        }
    }

    struct Recipients: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the recipients and the categories each is told of.")
        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            let (recipients, routes, categories) = try await CameraCommand.onSite(dataOptions) { site in
                let desk = DispatchDesk(catalog: site.catalog, keys: site.keys)
                return (try await desk.recipients(), try await desk.routes(), try await site.catalog.incidentCategories())
            }
            for r in recipients {
                let told = categories.filter { routes[$0.id]?.contains(r.id) == true }.map(\.key)
                let address = r.address.isEmpty ? "NOT SET UP" : r.address
                say(
                    "\(r.key)\t\(r.channel)\t\(address)\tescalate after \(r.escalateAfterSeconds) s\t\(r.name)\(r.retired ? " (retired)" : "")"
                        + "\t← \(told.isEmpty ? "no category" : told.joined(separator: ", "))")
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a recipient.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Its key (lower-case letters, digits, '-', starting with a letter).") var key: String
        @Option(name: .long, help: "Its name.") var name: String
        @Option(name: .long, help: "console, email or webhook.") var channel: String
        @Option(name: .long, help: "A duty role (console), an e-mail address, or an https URL (webhook).") var address: String = ""
        @Option(name: .long, help: "A file holding a webhook's signing secret (16-200 characters).") var secretFile: String?
        @Option(name: .long, help: "Seconds before an unacknowledged notification escalates.") var escalateAfter: Int?

        func run() async throws {
            let change = DispatchDesk.RecipientChange(
                name: name, channel: channel, address: address, secret: try DispatchCommand.secret(secretFile),
                escalateAfterSeconds: escalateAfter)
            let key = self.key
            say(
                try await DispatchCommand.change(dataOptions, detail: "recipient \(key) added, \(channel)") { desk in
                    let r = try await desk.addRecipient(key: key, change)
                    return "recipient \(r.key) (id \(r.id)) added"
                })
        }
    }

    struct Set: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a recipient: its address, channel, secret, wait, name.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Its key.") var key: String
        @Option(name: .long, help: "Its name.") var name: String?
        @Option(name: .long, help: "console, email or webhook.") var channel: String?
        @Option(name: .long, help: "A duty role (console), an e-mail address, or an https URL (webhook); empty: not set up.")
        var address: String?
        @Option(name: .long, help: "A file holding a webhook's signing secret (16-200 characters).") var secretFile: String?
        @Option(name: .long, help: "Seconds before an unacknowledged notification escalates.") var escalateAfter: Int?
        @Flag(name: .long, help: "Retire it: told of nothing new.") var retire = false
        @Flag(name: .long, help: "Bring a retired recipient back.") var restore = false

        func run() async throws {
            let change = DispatchDesk.RecipientChange(
                name: name, channel: channel, address: address, secret: try DispatchCommand.secret(secretFile),
                escalateAfterSeconds: escalateAfter, retired: retire ? true : restore ? false : nil)
            let key = self.key
            say(
                try await DispatchCommand.change(dataOptions, detail: "recipient \(key): " + change.fields.joined(separator: ", ")) {
                    desk in
                    let r = try await desk.changeRecipient(key, change)
                    return "recipient \(r.key): \(r.channel) \(r.address.isEmpty ? "NOT SET UP" : r.address)"
                })
        }
    }

    struct Route: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the recipients a category goes to (none: no one is told).")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The category's key (vigil incident categories).") var category: String
        @Argument(help: "The recipients' keys.") var recipients: [String] = []

        func run() async throws {
            let category = self.category, recipients = self.recipients
            let categories = try await CameraCommand.onSite(dataOptions) { try await $0.catalog.incidentCategories() }
            guard let c = categories.first(where: { $0.key == category }) else {
                throw ValidationError("there is no incident category \(category) (vigil incident categories lists them)")
            }
            let detail = "category \(c.id) goes to " + (recipients.isEmpty ? "no one" : recipients.joined(separator: ", "))
            say(
                try await DispatchCommand.change(dataOptions, detail: detail) { desk in
                    let chosen = try await desk.setRoutes(categoryID: c.id, recipients: recipients)
                    return "\(category) → " + (chosen.isEmpty ? "no one" : chosen.map(\.key).joined(separator: ", "))
                })
        }
    }

    struct Mail: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set the mail relay that e-mail notifications go through.")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "The relay's host.") var host: String
        @Option(name: .long, help: "Its port (25 or 587).") var port: Int = 25
        @Option(name: .long, help: "The sender's address on every message.") var from: String
        @Option(name: .long, help: "A user name, if the relay wants one (sent over TLS only).") var username: String?
        @Option(name: .long, help: "A file holding the password.") var passwordFile: String?
        @Option(
            name: .long, help: "required (never in clear: the default) or when-offered (STARTTLS if the relay offers it, else in clear).")
        var tls: String = "required"
        @Option(name: .long, help: "A PEM file of certificate authorities trusted besides the system's.") var caFile: String?

        func run() async throws {
            let password = try DispatchCommand.secret(passwordFile)
            let (host, port, from, username, tls, caFile) = (self.host, self.port, self.from, self.username, self.tls, self.caFile)
            say(
                try await DispatchCommand.change(dataOptions, detail: "mail relay \(host):\(port), TLS \(tls)") { desk in
                    let relay = try await desk.setMailRelay(
                        host: host, port: port, from: from, username: username, password: password, tls: tls, caFile: caFile)
                    return "mail relay \(relay.host):\(relay.port) from \(relay.from), TLS \(relay.tls)"
                })
        }
    }

    struct Outbox: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The notifications of the last hours, or of one incident.")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "An incident's number (2026/17) or id.") var incident: String?
        @Option(name: .long, help: "How many hours back.") var hours: Int = 24

        func run() async throws {
            let incident = self.incident, hours = self.hours
            guard (1...24 * 90).contains(hours) else { throw ValidationError("--hours is 1 to 2160") }
            let lines = try await CameraCommand.onSite(dataOptions) { site in
                let desk = DispatchDesk(catalog: site.catalog, keys: site.keys)
                let rows: [OutboxRecord]
                if let incident {
                    let i = try await IncidentRegister(catalog: site.catalog).incident(incident)
                    rows = try await desk.notifications(incidentID: i.id)
                } else {
                    rows = try await desk.allNotifications(
                        sinceMicros: WallClock.system.nowMicros() - Int64(hours) * 3_600_000_000, limit: 10_000)
                }
                return DispatchCommand.lines(rows, try await desk.recipients())
            }
            for line in lines { say(line) }
        }
    }
}
