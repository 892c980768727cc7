// The evidence register: exhibits, their time ranges (holds), custody events and to whom
// each is shared. What a hold means and who may see an exhibit is decided in Centre.

import Base
import Foundation
import Media
import Records
import SQLKit

extension Catalog {
    /// SQL that is true when a segment (aliased `segments`) overlaps a range of an exhibit
    /// whose hold has not been released, or a range of an incident whose request for an
    /// exhibit is not yet decided (the footage waits for the investigator, whatever its
    /// age): such a segment is never deleted.
    static let underEvidenceHold = """
        (EXISTS (SELECT 1 FROM evidence_ranges r JOIN evidence_items e ON e.id = r.evidence_id
                 WHERE e.released_micros IS NULL AND r.camera_id = segments.camera_id
                   AND r.from_micros < segments.start_micros + segments.duration_90k * 100 / 9
                   AND r.to_micros > segments.start_micros)
         OR EXISTS (SELECT 1 FROM incident_exhibit_requests q JOIN incident_cameras ic ON ic.incident_id = q.incident_id
                    WHERE q.decided_micros IS NULL AND ic.camera_id = segments.camera_id
                      AND ic.from_micros < segments.start_micros + segments.duration_90k * 100 / 9
                      AND ic.to_micros > segments.start_micros))
        """

    // MARK: Evidence register

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

    /// Ends exhibit `id`'s hold; false when it had already ended (nothing is changed).
    @discardableResult
    public func releaseEvidence(id: Int64, by: String, reason: String, atMicros: Int64) async throws -> Bool {
        let rows = try await run("release exhibit \(id)") {
            try await database.raw(
                """
                UPDATE evidence_items SET released_micros = \(bind: atMicros), released_by = \(bind: by), release_reason = \(bind: reason)
                WHERE id = \(bind: id) AND released_micros IS NULL RETURNING id
                """
            ).all()
        }
        return !rows.isEmpty
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

    /// The stretches of camera `cameraID`'s time that an unreleased exhibit holds and that
    /// meet `[from, to)`, by start (overlapping ones as they are stored).
    public func heldRanges(cameraID: Int64, from: Int64, to: Int64) async throws -> [(from: Int64, to: Int64)] {
        let rows = try await run("held ranges of camera \(cameraID)") {
            try await database.raw(
                """
                SELECT r.from_micros, r.to_micros FROM evidence_ranges r JOIN evidence_items i ON i.id = r.evidence_id
                WHERE r.camera_id = \(bind: cameraID) AND i.released_micros IS NULL
                  AND r.to_micros > \(bind: from) AND r.from_micros < \(bind: to)
                ORDER BY r.from_micros
                """
            ).all()
        }
        return try rows.map { (try $0.decode(column: "from_micros", as: Int64.self), try $0.decode(column: "to_micros", as: Int64.self)) }
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
