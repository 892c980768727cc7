// The audit trail: every request that touches imagery or security becomes one entry of an
// append-only RFC 9162 log (module Audit), stored in the catalog, covered by checkpoints the
// site signs. Appends are group-committed: callers wait until their entry is durable, and
// all entries that arrive while one batch is being written go into the next.

import Audit
import Base
import Catalog
import Foundation
import Logging
import NIOPosix
import Recording
import Records

/// One audit entry. Entries hold no images: who, from where, what, which camera and time
/// range, why, and how it ended.
public struct AuditEntry: Codable, Sendable, Equatable {
    /// Position in the log, assigned on append.
    public var seq: Int64 = -1
    /// ISO 8601 UTC with milliseconds.
    public var time: String = ""
    /// What was done: an `AuditAction`'s name (`session.sign-in`, `live.start`…).
    public var action: String
    /// How it ended: an `AuditResult`'s name (`ok`, `denied`, `failed`).
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

    public init(
        action: AuditAction, result: AuditResult, user: String? = nil, role: String? = nil, address: String? = nil,
        userAgent: String? = nil, camera: Int64? = nil, cameraName: String? = nil, from: String? = nil, to: String? = nil,
        purpose: String? = nil, caseReference: String? = nil, detail: String? = nil
    ) {
        self.action = action.rawValue
        self.result = result.rawValue
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
    let catalog: Catalog
    public let signer: NoteSigner
    /// The checkpoint origin line: names this log.
    public nonisolated let origin: String
    private let logger: Logger

    private var leaves: [MerkleTree.Hash] = []
    private var frontier = MerkleFrontier()
    /// An entry waiting to be written, with the catalog change it records (nil: none).
    private struct Pending {
        var entry: PendingEntry
        var change: (@Sendable () async throws -> any Sendable)?
        var continuation: CheckedContinuation<(Int64, any Sendable), any Error>
    }

    /// An entry as given, or one that its change's result completes (only with a change).
    private enum PendingEntry: Sendable {
        case fixed(AuditEntry)
        case described(@Sendable (any Sendable) throws -> AuditEntry)
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
    /// Wall time: each entry's time and each checkpoint's.
    public nonisolated let clock: WallClock

    public init(
        catalog: Catalog, signer: NoteSigner, origin: String, logger: Logger = Logger(label: "vigil.audit"),
        clock: WallClock = .system
    ) async throws {
        self.clock = clock
        self.catalog = catalog
        self.signer = signer
        self.origin = origin
        self.logger = logger
        try await catchUp()
        latestCheckpoint = try await catalog.checkpoints().last
    }

    public var size: Int { leaves.count }

    /// Stored entries, newest first, at most `limit`, before position `before` when given.
    public nonisolated func latestEntries(limit: Int, before: Int64?) async throws -> [AuditRow] {
        try await catalog.latestAuditEntries(limit: limit, before: before)
    }

    /// The stored entry at `position` (the exact bytes that were hashed), if there is one.
    public nonisolated func storedEntry(at position: Int64) async throws -> AuditRow? {
        try await catalog.auditEntries(from: position, limit: 1).first
    }

    /// Appends one entry and returns its position once it is durable.
    @discardableResult
    public func append(_ entry: AuditEntry) async throws -> Int64 {
        try await enqueue(entry, change: nil).0
    }

    /// Makes `change` and appends the entry that records it in one catalog transaction: both
    /// are stored or neither (an account edit never happens unaudited, nor is an edit that
    /// failed recorded as made). `change` runs holding the catalog's write lock: catalog
    /// writes only, no bcrypt, no network, and no append to this log (it would wait for the
    /// write it is part of). Returns the entry's position and what `change` returned.
    public func append<T: Sendable>(_ entry: AuditEntry, with change: @escaping @Sendable () async throws -> T) async throws -> (Int64, T) {
        try await append(with: change, entry: { _ in entry })
    }

    /// The same for an entry that names what `change` made (a new camera, an exhibit's
    /// number): `entry` is built from `change`'s result, in the same transaction.
    public func append<T: Sendable>(
        with change: @escaping @Sendable () async throws -> T, entry: @escaping @Sendable (T) -> AuditEntry
    ) async throws -> (Int64, T) {
        let describe: @Sendable (any Sendable) throws -> AuditEntry = { entry(try Self.typed($0)) }
        let (position, result) = try await enqueue(.described(describe), change: { try await change() })
        return (position, try Self.typed(result))
    }

    private static func typed<T>(_ result: any Sendable) throws -> T {
        guard let typed = result as? T else { throw VigilError(.invalid, "audit log: an audited change returned \(type(of: result))") }
        return typed
    }

    private func enqueue(_ entry: AuditEntry, change: (@Sendable () async throws -> any Sendable)?) async throws -> (Int64, any Sendable) {
        try await enqueue(.fixed(entry), change: change)
    }

    private func enqueue(_ entry: PendingEntry, change: (@Sendable () async throws -> any Sendable)?) async throws -> (Int64, any Sendable)
    {
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
    /// beside the server) appended first, reads its entries and tries again after them. An
    /// entry with a change is alone in its batch; one its change completes is built from
    /// the change's result inside the transaction.
    private func write(_ entries: [PendingEntry], change: (@Sendable () async throws -> any Sendable)?) async throws -> (
        [Int64], any Sendable
    ) {
        for _ in 0..<20 {
            let base = Int64(leaves.count)
            let time = iso8601(micros: clock.nowMicros())
            let rows: @Sendable (any Sendable) throws -> [AuditRow] = { result in
                try entries.enumerated().map { i, pending in
                    var entry: AuditEntry
                    switch pending {
                    case let .fixed(fixed): entry = fixed
                    case let .described(describe): entry = try describe(result)
                    }
                    entry.seq = base + Int64(i)
                    entry.time = time
                    return AuditRow(seq: entry.seq, body: try entry.encoded())
                }
            }
            let written: [AuditRow]
            let result: any Sendable
            do {
                if let change {
                    (result, written) = try await catalog.appendAudit(
                        with: { () async throws -> (any Sendable, [AuditRow]) in
                            let made = try await change()
                            return (made, try rows(made))
                        },
                        rows: { $0.1 })
                } else {
                    written = try rows(())
                    try await catalog.appendAudit(written)
                    result = ()
                }
            } catch is CatalogConflict {
                try await catchUp()
                continue
            }
            for row in written { add(leafHash: MerkleTree.leafHash(row.body)) }
            return (written.map(\.seq), result)
        }
        throw VigilError(.conflict, "audit log: could not append after 20 attempts (another writer keeps winning)")
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
                    throw VigilError(
                        .invalid, "audit log: entry \(leaves.count) is missing from the store (found \(row.seq)); run `vigil audit verify`")
                }
                add(leafHash: MerkleTree.leafHash(row.body))
            }
            if rows.count < 50_000 { return }
        }
    }

