import Base
import Catalog
import Foundation
import Records

/// Where an incident stands. It moves forward only (a step may be skipped: a patrol that
/// is already there is on scene at once), and any status but closed may be closed.
public enum IncidentStatus: String, CaseIterable, Sendable, Codable {
    case open, notified, acknowledged
    case onScene = "on-scene"
    case closed

    /// The status named `text`, or an error that lists them.
    public init(parsing text: String) throws {
        guard let s = IncidentStatus(rawValue: text) else {
            throw VigilError(.invalid, "status is one of \(IncidentStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = s
    }

    /// Whether an incident in this status may move to `next`.
    public func mayMove(to next: IncidentStatus) -> Bool {
        guard self != .closed, next != self else { return false }
        return next == .closed || Self.allCases.firstIndex(of: next)! > Self.allCases.firstIndex(of: self)!
    }

    public var words: String {
        switch self {
        case .open: "open"
        case .notified: "services notified"
        case .acknowledged: "acknowledged by the service"
        case .onScene: "service on scene"
        case .closed: "closed"
        }
    }
}

/// Who writes to the register.
public struct IncidentAuthor: Sendable {
    public var userID: Int64?
    public var name: String

    public init(userID: Int64?, name: String) {
        self.userID = userID
        self.name = name
    }
}

/// What an operator reports.
public struct IncidentReport: Sendable {
    public var categoryID: Int64
    public var priority: Int
    public var observedMicros: Int64
    public var cameras: [IncidentCameraRecord]
    public var location: String?
    public var address: String
    public var latitude: Double?
    public var longitude: Double?
    public var description: String

    public init(
        categoryID: Int64, priority: Int = 3, observedMicros: Int64, cameras: [IncidentCameraRecord] = [], location: String? = nil,
        address: String = "", latitude: Double? = nil, longitude: Double? = nil, description: String
    ) {
        self.categoryID = categoryID
        self.priority = priority
        self.observedMicros = observedMicros
        self.cameras = cameras
        self.location = location
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
        self.description = description
    }
}

/// A change to an incident: any of its details, its status, and a note for its timeline.
public struct IncidentChange: Sendable {
    public var categoryID: Int64?
    public var priority: Int?
    public var location: String?
    public var address: String?
    public var description: String?
    public var status: IncidentStatus?
    public var note: String?

    public init(
        categoryID: Int64? = nil, priority: Int? = nil, location: String? = nil, address: String? = nil, description: String? = nil,
        status: IncidentStatus? = nil, note: String? = nil
    ) {
        self.categoryID = categoryID
        self.priority = priority
        self.location = location
        self.address = address
        self.description = description
        self.status = status
        self.note = note
    }

    /// Names of the fields given (never their text: the audit entry names only these).
    public var fields: [String] {
        [
            ("category", categoryID != nil), ("priority", priority != nil), ("location", location != nil), ("address", address != nil),
            ("description", description != nil), ("status", status != nil), ("note", note != nil)
        ].filter(\.1).map(\.0)
    }
}

/// The register's limits.
public enum IncidentRules {
    /// Cameras one incident may name, and the longest range on one.
    public static let maximumCameras = 16
    public static let longestRangeMicros: Int64 = Catalog.longestIncidentRange
    /// How far back an incident may be reported as observed (the footage's legal retention),
    /// and how far ahead of the server's clock a station's may run.
    public static let oldestObservedMicros: Int64 = 90 * 86_400_000_000
    public static let clockSkewMicros: Int64 = 5 * 60_000_000
    public static let priorities = 1...3
    /// How long an incident keeps its personal data (`vigil serve`'s `incidentRetentionDays`):
    /// a year by default, enough for the year's report; the figures outlive it.
    public static let defaultRetentionDays = 365
    public static let retentionDays = 30...3650
    /// Requests to secure footage one person may have waiting at once (each holds up to
    /// 16 cameras × 24 hours until an investigator decides).
    public static let pendingRequestsPerPerson = 20
    public static let groups = ["safety", "public-order", "other"]
    /// Pictures one incident may keep, and how many a report may ask for at once.
    public static let maximumSnapshots = 8
    public static let snapshotsInAReport = 4
    public static let largestSnapshotBytes = 4 << 20

    static func checkText(location: String?, address: String?, description: String?, note: String?) throws {
        if let description { try TextField.check(description, "an incident's description", maximum: 4000, multiline: true) }
        if let location { try TextField.check(location, "an incident's place", maximum: 200, required: false) }
        if let address { try TextField.check(address, "an incident's address", maximum: 200, required: false) }
        if let note { try TextField.check(note, "a note", maximum: 4000, multiline: true) }
    }

    static func checkPriority(_ p: Int) throws {
        guard priorities.contains(p) else { throw VigilError(.invalid, "priority is 1 (urgent), 2 (high) or 3 (normal), not \(p)") }
    }
}

/// The incident register. Its writes are catalog writes only: the server and `vigil
/// incident` run each inside `AuditTrail.append(with:entry:)`, stored with its entry.
public struct IncidentRegister: Sendable {
    /// Package-wide, for Dispatching, whose outbox rows are written beside the register's.
    package let catalog: Catalog

    public init(catalog: Catalog) {
        self.catalog = catalog
    }

    // MARK: Categories

    public func categories() async throws -> [IncidentCategoryRecord] { try await catalog.incidentCategories() }

    /// Category `id`, retired or not; nil if there is none.
    public func category(id: Int64) async throws -> IncidentCategoryRecord? { try await categories().first { $0.id == id } }

    public func addCategory(key: String, name: String, group: String) async throws -> IncidentCategoryRecord {
        guard (1...40).contains(key.utf8.count),
            key.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D })
        else { throw VigilError(.invalid, "a category's key is 1-40 lower-case letters, digits and '-'") }
        try TextField.check(name, "a category's name", maximum: 100)
        guard IncidentRules.groups.contains(group) else {
            throw VigilError(.invalid, "a category's group is one of \(IncidentRules.groups.joined(separator: ", "))")
        }
        let existing = try await catalog.incidentCategories()
        if let same = existing.first(where: { $0.key == key }) {
            throw VigilError(.conflict, "category \(key) exists already (\(same.name)\(same.retired ? ", retired" : ""))")
        }
        return try await catalog.addIncidentCategory(IncidentCategoryRecord(id: 0, key: key, name: name, group: group))
    }

