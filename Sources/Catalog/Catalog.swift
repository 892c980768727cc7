// Catalog — the database of what has been recorded.
//
// What belongs here: the schema and its migrations, and every query the recorder, the
// exporter and the checker run — cameras, segments (one row per sample file, with its
// per-frame index and SHA-256), gaps, and the maintenance log of what start-up recovery
// and retention did.
// What does not: file I/O (Recording owns sample files), RTSP, MP4 assembly.
// Invariants: callers see plain Swift values, never SQL; every statement is written
// through SQLKit so the same code runs on SQLite (embedded, via sqlite-kit) and, with a
// PostgreSQL `SQLDatabase` from postgres-kit, on a multi-server site. Times are stored as
// microseconds since the Unix epoch (UTC), media durations in 90 kHz ticks.

import Base
import Foundation
import Logging
import Media
import NIOPosix
import SQLKit
import SQLiteKit

public enum CatalogError: CodedError {
    case database(operation: String, underlying: String)
    case notFound(String)
    case invalid(String)

    public var code: ErrorCode {
        switch self {
        case .database: .failure
        case .notFound: .notFound
        case .invalid: .invalid
        }
    }

    public var description: String {
        switch self {
        case let .database(operation, underlying): "catalog: \(operation) failed: \(underlying)"
        case let .notFound(what): "catalog: \(what) not found"
        case let .invalid(what): "catalog: \(what)"
        }
    }
}

public struct CameraRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The camera's URL without credentials.
    public var url: String
    public var retentionDays: Int
    public var location: String = ""
    public var latitude: Double?
    public var longitude: Double?
    /// Credentials for the camera's RTSP server; the password is sealed (see Centre's
    /// `CredentialSealer`) and never leaves the server.
    public var username: String?
    public var sealedPassword: [UInt8]?
    public var segmentSeconds: Int = 60
    public var enabled: Bool = true

    public init(id: Int64, name: String, url: String, retentionDays: Int) {
        self.id = id
        self.name = name
        self.url = url
        self.retentionDays = retentionDays
    }
}

/// One recorded segment: a sample file and the index that makes it playable.
public struct SegmentRecord: Sendable, Equatable {
    public enum State: String, Sendable { case open, closed }

    public var id: Int64
    public var cameraID: Int64
    /// Segments of one run follow each other without a gap.
    public var runID: Int64
    /// File name inside the camera's sample directory.
    public var fileName: String
    /// Wall-clock time of the first frame, microseconds since the Unix epoch.
    public var startMicros: Int64
    public var duration: Ticks90k
    public var byteCount: Int64
    public var frameCount: Int
    public var codec: VideoCodec
    /// (VPS,) SPS, PPS.
    public var parameterSets: [[UInt8]]
    /// `SampleIndex`-encoded per-frame durations, sizes and key flags.
    public var sampleIndex: [UInt8]
    /// SHA-256 of the whole sample file; nil while the segment is still being written.
    public var sha256: [UInt8]?
    public var state: State
    public var held: Bool

    public var endMicros: Int64 { startMicros + duration * 1_000_000 / ticksPerSecond }

    public init(
        id: Int64 = 0, cameraID: Int64, runID: Int64, fileName: String, startMicros: Int64, duration: Ticks90k,
        byteCount: Int64, frameCount: Int, codec: VideoCodec, parameterSets: [[UInt8]], sampleIndex: [UInt8],
        sha256: [UInt8]?, state: State, held: Bool = false
    ) {
        self.id = id
        self.cameraID = cameraID
        self.runID = runID
        self.fileName = fileName
        self.startMicros = startMicros
        self.duration = duration
        self.byteCount = byteCount
        self.frameCount = frameCount
        self.codec = codec
        self.parameterSets = parameterSets
        self.sampleIndex = sampleIndex
        self.sha256 = sha256
        self.state = state
        self.held = held
    }
}

/// How far an open segment has been written and synced: what its row says until the next.
public struct SegmentProgress: Sendable, Equatable {
    public var id: Int64
    public var duration: Ticks90k
    public var byteCount: Int64
    public var frameCount: Int
    public var sampleIndex: [UInt8]

    public init(id: Int64, duration: Ticks90k, byteCount: Int64, frameCount: Int, sampleIndex: [UInt8]) {
        self.id = id
        self.duration = duration
        self.byteCount = byteCount
        self.frameCount = frameCount
        self.sampleIndex = sampleIndex
    }
}

/// A stretch of time in which a camera was not recorded, and why.
public struct GapRecord: Sendable, Equatable {
    public var id: Int64
    public var cameraID: Int64
    public var startMicros: Int64
    /// nil while the camera is still away.
    public var endMicros: Int64?
    public var reason: String
}