    // MARK: Refusals a client can repeat at will

    /// What makes two refusals "the same": the action, the reason, and what the refusal was
    /// about (an address over its limit, a locked account, the busy password checker).
    public struct RepeatKey: Hashable, Sendable {
        public var action: AuditAction
        public var reason: String
        public var subject: String

        public init(action: AuditAction, reason: String, subject: String) {
            self.action = action
            self.reason = reason
            self.subject = subject
        }
    }

    /// One kind of refusal being counted: where the entry that opened its window landed,
    /// and what has been counted since that entry or since the last summary.
    private struct RepeatCount {
        var generation: UInt64
        /// The result the refusals were logged with.
        var result: String
        /// Where `first` landed; nil while it is being written, or when it could not be.
        var firstSeq: Int64?
        /// `first` could not be written: the next summary counts it too.
        var firstLost = false
        var openedAt: Int64
        var repeats = 0
        var firstRepeatWall: Int64 = 0
        var lastRepeatWall: Int64 = 0
        var names = Capped()
        var addresses = Capped()
        var agents = Capped()
    }

    /// Distinct values seen, at most `limit` kept (each cut to 64 bytes on the way in).
    private struct Capped {
        var values: [String] = []
        var more = false
        static let limit = 100

        mutating func note(_ value: String?) {
            guard let value, !values.contains(value) else { return }
            if values.count < Self.limit { values.append(value) } else { more = true }
        }

        var count: String { "\(values.count)\(more ? "+" : "")" }
        /// The one value, when exactly one was seen.
        var only: String? { values.count == 1 && !more ? values[0] : nil }
    }

    /// How long a refusal's repeats are counted before the next one opens a new window.
    public static let repeatWindowMicros: Int64 = 60_000_000
    /// Measures the windows, in microseconds: monotonic, so a wall-clock step cannot end a
    /// window early or keep it open. Wall time is used only for the times a summary states.
    private var repeatClock: @Sendable () -> Int64 = {
        let elapsed = ContinuousClock.now - AuditTrail.clockOrigin
        return elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
    }
    private static let clockOrigin = ContinuousClock.now
    /// For tests: a window clock they move themselves.
    func setRepeatClock(_ clock: @escaping @Sendable () -> Int64) { repeatClock = clock }
    private var generations: UInt64 = 0
    /// Kinds of refusal counted at once; past this, refusals fall into one catch-all per
    /// action and reason, so the table stays small whatever a client varies.
    static let maxRepeatKeys = 256
    static let catchAllSubject = "any (more than \(maxRepeatKeys) kinds at once)"

