// The audit log's entries (the exact bytes that were hashed) and its signed checkpoints.
// How a leaf is hashed and a checkpoint signed is decided in Audit.

import Base
import Foundation
import Media
import Records
import SQLKit

extension Catalog {
    // MARK: Audit log

    /// Appends entries in one transaction: all are stored or none. Throws `CatalogConflict`
    /// when another writer already used one of the positions.
    public func appendAudit(_ rows: [AuditRow]) async throws {
        guard !rows.isEmpty else { return }
        // Stay below SQLite's 32 766 bound parameters per statement.
        let chunk = 8_000
        func insert(_ part: ArraySlice<AuditRow>) async throws {
            let values = SQLList(part.map { SQLList([SQLBind($0.seq), SQLBind(Data($0.body))]) }, separator: SQLRaw("), ("))
            try await database.raw("INSERT INTO audit_entries (seq, body) VALUES (\(values))").run()
        }
        do {
            if rows.count <= chunk {
                try await statement { try await insert(rows[...]) }
            } else {
                try await transaction("append audit entries") {
                    for start in stride(from: 0, to: rows.count, by: chunk) {
                        try await insert(rows[start..<min(rows.count, start + chunk)])
                    }
                }
            }
        } catch let error where "\(error)".lowercased().contains("unique constraint failed: audit_entries.seq") {
            // Only a taken position is another writer's doing; any other failure is the store's.
            throw CatalogConflict()
        } catch {
            throw CatalogError.database(operation: "append audit entries", underlying: String(reflecting: error))
        }
    }

    /// Appends one batch of audit rows and makes `change` (catalog writes only: it runs
    /// holding the write lock) in one transaction: a change and the entry that records it
    /// are stored together or not at all. Throws `CatalogConflict` only when another writer
    /// took one of the rows' positions; a failure of `change` is thrown as it is.
    /// `rows` is given `change`'s result, inside the transaction, so they can say what it
    /// made (a new camera's id, an exhibit's number).
    public func appendAudit<T: Sendable>(
        with change: @Sendable () async throws -> T, rows: @Sendable (T) throws -> [AuditRow]
    ) async throws -> T {
        do {
            return try await transaction("audited change") {
                let result: T
                do { result = try await change() } catch { throw ChangeFailed(underlying: error) }
                try await appendAudit(try rows(result))
                return result
            }
        } catch let failed as ChangeFailed {
            throw failed.underlying
        }
    }

    /// Entries with `seq >= from`, in order, at most `limit`.
    public func auditEntries(from: Int64 = 0, limit: Int = Int.max) async throws -> [AuditRow] {
        let rows = try await run("read audit entries") {
            try await database.raw(
                "SELECT seq, body FROM audit_entries WHERE seq >= \(bind: from) ORDER BY seq LIMIT \(bind: Int64(min(limit, Int(Int64.max))))"
            ).all()
        }
        return try rows.map {
            AuditRow(seq: try $0.decode(column: "seq", as: Int64.self), body: [UInt8](try $0.decode(column: "body", as: Data.self)))
        }
    }

    /// The newest entries first (for listing), at most `limit`, before `beforeSeq` when given.
    public func latestAuditEntries(limit: Int, before beforeSeq: Int64?) async throws -> [AuditRow] {
        let rows = try await run("read latest audit entries") {
            try await database.raw(
                """
                SELECT seq, body FROM audit_entries WHERE seq < \(bind: beforeSeq ?? Int64.max) ORDER BY seq DESC LIMIT \(bind: limit)
                """
            ).all()
        }
        return try rows.map {
            AuditRow(seq: try $0.decode(column: "seq", as: Int64.self), body: [UInt8](try $0.decode(column: "body", as: Data.self)))
        }
    }

    public func auditCount() async throws -> Int64 {
        let rows = try await run("count audit entries") { try await database.raw("SELECT COUNT(*) AS n FROM audit_entries").all() }
        return try rows.first?.decode(column: "n", as: Int64.self) ?? 0
    }

    public func addCheckpoint(_ c: CheckpointRow) async throws {
        try await run("store checkpoint \(c.treeSize)") {
            try await database.raw(
                """
                INSERT INTO audit_checkpoints (tree_size, note, issued_micros) VALUES (\(bind: c.treeSize), \(bind: c.note), \(bind: c.issuedMicros))
                ON CONFLICT (tree_size) DO NOTHING
                """
            ).run()
        }
    }

    public func checkpoints() async throws -> [CheckpointRow] {
        let rows = try await run("read checkpoints") { try await database.raw("SELECT * FROM audit_checkpoints ORDER BY tree_size").all() }
        return try rows.map {
            CheckpointRow(
                treeSize: try $0.decode(column: "tree_size", as: Int64.self), note: try $0.decode(column: "note", as: String.self),
                issuedMicros: try $0.decode(column: "issued_micros", as: Int64.self))
        }
    }
}
