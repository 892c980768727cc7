// The schema's history: every migration, in order. Each runs in one transaction with its
// version row. Never edit a step that has shipped; add the next one.

import Base
import Foundation
import Media
import SQLKit

extension Catalog {
    /// Schema version this code reads and writes: the last migration's.
    public static var schemaVersion: Int { migrations.last?.version ?? 0 }

    // MARK: Migrations

    /// Applies every migration newer than the database's version, in order.
    public func migrate() async throws {
        try await run("create schema_migrations") {
            try await database.create(table: "schema_migrations").ifNotExists()
                .column("version", type: .bigint, .primaryKey(autoIncrement: false))
                .column("applied_micros", type: .bigint, .notNull)
                .run()
        }
        let rows = try await run("read schema version") {
            try await database.raw("SELECT MAX(version) AS v FROM schema_migrations").all()
        }
        let current = (try? rows.first?.decode(column: "v", as: Int?.self)) ?? nil ?? 0
        guard current <= Self.schemaVersion else {
            throw CatalogError.invalid("database schema version \(current) is newer than this program's \(Self.schemaVersion)")
        }
        // Each migration and its version row are one transaction: a crash half-way leaves
        // the schema as it was, not a table that makes the next start fail.
        for (version, step) in Self.migrations where version > current {
            try await transaction("migration \(version)") {
                try await run("migration \(version)") {
                    try await step(database)
                    try await database.raw(
                        "INSERT INTO schema_migrations (version, applied_micros) VALUES (\(bind: version), \(bind: clock.nowMicros()))"
                    ).run()
                }
            }
        }
    }

    /// The schema's history: each step, in order, with its version. The version this code
    /// reads and writes is the last one's (`schemaVersion`); a new step gets the next number.
    static let migrations: [(version: Int, step: @Sendable (any SQLDatabase) async throws -> Void)] = [
        (
            1,
            { db in
                try await db.create(table: "cameras")
                    .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                    .column("name", type: .text, .notNull, .unique)
                    .column("url", type: .text, .notNull)
                    .column("retention_days", type: .int, .notNull)
                    .run()
                try await db.create(table: "segments")
                    .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                    .column("camera_id", type: .bigint, .notNull, .references("cameras", "id"))
                    .column("run_id", type: .bigint, .notNull)
                    .column("file_name", type: .text, .notNull)
                    .column("start_micros", type: .bigint, .notNull)
                    .column("duration_90k", type: .bigint, .notNull)
                    .column("byte_count", type: .bigint, .notNull)
                    .column("frame_count", type: .bigint, .notNull)
                    .column("codec", type: .text, .notNull)
                    .column("parameter_sets", type: .blob, .notNull)
                    .column("sample_index", type: .blob, .notNull)
                    .column("sha256", type: .blob)
                    .column("state", type: .text, .notNull)
                    .column("held", type: .int, .notNull)
                    .run()
                try await db.create(index: "segments_by_camera_start").on("segments").column("camera_id").column("start_micros").run()
                try await db.create(table: "gaps")
                    .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                    .column("camera_id", type: .bigint, .notNull, .references("cameras", "id"))
                    .column("start_micros", type: .bigint, .notNull)
                    .column("end_micros", type: .bigint)
                    .column("reason", type: .text, .notNull)
                    .run()
                try await db.create(index: "gaps_by_camera_start").on("gaps").column("camera_id").column("start_micros").run()
                try await db.create(table: "maintenance_log")
                    .column("id", type: .bigint, .primaryKey(autoIncrement: true))
                    .column("at_micros", type: .bigint, .notNull)
                    .column("action", type: .text, .notNull)
                    .column("detail", type: .text, .notNull)
                    .run()
            }
        ),
        (2, { db in try await Catalog.migrateToCentre(db) }),
        (3, { db in try await Catalog.migrateToEvidence(db) }),
        (
            4,
            { db in
                // A random name for this catalog, given once. The sample store keeps a copy, so
                // start-up can tell a catalog that was lost or swapped for another one from an
                // older copy of the same one (Recovery).
                try await db.create(table: "catalog_identity")
                    .column("identity", type: .text, .primaryKey(autoIncrement: false))
                    .run()
                let identity = randomHex(bytes: 16)
                try await db.raw("INSERT INTO catalog_identity (identity) VALUES (\(bind: identity))").run()
            }
        ),
        (
            5,
            { db in
                // API tokens expire; those issued before get the default lifetime from their issue.
                try await db.alter(table: "api_tokens").column("expires_micros", type: .bigint, [.notNull, .default(0)]).run()
                try await db.raw("UPDATE api_tokens SET expires_micros = created_micros + \(bind: Int64(90) * 86_400_000_000)").run()
                // Exhibits are visible per exhibit: to whom each one was shared, by whom, when.
                try await db.raw(
                    """
                    CREATE TABLE evidence_shares (
                        evidence_id BIGINT NOT NULL REFERENCES evidence_items (id),
                        user_id BIGINT NOT NULL REFERENCES users (id),
                        shared_by TEXT NOT NULL,
                        shared_micros BIGINT NOT NULL,
                        PRIMARY KEY (evidence_id, user_id))
                    """
                ).run()
                try await db.create(index: "evidence_shares_by_user").on("evidence_shares").column("user_id").run()
            }
        ),
        (
            6,
            { db in
                // Who registered an exhibit, by account: a name compared as text could match
                // another account's name that only looks the same.
                try await db.alter(table: "evidence_items").column("created_by_user_id", type: .bigint, []).run()
                try await db.raw(
                    "UPDATE evidence_items SET created_by_user_id = (SELECT id FROM users WHERE users.name = evidence_items.created_by)"
                ).run()
            }
        ),
        (7, migrateToPTZ),
        (8, migrateToWorkstation),
        // When a camera was removed (`CameraRecord.removedMicros`): its row stays.
        (9, { db in try await db.raw("ALTER TABLE cameras ADD COLUMN removed_micros BIGINT").run() }),
        // A camera's sub-stream for viewing only (`CameraRecord.subStreamURL`).
        (10, { db in try await db.raw("ALTER TABLE cameras ADD COLUMN sub_url TEXT").run() }),
        (11, migrateToIncidents),
        (12, migrateToDispatch),
        // When an incident's personal data was removed at the end of its retention; requests
        // to secure an incident's footage as an exhibit.
        (13, migrateToIncidentRetentionAndRequests),
        // Pictures of an incident's cameras taken from their recordings.
        (14, migrateToIncidentSnapshots)
    ]

