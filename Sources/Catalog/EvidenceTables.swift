// Integrity and evidence tables: each camera's segment hash chain and its signed heads,
// and the evidence register (items, their time ranges, custody events). Rows in, rows out;
// how a link is hashed and what a hold means are decided in Recording and Centre.

import Foundation
import SQLKit

/// One link of a camera's segment chain: what the link commits to, and the link itself.
/// The row outlives its segment (retention marks it deleted), so a removed segment leaves
/// a trace and the chain stays verifiable across it.
public struct ChainLinkRecord: Sendable, Equatable, Codable {
    public var cameraID: Int64
    /// 0, 1, 2… per camera, in recording order.
    public var position: Int64
    public var segmentID: Int64
    public var startMicros: Int64
    public var duration90k: Int64
    public var frameCount: Int64
    public var byteCount: Int64
    /// SHA-256 of the sample file.
    public var sha256: [UInt8]
    /// SHA-256 of the codec, parameter sets and sample index (how the bytes are played).
    public var metaSHA256: [UInt8]
    public var previousLink: [UInt8]
    public var link: [UInt8]
    public var deletedMicros: Int64?
    public var deletedReason: String?

    public init(
        cameraID: Int64, position: Int64, segmentID: Int64, startMicros: Int64, duration90k: Int64, frameCount: Int64,
        byteCount: Int64, sha256: [UInt8], metaSHA256: [UInt8], previousLink: [UInt8], link: [UInt8],
        deletedMicros: Int64? = nil, deletedReason: String? = nil
    ) {
        self.cameraID = cameraID
        self.position = position
        self.segmentID = segmentID
        self.startMicros = startMicros
        self.duration90k = duration90k
        self.frameCount = frameCount
        self.byteCount = byteCount
        self.sha256 = sha256
        self.metaSHA256 = metaSHA256
        self.previousLink = previousLink
        self.link = link
        self.deletedMicros = deletedMicros
        self.deletedReason = deletedReason
    }
}

/// A signed statement "camera C's chain had `position + 1` links, the last being L".
public struct ChainHeadRecord: Sendable, Equatable {
    public var cameraID: Int64
    public var position: Int64
    /// The signed note (same format and key as the audit log's checkpoints).
    public var note: String
    public var signedMicros: Int64

    public init(cameraID: Int64, position: Int64, note: String, signedMicros: Int64) {
        self.cameraID = cameraID
        self.position = position
        self.note = note
        self.signedMicros = signedMicros
    }
}

/// An exhibit in the evidence register.
public struct EvidenceRecord: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        public var cameraID: Int64
        public var fromMicros: Int64
        public var toMicros: Int64
        public init(cameraID: Int64, fromMicros: Int64, toMicros: Int64) {
            self.cameraID = cameraID
            self.fromMicros = fromMicros
            self.toMicros = toMicros
        }
    }

    public var id: Int64
    /// e.g. `EV-2026-000001`.
    public var exhibit: String
    /// `police`, `guard`, `prosecutor` or `court`.
    public var requestingBody: String
    public var caseReference: String
    public var legalBasis: String
    public var purpose: String
    public var createdBy: String
    /// The account that registered it (nil: the machine's command line).
    public var createdByUserID: Int64?
    public var createdMicros: Int64
    public var ranges: [Range]
    public var releasedMicros: Int64?
    public var releasedBy: String?
    public var releaseReason: String?

    public var isHeld: Bool { releasedMicros == nil }

    public init(
        id: Int64 = 0, exhibit: String = "", requestingBody: String, caseReference: String, legalBasis: String, purpose: String,
        createdBy: String, createdByUserID: Int64? = nil, createdMicros: Int64, ranges: [Range]
    ) {
        self.id = id
        self.createdByUserID = createdByUserID
        self.exhibit = exhibit
        self.requestingBody = requestingBody
        self.caseReference = caseReference
        self.legalBasis = legalBasis
        self.purpose = purpose
        self.createdBy = createdBy
        self.createdMicros = createdMicros
        self.ranges = ranges
    }
}

/// An exhibit shared with a user, who may then see it (Centre decides what that means).
public struct EvidenceShareRecord: Sendable, Equatable {
    public var userID: Int64
    public var userName: String
    public var sharedBy: String
    public var sharedMicros: Int64
}

/// Something that happened to an exhibit: created, exported, handed over, acknowledged,
/// hold released.
public struct CustodyRecord: Sendable, Equatable {
    public var id: Int64
    public var evidenceID: Int64
    public var kind: String
    /// Who did it.
    public var actor: String
    /// To or from whom (a hand-over's recipient), when there is one.
    public var counterpart: String?
    public var purpose: String?
    public var detail: String?
    public var atMicros: Int64

