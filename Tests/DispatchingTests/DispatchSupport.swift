import Base
import Catalog
import Centre
import ChildProcess
import Dispatching
import Foundation
import Incidents
import Logging
import Records
import Synchronization
import TestSupport
import Testing

/// A clock the test moves.
final class TestClock: Sendable {
    private let micros = Mutex<Int64>(0)
    init(_ start: Int64) { micros.withLock { $0 = start } }
    var now: Int64 { micros.withLock { $0 } }
    func advance(seconds: Int64) { micros.withLock { $0 += seconds * 1_000_000 } }
    var wall: WallClock { WallClock { self.now } }
}

/// A site for dispatch's tests: a real catalog, keys and audit trail, the register and the desk.
struct DispatchSite {
    let dir: String
    let catalog: Catalog
    let keys: SiteKeys
    let audit: AuditTrail
    let desk: DispatchDesk
    let clock: TestClock

    static func with(_ label: String, _ body: (DispatchSite) async throws -> Void) async throws {
        try await TestSupport.withCatalog(label) { dir, catalog in
            let keys = try SiteKeys.loadOrCreate(directory: dir + "/keys", siteName: "test-city")
            let audit = try await AuditTrail(catalog: catalog, signer: keys.signer, origin: "test-city/audit")
            try await body(
                DispatchSite(
                    dir: dir, catalog: catalog, keys: keys, audit: audit, desk: DispatchDesk(catalog: catalog, keys: keys),
                    clock: TestClock(Int64(Date().timeIntervalSince1970 * 1_000_000))))
        }
    }

    func dispatcher(_ label: String = "dispatch") -> Dispatcher {
        var logger = Logger(label: label)
        logger.logLevel = .critical
        return Dispatcher(catalog: catalog, audit: audit, keys: keys, clock: clock.wall, logger: logger)
    }

    func category(_ key: String) async throws -> IncidentCategoryRecord {
        try #require(try await catalog.incidentCategories().first { $0.key == key })
    }

    /// Files a report as the API does: the incident, its notifications and its entry in one transaction.
    func report(_ key: String, description: String = "two men fighting by the fountain", priority: Int = 1) async throws -> IncidentRecord {
        let category = try await category(key)
        let report = IncidentReport(
            categoryID: category.id, priority: priority, observedMicros: clock.now - 30_000_000, description: description)
        let desk = self.desk, now = clock.now
        return try await audit.append(
            AuditEntry(action: .incidentReport, result: .ok, user: "op-1", detail: "test"),
            with: { try await desk.report(report, by: IncidentAuthor(userID: nil, name: "op-1"), nowMicros: now) }
        ).1
    }

    func recipient(_ key: String) async throws -> DispatchRecipientRecord { try await desk.recipient(key) }

    func auditActions() async throws -> [String] {
        try await catalog.auditEntries(from: 0, limit: 10_000).map { try AuditEntry.decode($0.body).action }
    }
}

/// A program the test starts and always stops.
final class Peer: Sendable {
    let process: Process
    let log: String

    init(_ path: String, _ args: [String], log: String) throws {
        self.log = log
        process = try TestSupport.spawn(path, args, log: log)
    }

    var output: String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }

    func waitFor(_ text: String, seconds: Double = 20) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if output.contains(text) { return }
            guard process.isRunning else { throw ToolError("\(process.executableURL!.lastPathComponent) exited: \(output)") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ToolError("no \"\(text)\" within \(seconds) s: \(output)")
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            _ = ChildProcess.waitForExit(process, timeout: 10)
        }
    }

    deinit { stop() }
}

/// The webhook receiver (scripts/webhook_receiver.py) and what it recorded.
struct Receiver {
    struct Line: Decodable {
        var n: Int
        var key: String
        var valid: Bool
        var `repeat`: Bool
        var event: String?
        var number: String?
        var bodyKey: String?
    }
    let peer: Peer
    let port: Int
    let requests: String
    var url: String { "http://127.0.0.1:\(port)/hook" }

    static func start(dir: String, secret: String, options: [String] = []) async throws -> Receiver {
        let port = TestSupport.freePort()
        try secret.write(toFile: dir + "/hook-secret", atomically: true, encoding: .utf8)
        let requests = dir + "/hook-requests.jsonl"
        let peer = try Peer(
            "/usr/bin/python3",
            [
                TestSupport.packageRoot + "/scripts/webhook_receiver.py", "--port", "\(port)", "--secret-file", dir + "/hook-secret",
                "--log", requests
            ] + options, log: dir + "/hook.log")
        try await peer.waitFor("READY")
        return Receiver(peer: peer, port: port, requests: requests)
    }

    var lines: [Line] {
        ((try? String(contentsOfFile: requests, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONDecoder().decode(Line.self, from: Data($0.utf8))
        }
    }
}

struct ToolError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