    /// Renames, regroups, retires (no longer offered for new incidents) or brings back category `id`.
    public func changeCategory(id: Int64, name: String?, group: String?, retired: Bool?) async throws -> IncidentCategoryRecord {
        guard var c = try await category(id: id) else {
            throw VigilError(.notFound, "no such incident category")
        }
        if let name {
            try TextField.check(name, "a category's name", maximum: 100)
            c.name = name
        }
        if let group {
            guard IncidentRules.groups.contains(group) else {
                throw VigilError(.invalid, "a category's group is one of \(IncidentRules.groups.joined(separator: ", "))")
            }
            c.group = group
        }
        if let retired { c.retired = retired }
        try await catalog.updateIncidentCategory(c)
        return c
    }

    /// Deletes category `id`, which no incident may use: one in use is retired instead.
    public func deleteCategory(id: Int64) async throws -> IncidentCategoryRecord {
        guard let c = try await category(id: id) else {
            throw VigilError(.notFound, "no such incident category")
        }
        let used = try await catalog.incidentCount(categoryID: id)
        guard used == 0, try await catalog.deleteUnusedIncidentCategory(id: id) else {
            throw VigilError(.conflict, "category \(c.key) is used by \(used) incidents: retire it instead (it is never deleted)")
        }
        return c
    }

    // MARK: Incidents

