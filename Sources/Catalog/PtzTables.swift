// The history of PTZ commands (migration 7, with the cameras' ONVIF columns). Rows in, rows
// out; who may read them is decided in PTZ.

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