/// The catalog. An actor: one connection, statements in order.
public actor Catalog {
    public let database: any SQLDatabase
    private let closeHandler: (@Sendable () async throws -> Void)?
    /// Wall time for what the catalog stamps itself (migrations, the maintenance log, a
    /// chain link's deletion); every other time is the caller's.
    public nonisolated let clock: WallClock

    /// Schema version this code reads and writes.
    public static let schemaVersion = 6

    /// Opens (creating if needed) the embedded SQLite catalog at `path`, in WAL mode with
    /// full synchronous commits: a committed row survives a crash or power loss.
    public static func openSQLite(
        path: String, logger: Logger = Logger(label: "vigil.catalog"),
        clock: WallClock = .system
    ) async throws -> Catalog {
        do {
            let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
            let db = connection.sql()
            for pragma in [
                "PRAGMA journal_mode = WAL", "PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON", "PRAGMA busy_timeout = 5000"
            ] {
                try await db.raw(SQLQueryString(pragma)).run()
            }
            let catalog = Catalog(database: db, close: { try await connection.close() }, clock: clock)
            try await catalog.migrate()
            return catalog
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError.database(operation: "open \(path)", underlying: "\(error)")
        }
    }

    /// Uses an existing database (PostgreSQL through postgres-kit, or SQLite); call `migrate()`.
    public init(database: any SQLDatabase, close: (@Sendable () async throws -> Void)? = nil, clock: WallClock = .system) {
        self.database = database
        self.clock = clock
        self.closeHandler = close
    }

    public func close() async {
        try? await closeHandler?()
    }

    // MARK: Transactions

    /// The transaction in progress on this catalog's one connection, if any; statements of
    /// other tasks wait until it ends (`run` waits at its start), so none of them lands
    /// inside it by accident. The actor alone cannot keep them out: it is re-entered at
    /// every `await` of the transaction's body.
    private var transactionOwner: UInt64?
    private var nextTransaction: UInt64 = 1
    private var transactionWaiters: [CheckedContinuation<Void, Never>] = []
    /// Statements of other tasks still running: a transaction begins only when none is,
    /// or one that passed the gate just before could run inside it on the connection.
    private var statementsInFlight = 0
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    @TaskLocal static var currentTransaction: UInt64?

    /// Runs one statement (or a few that need no transaction) through the gate: it waits
    /// while another task's transaction is open, and is counted while it runs.
    func statement<T>(_ body: () async throws -> T) async throws -> T {
        while let owner = transactionOwner, owner != Self.currentTransaction {
            await withCheckedContinuation { transactionWaiters.append($0) }
        }
        statementsInFlight += 1
        defer {
            statementsInFlight -= 1
            if statementsInFlight == 0 {
                let waiters = drainWaiters
                drainWaiters = []
                for w in waiters { w.resume() }
            }
        }
        return try await body()
    }

    /// Runs `body`'s statements as one transaction: all of them are stored or none. On
    /// SQLite it begins `IMMEDIATE`, taking the write lock at once, so another process
    /// (a `vigil` command beside the server) cannot change what the body read before the
    /// body writes. Nested calls join the outer transaction.
    /// The body must issue its statements from its own task (or tasks it starts and awaits,
    /// which inherit the transaction): one that waits for another task's statement on this
    /// catalog would wait for itself.
    func transaction<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        if let owner = transactionOwner, owner == Self.currentTransaction { return try await body() }
        while transactionOwner != nil {
            await withCheckedContinuation { transactionWaiters.append($0) }
        }
        let id = nextTransaction
        nextTransaction += 1
        transactionOwner = id
        while statementsInFlight > 0 {
            await withCheckedContinuation { drainWaiters.append($0) }
        }
        defer {
            transactionOwner = nil
            let waiters = transactionWaiters
            transactionWaiters = []
            for w in waiters { w.resume() }
        }
        return try await Self.$currentTransaction.withValue(id) {
            let begin = database.dialect.name == "sqlite" ? "BEGIN IMMEDIATE" : "BEGIN"
            try await run("begin \(operation)") { try await database.raw(SQLQueryString(begin)).run() }
            do {
                let result = try await body()
                try await run("commit \(operation)") { try await database.raw("COMMIT").run() }
                return result
            } catch {
                try? await database.raw("ROLLBACK").run()
                throw error
            }
        }
    }

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
        for (version, step) in migrations where version > current {
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

    private let migrations: [(Int, @Sendable (any SQLDatabase) async throws -> Void)] = [
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
        )
    ]

    /// This catalog's random name, given when it was created (migration 4).
    public func identity() async throws -> String {
        let rows = try await run("read catalog identity") { try await database.raw("SELECT identity FROM catalog_identity").all() }
        guard rows.count == 1, let identity = try? rows[0].decode(column: "identity", as: String.self) else {
            throw CatalogError.invalid("the catalog has \(rows.count) identities instead of one")
        }
        return identity
    }

    // MARK: Cameras

    /// Returns the camera named `name`, creating it or updating its URL and retention.
    public func upsertCamera(name: String, url: String, retentionDays: Int) async throws -> CameraRecord {
        if var existing = try await camera(named: name) {
            if existing.url != url || existing.retentionDays != retentionDays {
                try await run("update camera \(name)") {
                    try await database.raw(
                        "UPDATE cameras SET url = \(bind: url), retention_days = \(bind: retentionDays) WHERE id = \(bind: existing.id)"
                    ).run()
                }
                existing.url = url
                existing.retentionDays = retentionDays
            }
            return existing
        }
        let rows = try await run("insert camera \(name)") {
            try await database.raw(
                "INSERT INTO cameras (name, url, retention_days) VALUES (\(bind: name), \(bind: url), \(bind: retentionDays)) RETURNING id"
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert camera returned no id")
        }
        return CameraRecord(id: id, name: name, url: url, retentionDays: retentionDays)
    }

    public func camera(named name: String) async throws -> CameraRecord? {
        let rows = try await run("find camera \(name)") {
            try await database.raw("SELECT * FROM cameras WHERE name = \(bind: name)").all()
        }
        return try rows.first.map(Self.cameraRecord)
    }

    public func cameras() async throws -> [CameraRecord] {
        let rows = try await run("list cameras") { try await database.raw("SELECT * FROM cameras ORDER BY name").all() }
        return try rows.map(Self.cameraRecord)
    }

    public func camera(id: Int64) async throws -> CameraRecord? {
        let rows = try await run("find camera \(id)") {
            try await database.raw("SELECT * FROM cameras WHERE id = \(bind: id)").all()
        }
        return try rows.first.map(Self.cameraRecord)
    }

    /// Adds a camera with everything the server knows of it; the name must be new.
    public func addCamera(_ c: CameraRecord) async throws -> CameraRecord {
        let rows = try await run("insert camera \(c.name)") {
            try await database.raw(
                """
                INSERT INTO cameras (name, url, retention_days, location, latitude, longitude, username, sealed_password,
                                     segment_seconds, enabled)
                VALUES (\(bind: c.name), \(bind: c.url), \(bind: c.retentionDays), \(bind: c.location), \(bind: c.latitude),
                        \(bind: c.longitude), \(bind: c.username), \(bind: c.sealedPassword.map { Data($0) }),
                        \(bind: c.segmentSeconds), \(bind: c.enabled ? 1 : 0))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert camera returned no id")
        }
        var added = c
        added.id = id
        return added
    }

    /// Replaces every field of camera `c.id` but its id.
    public func updateCamera(_ c: CameraRecord) async throws {
        try await run("update camera \(c.id)") {
            try await database.raw(
                """
                UPDATE cameras SET name = \(bind: c.name), url = \(bind: c.url), retention_days = \(bind: c.retentionDays),
                       location = \(bind: c.location), latitude = \(bind: c.latitude), longitude = \(bind: c.longitude),
                       username = \(bind: c.username), sealed_password = \(bind: c.sealedPassword.map { Data($0) }),
                       segment_seconds = \(bind: c.segmentSeconds), enabled = \(bind: c.enabled ? 1 : 0)
                WHERE id = \(bind: c.id)
                """
            ).run()
        }
    }

    private static func cameraRecord(_ row: any SQLRow) throws -> CameraRecord {
        var c = CameraRecord(
            id: try row.decode(column: "id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
            url: try row.decode(column: "url", as: String.self), retentionDays: try row.decode(column: "retention_days", as: Int.self))
        c.location = try row.decode(column: "location", as: String.self)
        c.latitude = try row.decode(column: "latitude", as: Double?.self)
        c.longitude = try row.decode(column: "longitude", as: Double?.self)
        c.username = try row.decode(column: "username", as: String?.self)
        c.sealedPassword = try row.decode(column: "sealed_password", as: Data?.self).map { [UInt8]($0) }
        c.segmentSeconds = try row.decode(column: "segment_seconds", as: Int.self)
        c.enabled = try row.decode(column: "enabled", as: Int.self) != 0
        return c
    }

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

    // MARK: Helpers

    func run<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await statement(body)
        } catch let error as CatalogError {
            throw error
        } catch {
            throw CatalogError.database(operation: operation, underlying: String(reflecting: error))
        }
    }
}