    /// Files a report: checked against the rules, its place the first camera's location
    /// unless given, status open.
    public func report(_ r: IncidentReport, by author: IncidentAuthor, nowMicros: Int64) async throws -> IncidentRecord {
        try IncidentRules.checkPriority(r.priority)
        try IncidentRules.checkText(location: r.location, address: r.address, description: r.description, note: nil)
        guard r.observedMicros <= nowMicros + IncidentRules.clockSkewMicros else {
            throw VigilError(.invalid, "an incident cannot be observed in the future (\(iso8601(micros: r.observedMicros)))")
        }
        guard r.observedMicros >= nowMicros - IncidentRules.oldestObservedMicros else {
            throw VigilError(.invalid, "an incident observed more than 90 days ago cannot be reported: its footage is gone")
        }
        if let lat = r.latitude, !(-90...90).contains(lat) { throw VigilError(.invalid, "latitude must be -90...90") }
        if let lon = r.longitude, !(-180...180).contains(lon) { throw VigilError(.invalid, "longitude must be -180...180") }
        guard let category = try await category(id: r.categoryID) else {
            throw VigilError(.invalid, "there is no incident category \(r.categoryID)")
        }
        guard !category.retired else { throw VigilError(.invalid, "category \(category.name) is retired: choose another") }
        guard r.cameras.count <= IncidentRules.maximumCameras else {
            throw VigilError(.invalid, "an incident names at most \(IncidentRules.maximumCameras) cameras")
        }
        var firstLocation: String?
        for c in r.cameras {
            guard c.fromMicros < c.toMicros, c.toMicros - c.fromMicros <= IncidentRules.longestRangeMicros else {
                throw VigilError(.invalid, "a camera's range must start before it ends and last at most 24 hours")
            }
            guard let camera = try await catalog.camera(id: c.cameraID), camera.removedMicros == nil else {
                throw VigilError(.invalid, "there is no camera \(c.cameraID) in use")
            }
            firstLocation = firstLocation ?? camera.location
        }
        var incident = IncidentRecord(
            id: 0, number: "", categoryID: category.id, priority: r.priority, observedMicros: r.observedMicros, reportedMicros: nowMicros,
            reporterID: author.userID, reporterName: author.name, description: r.description, status: IncidentStatus.open.rawValue,
            cameras: r.cameras)
        incident.location = r.location ?? firstLocation ?? ""
        incident.address = r.address
        incident.latitude = r.latitude
        incident.longitude = r.longitude
        let first = IncidentUpdateRecord(
            id: 0, incidentID: 0, atMicros: nowMicros, userID: author.userID, userName: author.name, kind: "reported",
            status: IncidentStatus.open.rawValue, text: "reported as \(category.name)")
        return try await catalog.addIncident(incident, firstUpdate: first)
    }

    public func incident(id: Int64) async throws -> IncidentRecord {
        guard let i = try await catalog.incident(id: id) else { throw VigilError(.notFound, "no such incident") }
        return i
    }

    /// An incident by its id, or by its number (`2026/17`).
    public func incident(_ reference: String) async throws -> IncidentRecord {
        if reference.contains("/") {
            guard let i = try await catalog.incident(number: reference) else { throw VigilError(.notFound, "no incident \(reference)") }
            return i
        }
        guard let id = Int64(reference) else { throw VigilError(.invalid, "an incident is named by its id or its number (2026/17)") }
        return try await incident(id: id)
    }

    public func updates(incidentID id: Int64) async throws -> [IncidentUpdateRecord] { try await catalog.incidentUpdates(incidentID: id) }

    public func list(from: Int64, to: Int64, status: IncidentStatus? = nil, cameraID: Int64? = nil, limit: Int = 1000) async throws
        -> [IncidentRecord]
    {
        guard from < to else { throw VigilError(.invalid, "the period must start before it ends") }
        return try await catalog.incidents(from: from, to: to, status: status?.rawValue, cameraID: cameraID, limit: limit)
    }

    /// A list's audit detail: how many, the period, what it was filtered by, and the first 50
    /// numbers (never a word of them).
    public static func listDetail(_ list: [IncidentRecord], from: Int64, to: Int64, cameraID: Int64? = nil, status: IncidentStatus? = nil)
        -> String
    {
        "list of \(list.count) incidents, \(iso8601(micros: from)) to \(iso8601(micros: to))"
            + (cameraID.map { " on camera \($0)" } ?? "") + (status.map { ", \($0.rawValue)" } ?? "")
            + (list.isEmpty ? "" : ": " + list.prefix(50).map(\.number).joined(separator: " ") + (list.count > 50 ? " …" : ""))
    }