    static func migrateToCentre(_ db: any SQLDatabase) async throws {
        // SQLite adds one column per ALTER TABLE.
        let cameraColumns: [(String, SQLDataType, [SQLColumnConstraintAlgorithm])] = [
            ("location", .text, [.notNull, .default("")]),
            ("latitude", .real, []),
            ("longitude", .real, []),
            ("username", .text, []),
            ("sealed_password", .blob, []),
            ("segment_seconds", .int, [.notNull, .default(60)]),
            ("enabled", .int, [.notNull, .default(1)])
        ]
        for (name, type, constraints) in cameraColumns {
            try await db.alter(table: "cameras").column(name, type: type, constraints).run()
        }
        try await db.create(table: "users")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("name", type: .text, .notNull, .unique)
            .column("role", type: .text, .notNull)
            .column("password_hash", type: .text, .notNull)
            .column("disabled", type: .int, .notNull)
            .column("must_change_password", type: .int, .notNull)
            .column("failed_sign_ins", type: .int, .notNull)
            .column("locked_until_micros", type: .bigint, .notNull)
            .column("created_micros", type: .bigint, .notNull)
            .run()
        try await db.create(table: "sessions")
            .column("token_hash", type: .blob, .primaryKey(autoIncrement: false))
            .column("user_id", type: .bigint, .notNull, .references("users", "id"))
            .column("csrf_token", type: .text, .notNull)
            .column("created_micros", type: .bigint, .notNull)
            .column("last_seen_micros", type: .bigint, .notNull)
            .column("address", type: .text, .notNull)
            .column("user_agent", type: .text, .notNull)
            .run()
        try await db.create(table: "api_tokens")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("token_hash", type: .blob, .notNull, .unique)
            .column("user_id", type: .bigint, .notNull, .references("users", "id"))
            .column("name", type: .text, .notNull)
            .column("created_micros", type: .bigint, .notNull)
            .column("revoked", type: .int, .notNull)
            .run()
        try await db.create(table: "grants")
            .column("user_id", type: .bigint, .notNull, .references("users", "id"))
            .column("permission", type: .text, .notNull)
            .column("camera_id", type: .bigint)
            .run()
        try await db.create(table: "audit_entries")
            .column("seq", type: .bigint, .primaryKey(autoIncrement: false))
            .column("body", type: .blob, .notNull)
            .run()
        try await db.create(table: "audit_checkpoints")
            .column("tree_size", type: .bigint, .primaryKey(autoIncrement: false))
            .column("note", type: .text, .notNull)
            .column("issued_micros", type: .bigint, .notNull)
            .run()
    }

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
}
