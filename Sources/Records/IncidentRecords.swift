// The incident register's rows (Catalog's IncidentTables; the Incidents module's
// `IncidentRegister` writes them): the city's categories, each incident with the cameras
// and time ranges that show it, and the timeline of what happened to it. Personal data:
// kept for the site's period, every read and change audited.

/// A category of incident, as the city lists them. Data, not code: administrators add
/// categories, and one in use is retired (no longer offered), never deleted.
public struct IncidentCategoryRecord: Sendable, Equatable, Codable {
    public var id: Int64
    /// A stable name for scripts and statistics (`violence`, `littering`).
    public var key: String
    public var name: String
    /// `safety`, `public-order` or `other`: the city's two goals, and the rest.
    public var group: String
    public var retired: Bool

    public init(id: Int64, key: String, name: String, group: String, retired: Bool = false) {
        self.id = id
        self.key = key
        self.name = name
        self.group = group
        self.retired = retired
    }
}

/// A camera that shows an incident, over a time range (a bookmark on its timeline), with
/// where the camera pointed when the incident was reported (confidential like every
/// position: supervisors only).
public struct IncidentCameraRecord: Sendable, Equatable, Codable {
    public var cameraID: Int64
    public var fromMicros: Int64
    public var toMicros: Int64
    public var pan: Double?
    public var tilt: Double?
    public var zoom: Double?

    public init(cameraID: Int64, fromMicros: Int64, toMicros: Int64, pan: Double? = nil, tilt: Double? = nil, zoom: Double? = nil) {
        self.cameraID = cameraID
        self.fromMicros = fromMicros
        self.toMicros = toMicros
        self.pan = pan
        self.tilt = tilt
        self.zoom = zoom
    }
}

public struct IncidentRecord: Sendable, Equatable, Codable {
    public var id: Int64
    /// `YYYY/N`: the year it was reported and its place among that year's incidents.
    public var number: String
    public var categoryID: Int64
    /// 1 urgent, 2 high, 3 normal.
    public var priority: Int
    /// When the operator saw it happen, and when it was reported.
    public var observedMicros: Int64
    public var reportedMicros: Int64
    public var reporterID: Int64?
    public var reporterName: String
    /// The place: the camera's location by default, an address, a map point.
    public var location: String
    public var address: String
    public var latitude: Double?
    public var longitude: Double?
    public var description: String
    /// `open`, `notified`, `acknowledged`, `on-scene`, `closed`, and since when.
    public var status: String
    public var statusMicros: Int64
    /// When its personal data (description, reporter, address, map point, notes) was removed
    /// at the end of its retention; the rest stays for the city's figures.
    public var anonymisedMicros: Int64?
    public var cameras: [IncidentCameraRecord]

    public init(
        id: Int64, number: String, categoryID: Int64, priority: Int, observedMicros: Int64, reportedMicros: Int64, reporterID: Int64?,
        reporterName: String, description: String, status: String, cameras: [IncidentCameraRecord] = []
    ) {
        self.id = id
        self.number = number
        self.categoryID = categoryID
        self.priority = priority
        self.observedMicros = observedMicros
        self.reportedMicros = reportedMicros
        self.reporterID = reporterID
        self.reporterName = reporterName
        self.location = ""
        self.address = ""
        self.description = description
        self.status = status
        self.statusMicros = reportedMicros
        self.cameras = cameras
    }
}

/// One line of an incident's timeline: its report, each change of status, each note.
public struct IncidentUpdateRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var incidentID: Int64
    public var atMicros: Int64
    public var userID: Int64?
    public var userName: String
    /// `reported`, `edit` (which details changed), `status`, `note` or `snapshot` (a picture
    /// added, or one asked for that could not be made).
    public var kind: String
    /// The status it moved to (kind `status`).
    public var status: String?
    public var text: String

    public init(
        id: Int64, incidentID: Int64, atMicros: Int64, userID: Int64?, userName: String, kind: String, status: String? = nil,
        text: String
    ) {
        self.id = id
        self.incidentID = incidentID
        self.atMicros = atMicros
        self.userID = userID
        self.userName = userName
        self.kind = kind
        self.status = status
        self.text = text
    }
}