    /// Applies `change` to incident `id` as it is now: each field changed, the status moved
    /// forward (or closed), and a line on its timeline for each.
    public func update(id: Int64, _ change: IncidentChange, by author: IncidentAuthor, nowMicros: Int64) async throws -> IncidentRecord {
        guard !change.fields.isEmpty else { throw VigilError(.invalid, "say what changes: a status, a note or a detail") }
        try IncidentRules.checkText(location: change.location, address: change.address, description: change.description, note: change.note)
        if let p = change.priority { try IncidentRules.checkPriority(p) }
        var i = try await incident(id: id)
        if let removed = i.anonymisedMicros {
            throw VigilError(
                .conflict,
                "incident \(i.number)'s personal data was removed on \(iso8601(micros: removed)) at the end of its retention: it takes no changes"
            )
        }
        let current = IncidentStatus(rawValue: i.status) ?? .open
        let details = change.fields.filter { !["status", "note"].contains($0) }
        if current == .closed, !details.isEmpty || change.status != nil {
            throw VigilError(.conflict, "incident \(i.number) is closed: only notes may be added")
        }
        if let categoryID = change.categoryID, categoryID != i.categoryID {
            guard let category = try await category(id: categoryID), !category.retired else {
                throw VigilError(.invalid, "there is no incident category \(categoryID) in use")
            }
            i.categoryID = categoryID
        }
        if let p = change.priority { i.priority = p }
        if let location = change.location { i.location = location }
        if let address = change.address { i.address = address }
        // A description replaced is gone: correcting personal data (a name written by mistake)
        // must not keep it. The timeline says that it was changed, by whom and when.
        if let description = change.description { i.description = description }
        if let next = change.status {
            guard current.mayMove(to: next) else {
                throw VigilError(.conflict, "incident \(i.number) is \(current.words): it cannot become \(next.words)")
            }
            i.status = next.rawValue
            i.statusMicros = nowMicros
        }
        try await catalog.updateIncident(i)
        if !details.isEmpty {
            try await catalog.addIncidentUpdate(
                IncidentUpdateRecord(
                    id: 0, incidentID: id, atMicros: nowMicros, userID: author.userID, userName: author.name, kind: "edit",
                    text: "changed " + details.joined(separator: ", ")))
        }
        if let next = change.status {
            try await catalog.addIncidentUpdate(
                IncidentUpdateRecord(
                    id: 0, incidentID: id, atMicros: nowMicros, userID: author.userID, userName: author.name, kind: "status",
                    status: next.rawValue, text: next.words))
        }
        if let note = change.note {
            try await catalog.addIncidentUpdate(
                IncidentUpdateRecord(
                    id: 0, incidentID: id, atMicros: nowMicros, userID: author.userID, userName: author.name, kind: "note", text: note))
        }
        return i
    }

    /// Removes the personal data of the incidents observed more than `retentionDays` ago
    /// (`Catalog.anonymiseIncidents`); returns their ids. Catalog writes only: run it inside
    /// the audit trail's transaction with the entry that records it.
    public func removePersonalData(retentionDays: Int, nowMicros: Int64) async throws -> [Int64] {
        guard IncidentRules.retentionDays.contains(retentionDays) else {
            throw VigilError(.invalid, "incidents keep their personal data 30 to 3650 days, not \(retentionDays)")
        }
        return try await catalog.anonymiseIncidents(
            observedBefore: nowMicros - Int64(retentionDays) * 86_400_000_000, nowMicros: nowMicros)
    }

    /// Whether any incident observed more than `retentionDays` ago still holds personal data.
    public func personalDataIsDue(retentionDays: Int, nowMicros: Int64) async throws -> Bool {
        try await catalog.incidentsHoldingPersonalData(observedBefore: nowMicros - Int64(retentionDays) * 86_400_000_000) > 0
    }

    // MARK: Snapshots