    /// Appends a refusal that an anonymous client can repeat as fast as it can send requests
    /// and that cost the server no real work (a sign-in refused before any password was
    /// checked). The first refusal of a kind in a window is an entry of its own, as it
    /// always was. The repeats are counted, and written as one summary entry (how many, from
    /// when to when, which user names, addresses and agents) at the next checkpoint (the
    /// server issues one a minute by default) or when the next refusal of the kind finds
    /// its window over. Counts not yet written when the process dies are lost: at most a
    /// checkpoint interval of them. Without this, each request grew the log, the catalog's
    /// disk and this actor's memory for ever.
    ///
    /// Every decision is made before the first suspension, so concurrent refusals are each
    /// counted once, into the window that was open when they came.
    public func appendRepeatable(_ entry: AuditEntry, key: RepeatKey) async throws {
        let now = repeatClock()
        var key = key
        var summaries: [AuditEntry] = []
        if let open = repeats[key], now - open.openedAt >= Self.repeatWindowMicros {
            summaries += takeSummary(key, closing: true)
        }
        if repeats[key] == nil, repeats.count >= Self.maxRepeatKeys {
            for (other, open) in repeats where now - open.openedAt >= Self.repeatWindowMicros {
                summaries += takeSummary(other, closing: true)
            }
            if repeats.count >= Self.maxRepeatKeys { key.subject = Self.catchAllSubject }
            if let open = repeats[key], now - open.openedAt >= Self.repeatWindowMicros {
                summaries += takeSummary(key, closing: true)
            }
        }
        if repeats[key] != nil {
            count(entry, into: key)
            await write(summaries)
            return
        }
        generations += 1
        let generation = generations
        repeats[key] = RepeatCount(generation: generation, result: entry.result, openedAt: now)
        await write(summaries)
        do {
            let seq = try await append(entry)
            if repeats[key]?.generation == generation { repeats[key]?.firstSeq = seq }
        } catch {
            // Counted into its window's summary instead, with what it said.
            if var open = repeats[key], open.generation == generation {
                open.firstLost = true
                open.names.note(entry.user.map(Self.cut))
                open.addresses.note(entry.address.map(Self.cut))
                open.agents.note(entry.userAgent.map(Self.cut))
                repeats[key] = open
            }
            throw error
        }
    }

    private func count(_ entry: AuditEntry, into key: RepeatKey) {
        guard var open = repeats[key] else { return }
        let wall = clock.nowMicros()
        if open.repeats == 0 { open.firstRepeatWall = wall }
        open.repeats += 1
        open.lastRepeatWall = wall
        open.names.note(entry.user.map(Self.cut))
        open.addresses.note(entry.address.map(Self.cut))
        open.agents.note(entry.userAgent.map(Self.cut))
        repeats[key] = open
    }

    /// At most 64 bytes of a value a client chose.
    private static func cut(_ value: String) -> String { String(decoding: value.utf8.prefix(64), as: UTF8.self) }

    /// The summary of what one kind has counted (none when nothing was), and either the
    /// window closed (`closing`) or its counts started again.
    private func takeSummary(_ key: RepeatKey, closing: Bool) -> [AuditEntry] {
        guard var open = repeats[key] else { return [] }
        if closing { repeats[key] = nil }
        let total = open.repeats + (open.firstLost ? 1 : 0)
        guard total > 0 else { return [] }
        var summary = AuditEntry(action: key.action, result: .ok)
        summary.result = open.result
        summary.user = open.names.only
        summary.address = open.addresses.only
        summary.userAgent = open.agents.only
        let counted =
            if open.firstLost {
                "\(total) refused"
            } else if let seq = open.firstSeq {
                "\(total) more refused the same way as entry \(seq)"
            } else {
                "\(total) more refused the same way as the entry that opened this count"
            }
        var detail = "\(counted) (\(key.reason); \(key.subject))"
        if open.repeats > 0 {
            detail += ", from \(iso8601(micros: open.firstRepeatWall)) to \(iso8601(micros: open.lastRepeatWall))"
        }
        if total > 0 {
            if !open.names.values.isEmpty {
                detail +=
                    "; user names in them: \(open.names.count): " + open.names.values.prefix(20).joined(separator: ", ")
                    + (open.names.values.count > 20 || open.names.more ? ", …" : "")
            }
            if summary.address == nil && !open.addresses.values.isEmpty { detail += "; from \(open.addresses.count) addresses" }
        }
        summary.detail = detail
        if !closing {
            open.repeats = 0
            open.firstLost = false
            open.names = Capped()
            open.addresses = Capped()
            open.agents = Capped()
            repeats[key] = open
        }
        return [summary]
    }

