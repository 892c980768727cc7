// The incident register (migration 11): the city's categories (seeded here; data from then
// on), the incidents, the cameras and time ranges that show each, and each incident's
// timeline of updates.

import Base
import Foundation
import Records
import SQLKit

extension Catalog {
    /// The categories as the city's page lists them (../shared/mission): safety, public
    /// order, and other.
    static let cityCategories: [(key: String, name: String, group: String)] = [
        ("violence", "Physical violence or other aggression", "safety"),
        ("unsupervised-minor", "Minor without supervision", "safety"),
        ("person-in-need", "Person lying, or needing help", "safety"),
        ("theft-or-damage", "Theft or destruction of property", "safety"),
        ("road-hazard", "Hazard to road users", "safety"),
        ("public-place-rules", "Breach of rules in public places (alcohol, animals)", "public-order"),
        ("littering", "Littering or polluting a public place", "public-order"),
        ("cleanliness-neglect", "Neglect of order and cleanliness by municipal services or others", "public-order"),
        ("infrastructure", "Infrastructure failure, road-sign fault, traffic incident", "public-order"),
        ("other", "Other", "other")
    ]

    static func migrateToIncidentRetentionAndRequests(_ db: any SQLDatabase) async throws {
        try await db.raw("ALTER TABLE incidents ADD COLUMN anonymised_micros BIGINT").run()
        try await db.create(table: "incident_exhibit_requests")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("incident_id", type: .bigint, .notNull, .references("incidents", "id"))
            .column("requested_micros", type: .bigint, .notNull)
            .column("requested_by", type: .text, .notNull)
            .column("requested_by_user_id", type: .bigint, .references("users", "id"))
            .column("reason", type: .text, .notNull)
            .column("decided_micros", type: .bigint)
            .column("decided_by", type: .text)
            .column("outcome", type: .text)
            .column("exhibit", type: .text)
            .column("refusal", type: .text)
            .run()
        try await db.raw(
            "CREATE INDEX incident_exhibit_requests_pending ON incident_exhibit_requests (incident_id) WHERE decided_micros IS NULL"
        )
        .run()
    }

    static func migrateToIncidentSnapshots(_ db: any SQLDatabase) async throws {
        try await db.create(table: "incident_snapshots")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("incident_id", type: .bigint, .notNull, .references("incidents", "id"))
            .column("camera_id", type: .bigint, .notNull, .references("cameras", "id"))
            .column("asked_micros", type: .bigint, .notNull)
            .column("frame_micros", type: .bigint, .notNull)
            .column("requested_micros", type: .bigint, .notNull)
            .column("taken_micros", type: .bigint, .notNull)
            .column("taken_by", type: .text, .notNull)
            .column("taken_by_user_id", type: .bigint, .references("users", "id"))
            .column("width", type: .int, .notNull)
            .column("height", type: .int, .notNull)
            .column("bytes", type: .int, .notNull)
            .column("sha256", type: .text, .notNull)
            .column("jpeg", type: .blob, .notNull)
            .run()
        try await db.create(index: "incident_snapshots_by_incident").on("incident_snapshots").column("incident_id").run()
    }