    /// The incident a picture of camera `cameraID` at `atMicros` may be added to: one whose
    /// personal data is kept, that names the camera for a range holding the moment, and that
    /// has room for another. Checked before a picture is made, and again as it is stored.
    public func snapshotTarget(incidentID: Int64, cameraID: Int64, atMicros: Int64) async throws -> IncidentRecord {
        let i = try await incident(id: incidentID)
        guard i.anonymisedMicros == nil else {
            throw VigilError(
                .conflict, "incident \(i.number)'s personal data was removed at the end of its retention: it takes no pictures")
        }
        let ranges = i.cameras.filter { $0.cameraID == cameraID }
        guard !ranges.isEmpty else {
            throw VigilError(.invalid, "incident \(i.number) does not name camera \(cameraID): a picture is of one of its cameras")
        }
        guard ranges.contains(where: { $0.fromMicros <= atMicros && atMicros < $0.toMicros }) else {
            throw VigilError(
                .invalid,
                "\(iso8601(micros: atMicros)) is outside incident \(i.number)'s range on camera \(cameraID) "
                    + ranges.map { "(\(iso8601(micros: $0.fromMicros)) to \(iso8601(micros: $0.toMicros)))" }.joined(separator: ", "))
        }
        let kept = try await catalog.incidentSnapshots(incidentID: incidentID).count
        guard kept < IncidentRules.maximumSnapshots else {
            throw VigilError(.conflict, "incident \(i.number) has \(kept) pictures: at most \(IncidentRules.maximumSnapshots)")
        }
        return i
    }

    /// Stores a picture made from camera `cameraID`'s recording (Centre's `Stills`) with the
    /// incident, and a line on its timeline. Catalog writes only: run it inside the audit
    /// trail's transaction with the entry that records it.
    public func addSnapshot(
        incidentID: Int64, cameraID: Int64, askedMicros: Int64, requestedMicros: Int64, frameMicros: Int64, jpeg: [UInt8], width: Int,
        height: Int, sha256: String, by author: IncidentAuthor, nowMicros: Int64
    ) async throws -> IncidentSnapshotRecord {
        _ = try await snapshotTarget(incidentID: incidentID, cameraID: cameraID, atMicros: askedMicros)
        guard !jpeg.isEmpty, jpeg.count <= IncidentRules.largestSnapshotBytes, width > 0, height > 0 else {
            throw VigilError(.invalid, "a picture is a JPEG of at most \(IncidentRules.largestSnapshotBytes) bytes")
        }
        let added = try await catalog.addIncidentSnapshot(
            IncidentSnapshotRecord(
                id: 0, incidentID: incidentID, cameraID: cameraID, askedMicros: askedMicros, frameMicros: frameMicros,
                requestedMicros: requestedMicros, takenMicros: nowMicros,
                takenBy: author.name, takenByUserID: author.userID, width: width, height: height, bytes: jpeg.count, sha256: sha256),
            jpeg: jpeg)
        let name = try await catalog.camera(id: cameraID)?.name ?? "camera \(cameraID)"
        try await catalog.addIncidentUpdate(
            IncidentUpdateRecord(
                id: 0, incidentID: incidentID, atMicros: nowMicros, userID: author.userID, userName: author.name, kind: "snapshot",
                text: "picture \(added.id) of \(name) at \(iso8601(micros: frameMicros)) from its recording"))
        return added
    }

    /// Records on the timeline that a picture asked for could not be made (the report stands).
    public func noteSnapshotMissing(
        incidentID: Int64, cameraID: Int64, atMicros: Int64, reason: String, by author: IncidentAuthor, nowMicros: Int64
    )
        async throws
    {
        let name = try await catalog.camera(id: cameraID)?.name ?? "camera \(cameraID)"
        _ = try await catalog.addIncidentUpdate(
            IncidentUpdateRecord(
                id: 0, incidentID: incidentID, atMicros: nowMicros, userID: author.userID, userName: author.name, kind: "snapshot",
                text: "no picture of \(name) at \(iso8601(micros: atMicros)): \(String(reason.prefix(300)))"))
    }