    /// Writes summaries, all queued at once so they share durable batches. One that cannot
    /// be written goes to the process's log instead: the audit log's store is failing, and
    /// the request that brought it here must not fail for it.
    private func write(_ summaries: [AuditEntry]) async {
        guard !summaries.isEmpty else { return }
        let logger = self.logger
        await withTaskGroup(of: Void.self) { group in
            for summary in summaries {
                group.addTask {
                    do {
                        try await self.append(summary)
                    } catch {
                        logger.error(
                            "audit: could not write a summary of repeated refusals (\(summary.action): \(summary.detail ?? "")): \(error)")
                    }
                }
            }
        }
    }

    /// Writes every pending count, closing the windows that are over and keeping the
    /// others open: before each checkpoint, so it covers every refusal counted before it.
    private func summariseAllRepeats() async {
        for _ in 0..<3 {
            let now = repeatClock()
            var summaries: [AuditEntry] = []
            for (key, open) in repeats { summaries += takeSummary(key, closing: now - open.openedAt >= Self.repeatWindowMicros) }
            if summaries.isEmpty { return }
            await write(summaries)
        }
    }

    // MARK: Checkpoints and proofs

    /// The newest signed checkpoint covering the whole log, issuing one if the log grew.
    public func checkpoint() async throws -> CheckpointRow {
        await summariseAllRepeats()
        try await catchUp()
        if let latest = latestCheckpoint, latest.treeSize == Int64(leaves.count) { return latest }
        let text = Checkpoint(origin: origin, treeSize: leaves.count, rootHash: frontier.root).text
        let row = CheckpointRow(treeSize: Int64(leaves.count), note: try signer.sign(text), issuedMicros: clock.nowMicros())
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
                        problems.append(
                            """
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
                problems.append(
                    """
                    the log holds \(leaves.count) entries but \(witness.path) witnessed a checkpoint of \(checkpoint.treeSize): \
                    entries were deleted from its end (or an older catalog was restored)
                    """)
                continue
            }
            if MerkleTree.root(Array(leaves.prefix(checkpoint.treeSize))) != checkpoint.rootHash {
                problems.append(
                    "the first \(checkpoint.treeSize) entries of the log differ from those \(witness.path) witnessed: the log was rewritten"
                )
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
            throw VigilError(.invalid, "tree size \(treeSize) is outside the log's 1...\(leaves.count)")
        }
        guard index >= 0, index < treeSize else { throw VigilError(.invalid, "index \(index) is outside a tree of \(treeSize)") }
        return try MerkleTree.inclusionProof(index: index, leaves: Array(leaves.prefix(treeSize)))
    }

    public func consistencyProof(from oldSize: Int, to newSize: Int) throws -> [MerkleTree.Hash] {
        guard newSize >= 1, newSize <= leaves.count else {
            throw VigilError(.invalid, "tree size \(newSize) is outside the log's 1...\(leaves.count)")
        }
        guard oldSize >= 0, oldSize <= newSize else { throw VigilError(.invalid, "old size \(oldSize) is outside 0...\(newSize)") }
        return try MerkleTree.consistencyProof(oldSize: oldSize, leaves: Array(leaves.prefix(newSize)))
    }

    public func leafHash(at index: Int) -> MerkleTree.Hash? {
        leaves.indices.contains(index) ? leaves[index] : nil
    }
}

extension AuditTrail.RepeatKey {
    /// For a sign-in refused before any password was checked: how its repeats are counted
    /// in the audit log (`AuditTrail.appendRepeatable`). A refusal for past failures by what
    /// was counted (the address, its /64, or the shared count of untracked addresses), a
    /// locked account by the account, a busy checker as one kind. Nil for a refusal that
    /// cost a password check: that is logged on its own.
    public init?(signInRefusal error: VigilError, name: String) {
        let (reason, subject): (String, String)
        switch error.code {
        case let .rateLimited(_, slot): (reason, subject) = ("too many failures from this address", "slot \(slot)")
        case .locked: (reason, subject) = ("account locked", "account \(name.precomposedStringWithCanonicalMapping)")
        case .busy: (reason, subject) = ("too many sign-ins being checked at once", "the password checker")
        default: return nil
        }
        self.init(action: .signIn, reason: reason, subject: subject)
    }
}