    static func migrateToIncidents(_ db: any SQLDatabase) async throws {
        try await db.create(table: "incident_categories")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("key", type: .text, .notNull, .unique)
            .column("name", type: .text, .notNull)
            .column("grp", type: .text, .notNull)
            .column("retired", type: .int, .notNull, .default(0))
            .run()
        for c in cityCategories {
            try await db.raw("INSERT INTO incident_categories (key, name, grp) VALUES (\(bind: c.key), \(bind: c.name), \(bind: c.group))")
                .run()
        }
        try await db.create(table: "incidents")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("number", type: .text, .notNull, .unique)
            .column("category_id", type: .bigint, .notNull, .references("incident_categories", "id"))
            .column("priority", type: .int, .notNull)
            .column("observed_micros", type: .bigint, .notNull)
            .column("reported_micros", type: .bigint, .notNull)
            .column("reporter_id", type: .bigint, .references("users", "id"))
            .column("reporter_name", type: .text, .notNull)
            .column("location", type: .text, .notNull, .default(""))
            .column("address", type: .text, .notNull, .default(""))
            .column("latitude", type: .real)
            .column("longitude", type: .real)
            .column("description", type: .text, .notNull)
            .column("status", type: .text, .notNull)
            .column("status_micros", type: .bigint, .notNull)
            .run()
        try await db.create(index: "incidents_by_observed").on("incidents").column("observed_micros").run()
        // Each year's last number, taken and raised in one statement: a number is never
        // given twice, by two processes or after an incident was deleted.
        try await db.create(table: "incident_numbers")
            .column("year", type: .int, .primaryKey(autoIncrement: false))
            .column("last", type: .int, .notNull)
            .run()
        try await db.create(table: "incident_cameras")
            .column("incident_id", type: .bigint, .notNull, .references("incidents", "id"))
            .column("camera_id", type: .bigint, .notNull, .references("cameras", "id"))
            .column("from_micros", type: .bigint, .notNull)
            .column("to_micros", type: .bigint, .notNull)
            .column("pan", type: .real)
            .column("tilt", type: .real)
            .column("zoom", type: .real)
            .run()
        try await db.create(index: "incident_cameras_by_incident").on("incident_cameras").column("incident_id").run()
        try await db.create(index: "incident_cameras_by_camera").on("incident_cameras").column("camera_id").column("from_micros").run()
        try await db.create(table: "incident_updates")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("incident_id", type: .bigint, .notNull, .references("incidents", "id"))
            .column("at_micros", type: .bigint, .notNull)
            .column("user_id", type: .bigint, .references("users", "id"))
            .column("user_name", type: .text, .notNull)
            .column("kind", type: .text, .notNull)
            .column("status", type: .text)
            .column("text", type: .text, .notNull)
            .run()
        try await db.create(index: "incident_updates_by_incident").on("incident_updates").column("incident_id").run()
    }

    /// The longest range an incident gives a camera (`IncidentRules.longestRangeMicros` is
    /// this): the camera query looks no further back than this before the period.
    public static let longestIncidentRange: Int64 = 24 * 3_600_000_000

    // MARK: Categories

    public func incidentCategories() async throws -> [IncidentCategoryRecord] {
        let rows = try await run("read incident categories") {
            try await database.raw("SELECT * FROM incident_categories ORDER BY id").all()
        }
        return try rows.map {
            IncidentCategoryRecord(
                id: try $0.decode(column: "id", as: Int64.self), key: try $0.decode(column: "key", as: String.self),
                name: try $0.decode(column: "name", as: String.self), group: try $0.decode(column: "grp", as: String.self),
                retired: try $0.decode(column: "retired", as: Int.self) != 0)
        }
    }