    public func snapshots(incidentID: Int64) async throws -> [IncidentSnapshotRecord] {
        try await catalog.incidentSnapshots(incidentID: incidentID)
    }

    public func snapshotJPEG(id: Int64, incidentID: Int64) async throws -> [UInt8]? {
        try await catalog.incidentSnapshotJPEG(id: id, incidentID: incidentID)
    }

    // MARK: Exhibit requests

    /// Asks that incident `id`'s footage (its cameras and ranges) be secured as an exhibit:
    /// held from now on like an exhibit's until an investigator decides. One request at a
    /// time per incident. Catalog writes only: run it inside the audit trail's transaction.
    public func requestExhibit(incidentID id: Int64, reason: String, by author: IncidentAuthor, nowMicros: Int64) async throws
        -> ExhibitRequestRecord
    {
        try TextField.check(reason, "a request's reason", maximum: 1000)
        let i = try await incident(id: id)
        guard i.anonymisedMicros == nil else {
            throw VigilError(.conflict, "incident \(i.number)'s personal data was removed at the end of its retention: it takes no request")
        }
        guard !i.cameras.isEmpty else {
            throw VigilError(.invalid, "incident \(i.number) names no camera: there is no footage to secure")
        }
        let earlier = try await catalog.exhibitRequests(incidentID: id)
        if let refused = earlier.last(where: { $0.outcome == "refused" }) {
            throw VigilError(
                .conflict,
                "incident \(i.number)'s request was refused by \(refused.decidedBy ?? "an investigator"): \(refused.refusal ?? ""); "
                    + "a second request is not the way to overrule it")
        }
        let mine = try await catalog.exhibitRequests(pendingOnly: true).filter { $0.requestedBy == author.name }
        guard mine.count < IncidentRules.pendingRequestsPerPerson else {
            throw VigilError(
                .conflict, "you have \(mine.count) requests waiting for an investigator already: the footage they hold is enough for now")
        }
        if let pending = try await catalog.exhibitRequests(incidentID: id, pendingOnly: true).first {
            throw VigilError(
                .conflict,
                "incident \(i.number)'s footage was asked for by \(pending.requestedBy) at \(iso8601(micros: pending.requestedMicros)) already"
            )
        }
        return try await catalog.addExhibitRequest(
            ExhibitRequestRecord(
                id: 0, incidentID: id, requestedMicros: nowMicros, requestedBy: author.name, requestedByUserID: author.userID,
                reason: reason))
    }

    public func exhibitRequests(incidentID: Int64) async throws -> [ExhibitRequestRecord] {
        try await catalog.exhibitRequests(incidentID: incidentID)
    }

    public func exhibitRequest(id: Int64) async throws -> ExhibitRequestRecord? { try await catalog.exhibitRequests(id: id).first }

    /// The requests not yet decided, oldest first.
    public func pendingExhibitRequests() async throws -> [ExhibitRequestRecord] { try await catalog.exhibitRequests(pendingOnly: true) }

    /// Decides request `id`: registered as `exhibit` (which the caller has checked exists), or
    /// refused for `refusal`. Either way its own hold ends (an exhibit holds by itself).
    public func decideExhibitRequest(id: Int64, exhibit: String?, refusal: String?, by who: String, nowMicros: Int64) async throws
        -> ExhibitRequestRecord
    {
        guard (exhibit == nil) != (refusal == nil) else { throw VigilError(.invalid, "give either the exhibit registered or a refusal") }
        if let refusal { try TextField.check(refusal, "a refusal's reason", maximum: 1000) }
        guard let q = try await catalog.exhibitRequests(id: id).first else {
            throw VigilError(.notFound, "no such exhibit request")
        }
        guard
            try await catalog.decideExhibitRequest(
                id: id, outcome: exhibit == nil ? "refused" : "registered", exhibit: exhibit, refusal: refusal, by: who, atMicros: nowMicros
            )
        else {
            throw VigilError(.conflict, "the request was decided already by \(q.decidedBy ?? "someone") (\(q.outcome ?? "?"))")
        }
        return try await catalog.exhibitRequests(id: id).first ?? q
    }
}
