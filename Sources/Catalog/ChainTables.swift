// Each camera's segment hash chain and its signed heads. How a link is hashed is decided
// in Integrity; when links are added and heads signed, in Recording.

import Base
import Foundation
import Media
import Records
import SQLKit

extension Catalog {
    // MARK: Segment chain

    public func lastChainLink(cameraID: Int64) async throws -> ChainLinkRecord? {
        let rows = try await run("last chain link of camera \(cameraID)") {
            try await database.raw("SELECT * FROM segment_chain WHERE camera_id = \(bind: cameraID) ORDER BY position DESC LIMIT 1").all()
        }
        return try rows.first.map(Self.chainLink)
    }

    /// Closed segments of a camera not yet in its chain that start at or after
    /// `startMicros`, in recording order (the index on camera and start bounds the scan).
    public func unchainedSegments(cameraID: Int64, startingFrom startMicros: Int64 = 0) async throws -> [SegmentRecord] {
        let rows = try await run("unchained segments of camera \(cameraID)") {
            try await database.raw(Self.unchainedSegmentsQuery(cameraID: cameraID, startingFrom: startMicros)).all()
        }
        return try rows.map(Self.segmentRecord)
    }

    /// Runs at every segment close, so its cost must not grow with the chain: each
    /// candidate is looked up in the chain by its segment id (a unique index). A `NOT IN`
    /// over the camera's links read all of them every time — a year's 525 000 links a
    /// camera, 0.2 s of CPU a close, a fifth of a core at 71 cameras and growing.
    static func unchainedSegmentsQuery(cameraID: Int64, startingFrom startMicros: Int64) -> SQLQueryString {
        """
        SELECT * FROM segments WHERE camera_id = \(bind: cameraID) AND state = 'closed' AND start_micros >= \(bind: startMicros)
          AND NOT EXISTS (SELECT 1 FROM segment_chain c WHERE c.segment_id = segments.id)
        ORDER BY start_micros, id
        """
    }

    public func addChainLink(_ l: ChainLinkRecord) async throws {
        try await run("add chain link \(l.cameraID)/\(l.position)") {
            try await database.raw(
                """
                INSERT INTO segment_chain (camera_id, position, segment_id, start_micros, duration_90k, frame_count, byte_count,
                                           sha256, meta_sha256, previous_link, link)
                VALUES (\(bind: l.cameraID), \(bind: l.position), \(bind: l.segmentID), \(bind: l.startMicros), \(bind: l.duration90k),
                        \(bind: l.frameCount), \(bind: l.byteCount), \(bind: Data(l.sha256)), \(bind: Data(l.metaSHA256)),
                        \(bind: Data(l.previousLink)), \(bind: Data(l.link)))
                """
            ).run()
        }
    }

    /// A camera's chain in order, or the part from `position` on.
    public func chainLinks(cameraID: Int64, from position: Int64 = 0, through last: Int64 = .max) async throws -> [ChainLinkRecord] {
        let rows = try await run("chain of camera \(cameraID)") {
            try await database.raw(
                """
                SELECT * FROM segment_chain WHERE camera_id = \(bind: cameraID) AND position >= \(bind: position)
                  AND position <= \(bind: last) ORDER BY position
                """
            ).all()
        }
        return try rows.map(Self.chainLink)
    }

    public func chainLinks(segmentIDs: [Int64]) async throws -> [ChainLinkRecord] {
        guard !segmentIDs.isEmpty else { return [] }
        let rows = try await run("chain links of segments") {
            try await database.raw(
                "SELECT * FROM segment_chain WHERE segment_id IN (\(SQLList(segmentIDs.map { SQLBind($0) }))) ORDER BY camera_id, position"
            ).all()
        }
        return try rows.map(Self.chainLink)
    }