    public func addIncidentCategory(_ c: IncidentCategoryRecord) async throws -> IncidentCategoryRecord {
        let rows = try await run("insert incident category \(c.key)") {
            try await database.raw(
                """
                INSERT INTO incident_categories (key, name, grp, retired)
                VALUES (\(bind: c.key), \(bind: c.name), \(bind: c.group), \(bind: c.retired ? 1 : 0)) RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert incident category returned no id")
        }
        var added = c
        added.id = id
        return added
    }

    /// Renames, regroups or retires category `c.id` (its key stays).
    public func updateIncidentCategory(_ c: IncidentCategoryRecord) async throws {
        try await run("update incident category \(c.id)") {
            try await database.raw(
                """
                UPDATE incident_categories SET name = \(bind: c.name), grp = \(bind: c.group), retired = \(bind: c.retired ? 1 : 0)
                WHERE id = \(bind: c.id)
                """
            ).run()
        }
    }

    /// How many incidents are filed under category `id`.
    public func incidentCount(categoryID id: Int64) async throws -> Int {
        let rows = try await run("count incidents of category \(id)") {
            try await database.raw("SELECT COUNT(*) AS n FROM incidents WHERE category_id = \(bind: id)").all()
        }
        return try rows.first?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Deletes category `id`, and its dispatch routes, if no incident is filed under it; true
    /// when it was deleted.
    public func deleteUnusedIncidentCategory(id: Int64) async throws -> Bool {
        try await transaction("delete incident category \(id)") {
            guard try await incidentCount(categoryID: id) == 0 else { return false }
            // Its routes go with it (dispatch: who is told of the category).
            try await run("delete incident category \(id)'s routes") {
                try await database.raw("DELETE FROM dispatch_routes WHERE category_id = \(bind: id)").run()
            }
            let rows = try await run("delete incident category \(id)") {
                try await database.raw("DELETE FROM incident_categories WHERE id = \(bind: id) RETURNING id").all()
            }
            return !rows.isEmpty
        }
    }

    // MARK: Incidents

    /// Files `i` (its id and number are given here: the year of its report and the next
    /// number of that year) with its cameras and the first line of its timeline, in one
    /// transaction.
    public func addIncident(_ i: IncidentRecord, firstUpdate: IncidentUpdateRecord) async throws -> IncidentRecord {
        try await transaction("insert incident") {
            let year =
                Calendar(identifier: .gregorian).dateComponents(
                    in: TimeZone(identifier: "UTC")!, from: Date(timeIntervalSince1970: Double(i.reportedMicros) / 1e6)
                ).year ?? 1970
            let taken = try await run("number an incident of \(year)") {
                try await database.raw(
                    """
                    INSERT INTO incident_numbers (year, last) VALUES (\(bind: year), 1)
                    ON CONFLICT (year) DO UPDATE SET last = incident_numbers.last + 1 RETURNING last
                    """
                ).all()
            }
            guard let last = try taken.first?.decode(column: "last", as: Int.self) else {
                throw CatalogError.invalid("numbering an incident returned no number")
            }
            var added = i
            added.number = "\(year)/\(last)"
            let rows = try await run("insert incident") {
                try await database.raw(
                    """
                    INSERT INTO incidents (number, category_id, priority, observed_micros, reported_micros, reporter_id, reporter_name,
                                           location, address, latitude, longitude, description, status, status_micros)
                    VALUES (\(bind: added.number), \(bind: i.categoryID), \(bind: i.priority), \(bind: i.observedMicros),
                            \(bind: i.reportedMicros), \(bind: i.reporterID), \(bind: i.reporterName), \(bind: i.location),
                            \(bind: i.address), \(bind: i.latitude), \(bind: i.longitude), \(bind: i.description), \(bind: i.status),
                            \(bind: i.statusMicros))
                    RETURNING id
                    """
                ).all()
            }
            guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
                throw CatalogError.invalid("insert incident returned no id")
            }
            added.id = id
            for c in i.cameras {
                try await run("insert incident \(id)'s camera") {
                    try await database.raw(
                        """
                        INSERT INTO incident_cameras (incident_id, camera_id, from_micros, to_micros, pan, tilt, zoom)
                        VALUES (\(bind: id), \(bind: c.cameraID), \(bind: c.fromMicros), \(bind: c.toMicros), \(bind: c.pan),
                                \(bind: c.tilt), \(bind: c.zoom))
                        """
                    ).run()
                }
            }
            var update = firstUpdate
            update.incidentID = id
            _ = try await addIncidentUpdate(update)
            return added
        }
    }

    public func incident(number: String) async throws -> IncidentRecord? {
        let rows = try await run("read incident \(number)") {
            try await database.raw("SELECT * FROM incidents WHERE number = \(bind: number)").all()
        }
        return try await withCameras(try rows.map(Self.incidentRow)).first
    }

    public func incident(id: Int64) async throws -> IncidentRecord? {
        let rows = try await run("read incident \(id)") {
            try await database.raw("SELECT * FROM incidents WHERE id = \(bind: id)").all()
        }
        return try await withCameras(try rows.map(Self.incidentRow)).first
    }

    /// Incidents observed in `from..<to` (newest first, at most `limit`), optionally only
    /// those in `status` or showing `cameraID` at some time in the range.
    public func incidents(from: Int64, to: Int64, status: String? = nil, cameraID: Int64? = nil, limit: Int = 1000) async throws
        -> [IncidentRecord]
    {
        let rows = try await run("read incidents") {
            var query: SQLQueryString
            if let cameraID {
                // Those with a range on the camera that overlaps the period.
                query =
                    "SELECT * FROM incidents WHERE id IN (SELECT incident_id FROM incident_cameras WHERE camera_id = \(bind: cameraID) "
                    + "AND from_micros < \(bind: to) AND from_micros > \(bind: from - Self.longestIncidentRange) "
                    + "AND to_micros > \(bind: from)) AND "
            } else {
                query = "SELECT * FROM incidents WHERE observed_micros >= \(bind: from) AND observed_micros < \(bind: to) AND "
            }
            if let status { query = query + "status = \(bind: status) AND " }
            query = query + "1 = 1 ORDER BY observed_micros DESC, id DESC LIMIT \(bind: limit)"
            return try await database.raw(query).all()
        }
        return try await withCameras(try rows.map(Self.incidentRow))
    }

    /// Replaces incident `i.id`'s status, category, priority, place and description (its
    /// number, report and cameras stay).
    public func updateIncident(_ i: IncidentRecord) async throws {
        try await run("update incident \(i.id)") {
            try await database.raw(
                """
                UPDATE incidents SET category_id = \(bind: i.categoryID), priority = \(bind: i.priority), location = \(bind: i.location),
                       address = \(bind: i.address), latitude = \(bind: i.latitude), longitude = \(bind: i.longitude),
                       description = \(bind: i.description), status = \(bind: i.status), status_micros = \(bind: i.statusMicros)
                WHERE id = \(bind: i.id)
                """
            ).run()
        }
    }

    /// The figures of the incidents observed in `from..<to` (`IncidentFigureRow`).
    public func incidentFigures(from: Int64, to: Int64) async throws -> [IncidentFigureRow] {
        let rows = try await run("read incident figures") {
            try await database.raw(
                """
                SELECT i.category_id, i.priority, i.observed_micros, i.reported_micros, i.status,
                  (SELECT c.area FROM incident_cameras ic JOIN cameras c ON c.id = ic.camera_id
                   WHERE ic.incident_id = i.id ORDER BY ic.from_micros, ic.camera_id LIMIT 1) AS area,
                  (SELECT MIN(u.at_micros) FROM incident_updates u WHERE u.incident_id = i.id AND u.kind = 'status'
                   AND u.status IN ('notified', 'acknowledged', 'on-scene')) AS notified_micros,
                  (SELECT MIN(u.at_micros) FROM incident_updates u WHERE u.incident_id = i.id AND u.kind = 'status'
                   AND u.status IN ('acknowledged', 'on-scene')) AS acknowledged_micros
                FROM incidents i WHERE i.observed_micros >= \(bind: from) AND i.observed_micros < \(bind: to)
                """
            ).all()
        }
        return try rows.map {
            IncidentFigureRow(
                categoryID: try $0.decode(column: "category_id", as: Int64.self), priority: try $0.decode(column: "priority", as: Int.self),
                observedMicros: try $0.decode(column: "observed_micros", as: Int64.self),
                reportedMicros: try $0.decode(column: "reported_micros", as: Int64.self),
                status: try $0.decode(column: "status", as: String.self), area: try $0.decode(column: "area", as: String?.self),
                notifiedMicros: try $0.decode(column: "notified_micros", as: Int64?.self),
                acknowledgedMicros: try $0.decode(column: "acknowledged_micros", as: Int64?.self))
        }
    }

    /// How many incidents observed before `cutoffMicros` still hold personal data.
    public func incidentsHoldingPersonalData(observedBefore cutoffMicros: Int64) async throws -> Int {
        let rows = try await run("count incidents past their retention") {
            try await database.raw(
                """
                SELECT COUNT(*) AS n FROM incidents WHERE observed_micros < \(bind: cutoffMicros) AND anonymised_micros IS NULL
                  AND id NOT IN (SELECT incident_id FROM incident_exhibit_requests WHERE decided_micros IS NULL)
                """
            ).all()
        }
        return try rows.first?.decode(column: "n", as: Int.self) ?? 0
    }

    static let withdrawnWords = "withdrawn: the incident's personal data was removed at the end of its retention"

    /// Removes the personal data of every incident observed before `cutoffMicros` that still
    /// has it (but one whose footage an investigator has yet to decide on: its words are
    /// the request's context), in one transaction: its description, reporter, place, address
    /// and map point, the
    /// words and names on its timeline, the payloads of its notifications (those not yet
    /// delivered are withdrawn: never sent, saying why). What the figures count stays:
    /// category, priority, times, status, cameras. Returns the incidents' ids.
    public func anonymiseIncidents(observedBefore cutoffMicros: Int64, nowMicros: Int64) async throws -> [Int64] {
        // What is removed is overwritten, not left in free pages: an incident's pictures and
        // words must be gone from the file. Only here: the recorders' continual deletes on a
        // nearly full disk must not write freed pages over too (SQLite's flag is the
        // connection's; a statement of another task run meanwhile is merely overwritten too).
        let sqlite = database.dialect.name == "sqlite"
        if sqlite { try await run("overwrite what is deleted") { try await database.raw("PRAGMA secure_delete = ON").run() } }
        let ids: [Int64]
        do {
            ids = try await removePersonalData(observedBefore: cutoffMicros, nowMicros: nowMicros)
        } catch {
            if sqlite { _ = try? await run("stop overwriting") { try await database.raw("PRAGMA secure_delete = OFF").run() } }
            throw error
        }
        if sqlite { _ = try? await run("stop overwriting") { try await database.raw("PRAGMA secure_delete = OFF").run() } }
        // SQLite overwrites what it deletes (`secure_delete`), but its write-ahead log still
        // holds the pages as they were until it is next written over: it is checkpointed and
        // emptied now, so the pictures and words are gone from the files as well. Best effort:
        // a read held open by another process (a backup) keeps it, and the maintenance log
        // says so. PostgreSQL's own vacuum does its part there.
        if !ids.isEmpty, database.dialect.name == "sqlite" {
            let busy = try? await run("checkpoint the write-ahead log") {
                try await database.raw("PRAGMA wal_checkpoint(TRUNCATE)").all().first?.decode(column: "busy", as: Int.self)
            }
            if busy != 0 {
                try? await log(
                    action: "incident-retention",
                    detail: "the write-ahead log could not be emptied (another process was reading): "
                        + "removed pictures and words stay in it until it is written over")
            }
        }
        return ids
    }

    private func removePersonalData(observedBefore cutoffMicros: Int64, nowMicros: Int64) async throws -> [Int64] {
        try await transaction("remove incidents' personal data") {
            let rows = try await run("find incidents past their retention") {
                try await database.raw(
                    """
                    SELECT id FROM incidents WHERE observed_micros < \(bind: cutoffMicros) AND anonymised_micros IS NULL
                      AND id NOT IN (SELECT incident_id FROM incident_exhibit_requests WHERE decided_micros IS NULL)
                    ORDER BY id LIMIT 10000
                    """
                ).all()
            }
            let ids = try rows.map { try $0.decode(column: "id", as: Int64.self) }
            guard !ids.isEmpty else { return [] }
            let list = SQLList(ids.map { SQLBind($0) })
            try await run("remove incidents' personal data") {
                try await database.raw(
                    """
                    UPDATE incidents SET description = '', reporter_name = '', reporter_id = NULL, address = '', location = '', latitude = NULL,
                           longitude = NULL, anonymised_micros = \(bind: nowMicros)
                    WHERE id IN (\(list))
                    """
                ).run()
            }
            try await run("remove incidents' timeline words") {
                try await database.raw(
                    """
                    UPDATE incident_updates SET user_name = '', user_id = NULL,
                           text = CASE WHEN kind = 'note' THEN '' ELSE text END
                    WHERE incident_id IN (\(list))
                    """
                ).run()
            }
            // The pictures are of people: they go whole (a blob's pages are reused by the catalog).
            try await run("remove incidents' snapshots") {
                try await database.raw("DELETE FROM incident_snapshots WHERE incident_id IN (\(list))").run()
            }
            try await run("remove incidents' exhibit requests' words") {
                try await database.raw(
                    """
                    UPDATE incident_exhibit_requests SET reason = '', requested_by = '', requested_by_user_id = NULL,
                           decided_by = CASE WHEN decided_by IS NULL THEN NULL ELSE '' END,
                           refusal = CASE WHEN refusal IS NULL THEN NULL ELSE '' END
                    WHERE incident_id IN (\(list))
                    """
                ).run()
            }
            try await run("withdraw incidents' notifications") {
                try await database.raw(
                    """
                    UPDATE dispatch_outbox SET payload = '{}', acknowledged_by = CASE WHEN acknowledged_by IS NULL THEN NULL ELSE '' END,
                           escalated_micros = COALESCE(escalated_micros, \(bind: nowMicros)),
                           next_micros = CASE WHEN delivered_micros IS NULL THEN \(bind: Int64.max) ELSE next_micros END,
                           last_error = CASE WHEN delivered_micros IS NULL
                                        THEN \(bind: Self.withdrawnWords)
                                        ELSE last_error END
                    WHERE incident_id IN (\(list))
                    """
                ).run()
            }
            return ids
        }
    }

    /// Each recipient told of the report of an incident observed in `from..<to`, with when
    /// it was delivered and acknowledged (dispatch's outbox).
    public func incidentRecipientFigures(from: Int64, to: Int64) async throws -> [IncidentRecipientFigureRow] {
        let rows = try await run("read incident figures by recipient") {
            try await database.raw(
                """
                SELECT r.key, r.name, i.reported_micros, o.delivered_micros, o.acknowledged_micros
                FROM dispatch_outbox o JOIN incidents i ON i.id = o.incident_id JOIN dispatch_recipients r ON r.id = o.recipient_id
                WHERE o.event = 'reported' AND i.observed_micros >= \(bind: from) AND i.observed_micros < \(bind: to)
                ORDER BY r.id, i.id
                """
            ).all()
        }
        return try rows.map {
            IncidentRecipientFigureRow(
                key: try $0.decode(column: "key", as: String.self), name: try $0.decode(column: "name", as: String.self),
                reportedMicros: try $0.decode(column: "reported_micros", as: Int64.self),
                deliveredMicros: try $0.decode(column: "delivered_micros", as: Int64?.self),
                acknowledgedMicros: try $0.decode(column: "acknowledged_micros", as: Int64?.self))
        }
    }

    @discardableResult
    public func addIncidentUpdate(_ u: IncidentUpdateRecord) async throws -> IncidentUpdateRecord {
        let rows = try await run("insert incident \(u.incidentID)'s update") {
            try await database.raw(
                """
                INSERT INTO incident_updates (incident_id, at_micros, user_id, user_name, kind, status, text)
                VALUES (\(bind: u.incidentID), \(bind: u.atMicros), \(bind: u.userID), \(bind: u.userName), \(bind: u.kind),
                        \(bind: u.status), \(bind: u.text))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert incident update returned no id")
        }
        var added = u
        added.id = id
        return added
    }

    // MARK: Snapshots

    /// Stores a snapshot's JPEG with its row, and returns the row with its id.
    public func addIncidentSnapshot(_ r: IncidentSnapshotRecord, jpeg: [UInt8]) async throws -> IncidentSnapshotRecord {
        let rows = try await run("insert incident \(r.incidentID)'s snapshot") {
            try await database.raw(
                """
                INSERT INTO incident_snapshots (incident_id, camera_id, asked_micros, frame_micros, requested_micros, taken_micros, taken_by,
                                                taken_by_user_id, width, height, bytes, sha256, jpeg)
                VALUES (\(bind: r.incidentID), \(bind: r.cameraID), \(bind: r.askedMicros), \(bind: r.frameMicros),
                        \(bind: r.requestedMicros), \(bind: r.takenMicros),
                        \(bind: r.takenBy), \(bind: r.takenByUserID), \(bind: r.width), \(bind: r.height), \(bind: r.bytes),
                        \(bind: r.sha256), \(bind: Data(jpeg)))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert incident snapshot returned no id")
        }
        var added = r
        added.id = id
        return added
    }

    /// Incident `id`'s snapshots, oldest first, without their pictures.
    public func incidentSnapshots(incidentID id: Int64) async throws -> [IncidentSnapshotRecord] {
        let rows = try await run("read incident \(id)'s snapshots") {
            try await database.raw(
                """
                SELECT id, incident_id, camera_id, asked_micros, frame_micros, requested_micros, taken_micros, taken_by, taken_by_user_id,
                       width, height,
                       bytes, sha256
                FROM incident_snapshots WHERE incident_id = \(bind: id) ORDER BY id
                """
            ).all()
        }
        return try rows.map {
            IncidentSnapshotRecord(
                id: try $0.decode(column: "id", as: Int64.self), incidentID: try $0.decode(column: "incident_id", as: Int64.self),
                cameraID: try $0.decode(column: "camera_id", as: Int64.self),
                askedMicros: try $0.decode(column: "asked_micros", as: Int64.self),
                frameMicros: try $0.decode(column: "frame_micros", as: Int64.self),
                requestedMicros: try $0.decode(column: "requested_micros", as: Int64.self),
                takenMicros: try $0.decode(column: "taken_micros", as: Int64.self),
                takenBy: try $0.decode(column: "taken_by", as: String.self),
                takenByUserID: try $0.decode(column: "taken_by_user_id", as: Int64?.self),
                width: try $0.decode(column: "width", as: Int.self),
                height: try $0.decode(column: "height", as: Int.self), bytes: try $0.decode(column: "bytes", as: Int.self),
                sha256: try $0.decode(column: "sha256", as: String.self))
        }
    }

    /// Snapshot `id`'s picture, if incident `incidentID` has it.
    public func incidentSnapshotJPEG(id: Int64, incidentID: Int64) async throws -> [UInt8]? {
        let rows = try await run("read incident snapshot \(id)") {
            try await database.raw(
                "SELECT jpeg FROM incident_snapshots WHERE id = \(bind: id) AND incident_id = \(bind: incidentID)"
            ).all()
        }
        return try rows.first.map { [UInt8](try $0.decode(column: "jpeg", as: Data.self)) }
    }

    /// Incident `id`'s timeline, oldest first.
    public func incidentUpdates(incidentID id: Int64) async throws -> [IncidentUpdateRecord] {
        let rows = try await run("read incident \(id)'s updates") {
            try await database.raw("SELECT * FROM incident_updates WHERE incident_id = \(bind: id) ORDER BY id").all()
        }
        return try rows.map {
            IncidentUpdateRecord(
                id: try $0.decode(column: "id", as: Int64.self), incidentID: try $0.decode(column: "incident_id", as: Int64.self),
                atMicros: try $0.decode(column: "at_micros", as: Int64.self), userID: try $0.decode(column: "user_id", as: Int64?.self),
                userName: try $0.decode(column: "user_name", as: String.self), kind: try $0.decode(column: "kind", as: String.self),
                status: try $0.decode(column: "status", as: String?.self), text: try $0.decode(column: "text", as: String.self))
        }
    }

    private func withCameras(_ incidents: [IncidentRecord]) async throws -> [IncidentRecord] {
        guard !incidents.isEmpty else { return [] }
        let ids = incidents.map(\.id)
        let rows = try await run("read incidents' cameras") {
            try await database.raw(
                "SELECT * FROM incident_cameras WHERE incident_id IN (\(binds: ids)) ORDER BY incident_id, camera_id, from_micros"
            ).all()
        }
        var byIncident: [Int64: [IncidentCameraRecord]] = [:]
        for row in rows {
            byIncident[try row.decode(column: "incident_id", as: Int64.self), default: []].append(
                IncidentCameraRecord(
                    cameraID: try row.decode(column: "camera_id", as: Int64.self),
                    fromMicros: try row.decode(column: "from_micros", as: Int64.self),
                    toMicros: try row.decode(column: "to_micros", as: Int64.self), pan: try row.decode(column: "pan", as: Double?.self),
                    tilt: try row.decode(column: "tilt", as: Double?.self), zoom: try row.decode(column: "zoom", as: Double?.self)))
        }
        return incidents.map {
            var i = $0
            i.cameras = byIncident[i.id] ?? []
            return i
        }
    }

    private static func incidentRow(_ row: any SQLRow) throws -> IncidentRecord {
        var i = IncidentRecord(
            id: try row.decode(column: "id", as: Int64.self), number: try row.decode(column: "number", as: String.self),
            categoryID: try row.decode(column: "category_id", as: Int64.self), priority: try row.decode(column: "priority", as: Int.self),
            observedMicros: try row.decode(column: "observed_micros", as: Int64.self),
            reportedMicros: try row.decode(column: "reported_micros", as: Int64.self),
            reporterID: try row.decode(column: "reporter_id", as: Int64?.self),
            reporterName: try row.decode(column: "reporter_name", as: String.self),
            description: try row.decode(column: "description", as: String.self), status: try row.decode(column: "status", as: String.self))
        i.location = try row.decode(column: "location", as: String.self)
        i.address = try row.decode(column: "address", as: String.self)
        i.latitude = try row.decode(column: "latitude", as: Double?.self)
        i.longitude = try row.decode(column: "longitude", as: Double?.self)
        i.statusMicros = try row.decode(column: "status_micros", as: Int64.self)
        i.anonymisedMicros = try row.decode(column: "anonymised_micros", as: Int64?.self)
        return i
    }

    // MARK: Exhibit requests

    public func addExhibitRequest(_ q: ExhibitRequestRecord) async throws -> ExhibitRequestRecord {
        let rows = try await run("insert exhibit request of incident \(q.incidentID)") {
            try await database.raw(
                """
                INSERT INTO incident_exhibit_requests (incident_id, requested_micros, requested_by, requested_by_user_id, reason)
                VALUES (\(bind: q.incidentID), \(bind: q.requestedMicros), \(bind: q.requestedBy), \(bind: q.requestedByUserID),
                        \(bind: q.reason))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert exhibit request returned no id")
        }
        var added = q
        added.id = id
        return added
    }

    /// Request `id`, the requests of one incident, or those not yet decided; oldest first.
    public func exhibitRequests(id: Int64? = nil, incidentID: Int64? = nil, pendingOnly: Bool = false) async throws
        -> [ExhibitRequestRecord]
    {
        let rows = try await run("read exhibit requests") {
            var query: SQLQueryString = "SELECT * FROM incident_exhibit_requests WHERE 1 = 1 "
            if let id { query = query + "AND id = \(bind: id) " }
            if let incidentID { query = query + "AND incident_id = \(bind: incidentID) " }
            if pendingOnly { query = query + "AND decided_micros IS NULL " }
            return try await database.raw(query + "ORDER BY id LIMIT 1000").all()
        }
        return try rows.map { row in
            var q = ExhibitRequestRecord(
                id: try row.decode(column: "id", as: Int64.self), incidentID: try row.decode(column: "incident_id", as: Int64.self),
                requestedMicros: try row.decode(column: "requested_micros", as: Int64.self),
                requestedBy: try row.decode(column: "requested_by", as: String.self),
                requestedByUserID: try row.decode(column: "requested_by_user_id", as: Int64?.self),
                reason: try row.decode(column: "reason", as: String.self))
            q.decidedMicros = try row.decode(column: "decided_micros", as: Int64?.self)
            q.decidedBy = try row.decode(column: "decided_by", as: String?.self)
            q.outcome = try row.decode(column: "outcome", as: String?.self)
            q.exhibit = try row.decode(column: "exhibit", as: String?.self)
            q.refusal = try row.decode(column: "refusal", as: String?.self)
            return q
        }
    }

    /// Records request `id`'s decision; false if it was decided already.
    public func decideExhibitRequest(id: Int64, outcome: String, exhibit: String?, refusal: String?, by: String, atMicros: Int64)
        async throws
        -> Bool
    {
        let rows = try await run("decide exhibit request \(id)") {
            try await database.raw(
                """
                UPDATE incident_exhibit_requests SET decided_micros = \(bind: atMicros), decided_by = \(bind: by), outcome = \(bind: outcome),
                       exhibit = \(bind: exhibit), refusal = \(bind: refusal)
                WHERE id = \(bind: id) AND decided_micros IS NULL RETURNING id
                """
            ).all()
        }
        return !rows.isEmpty
    }
}
