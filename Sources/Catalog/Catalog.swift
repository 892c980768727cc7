// Catalog — the database: every table Vigil keeps, and every statement on them.
//
// What belongs here: the connection, the gate that keeps other tasks' statements out of a
// transaction (`statement`, `transaction`), the schema's history (Migrations.swift), and
// one file per table group, each with its rows and its queries: cameras
// (CameraTables), segments, gaps and the maintenance log (RecordingTables), accounts,
// grants, sessions and API tokens (AccessTables), the audit log (AuditTables), the
// segment chain and its signed heads (ChainTables), the evidence register
// (EvidenceTables), PTZ history and tours (PtzTables), the workstation's saved views
// (WorkstationTables). docs/design/schema.md describes every table, column and index.
// What does not: file I/O (Recording owns sample files), RTSP, MP4 assembly, and what
// the rows mean (who may do what, how a link is hashed): that is decided by the module
// that owns the concept.
// Invariants: callers see plain Swift values, never SQL; every statement is written
// through SQLKit so the same code runs on SQLite (embedded, via sqlite-kit) and, with a
// PostgreSQL `SQLDatabase` from postgres-kit, on a multi-server site; writes that belong
// together run in one `transaction`. Times are stored as microseconds since the Unix
// epoch (UTC), media durations in 90 kHz ticks.

import Base
import Foundation
import Logging
import Media
import NIOPosix
import Records
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

/// The catalog. An actor: one connection, statements in order.
public actor Catalog {
    public let database: any SQLDatabase
    private let closeHandler: (@Sendable () async throws -> Void)?
    /// Wall time for what the catalog stamps itself (migrations, the maintenance log, a
    /// chain link's deletion); every other time is the caller's.
    public nonisolated let clock: WallClock

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
            do {
                try await catalog.migrate()
            } catch {
                // A refused schema (newer than this program's) must not leave the connection
                // open: the caller never gets the catalog to close it.
                await catalog.close()
                throw error
            }
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

    /// This catalog's random name, given when it was created (migration 4).
    public func identity() async throws -> String {
        let rows = try await run("read catalog identity") { try await database.raw("SELECT identity FROM catalog_identity").all() }
        guard rows.count == 1, let identity = try? rows[0].decode(column: "identity", as: String.self) else {
            throw CatalogError.invalid("the catalog has \(rows.count) identities instead of one")
        }
        return identity
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
