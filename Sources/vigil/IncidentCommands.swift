import ArgumentParser
import Base
import Catalog
import Centre
import CommandSupport
import Dispatching
import Foundation
import Incidents
import Records

// The incident register from the command line: the same rules as the API, each report,
// change and read audited as the person at the command line (`cli:` and their login).

struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incident",
        abstract: "Report, list, show, update and close incidents; their pictures; list the categories.",
        subcommands: [
            Create.self, List.self, Show.self, Update.self, Close.self, Secure.self, Picture.self, Categories.self, Retention.self
        ])

    static func author() -> IncidentAuthor {
        IncidentAuthor(
            userID: nil,
            name: "cli:" + (ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"))
    }

    static func time(_ text: String, _ what: String) throws -> Int64 {
        guard let micros = parseISO8601(text) else {
            throw ValidationError("\(what) is an ISO 8601 time (2026-12-03T14:05:00Z), not \(text)")
        }
        return micros
    }

    static func line(_ i: IncidentRecord, _ categories: [IncidentCategoryRecord]) -> String {
        let category = categories.first { $0.id == i.categoryID }?.key ?? "category \(i.categoryID)"
        return "\(i.number)\t\(i.status)\tP\(i.priority)\t\(category)\t\(iso8601(micros: i.observedMicros))\t\(i.location)"
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Report an incident; prints its number.")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "The category's key (vigil incident categories).") var category: String
        @Option(name: .long, help: "What was seen.") var description: String
        @Option(name: .long, help: "1 urgent, 2 high, 3 normal.") var priority: Int = 3
        @Option(name: .long, help: "When it was seen (ISO 8601); now when left out.") var observed: String?
        @Option(name: .long, help: "A camera that shows it (its name).") var camera: String?
        @Option(name: .long, help: "With --camera: the start of its footage of it (ISO 8601).") var from: String?
        @Option(name: .long, help: "With --camera: the end of its footage of it (ISO 8601).") var to: String?
        @Option(name: .long, help: "The place; the camera's location when left out.") var location: String?
        @Option(name: .long, help: "A street address.") var address: String = ""

        func validate() throws {
            guard (camera == nil) == (from == nil), (camera == nil) == (to == nil) else {
                throw ValidationError("--camera, --from and --to go together")
            }
        }

        func run() async throws {
            let now = WallClock.system.nowMicros()
            let observedMicros = try observed.map { try IncidentCommand.time($0, "--observed") } ?? now
            let filed = try await CameraCommand.onSite(dataOptions) { site in
                let register = IncidentRegister(catalog: site.catalog)
                guard let c = try await register.categories().first(where: { $0.key == category }) else {
                    throw VigilError(.invalid, "there is no incident category \(category) (vigil incident categories lists them)")
                }
                var cameras: [IncidentCameraRecord] = []
                if let camera, let from, let to {
                    guard let record = try await site.catalog.camera(named: camera) else {
                        throw VigilError(.notFound, "no camera named \(camera)")
                    }
                    cameras.append(
                        IncidentCameraRecord(
                            cameraID: record.id, fromMicros: try IncidentCommand.time(from, "--from"),
                            toMicros: try IncidentCommand.time(to, "--to")))
                }
                let report = IncidentReport(
                    categoryID: c.id, priority: priority, observedMicros: observedMicros, cameras: cameras, location: location,
                    address: address, description: description)
                let author = IncidentCommand.author()
                let who = site.commandLineEntry(.incidentReport, camera: nil, detail: "")
                let desk = DispatchDesk(catalog: site.catalog, keys: site.keys)
                return try await site.audit.append(
                    with: { try await desk.report(report, by: author, nowMicros: now) },
                    entry: {
                        var e = who
                        e.camera = $0.cameras.first?.cameraID
                        e.detail =
                            "incident \($0.number) (id \($0.id)), category \($0.categoryID), priority \($0.priority), \($0.cameras.count) cameras"
                        return e
                    }
                ).1
            }
            say("incident \(filed.number) (id \(filed.id)) reported, open")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List incidents observed in a period (the last 7 days by default).")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "From (ISO 8601).") var from: String?
        @Option(name: .long, help: "To (ISO 8601).") var to: String?
        @Option(name: .long, help: "Only those in this status (open, notified, acknowledged, on-scene, closed).") var status: String?

        func run() async throws {
            let now = WallClock.system.nowMicros()
            let fromMicros = try from.map { try IncidentCommand.time($0, "--from") } ?? now - 7 * 86_400_000_000
            let toMicros = try to.map { try IncidentCommand.time($0, "--to") } ?? now + IncidentRules.clockSkewMicros
            let wanted = try status.map { try IncidentStatus(parsing: $0) }
            let (list, categories) = try await CameraCommand.onSite(dataOptions) { site in
                let register = IncidentRegister(catalog: site.catalog)
                let list = try await register.list(from: fromMicros, to: toMicros, status: wanted)
                try await site.auditCommandLine(
                    .incidentView,
                    detail: IncidentRegister.listDetail(list, from: fromMicros, to: toMicros, status: wanted))
                return (list, try await register.categories())
            }
            for i in list { say(IncidentCommand.line(i, categories)) }
            if list.isEmpty { say("no incidents in that period") }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an incident and its timeline.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Its number (2026/17) or id.") var incident: String

        func run() async throws {
            let (i, updates, categories, names, notifications, pictures) = try await CameraCommand.onSite(dataOptions) { site in
                let register = IncidentRegister(catalog: site.catalog)
                let i = try await register.incident(incident)
                try await site.auditCommandLine(.incidentView, detail: "incident \(i.number) (id \(i.id))")
                let desk = DispatchDesk(catalog: site.catalog, keys: site.keys)
                return (
                    i, try await register.updates(incidentID: i.id), try await register.categories(),
                    try await CameraRegistry(catalog: site.catalog).names(),
                    DispatchCommand.lines(try await desk.notifications(incidentID: i.id), try await desk.recipients()),
                    try await register.snapshots(incidentID: i.id)
                )
            }
            say(IncidentCommand.line(i, categories))
            say("  reported \(iso8601(micros: i.reportedMicros)) by \(i.reporterName)")
            if !i.address.isEmpty { say("  address: \(i.address)") }
            for c in i.cameras {
                say("  camera \(names[c.cameraID] ?? "\(c.cameraID)"): \(iso8601(micros: c.fromMicros)) to \(iso8601(micros: c.toMicros))")
            }
            if let removed = i.anonymisedMicros {
                say("  personal data removed \(iso8601(micros: removed)) at the end of its retention")
            } else {
                say("  \(i.description)")
            }
            for u in updates { say("  \(iso8601(micros: u.atMicros))  \(u.userName)  \(u.kind): \(u.text)") }
            for p in pictures {
                say(
                    "  picture \(p.id): \(names[p.cameraID] ?? "\(p.cameraID)") at \(iso8601(micros: p.frameMicros)), \(p.width)x\(p.height), "
                        + "sha256 \(p.sha256) (vigil incident picture \(i.number) --get \(p.id) --out FILE)")
            }
            if !notifications.isEmpty { say("  notifications:") }
            for n in notifications { say("    " + n) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move an incident's status forward, add a note, or change its details.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Its number (2026/17) or id.") var incident: String
        @Option(name: .long, help: "notified, acknowledged, on-scene or closed.") var status: String?
        @Option(name: .long, help: "A note for its timeline.") var note: String?
        @Option(name: .long, help: "1 urgent, 2 high, 3 normal.") var priority: Int?
        @Option(name: .long, help: "A corrected description.") var description: String?

        func run() async throws {
            let next = try status.map { try IncidentStatus(parsing: $0) }
            let changed = try await IncidentCommand.change(
                dataOptions, incident, IncidentChange(priority: priority, description: description, status: next, note: note))
            say("incident \(changed.number): \(changed.status)")
        }
    }

    struct Close: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Close an incident.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Its number (2026/17) or id.") var incident: String
        @Option(name: .long, help: "A closing note.") var note: String?

        func run() async throws {
            let changed = try await IncidentCommand.change(dataOptions, incident, IncidentChange(status: .closed, note: note))
            say("incident \(changed.number): \(changed.status)")
        }
    }

    struct Secure: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask that an incident's footage be secured as an exhibit: held until an investigator decides.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Its number (2026/17) or id.") var incident: String
        @Option(name: .long, help: "Why the footage is wanted.") var reason: String

        func run() async throws {
            let reference = incident, reason = self.reason, author = IncidentCommand.author(), now = WallClock.system.nowMicros()
            let made = try await CameraCommand.onSite(dataOptions) { site in
                let register = IncidentRegister(catalog: site.catalog)
                let i = try await register.incident(reference)
                let entry = site.commandLineEntry(
                    .incidentExhibitRequest, camera: nil,
                    detail: "to secure incident \(i.number) (id \(i.id))'s footage; held until an investigator decides")
                return try await site.audit.append(entry) {
                    try await register.requestExhibit(incidentID: i.id, reason: reason, by: author, nowMicros: now)
                }.1
            }
            say("request \(made.id): the incident's footage is held until an investigator decides (the Evidence page)")
        }
    }

    struct Picture: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a picture of one of an incident's cameras, made from its recording; or write one out (--get).")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Its number (2026/17) or id.") var incident: String
        @Option(name: .long, help: "The camera (its name): one the incident names.") var camera: String?
        @Option(name: .long, help: "The moment (ISO 8601), in the camera's range; the time observed when left out.") var at: String?
        @Option(name: .long, help: "The picture to write out (its number, as vigil incident show lists them).") var get: Int64?
        @Option(name: .long, help: "With --get: the JPEG file to write.") var out: String?

        func validate() throws {
            guard (get == nil) == (out == nil) else { throw ValidationError("--get and --out go together") }
            guard (get == nil) != (camera == nil) else { throw ValidationError("give --camera to add a picture, or --get and --out") }
            guard get == nil || at == nil else { throw ValidationError("--at is for a picture to add (with --camera), not with --get") }
        }

        func run() async throws {
            let reference = incident, author = IncidentCommand.author(), now = WallClock.system.nowMicros()
            if let get, let out {
                guard !FileManager.default.fileExists(atPath: out) else { throw ValidationError("\(out) exists: give a new file") }
                let (jpeg, number) = try await CameraCommand.onSite(dataOptions) { site in
                    let register = IncidentRegister(catalog: site.catalog)
                    let i = try await register.incident(reference)
                    guard let p = try await register.snapshots(incidentID: i.id).first(where: { $0.id == get }),
                        let jpeg = try await register.snapshotJPEG(id: get, incidentID: i.id)
                    else { throw VigilError(.notFound, "incident \(i.number) has no picture \(get)") }
                    // Written first (readable by its owner alone, never over another file), then
                    // audited: a picture that never reached the file is not recorded as looked at.
                    let fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                    guard fd >= 0 else { throw VigilError(.invalid, "\(out) cannot be made (errno \(errno))") }
                    do {
                        defer { close(fd) }
                        try FileHandle(fileDescriptor: fd, closeOnDealloc: false).write(contentsOf: Data(jpeg))
                        guard fsync(fd) == 0 else { throw VigilError(.failure, "\(out) could not be written (errno \(errno))") }
                        let camera = try await site.catalog.camera(id: p.cameraID)
                        try await site.audit.append(
                            site.commandLineEntry(
                                .incidentSnapshot, camera: camera,
                                detail: "viewed picture \(get) of incident \(i.number) (id \(i.id)), written to a file, sha256 \(p.sha256)")
                        )
                    } catch {
                        try? FileManager.default.removeItem(atPath: out)
                        throw error
                    }
                    return (jpeg, i.number)
                }
                say("picture \(get) of incident \(number): \(jpeg.count) bytes written to \(out)")
                return
            }
            guard let cameraName = camera else { return }
            let added = try await CameraCommand.onSite(dataOptions) { site in
                let register = IncidentRegister(catalog: site.catalog)
                let i = try await register.incident(reference)
                guard let c = try await site.catalog.camera(named: cameraName) else {
                    throw VigilError(.notFound, "no camera named \(cameraName)")
                }
                let atMicros = try at.map { try IncidentCommand.time($0, "--at") } ?? i.observedMicros
                _ = try await register.snapshotTarget(incidentID: i.id, cameraID: c.id, atMicros: atMicros)
                let still = try await Stills(catalog: site.catalog, store: site.store).still(
                    cameraID: c.id, atMicros: atMicros, nowMicros: now)
                let who = site.commandLineEntry(.incidentSnapshot, camera: c, detail: "")
                return try await site.audit.append(
                    with: {
                        try await register.addSnapshot(
                            incidentID: i.id, cameraID: c.id, askedMicros: atMicros, requestedMicros: now, frameMicros: still.frameMicros,
                            jpeg: still.jpeg,
                            width: still.width, height: still.height, sha256: still.sha256, by: author, nowMicros: now)
                    },
                    entry: {
                        var e = who
                        e.detail =
                            "incident \(i.number) (id \(i.id)): picture \($0.id) of camera \(c.id), frame at "
                            + "\(iso8601(micros: $0.frameMicros)) (asked \(iso8601(micros: atMicros))), \($0.width)x\($0.height), sha256 \($0.sha256)"
                        return e
                    }
                ).1
            }
            say(
                "picture \(added.id): \(cameraName) at \(iso8601(micros: added.frameMicros)), \(added.width)x\(added.height), sha256 \(added.sha256)"
            )
        }
    }

    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove the personal data of incidents past their retention now (vigil serve does it hourly).")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "Days an incident keeps its personal data: give the server's incidentRetentionDays (default 365).")
        var days: Int

        func validate() throws {
            guard IncidentRules.retentionDays.contains(days) else { throw ValidationError("--days is 30 to 3650") }
        }

        func run() async throws {
            let days = self.days, who = IncidentCommand.author().name
            let removed = try await CameraCommand.onSite(dataOptions) { site in
                try await IncidentCommand.removePersonalData(
                    audit: site.audit, register: IncidentRegister(catalog: site.catalog), days: days, by: who)
            }
            say("personal data removed from \(removed.count) incident(s) observed more than \(days) days ago")
        }
    }

    /// Removes the personal data of incidents past `days`, if any, in one transaction with
    /// its audit entry (none is written when there is nothing to remove).
    static func removePersonalData(audit: AuditTrail, register: IncidentRegister, days: Int, by who: String) async throws -> [Int64] {
        let now = WallClock.system.nowMicros()
        guard try await register.personalDataIsDue(retentionDays: days, nowMicros: now) else { return [] }
        return try await audit.append(
            with: { try await register.removePersonalData(retentionDays: days, nowMicros: now) },
            entry: { ids in
                AuditEntry(
                    action: .incidentRetention, result: .ok, user: who,
                    detail: "personal data removed from \(ids.count) incident(s) observed before "
                        + "\(iso8601(micros: now - Int64(days) * 86_400_000_000)) (retention \(days) days): ids "
                        + ids.prefix(50).map(String.init).joined(separator: ", ") + (ids.count > 50 ? ", …" : ""))
            }
        ).1
    }

    struct Categories: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the incident categories (key, group, name).")
        @OptionGroup var dataOptions: DataOptions

        func run() async throws {
            let list = try await CameraCommand.onSite(dataOptions) { try await IncidentRegister(catalog: $0.catalog).categories() }
            for c in list { say("\(c.key)\t\(c.group)\t\(c.name)\(c.retired ? " (retired)" : "")") }
        }
    }

    static func change(_ dataOptions: DataOptions, _ reference: String, _ change: IncidentChange) async throws -> IncidentRecord {
        let author = Self.author(), now = WallClock.system.nowMicros()
        return try await CameraCommand.onSite(dataOptions) { site in
            let register = IncidentRegister(catalog: site.catalog)
            let i = try await register.incident(reference)
            let entry = site.commandLineEntry(
                .incidentUpdate, camera: nil,
                detail: "incident \(i.number) (id \(i.id)): " + change.fields.joined(separator: ", ")
                    + (change.status.map { " → \($0.rawValue)" } ?? ""))
            let desk = DispatchDesk(catalog: site.catalog, keys: site.keys)
            return try await site.audit.append(entry) { try await desk.update(id: i.id, change, by: author, nowMicros: now) }.1
        }
    }
}