    /// Whether retention (or another deletion on record) removed the segment of `cameraID`
    /// that started at `startMicros`: its chain link is kept, marked deleted.
    public func segmentWasDeleted(cameraID: Int64, startMicros: Int64) async throws -> Bool {
        let rows = try await run("deleted chain link of camera \(cameraID) at \(startMicros)") {
            try await database.raw(
                """
                SELECT 1 AS found FROM segment_chain
                WHERE camera_id = \(bind: cameraID) AND start_micros = \(bind: startMicros) AND deleted_micros IS NOT NULL LIMIT 1
                """
            ).all()
        }
        return !rows.isEmpty
    }

    func markChainLinkDeleted(segmentID: Int64, reason: String) async throws {
        try await run("mark chain link of segment \(segmentID) deleted") {
            try await database.raw(
                """
                UPDATE segment_chain SET deleted_micros = \(bind: clock.nowMicros()), deleted_reason = \(bind: reason)
                WHERE segment_id = \(bind: segmentID)
                """
            ).run()
        }
    }

    public func addChainHead(_ h: ChainHeadRecord) async throws {
        try await run("add chain head \(h.cameraID)/\(h.position)") {
            try await database.raw(
                """
                INSERT INTO chain_heads (camera_id, position, note, signed_micros)
                VALUES (\(bind: h.cameraID), \(bind: h.position), \(bind: h.note), \(bind: h.signedMicros))
                ON CONFLICT (camera_id, position) DO NOTHING
                """
            ).run()
        }
    }

    /// Every signed head of a camera, oldest first (one a minute while it records: for
    /// `vigil check`, not for paths that run every minute).
    public func chainHeads(cameraID: Int64) async throws -> [ChainHeadRecord] {
        let rows = try await run("chain heads of camera \(cameraID)") {
            try await database.raw("SELECT * FROM chain_heads WHERE camera_id = \(bind: cameraID) ORDER BY position").all()
        }
        return try rows.map(Self.chainHead)
    }

    /// A camera's newest signed head: one row read from the end of the primary key,
    /// whatever the number of heads (the signer asks every minute for every camera; reading
    /// them all took 0.65 s a camera in SQLite alone after a year's 525 000 heads).
    public func latestChainHead(cameraID: Int64) async throws -> ChainHeadRecord? {
        let rows = try await run("latest chain head of camera \(cameraID)") {
            try await database.raw(Self.latestChainHeadQuery(cameraID: cameraID)).all()
        }
        return try rows.first.map(Self.chainHead)
    }

    static func latestChainHeadQuery(cameraID: Int64) -> SQLQueryString {
        "SELECT * FROM chain_heads WHERE camera_id = \(bind: cameraID) ORDER BY position DESC LIMIT 1"
    }

    static func chainHead(_ row: any SQLRow) throws -> ChainHeadRecord {
        ChainHeadRecord(
            cameraID: try row.decode(column: "camera_id", as: Int64.self), position: try row.decode(column: "position", as: Int64.self),
            note: try row.decode(column: "note", as: String.self), signedMicros: try row.decode(column: "signed_micros", as: Int64.self))
    }

    static func chainLink(_ row: any SQLRow) throws -> ChainLinkRecord {
        ChainLinkRecord(
            cameraID: try row.decode(column: "camera_id", as: Int64.self), position: try row.decode(column: "position", as: Int64.self),
            segmentID: try row.decode(column: "segment_id", as: Int64.self),
            startMicros: try row.decode(column: "start_micros", as: Int64.self),
            duration90k: try row.decode(column: "duration_90k", as: Int64.self),
            frameCount: try row.decode(column: "frame_count", as: Int64.self),
            byteCount: try row.decode(column: "byte_count", as: Int64.self),
            sha256: [UInt8](try row.decode(column: "sha256", as: Data.self)),
            metaSHA256: [UInt8](try row.decode(column: "meta_sha256", as: Data.self)),
            previousLink: [UInt8](try row.decode(column: "previous_link", as: Data.self)),
            link: [UInt8](try row.decode(column: "link", as: Data.self)),
            deletedMicros: try row.decode(column: "deleted_micros", as: Int64?.self),
            deletedReason: try row.decode(column: "deleted_reason", as: String?.self))
    }
}
