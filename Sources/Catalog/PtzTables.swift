// The history of PTZ commands and the tours (migration 7, with the cameras' ONVIF columns).
// Rows in, rows out; who may read them is decided in PTZ. A tour's steps and schedule are
// stored as JSON beside it: they are read and written whole, never queried into.

import Base
import Foundation
import Records
import SQLKit

extension Catalog {
    static func migrateToPTZ(_ db: any SQLDatabase) async throws {
        try await db.alter(table: "cameras").column("onvif_url", type: .text, []).run()
        try await db.alter(table: "cameras").column("ptz_profile", type: .text, []).run()
        try await db.create(table: "ptz_history")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("camera_id", type: .bigint, .notNull, .references("cameras", "id"))
            .column("at_micros", type: .bigint, .notNull)
            .column("user_id", type: .bigint)
            .column("tour_id", type: .bigint)
            .column("command", type: .text, .notNull)
            .column("pan", type: .real)
            .column("tilt", type: .real)
            .column("zoom", type: .real)
            .column("preset", type: .text)
            .run()
        try await db.create(index: "ptz_history_by_camera_time").on("ptz_history").column("camera_id").column("at_micros").run()
        try await db.create(table: "ptz_tours")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("camera_id", type: .bigint, .notNull, .references("cameras", "id"))
            .column("name", type: .text, .notNull)
            .column("steps", type: .text, .notNull)
            .column("schedule", type: .text, .notNull)
            .column("enabled", type: .int, .notNull)
            .run()
    }

    // MARK: Tours

    public func tours() async throws -> [PTZTourRecord] {
        let rows = try await run("read tours") { try await database.raw("SELECT * FROM ptz_tours ORDER BY id").all() }
        return try rows.map(Self.tour)
    }

    public func tour(id: Int64) async throws -> PTZTourRecord? {
        let rows = try await run("read tour \(id)") { try await database.raw("SELECT * FROM ptz_tours WHERE id = \(bind: id)").all() }
        return try rows.first.map(Self.tour)
    }

    public func addTour(_ t: PTZTourRecord) async throws -> PTZTourRecord {
        let (steps, schedule) = try Self.encoded(t)
        let rows = try await run("insert tour") {
            try await database.raw(
                """
                INSERT INTO ptz_tours (camera_id, name, steps, schedule, enabled)
                VALUES (\(bind: t.cameraID), \(bind: t.name), \(bind: steps), \(bind: schedule), \(bind: t.enabled ? 1 : 0))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert tour returned no id")
        }
        var added = t
        added.id = id
        return added
    }

    public func updateTour(_ t: PTZTourRecord) async throws {
        let (steps, schedule) = try Self.encoded(t)
        try await run("update tour \(t.id)") {
            try await database.raw(
                """
                UPDATE ptz_tours SET camera_id = \(bind: t.cameraID), name = \(bind: t.name), steps = \(bind: steps),
                       schedule = \(bind: schedule), enabled = \(bind: t.enabled ? 1 : 0)
                WHERE id = \(bind: t.id)
                """
            ).run()
        }
    }

    /// True when there was such a tour.
    public func deleteTour(id: Int64) async throws -> Bool {
        let rows = try await run("delete tour \(id)") {
            try await database.raw("DELETE FROM ptz_tours WHERE id = \(bind: id) RETURNING id").all()
        }
        return !rows.isEmpty
    }

    static func encoded(_ t: PTZTourRecord) throws -> (String, String) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (
            String(decoding: try encoder.encode(t.steps), as: UTF8.self), String(decoding: try encoder.encode(t.schedule), as: UTF8.self)
        )
    }

    static func tour(_ row: any SQLRow) throws -> PTZTourRecord {
        let decoder = JSONDecoder()
        return PTZTourRecord(
            id: try row.decode(column: "id", as: Int64.self), cameraID: try row.decode(column: "camera_id", as: Int64.self),
            name: try row.decode(column: "name", as: String.self),
            steps: try decoder.decode([PTZTourRecord.Step].self, from: Data(try row.decode(column: "steps", as: String.self).utf8)),
            schedule: try decoder.decode([PTZTourRecord.Window].self, from: Data(try row.decode(column: "schedule", as: String.self).utf8)),
            enabled: try row.decode(column: "enabled", as: Int.self) != 0)
    }

    public func appendPTZHistory(_ r: PTZHistoryRecord) async throws {
        try await run("insert PTZ history of camera \(r.cameraID)") {
            try await database.raw(
                """
                INSERT INTO ptz_history (camera_id, at_micros, user_id, tour_id, command, pan, tilt, zoom, preset)
                VALUES (\(bind: r.cameraID), \(bind: r.atMicros), \(bind: r.userID), \(bind: r.tourID), \(bind: r.command),
                        \(bind: r.pan), \(bind: r.tilt), \(bind: r.zoom), \(bind: r.preset))
                """
            ).run()
        }
    }

    /// Camera `camera`'s commands in `[from, to)`, oldest first, at most `limit`.
    public func ptzHistory(camera: Int64, fromMicros: Int64, toMicros: Int64, limit: Int) async throws -> [PTZHistoryRecord] {
        let rows = try await run("read PTZ history of camera \(camera)") {
            try await database.raw(
                """
                SELECT * FROM ptz_history WHERE camera_id = \(bind: camera) AND at_micros >= \(bind: fromMicros)
                AND at_micros < \(bind: toMicros) ORDER BY at_micros, id LIMIT \(bind: limit)
                """
            ).all()
        }
        return try rows.map { row in
            PTZHistoryRecord(
                cameraID: try row.decode(column: "camera_id", as: Int64.self),
                atMicros: try row.decode(column: "at_micros", as: Int64.self),
                userID: try row.decode(column: "user_id", as: Int64?.self), tourID: try row.decode(column: "tour_id", as: Int64?.self),
                command: try row.decode(column: "command", as: String.self), pan: try row.decode(column: "pan", as: Double?.self),
                tilt: try row.decode(column: "tilt", as: Double?.self), zoom: try row.decode(column: "zoom", as: Double?.self),
                preset: try row.decode(column: "preset", as: String?.self))
        }
    }

    /// Deletes camera `camera`'s commands older than `beforeMicros` (its retention); returns
    /// how many.
    @discardableResult
    public func deletePTZHistory(camera: Int64, beforeMicros: Int64) async throws -> Int {
        let rows = try await run("delete PTZ history of camera \(camera)") {
            try await database.raw(
                "DELETE FROM ptz_history WHERE camera_id = \(bind: camera) AND at_micros < \(bind: beforeMicros) RETURNING id"
            ).all()
        }
        return rows.count
    }
}
