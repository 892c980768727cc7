// The audit trail: every request that touches imagery or security becomes one entry of an
// append-only RFC 9162 log (module Audit), stored in the catalog, covered by checkpoints the
// site signs. Appends are group-committed: callers wait until their entry is durable, and
// all entries that arrive while one batch is being written go into the next.

import Audit
import Catalog
import Foundation
import Logging
import NIOPosix
import Recording

/// One audit entry. Entries hold no images: who, from where, what, which camera and time
/// range, why, and how it ended.
public struct AuditEntry: Codable, Sendable, Equatable {
    /// Position in the log, assigned on append.
    public var seq: Int64 = -1
    /// ISO 8601 UTC with milliseconds.
    public var time: String = ""
    /// What was done, e.g. `session.sign-in`, `live.start`, `playback.view`, `camera.add`.
    public var action: String
    /// `ok`, `denied`, or `failed`.
    public var result: String
    public var user: String?
    public var role: String?
    public var address: String?
    public var userAgent: String?
    public var camera: Int64?
    public var cameraName: String?
    public var from: String?
    public var to: String?
    public var purpose: String?
    public var caseReference: String?
    public var detail: String?

    public init(action: String, result: String, user: String? = nil, role: String? = nil, address: String? = nil,
                userAgent: String? = nil, camera: Int64? = nil, cameraName: String? = nil, from: String? = nil, to: String? = nil,
                purpose: String? = nil, caseReference: String? = nil, detail: String? = nil) {
        self.action = action
        self.result = result
        self.user = user
        self.role = role
        self.address = address
        self.userAgent = userAgent
        self.camera = camera
        self.cameraName = cameraName
        self.from = from
        self.to = to
        self.purpose = purpose
        self.caseReference = caseReference
        self.detail = detail
    }

    /// The exact bytes hashed into the log: JSON with sorted keys.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(self))
    }

    public static func decode(_ body: [UInt8]) throws -> AuditEntry {
        try JSONDecoder().decode(AuditEntry.self, from: Data(body))
    }
}