/// What the city's figures need of one incident, and nothing personal: its category,
/// priority, times, status, the area of its first camera, and when the services were first
/// notified and first acknowledged it (its first status change to those or beyond).
public struct IncidentFigureRow: Sendable, Equatable {
    public var categoryID: Int64
    public var priority: Int
    public var observedMicros: Int64
    public var reportedMicros: Int64
    public var status: String
    public var area: String?
    public var notifiedMicros: Int64?
    public var acknowledgedMicros: Int64?

    public init(
        categoryID: Int64, priority: Int, observedMicros: Int64, reportedMicros: Int64, status: String, area: String? = nil,
        notifiedMicros: Int64? = nil, acknowledgedMicros: Int64? = nil
    ) {
        self.categoryID = categoryID
        self.priority = priority
        self.observedMicros = observedMicros
        self.reportedMicros = reportedMicros
        self.status = status
        self.area = area
        self.notifiedMicros = notifiedMicros
        self.acknowledgedMicros = acknowledgedMicros
    }
}

/// One recipient told of one incident's report, for the figures: when the report was filed,
/// delivered to it and acknowledged by it. No person, no words.
public struct IncidentRecipientFigureRow: Sendable, Equatable {
    public var key: String
    public var name: String
    public var reportedMicros: Int64
    public var deliveredMicros: Int64?
    public var acknowledgedMicros: Int64?

    public init(key: String, name: String, reportedMicros: Int64, deliveredMicros: Int64? = nil, acknowledgedMicros: Int64? = nil) {
        self.key = key
        self.name = name
        self.reportedMicros = reportedMicros
        self.deliveredMicros = deliveredMicros
        self.acknowledgedMicros = acknowledgedMicros
    }
}

/// A request, from an incident, to secure its footage as an exhibit: made by the operator
/// team, decided by an investigator (registered as an exhibit under the evidence register's
/// rules, or refused with a reason). Until it is decided, the footage of the incident's
/// cameras and ranges is held like an exhibit's.
public struct ExhibitRequestRecord: Sendable, Equatable {
    public var id: Int64
    public var incidentID: Int64
    public var requestedMicros: Int64
    public var requestedBy: String
    public var requestedByUserID: Int64?
    public var reason: String
    public var decidedMicros: Int64?
    public var decidedBy: String?
    /// `registered` or `refused`.
    public var outcome: String?
    /// The exhibit's number, when registered.
    public var exhibit: String?
    /// Why it was refused.
    public var refusal: String?

    public init(id: Int64, incidentID: Int64, requestedMicros: Int64, requestedBy: String, requestedByUserID: Int64?, reason: String) {
        self.id = id
        self.incidentID = incidentID
        self.requestedMicros = requestedMicros
        self.requestedBy = requestedBy
        self.requestedByUserID = requestedByUserID
        self.reason = reason
    }
}

/// A picture of one of an incident's cameras, decoded by ffmpeg from the camera's own
/// recording at `frameMicros` (the recorded frame shown, at or just before the moment asked
/// for): its JPEG lives in the catalog beside the incident and goes with it at the end of
/// its retention.
public struct IncidentSnapshotRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var incidentID: Int64
    public var cameraID: Int64
    /// The moment asked for, and the recorded frame's own start (UTC µs).
    public var askedMicros: Int64
    public var frameMicros: Int64
    /// When it was asked for (which decides who may see it), and when it was made.
    public var requestedMicros: Int64
    public var takenMicros: Int64
    public var takenBy: String
    public var takenByUserID: Int64?
    public var width: Int
    public var height: Int
    public var bytes: Int
    /// The JPEG's SHA-256 (hex), as its audit entry names it.
    public var sha256: String

    public init(
        id: Int64, incidentID: Int64, cameraID: Int64, askedMicros: Int64, frameMicros: Int64, requestedMicros: Int64, takenMicros: Int64,
        takenBy: String, takenByUserID: Int64?, width: Int, height: Int, bytes: Int, sha256: String
    ) {
        self.id = id
        self.incidentID = incidentID
        self.cameraID = cameraID
        self.askedMicros = askedMicros
        self.frameMicros = frameMicros
        self.requestedMicros = requestedMicros
        self.takenMicros = takenMicros
        self.takenBy = takenBy
        self.takenByUserID = takenByUserID
        self.width = width
        self.height = height
        self.bytes = bytes
        self.sha256 = sha256
    }
}