    public init(
        id: Int64 = 0, evidenceID: Int64, kind: String, actor: String, counterpart: String? = nil, purpose: String? = nil,
        detail: String? = nil, atMicros: Int64
    ) {
        self.id = id
        self.evidenceID = evidenceID
        self.kind = kind
        self.actor = actor
        self.counterpart = counterpart
        self.purpose = purpose
        self.detail = detail
        self.atMicros = atMicros
    }
}

extension Catalog {
    static func migrateToEvidence(_ db: any SQLDatabase) async throws {
        try await db.create(table: "segment_chain")
            .column("camera_id", type: .bigint, .notNull)
            .column("position", type: .bigint, .notNull)
            .column("segment_id", type: .bigint, .notNull, .unique)
            .column("start_micros", type: .bigint, .notNull)
            .column("duration_90k", type: .bigint, .notNull)
            .column("frame_count", type: .bigint, .notNull)
            .column("byte_count", type: .bigint, .notNull)
            .column("sha256", type: .blob, .notNull)
            .column("meta_sha256", type: .blob, .notNull)
            .column("previous_link", type: .blob, .notNull)
            .column("link", type: .blob, .notNull)
            .column("deleted_micros", type: .bigint)
            .column("deleted_reason", type: .text)
            .primaryKey("camera_id", "position")
            .run()
        try await db.create(table: "chain_heads")
            .column("camera_id", type: .bigint, .notNull)
            .column("position", type: .bigint, .notNull)
            .column("note", type: .text, .notNull)
            .column("signed_micros", type: .bigint, .notNull)
            .primaryKey("camera_id", "position")
            .run()
        try await db.create(table: "evidence_items")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("exhibit", type: .text, .notNull, .unique)
            .column("requesting_body", type: .text, .notNull)
            .column("case_reference", type: .text, .notNull)
            .column("legal_basis", type: .text, .notNull)
            .column("purpose", type: .text, .notNull)
            .column("created_by", type: .text, .notNull)
            .column("created_micros", type: .bigint, .notNull)
            .column("released_micros", type: .bigint)
            .column("released_by", type: .text)
            .column("release_reason", type: .text)
            .run()
        try await db.create(table: "evidence_ranges")
            .column("evidence_id", type: .bigint, .notNull, .references("evidence_items", "id"))
            .column("camera_id", type: .bigint, .notNull, .references("cameras", "id"))
            .column("from_micros", type: .bigint, .notNull)
            .column("to_micros", type: .bigint, .notNull)
            .run()
        try await db.create(index: "evidence_ranges_by_camera").on("evidence_ranges").column("camera_id").column("from_micros").run()
        try await db.create(table: "custody_events")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("evidence_id", type: .bigint, .notNull, .references("evidence_items", "id"))
            .column("kind", type: .text, .notNull)
            .column("actor", type: .text, .notNull)
            .column("counterpart", type: .text)
            .column("purpose", type: .text)
            .column("detail", type: .text)
            .column("at_micros", type: .bigint, .notNull)
            .run()
    }

    /// SQL that is true when a segment (aliased `segments`) overlaps a range of an exhibit
    /// whose hold has not been released: such a segment is never deleted.
    static let underEvidenceHold = """
        EXISTS (SELECT 1 FROM evidence_ranges r JOIN evidence_items e ON e.id = r.evidence_id
                WHERE e.released_micros IS NULL AND r.camera_id = segments.camera_id
                  AND r.from_micros < segments.start_micros + segments.duration_90k * 100 / 9
                  AND r.to_micros > segments.start_micros)
        """

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

    // MARK: Evidence register

    /// Registers an exhibit, numbering it `EV-<year>-<n>` within its year.
    /// Registers an exhibit with its ranges, in one transaction (an exhibit never exists
    /// without the ranges that hold its footage), numbered after the year's highest number
    /// (not its count: a gap must not make two exhibits share one) under the write lock, so
    /// two processes creating exhibits at once get different numbers.
    public func addEvidence(_ e: EvidenceRecord, year: Int) async throws -> EvidenceRecord {
        try await transaction("add exhibit") { try await insertEvidence(e, year: year) }
    }