public actor AuditTrail {
    public let catalog: Catalog
    public let signer: NoteSigner
    /// The checkpoint origin line: names this log.
    public nonisolated let origin: String
    private let logger: Logger

    private var leaves: [MerkleTree.Hash] = []
    private var frontier = MerkleFrontier()
    /// An entry waiting to be written, with the catalog change it records (nil: none).
    private struct Pending {
        var entry: AuditEntry
        var change: (@Sendable () async throws -> any Sendable)?
        var continuation: CheckedContinuation<(Int64, any Sendable), any Error>
    }

    private var pending: [Pending] = []
    private var writing = false
    private var latestCheckpoint: CheckpointRow?
    /// Where each new checkpoint is also written (`AuditWitness`).
    public private(set) var witnesses: [AuditWitness] = []
    private var witnessWrite: Task<Void, Never>?
    /// Durable batches written so far (each one transaction), for benchmarks and metrics.
    public private(set) var batchesWritten = 0
    /// Refusals being counted instead of logged one by one (`appendRepeatable`).
    private var repeats: [RepeatKey: RepeatCount] = [:]

    /// Loads the stored log (recomputing every leaf hash) and the newest checkpoint.
    public init(catalog: Catalog, signer: NoteSigner, origin: String, logger: Logger = Logger(label: "vigil.audit")) async throws {
        self.catalog = catalog
        self.signer = signer
        self.origin = origin
        self.logger = logger
        try await catchUp()
        latestCheckpoint = try await catalog.checkpoints().last
    }

    public var size: Int { leaves.count }

    /// Appends one entry and returns its position once it is durable.
    @discardableResult
    public func append(_ entry: AuditEntry) async throws -> Int64 {
        try await enqueue(entry, change: nil).0
    }

    /// Makes `change` and appends the entry that records it in one catalog transaction: both
    /// are stored or neither (an account edit never happens unaudited, nor is an edit that
    /// failed recorded as made). `change` runs holding the catalog's write lock: catalog
    /// writes only, no bcrypt, no network. Returns the entry's position and what `change`
    /// returned.
    public func append<T: Sendable>(_ entry: AuditEntry, with change: @escaping @Sendable () async throws -> T) async throws -> (Int64, T) {
        let (position, result) = try await enqueue(entry, change: { try await change() })
        guard let typed = result as? T else { throw CentreError(.invalid, "audit log: an audited change returned \(type(of: result))") }
        return (position, typed)
    }

    private func enqueue(_ entry: AuditEntry, change: (@Sendable () async throws -> any Sendable)?) async throws -> (Int64, any Sendable) {
        try await withCheckedThrowingContinuation { continuation in
            pending.append(Pending(entry: entry, change: change, continuation: continuation))
            if !writing {
                writing = true
                Task { await self.drain() }
            }
        }
    }

    /// Writes what is pending: plain entries in batches (one durable transaction each), an
    /// entry with a change alone in its own transaction, in the order they came.
    private func drain() async {
        while !pending.isEmpty {
            var batch: [Pending] = []
            var change: (@Sendable () async throws -> any Sendable)?
            while let next = pending.first {
                if next.change != nil {
                    if batch.isEmpty {
                        batch = [pending.removeFirst()]
                        change = next.change
                    }
                    break
                }
                batch.append(pending.removeFirst())
            }
            do {
                let (positions, result) = try await write(batch.map(\.entry), change: change)
                batchesWritten += 1
                for (item, position) in zip(batch, positions) { item.continuation.resume(returning: (position, result)) }
            } catch {
                if change == nil { logger.error("audit append failed: \(error)") }
                for item in batch { item.continuation.resume(throwing: error) }
            }
        }
        writing = false
    }

    /// Writes a batch at the end of the log; when another process (a `vigil` command run
    /// beside the server) appended first, reads its entries and tries again after them.
    private func write(_ entries: [AuditEntry], change: (@Sendable () async throws -> any Sendable)?) async throws -> ([Int64], any Sendable) {
        for _ in 0..<20 {
            let base = Int64(leaves.count)
            let time = iso8601(micros: currentMicros())
            var rows: [AuditRow] = []
            rows.reserveCapacity(entries.count)
            for (i, var entry) in entries.enumerated() {
                entry.seq = base + Int64(i)
                entry.time = time
                rows.append(AuditRow(seq: entry.seq, body: try entry.encoded()))
            }
            let result: any Sendable
            do {
                if let change {
                    result = try await catalog.appendAudit(rows, with: change)
                } else {
                    try await catalog.appendAudit(rows)
                    result = ()
                }
            } catch is CatalogConflict {
                try await catchUp()
                continue
            }
            for row in rows { add(leafHash: MerkleTree.leafHash(row.body)) }
            return (rows.map(\.seq), result)
        }
        throw CentreError(.conflict, "audit log: could not append after 20 attempts (another writer keeps winning)")
    }

    private func add(leafHash: MerkleTree.Hash) {
        leaves.append(leafHash)
        frontier.append(leafHash: leafHash)
    }

    /// Reads entries other writers appended after the ones this process knows.
    private func catchUp() async throws {
        while true {
            let rows = try await catalog.auditEntries(from: Int64(leaves.count), limit: 50_000)
            for row in rows {
                guard row.seq == Int64(leaves.count) else {
                    throw CentreError(.invalid, "audit log: entry \(leaves.count) is missing from the store (found \(row.seq)); run `vigil audit verify`")
                }
                add(leafHash: MerkleTree.leafHash(row.body))
            }
            if rows.count < 50_000 { return }
        }
    }

    // MARK: Refusals a client can repeat at will

    /// What makes two refusals "the same": the action and the reason, and the one thing the
    /// refusal was about (an address over its limit, a locked account, a busy checker).
    public struct RepeatKey: Hashable, Sendable {
        public var action: String
        public var reason: String
        public var subject: String

        public init(action: String, reason: String, subject: String) {
            self.action = action
            self.reason = reason
            self.subject = subject
        }
    }

    private struct RepeatCount {
        var first: AuditEntry
        var firstSeq: Int64
        var openedMicros: Int64
        var repeats = 0
        var lastMicros: Int64
        /// User names tried, the first entry's included, at most `namesKept` of them.
        var names: [String] = []
        var moreNames = false
    }

    /// How long a refusal's repeats are counted before they are summarised.
    public static let repeatWindowMicros: Int64 = 60_000_000
    /// The time windows are measured by, in microseconds (tests set their own).
    private var repeatClock: @Sendable () -> Int64 = { currentMicros() }
    public func setRepeatClock(_ clock: @escaping @Sendable () -> Int64) { repeatClock = clock }
    /// Kinds of refusal counted at once; past this, refusals fall into one catch-all per
    /// action and reason, so the table stays small whatever a client varies.
    static let maxRepeatKeys = 256
    static let namesKept = 100

    /// Appends a refusal that an anonymous client can repeat as fast as it can send requests
    /// and that cost the server no real work (a sign-in refused before any password was
    /// checked). The first refusal of a kind in a minute is an entry of its own, as it
    /// always was; the repeats are counted, and one summary entry (how many, from when to
    /// when, which user names) is written when the minute ends or at the next checkpoint,
    /// so every signed checkpoint accounts for every refusal before it. Without this, each
    /// request grew the log, the catalog's disk and this actor's memory for ever.
    public func appendRepeatable(_ entry: AuditEntry, key: RepeatKey) async throws {
        let now = repeatClock()
        if let open = repeats[key] {
            if now - open.openedMicros < Self.repeatWindowMicros {
                count(entry, into: key, at: now)
                return
            }
            try await summarise(key)
        }
        var key = key
        if repeats.count >= Self.maxRepeatKeys {
            try await summariseClosedWindows(now: now)
            if repeats.count >= Self.maxRepeatKeys { key.subject = "any (more than \(Self.maxRepeatKeys) kinds at once)" }
            if repeats[key] != nil {
                count(entry, into: key, at: now)
                return
            }
        }
        // Counted from here: refusals arriving while the first entry is written are repeats.
        repeats[key] = RepeatCount(first: entry, firstSeq: -1, openedMicros: now, lastMicros: now, names: entry.user.map { [$0] } ?? [])
        let seq = try await append(entry)
        repeats[key]?.firstSeq = seq
    }

    private func count(_ entry: AuditEntry, into key: RepeatKey, at now: Int64) {
        guard var open = repeats[key] else { return }
        open.repeats += 1
        open.lastMicros = now
        if let name = entry.user, !open.names.contains(name) {
            if open.names.count < Self.namesKept { open.names.append(name) } else { open.moreNames = true }
        }
        repeats[key] = open
    }

    /// Writes the summary of one kind's repeats (if there were any) and stops counting it.
    private func summarise(_ key: RepeatKey) async throws {
        guard let open = repeats.removeValue(forKey: key), open.repeats > 0 else { return }
        var summary = open.first
        summary.seq = -1
        summary.time = ""
        if key.subject.hasPrefix("any ") { summary.address = nil; summary.user = nil; summary.userAgent = nil }
        let names = open.names.isEmpty ? "" : "; \(open.names.count)\(open.moreNames ? "+" : "") user names tried: "
            + open.names.prefix(20).joined(separator: ", ") + (open.names.count > 20 || open.moreNames ? ", …" : "")
        let after = open.firstSeq >= 0 ? " as entry \(open.firstSeq)" : ""
        summary.detail = "\(open.repeats) more refused the same way\(after) (\(key.reason), \(key.subject)) "
            + "from \(iso8601(micros: open.openedMicros)) to \(iso8601(micros: open.lastMicros))\(names)"
        try await append(summary)
    }

    private func summariseClosedWindows(now: Int64) async throws {
        for (key, open) in repeats where now - open.openedMicros >= Self.repeatWindowMicros {
            try await summarise(key)
        }
    }

    /// Writes every pending summary, whatever its window: before each checkpoint.
    private func summariseAllRepeats() async throws {
        for key in Array(repeats.keys) { try await summarise(key) }
    }

    // MARK: Checkpoints and proofs

    /// The newest signed checkpoint covering the whole log, issuing one if the log grew.
    public func checkpoint() async throws -> CheckpointRow {
        try await summariseAllRepeats()
        try await catchUp()
        if let latest = latestCheckpoint, latest.treeSize == Int64(leaves.count) { return latest }
        let text = Checkpoint(origin: origin, treeSize: leaves.count, rootHash: frontier.root).text
        let row = CheckpointRow(treeSize: Int64(leaves.count), note: try signer.sign(text), issuedMicros: currentMicros())
        try await catalog.addCheckpoint(row)
        latestCheckpoint = row
        writeWitnesses(row)
        return row
    }

    /// Writes `row` to every witness, on the witnesses' own thread and without waiting:
    /// a witness is storage on another machine, and a hung mount must not hold up the log
    /// (every audited request waits on it). One that cannot be written is logged; the
    /// checkpoint stands in the catalog, and the next one tries again.
    private func writeWitnesses(_ row: CheckpointRow) {
        let witnesses = self.witnesses, verifier = signer.verifier, logger = self.logger, pool = Self.witnessPool
        guard !witnesses.isEmpty else { return }
        // In order, each after the one before; `settleWitnesses` waits for the last.
        let previous = witnessWrite
        witnessWrite = Task.detached {
            await previous?.value
            try? await pool.runIfActive {
                for witness in witnesses {
                    do {
                        try witness.write(note: row.note, treeSize: Int(row.treeSize), verifier: verifier)
                    } catch {
                        logger.error("audit witness: \(error)")
                    }
                }
            }
        }
    }

    /// Waits until every checkpoint issued so far has been written to the witnesses (or
    /// failed to be): at shutdown, so the final checkpoint is not lost with the process.
    public func settleWitnesses() async {
        await witnessWrite?.value
    }

    /// One thread for witness I/O, apart from the pool that recording and SQLite use.
    private static let witnessPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
        return pool
    }()

    /// Compares the log with what each witness holds: every problem, in words (empty when
    /// the log contains every witnessed checkpoint). A witness directory that is missing is
    /// a problem; one that holds nothing yet is not.
    public func witnessProblems(_ candidates: [AuditWitness]) async throws -> [String] {
        try await catchUp()
        var problems: [String] = []
        for witness in candidates {
            let note: String
            do {
                guard let read = try witness.read() else {
                    // Empty is right for a new log; for one that has signed checkpoints it
                    // is a witness newly added, or one emptied or not mounted: say so.
                    if let latest = latestCheckpoint {
                        problems.append("""
                            \(witness.path) holds no checkpoint, but the log has signed \(latest.treeSize) entries: \
                            a witness newly added, or one emptied or not mounted
                            """)
                    }
                    continue
                }
                note = read
            } catch {
                problems.append("\(error)")
                continue
            }
            let checkpoint: Checkpoint
            do {
                checkpoint = try Checkpoint(text: signer.verifier.verify(note))
            } catch {
                problems.append("the checkpoint in \(witness.path) is not signed by this site's key: \(error)")
                continue
            }
            guard checkpoint.origin == origin else {
                problems.append("the checkpoint in \(witness.path) is of another log (\(checkpoint.origin))")
                continue
            }
            guard checkpoint.treeSize <= leaves.count else {
                problems.append("""
                    the log holds \(leaves.count) entries but \(witness.path) witnessed a checkpoint of \(checkpoint.treeSize): \
                    entries were deleted from its end (or an older catalog was restored)
                    """)
                continue
            }
            if MerkleTree.root(Array(leaves.prefix(checkpoint.treeSize))) != checkpoint.rootHash {
                problems.append("the first \(checkpoint.treeSize) entries of the log differ from those \(witness.path) witnessed: the log was rewritten")
            }
        }
        return problems
    }

    /// Sets the witnesses that each new checkpoint goes to, and gives them the newest one
    /// now (`force`: after an administrator accepted a log that disagrees with them).
    /// `force` keeps what a witness held (renamed `…superseded-<time>`) before replacing it.
    public func setWitnesses(_ list: [AuditWitness], force: Bool = false) async throws {
        witnesses = list
        let row = try await checkpoint()
        for witness in list {
            try witness.write(note: row.note, treeSize: Int(row.treeSize), verifier: signer.verifier, force: force)
        }
    }

    /// Issues a checkpoint every `interval` while the log grows, until cancelled.
    public func issueCheckpoints(every interval: Duration) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            do { _ = try await checkpoint() } catch { logger.error("checkpoint failed: \(error)") }
        }
    }

    public func inclusionProof(index: Int, treeSize: Int) throws -> [MerkleTree.Hash] {
        guard treeSize >= 1, treeSize <= leaves.count else {
            throw CentreError(.invalid, "tree size \(treeSize) is outside the log's 1...\(leaves.count)")
        }
        guard index >= 0, index < treeSize else { throw CentreError(.invalid, "index \(index) is outside a tree of \(treeSize)") }
        return try MerkleTree.inclusionProof(index: index, leaves: Array(leaves.prefix(treeSize)))
    }

    public func consistencyProof(from oldSize: Int, to newSize: Int) throws -> [MerkleTree.Hash] {
        guard newSize >= 1, newSize <= leaves.count else {
            throw CentreError(.invalid, "tree size \(newSize) is outside the log's 1...\(leaves.count)")
        }
        guard oldSize >= 0, oldSize <= newSize else { throw CentreError(.invalid, "old size \(oldSize) is outside 0...\(newSize)") }
        return try MerkleTree.consistencyProof(oldSize: oldSize, leaves: Array(leaves.prefix(newSize)))
    }

    public func leafHash(at index: Int) -> MerkleTree.Hash? {
        leaves.indices.contains(index) ? leaves[index] : nil
    }
}
