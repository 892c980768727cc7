// What has been recorded: segments (one row per sample file, with its per-frame index and
// SHA-256), gaps, and the maintenance log of what recovery and retention did. How a
// segment is written and when it may be deleted is decided in Recording.

import Base
import Foundation
import Media
import Records
import SQLKit

extension Catalog {
    // MARK: Segments

    /// Inserts a segment row and returns its id. Ids are never reused: a deleted segment's
    /// id lives on in its chain link, so a new one is past every id either table has seen
    /// (SQLite's plain INTEGER PRIMARY KEY would hand out a deleted maximum again).
    public func insertSegment(_ s: SegmentRecord) async throws -> Int64 {
        let sets = Data(NALUnits.lengthPrefixed(s.parameterSets))
        let rows = try await run("insert segment \(s.fileName)") {
            try await database.raw(
                """
                INSERT INTO segments (id, camera_id, run_id, file_name, start_micros, duration_90k, byte_count, frame_count,
                                      codec, parameter_sets, sample_index, sha256, state, held)
                VALUES ((SELECT COALESCE(MAX(m), 0) + 1 FROM (SELECT MAX(id) AS m FROM segments
                                                             UNION ALL SELECT MAX(segment_id) FROM segment_chain)),
                        \(bind: s.cameraID), \(bind: s.runID), \(bind: s.fileName), \(bind: s.startMicros), \(bind: s.duration),
                        \(bind: s.byteCount), \(bind: s.frameCount), \(bind: s.codec.rawValue), \(bind: sets), \(bind: Data(s.sampleIndex)),
                        \(bind: s.sha256.map { Data($0) }), \(bind: s.state.rawValue), \(bind: s.held ? 1 : 0))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert segment returned no id")
        }
        return id
    }

    /// Records progress of a segment being written, or closes it when `sha256` is given.
    public func updateSegment(
        id: Int64, duration: Ticks90k, byteCount: Int64, frameCount: Int,
        sampleIndex: [UInt8], sha256: [UInt8]?
    ) async throws {
        let state = sha256 == nil ? SegmentRecord.State.open : .closed
        try await run("update segment \(id)") {
            try await database.raw(
                """
                UPDATE segments SET duration_90k = \(bind: duration), byte_count = \(bind: byteCount),
                       frame_count = \(bind: frameCount), sample_index = \(bind: Data(sampleIndex)),
                       sha256 = \(bind: sha256.map { Data($0) }), state = \(bind: state.rawValue)
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    /// Records the progress of many open segments in one statement (one commit), as the
    /// recorders' group commit does every second. A row that is no longer open (closed or
    /// deleted meanwhile) is left as it is.
    public func recordProgress(_ updates: [SegmentProgress]) async throws {
        guard !updates.isEmpty else { return }
        let rows = updates.map { u -> SQLQueryString in
            "(\(bind: u.id), \(bind: u.duration), \(bind: u.byteCount), \(bind: u.frameCount), \(bind: Data(u.sampleIndex)))"
        }
        // VALUES columns are named column1… in both SQLite and PostgreSQL.
        let statement: SQLQueryString = """
            UPDATE segments SET duration_90k = v.column2, byte_count = v.column3, frame_count = v.column4, sample_index = v.column5
            FROM (VALUES \(rows.joined(separator: ", "))) AS v
            WHERE segments.id = v.column1 AND segments.state = \(bind: SegmentRecord.State.open.rawValue)
            """
        try await run("record progress of \(updates.count) segments") { try await database.raw(statement).run() }
    }

    /// Deletes a segment's row; its chain link, if it has one, stays, marked deleted with
    /// `reason`, so the chain remains verifiable across the gap.
    public func deleteSegment(id: Int64, reason: String = "deleted") async throws {
        try await transaction("delete segment \(id)") {
            try await markChainLinkDeleted(segmentID: id, reason: reason)
            try await run("delete segment \(id)") { try await database.raw("DELETE FROM segments WHERE id = \(bind: id)").run() }
        }
    }

    /// Retention's delete: the segment goes only if, at the moment of deleting, it is
    /// closed, not held and under no exhibit's hold (checked in the DELETE itself, in the
    /// transaction that marks its chain link). Returns false when it was kept: an exhibit
    /// made between selecting it and now keeps its footage.
    public func deleteExpiredSegment(id: Int64, reason: String) async throws -> Bool {
        try await transaction("delete expired segment \(id)") {
            let deleted = try await run("delete expired segment \(id)") {
                try await database.raw(
                    """
                    DELETE FROM segments WHERE id = \(bind: id) AND held = 0 AND state = 'closed' AND NOT \(unsafeRaw: Self.underEvidenceHold)
                    RETURNING id
                    """
                ).all()
            }
            guard !deleted.isEmpty else { return false }
            try await markChainLinkDeleted(segmentID: id, reason: reason)
            return true
        }
    }

    public func setHeld(segmentIDs: [Int64], held: Bool) async throws {
        for id in segmentIDs {
            try await run("hold segment \(id)") {
                try await database.raw("UPDATE segments SET held = \(bind: held ? 1 : 0) WHERE id = \(bind: id)").run()
            }
        }
    }

    /// How many frames the segments overlapping `[from, to)` hold, read without their
    /// indexes: what a caller checks before it loads them.
    public func frameCount(cameraID: Int64, from: Int64, to: Int64) async throws -> Int {
        let rows = try await run("frame count of camera \(cameraID)") {
            try await database.raw(
                """
                SELECT COALESCE(SUM(frame_count), 0) AS frames FROM segments WHERE camera_id = \(bind: cameraID)
                  AND start_micros < \(bind: to) AND start_micros >= \(bind: from - 86_400_000_000)
                  AND start_micros + duration_90k * 100 / 9 >= \(bind: from)
                """
            ).all()
        }
        return try rows.first?.decode(column: "frames", as: Int.self) ?? 0
    }

    /// How many segments of a camera overlap `[from, to)`: the rows `segments(cameraID:from:to:)`
    /// returns, counted in the database (one indexed statement, cheap inside a transaction).
    public func segmentCount(cameraID: Int64, from: Int64, to: Int64) async throws -> Int {
        let rows = try await run("segment count of camera \(cameraID)") {
            try await database.raw(
                """
                SELECT COUNT(*) AS n FROM segments WHERE camera_id = \(bind: cameraID)
                  AND start_micros < \(bind: to) AND start_micros >= \(bind: from - 86_400_000_000)
                  AND (start_micros + duration_90k * 1000000 / 90000 > \(bind: from)
                       OR (duration_90k = 0 AND start_micros >= \(bind: from)))
                """
            ).all()
        }
        return try rows.first?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Segments of a camera that overlap `[from, to)` (microseconds), oldest first.
    public func segments(cameraID: Int64, from: Int64, to: Int64) async throws -> [SegmentRecord] {
        // A segment longer than a day does not exist (they are cut every minute or so), so
        // the index on start_micros bounds the scan.
        let rows = try await run("segments of camera \(cameraID)") {
            try await database.raw(
                """
                SELECT * FROM segments WHERE camera_id = \(bind: cameraID)
                  AND start_micros < \(bind: to) AND start_micros >= \(bind: from - 86_400_000_000)
                ORDER BY start_micros, id
                """
            ).all()
        }
        return try rows.map(Self.segmentRecord).filter { $0.endMicros > from || ($0.duration == 0 && $0.startMicros >= from) }
    }

    public func allSegments() async throws -> [SegmentRecord] {
        let rows = try await run("all segments") {
            try await database.raw("SELECT * FROM segments ORDER BY camera_id, start_micros, id").all()
        }
        return try rows.map(Self.segmentRecord)
    }

    public func segments(state: SegmentRecord.State) async throws -> [SegmentRecord] {
        let rows = try await run("segments in state \(state)") {
            try await database.raw("SELECT * FROM segments WHERE state = \(bind: state.rawValue) ORDER BY id").all()
        }
        return try rows.map(Self.segmentRecord)
    }

    /// Closed, unheld segments that ended before `cutoffMicros`, oldest first. Unheld: not
    /// marked held and not covered by an exhibit whose hold stands.
    public func expiredSegments(cameraID: Int64, endedBefore cutoffMicros: Int64, limit: Int) async throws -> [SegmentRecord] {
        let rows = try await run("expired segments") {
            try await database.raw(
                """
                SELECT * FROM segments WHERE camera_id = \(bind: cameraID) AND held = 0 AND state = 'closed'
                  AND start_micros < \(bind: cutoffMicros) AND NOT \(unsafeRaw: Self.underEvidenceHold)
                ORDER BY start_micros LIMIT \(bind: limit)
                """
            ).all()
        }
        return try rows.map(Self.segmentRecord).filter { $0.endMicros <= cutoffMicros }
    }

    /// The oldest closed, unheld segments of any camera: what the disk floor deletes first.
    public func oldestDeletableSegments(limit: Int) async throws -> [SegmentRecord] {
        let rows = try await run("oldest segments") {
            try await database.raw(
                """
                SELECT * FROM segments WHERE held = 0 AND state = 'closed' AND NOT \(unsafeRaw: Self.underEvidenceHold)
                ORDER BY start_micros LIMIT \(bind: limit)
                """
            ).all()
        }
        return try rows.map(Self.segmentRecord)
    }

    static func segmentRecord(_ row: any SQLRow) throws -> SegmentRecord {
        let codecName = try row.decode(column: "codec", as: String.self)
        guard let codec = VideoCodec(rawValue: codecName) else { throw CatalogError.invalid("unknown codec \(codecName)") }
        let sets = try row.decode(column: "parameter_sets", as: Data.self)
        let parameterSets = try NALUnits.splitLengthPrefixed([UInt8](sets)[...]).map(Array.init)
        return SegmentRecord(
            id: try row.decode(column: "id", as: Int64.self),
            cameraID: try row.decode(column: "camera_id", as: Int64.self),
            runID: try row.decode(column: "run_id", as: Int64.self),
            fileName: try row.decode(column: "file_name", as: String.self),
            startMicros: try row.decode(column: "start_micros", as: Int64.self),
            duration: try row.decode(column: "duration_90k", as: Int64.self),
            byteCount: try row.decode(column: "byte_count", as: Int64.self),
            frameCount: try row.decode(column: "frame_count", as: Int.self),
            codec: codec,
            parameterSets: parameterSets,
            sampleIndex: [UInt8](try row.decode(column: "sample_index", as: Data.self)),
            sha256: try row.decode(column: "sha256", as: Data?.self).map { [UInt8]($0) },
            state: SegmentRecord.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .open,
            held: try row.decode(column: "held", as: Int.self) != 0)
    }

    /// The largest run id in use, so a restarted recorder starts a new run.
    public func maxRunID() async throws -> Int64 {
        let rows = try await run("max run id") { try await database.raw("SELECT MAX(run_id) AS r FROM segments").all() }
        return (try? rows.first?.decode(column: "r", as: Int64?.self)) ?? nil ?? 0
    }

    // MARK: Gaps

    public func openGap(cameraID: Int64, startMicros: Int64, reason: String) async throws -> Int64 {
        let rows = try await run("insert gap") {
            try await database.raw(
                """
                INSERT INTO gaps (camera_id, start_micros, end_micros, reason)
                VALUES (\(bind: cameraID), \(bind: startMicros), \(bind: Int64?.none), \(bind: reason)) RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else { throw CatalogError.invalid("insert gap returned no id") }
        return id
    }

    public func closeGap(id: Int64, endMicros: Int64) async throws {
        try await run("close gap \(id)") {
            try await database.raw("UPDATE gaps SET end_micros = \(bind: endMicros) WHERE id = \(bind: id)").run()
        }
    }

    /// Closes every gap of a camera still open (the recorder was stopped while it was away).
    public func closeOpenGaps(cameraID: Int64, endMicros: Int64) async throws {
        try await run("close open gaps") {
            try await database.raw(
                "UPDATE gaps SET end_micros = \(bind: endMicros) WHERE camera_id = \(bind: cameraID) AND end_micros IS NULL"
            ).run()
        }
    }

    public func openGaps(cameraID: Int64) async throws -> [GapRecord] {
        try await gaps(cameraID: cameraID, from: Int64.min / 2, to: Int64.max / 2).filter { $0.endMicros == nil }
    }

    /// The latest segment of a camera, if any.
    public func lastSegment(cameraID: Int64) async throws -> SegmentRecord? {
        let rows = try await run("last segment of camera \(cameraID)") {
            try await database.raw("SELECT * FROM segments WHERE camera_id = \(bind: cameraID) ORDER BY start_micros DESC, id DESC LIMIT 1")
                .all()
        }
        return try rows.first.map(Self.segmentRecord)
    }

    public func gaps(cameraID: Int64, from: Int64, to: Int64) async throws -> [GapRecord] {
        let rows = try await run("gaps of camera \(cameraID)") {
            try await database.raw(
                """
                SELECT * FROM gaps WHERE camera_id = \(bind: cameraID) AND start_micros < \(bind: to)
                  AND (end_micros IS NULL OR end_micros > \(bind: from)) ORDER BY start_micros
                """
            ).all()
        }
        return try rows.map { row in
            GapRecord(
                id: try row.decode(column: "id", as: Int64.self), cameraID: try row.decode(column: "camera_id", as: Int64.self),
                startMicros: try row.decode(column: "start_micros", as: Int64.self),
                endMicros: try row.decode(column: "end_micros", as: Int64?.self),
                reason: try row.decode(column: "reason", as: String.self))
        }
    }

    // MARK: Maintenance log

    public func log(action: String, detail: String) async throws {
        try await run("maintenance log") {
            try await database.raw(
                "INSERT INTO maintenance_log (at_micros, action, detail) VALUES (\(bind: clock.nowMicros()), \(bind: action), \(bind: detail))"
            ).run()
        }
    }

    public func maintenanceLog() async throws -> [(atMicros: Int64, action: String, detail: String)] {
        let rows = try await run("read maintenance log") { try await database.raw("SELECT * FROM maintenance_log ORDER BY id").all() }
        return try rows.map {
            (
                try $0.decode(column: "at_micros", as: Int64.self), try $0.decode(column: "action", as: String.self),
                try $0.decode(column: "detail", as: String.self)
            )
        }
    }
}