    private func insertEvidence(_ e: EvidenceRecord, year: Int) async throws -> EvidenceRecord {
        var stored = e
        let prefix = "EV-\(year)-"
        let rows = try await run("highest exhibit number of \(year)") {
            try await database.raw("SELECT MAX(exhibit) AS last FROM evidence_items WHERE exhibit LIKE \(bind: prefix + "%")").all()
        }
        let last = try rows.first?.decode(column: "last", as: String?.self) ?? nil
        let n = (last.flatMap { Int($0.dropFirst(prefix.count)) } ?? 0) + 1
        stored.exhibit = prefix + String(format: "%06d", n)
        let inserted = try await run("insert exhibit \(stored.exhibit)") {
            try await database.raw(
                """
                INSERT INTO evidence_items (exhibit, requesting_body, case_reference, legal_basis, purpose, created_by, created_by_user_id, created_micros)
                VALUES (\(bind: stored.exhibit), \(bind: e.requestingBody), \(bind: e.caseReference), \(bind: e.legalBasis),
                        \(bind: e.purpose), \(bind: e.createdBy), \(bind: e.createdByUserID), \(bind: e.createdMicros))
                RETURNING id
                """
            ).all()
        }
        guard let id = try inserted.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert exhibit returned no id")
        }
        stored.id = id
        for r in e.ranges {
            try await run("insert exhibit range") {
                try await database.raw(
                    """
                    INSERT INTO evidence_ranges (evidence_id, camera_id, from_micros, to_micros)
                    VALUES (\(bind: id), \(bind: r.cameraID), \(bind: r.fromMicros), \(bind: r.toMicros))
                    """
                ).run()
            }
        }
        return stored
    }

    public func evidence(exhibit: String) async throws -> EvidenceRecord? {
        let rows = try await run("find exhibit \(exhibit)") {
            try await database.raw("SELECT * FROM evidence_items WHERE exhibit = \(bind: exhibit)").all()
        }
        guard let row = rows.first else { return nil }
        return try await evidenceRecord(row)
    }

    public func evidenceItems() async throws -> [EvidenceRecord] {
        let rows = try await run("list exhibits") { try await database.raw("SELECT * FROM evidence_items ORDER BY id").all() }
        var items: [EvidenceRecord] = []
        for row in rows { items.append(try await evidenceRecord(row)) }
        return items
    }

    public func releaseEvidence(id: Int64, by: String, reason: String, atMicros: Int64) async throws {
        try await run("release exhibit \(id)") {
            try await database.raw(
                """
                UPDATE evidence_items SET released_micros = \(bind: atMicros), released_by = \(bind: by), release_reason = \(bind: reason)
                WHERE id = \(bind: id) AND released_micros IS NULL
                """
            ).run()
        }
    }

    public func addCustody(_ c: CustodyRecord) async throws {
        try await run("insert custody event") {
            try await database.raw(
                """
                INSERT INTO custody_events (evidence_id, kind, actor, counterpart, purpose, detail, at_micros)
                VALUES (\(bind: c.evidenceID), \(bind: c.kind), \(bind: c.actor), \(bind: c.counterpart), \(bind: c.purpose),
                        \(bind: c.detail), \(bind: c.atMicros))
                """
            ).run()
        }
    }

    public func custody(evidenceID: Int64) async throws -> [CustodyRecord] {
        let rows = try await run("custody of exhibit \(evidenceID)") {
            try await database.raw("SELECT * FROM custody_events WHERE evidence_id = \(bind: evidenceID) ORDER BY id").all()
        }
        return try rows.map { row in
            CustodyRecord(
                id: try row.decode(column: "id", as: Int64.self), evidenceID: evidenceID,
                kind: try row.decode(column: "kind", as: String.self),
                actor: try row.decode(column: "actor", as: String.self),
                counterpart: try row.decode(column: "counterpart", as: String?.self),
                purpose: try row.decode(column: "purpose", as: String?.self), detail: try row.decode(column: "detail", as: String?.self),
                atMicros: try row.decode(column: "at_micros", as: Int64.self))
        }
    }

    // MARK: Sharing

    /// Shares exhibit `evidenceID` with `userID`; false when it already was.
    public func addEvidenceShare(evidenceID: Int64, userID: Int64, by: String, atMicros: Int64) async throws -> Bool {
        let rows = try await run("share exhibit \(evidenceID) with user \(userID)") {
            try await database.raw(
                """
                INSERT INTO evidence_shares (evidence_id, user_id, shared_by, shared_micros)
                VALUES (\(bind: evidenceID), \(bind: userID), \(bind: by), \(bind: atMicros))
                ON CONFLICT DO NOTHING RETURNING user_id
                """
            ).all()
        }
        return !rows.isEmpty
    }

    /// Ends the sharing of exhibit `evidenceID` with `userID`; false when it was not shared.
    public func removeEvidenceShare(evidenceID: Int64, userID: Int64) async throws -> Bool {
        let rows = try await run("unshare exhibit \(evidenceID) from user \(userID)") {
            try await database.raw(
                """
                DELETE FROM evidence_shares WHERE evidence_id = \(bind: evidenceID) AND user_id = \(bind: userID) RETURNING user_id
                """
            ).all()
        }
        return !rows.isEmpty
    }

    /// Who exhibit `evidenceID` is shared with, by user name.
    public func evidenceShares(evidenceID: Int64) async throws -> [EvidenceShareRecord] {
        let rows = try await run("shares of exhibit \(evidenceID)") {
            try await database.raw(
                """
                SELECT s.user_id, u.name, s.shared_by, s.shared_micros FROM evidence_shares s JOIN users u ON u.id = s.user_id
                WHERE s.evidence_id = \(bind: evidenceID) ORDER BY u.name
                """
            ).all()
        }
        return try rows.map {
            EvidenceShareRecord(
                userID: try $0.decode(column: "user_id", as: Int64.self), userName: try $0.decode(column: "name", as: String.self),
                sharedBy: try $0.decode(column: "shared_by", as: String.self),
                sharedMicros: try $0.decode(column: "shared_micros", as: Int64.self))
        }
    }

    /// The exhibits shared with `userID`.
    public func evidenceShared(withUserID userID: Int64) async throws -> Set<Int64> {
        let rows = try await run("exhibits shared with user \(userID)") {
            try await database.raw("SELECT evidence_id FROM evidence_shares WHERE user_id = \(bind: userID)").all()
        }
        return Set(try rows.map { try $0.decode(column: "evidence_id", as: Int64.self) })
    }

    /// How many custody events of `kind` `actor` caused since `sinceMicros`.
    public func custodyCount(kind: String, actor: String, sinceMicros: Int64) async throws -> Int {
        let rows = try await run("count \(kind) events of \(actor)") {
            try await database.raw(
                """
                SELECT COUNT(*) AS n FROM custody_events WHERE kind = \(bind: kind) AND actor = \(bind: actor) AND at_micros >= \(bind: sinceMicros)
                """
            ).all()
        }
        return try rows.first?.decode(column: "n", as: Int.self) ?? 0
    }

    /// Ids of segments under an unreleased exhibit's hold.
    public func heldByEvidence(segmentIDs: [Int64]) async throws -> Set<Int64> {
        guard !segmentIDs.isEmpty else { return [] }
        let rows = try await run("segments under evidence hold") {
            try await database.raw(
                "SELECT id FROM segments WHERE id IN (\(SQLList(segmentIDs.map { SQLBind($0) }))) AND \(unsafeRaw: Self.underEvidenceHold)"
            ).all()
        }
        return Set(try rows.map { try $0.decode(column: "id", as: Int64.self) })
    }

    private func evidenceRecord(_ row: any SQLRow) async throws -> EvidenceRecord {
        let id = try row.decode(column: "id", as: Int64.self)
        let ranges = try await run("ranges of exhibit \(id)") {
            try await database.raw("SELECT * FROM evidence_ranges WHERE evidence_id = \(bind: id) ORDER BY camera_id, from_micros").all()
        }
        var e = EvidenceRecord(
            id: id, exhibit: try row.decode(column: "exhibit", as: String.self),
            requestingBody: try row.decode(column: "requesting_body", as: String.self),
            caseReference: try row.decode(column: "case_reference", as: String.self),
            legalBasis: try row.decode(column: "legal_basis", as: String.self),
            purpose: try row.decode(column: "purpose", as: String.self),
            createdBy: try row.decode(column: "created_by", as: String.self),
            createdMicros: try row.decode(column: "created_micros", as: Int64.self),
            ranges: try ranges.map {
                EvidenceRecord.Range(
                    cameraID: try $0.decode(column: "camera_id", as: Int64.self),
                    fromMicros: try $0.decode(column: "from_micros", as: Int64.self),
                    toMicros: try $0.decode(column: "to_micros", as: Int64.self))
            })
        e.createdByUserID = try row.decode(column: "created_by_user_id", as: Int64?.self)
        e.releasedMicros = try row.decode(column: "released_micros", as: Int64?.self)
        e.releasedBy = try row.decode(column: "released_by", as: String?.self)
        e.releaseReason = try row.decode(column: "release_reason", as: String?.self)
        return e
    }
}
