import Access
import Audit
import Base
import Catalog
import Crypto
import Evidence
import Foundation
import Media
import RTSP
import Recording
import Records
import Synchronization

/// The evidence register's workflow: creating an exhibit (which holds its footage),
/// custody events (exported, handed over, acknowledged, hold released) each also written
/// to the audit log, and the signed export bundle. The formats and signatures are
/// Evidence's; the rows are Catalog's.
public struct EvidenceRegister: Sendable {
    let catalog: Catalog
    let store: SampleStore
    public let audit: AuditTrail
    public let keys: SiteKeys
    public let certificate: SiteCertificate
    /// Server-side exports in progress (shared by every copy of the register).
    let exportGate = ExportGate(concurrent: 2)

    /// Bodies that may request footage (the city's rules).
    public static let requestingBodies = ["police", "guard", "prosecutor", "court"]
    /// Lengths of the register's text fields: references and names, bases, purposes and notes.
    public static let shortText = 100, mediumText = 300, longText = 1000

    /// Who does something, as the audit log records them.
    public struct Agent: Sendable {
        public var user: String
        /// The account acting (nil: the machine's command line, or the server itself).
        public var userID: Int64?
        public var role: String?
        public var address: String?
        public var userAgent: String?
        public init(user: String, userID: Int64? = nil, role: String?, address: String?, userAgent: String?) {
            self.user = user
            self.userID = userID
            self.role = role
            self.address = address
            self.userAgent = userAgent
        }
    }

    /// Wall time: custody events, shares, releases, the export quota's day.
    public let clock: WallClock

    public init(
        catalog: Catalog, store: SampleStore, audit: AuditTrail, keys: SiteKeys, certificate: SiteCertificate,
        clock: WallClock = .system
    ) {
        self.clock = clock
        self.catalog = catalog
        self.store = store
        self.audit = audit
        self.keys = keys
        self.certificate = certificate
    }

    // MARK: Who sees which exhibit

    /// Whether `p` may see exhibit `item`: the keepers of the register (who may release
    /// holds: the supervisor) see every exhibit; anyone else with `view-evidence` sees the
    /// exhibits they registered and those shared with them.
    public func maySee(_ item: EvidenceRecord, _ p: Principal) async throws -> Bool {
        guard p.may(.viewEvidence) else { return false }
        if p.may(.releaseHold) || item.createdByUserID == p.userID { return true }
        return try await catalog.evidenceShared(withUserID: p.userID).contains(item.id)
    }

    /// The register as `p` may see it.
    public func visible(to p: Principal) async throws -> [EvidenceRecord] {
        let all = try await catalog.evidenceItems()
        guard p.may(.viewEvidence) else { return [] }
        if p.may(.releaseHold) { return all }
        let shared = try await catalog.evidenceShared(withUserID: p.userID)
        return all.filter { $0.createdByUserID == p.userID || shared.contains($0.id) }
    }

    /// Exhibit `exhibit` if `p` may see it; otherwise "not found", as if it did not exist,
    /// so numbers cannot be probed.
    public func find(_ exhibit: String, for p: Principal) async throws -> EvidenceRecord {
        let item = try await find(exhibit)
        guard try await maySee(item, p) else { throw VigilError(.notFound, "no exhibit \(exhibit)") }
        return item
    }

    /// Whether `p` may share `item` with others: a keeper of the register, or whoever
    /// registered it.
    public func mayShare(_ item: EvidenceRecord, _ p: Principal) -> Bool {
        p.may(.releaseHold) || (p.may(.manageEvidence) && item.createdByUserID == p.userID)
    }

    /// Shares an exhibit with user `name`, who must hold `view-evidence`; a custody event
    /// and its audit entry. `actor` nil: the machine's command line.
    public func share(exhibit: String, with name: String, by agent: Agent, actor: Principal?) async throws {
        let (item, user) = try await sharing(exhibit, name, actor)
        // One answer for every refusal: the register tells no one which accounts exist.
        guard let user, !user.disabled, try await Accounts.principal(of: user, catalog: catalog).may(.viewEvidence) else {
            throw VigilError(
                .invalid, "\(exhibit) cannot be shared with \(name): no such account, a disabled one, or one whose role cannot see evidence"
            )
        }
        let catalog = self.catalog
        let now = clock.nowMicros()
        try await record(item, kind: .shared, agent, counterpart: name, purpose: nil, detail: nil) {
            guard try await catalog.addEvidenceShare(evidenceID: item.id, userID: user.id, by: agent.user, atMicros: now) else {
                throw VigilError(.conflict, "\(exhibit) is already shared with \(name)")
            }
        }
    }

    /// Ends the sharing of an exhibit with user `name`.
    public func unshare(exhibit: String, with name: String, by agent: Agent, actor: Principal?) async throws {
        let (item, user) = try await sharing(exhibit, name, actor)
        guard let user else { throw VigilError(.notFound, "\(exhibit) is not shared with \(name)") }
        let catalog = self.catalog
        try await record(item, kind: .unshared, agent, counterpart: name, purpose: nil, detail: nil) {
            guard try await catalog.removeEvidenceShare(evidenceID: item.id, userID: user.id) else {
                throw VigilError(.notFound, "\(exhibit) is not shared with \(name)")
            }
        }
    }

    private func sharing(_ exhibit: String, _ name: String, _ actor: Principal?) async throws -> (EvidenceRecord, UserRecord?) {
        let item: EvidenceRecord
        if let actor {
            item = try await find(exhibit, for: actor)
            guard mayShare(item, actor) else {
                throw VigilError(.forbidden, "only whoever registered \(exhibit), or a supervisor, may share it")
            }
        } else {
            item = try await find(exhibit)
        }
        return (item, try await catalog.user(named: name.precomposedStringWithCanonicalMapping))
    }

    /// Exhibit `number` if it exists and `p` may see it; nil otherwise (the two are not
    /// told apart: an exhibit one may not see is one that does not exist).
    public func lookup(_ number: String, for p: Principal) async throws -> EvidenceRecord? {
        guard let item = try await catalog.evidence(exhibit: number), try await maySee(item, p) else { return nil }
        return item
    }

    /// Which of `segments` an exhibit's hold keeps.
    public func heldByEvidence(_ segments: [SegmentRecord]) async throws -> Set<Int64> {
        try await catalog.heldByEvidence(segmentIDs: segments.map(\.id))
    }

    /// The exhibit's custody events, oldest first.
    public func custody(_ item: EvidenceRecord) async throws -> [CustodyRecord] {
        try await catalog.custody(evidenceID: item.id)
    }

    public func shares(_ item: EvidenceRecord) async throws -> [EvidenceShareRecord] {
        try await catalog.evidenceShares(evidenceID: item.id)
    }

    // MARK: Custody

    /// Registers an exhibit over camera ranges; from then on retention and the disk floor
    /// keep every segment it covers until a supervisor releases the hold. `actor` (nil: the
    /// machine's command line) must hold `register-evidence` on each range's camera: an
    /// exhibit reveals its footage to whoever registered it.
    public func create(
        ranges: [EvidenceRecord.Range], requestingBody: String, caseReference: String, legalBasis: String,
        purpose: String, by agent: Agent, actor: Principal?
    ) async throws -> EvidenceRecord {
        guard Self.requestingBodies.contains(requestingBody) else {
            throw VigilError(.invalid, "requesting body must be one of \(Self.requestingBodies.joined(separator: ", "))")
        }
        try TextField.check(caseReference, "the case reference", maximum: Self.shortText)
        try TextField.check(legalBasis, "the legal basis", maximum: Self.mediumText, required: false)
        try TextField.check(purpose, "the purpose", maximum: Self.longText)
        guard !ranges.isEmpty else { throw VigilError(.invalid, "at least one camera and time range is required") }
        guard ranges.count <= 100 else { throw VigilError(.invalid, "an exhibit covers at most 100 ranges") }
        let now = clock.nowMicros()
        for r in ranges {
            guard r.fromMicros < r.toMicros else { throw VigilError(.invalid, "a range must end after it starts") }
            guard r.toMicros <= now else { throw VigilError(.invalid, "a range cannot reach into the future") }
            guard r.toMicros - r.fromMicros <= 7 * 86_400_000_000 else { throw VigilError(.invalid, "a range may span at most 7 days") }
            guard let camera = try await catalog.camera(id: r.cameraID) else { throw VigilError(.notFound, "no camera \(r.cameraID)") }
            if let actor, !actor.may(.registerEvidence, camera: camera.id) {
                throw VigilError(
                    .forbidden,
                    "you may not register evidence over camera \(camera.name): an administrator grants register-evidence per camera")
            }
        }
        let year =
            Calendar(identifier: .gregorian).dateComponents(
                in: TimeZone(identifier: "UTC")!,
                from: Date(timeIntervalSince1970: Double(now) / 1e6)
            ).year ?? 1970
        // The exhibit, its ranges, its `created` event and the audit entry in one
        // transaction: the event and entry name the exhibit's number, which the insert
        // gives, and the segments it holds, counted there (one indexed count a range).
        let new = EvidenceRecord(
            requestingBody: requestingBody, caseReference: caseReference, legalBasis: legalBasis,
            purpose: purpose, createdBy: agent.user, createdByUserID: agent.userID, createdMicros: now,
            ranges: ranges)
        let catalog = self.catalog, register = self
        return try await audit.append(
            with: { () async throws -> (item: EvidenceRecord, entry: AuditEntry) in
                let item = try await catalog.addEvidence(new, year: year)
                var covered = 0
                for r in ranges { covered += try await catalog.segmentCount(cameraID: r.cameraID, from: r.fromMicros, to: r.toMicros) }
                let detail = "\(ranges.count) range(s), \(covered) segment(s) held; body \(requestingBody); legal basis: \(legalBasis)"
                let (custody, entry) = register.event(item, kind: .created, agent, purpose: purpose, detail: detail, at: now)
                try await catalog.addCustody(custody)
                return (item, entry)
            },
            entry: { $0.entry }
        ).1.item
    }

    public func release(exhibit: String, reason: String, by agent: Agent) async throws {
        let item = try await find(exhibit)
        guard item.isHeld else { throw VigilError(.conflict, "\(exhibit): the hold was already released") }
        try TextField.check(reason, "the reason", maximum: Self.longText)
        let catalog = self.catalog
        let now = clock.nowMicros()
        // The release, its custody event and its audit entry are one transaction, and the
        // release counts only if it ended the hold: of two at once, the second is refused.
        try await record(item, kind: .holdReleased, agent, purpose: nil, detail: reason) {
            guard try await catalog.releaseEvidence(id: item.id, by: agent.user, reason: reason, atMicros: now) else {
                throw VigilError(.conflict, "\(exhibit): the hold was already released")
            }
        }
    }

    public func handOver(exhibit: String, to recipient: String, purpose: String, by agent: Agent) async throws {
        let item = try await find(exhibit)
        try TextField.check(recipient, "to whom it was handed over", maximum: Self.shortText)
        try TextField.check(purpose, "the purpose", maximum: Self.longText)
        try await record(item, kind: .handedOver, agent, counterpart: recipient, purpose: purpose, detail: nil)
    }

    public func acknowledge(exhibit: String, by agent: Agent, note: String?) async throws {
        let item = try await find(exhibit)
        if let note { try TextField.check(note, "the note", maximum: Self.longText, required: false) }
        try await record(item, kind: .acknowledged, agent, purpose: nil, detail: note)
    }

    /// Someone fetched a file of a bundle the server exported: a custody event, and its
    /// audit entry.
    public func recordDownload(exhibit: String, export: String, file: String, bytes: Int64, by agent: Agent) async throws {
        let item = try await find(exhibit)
        try await record(item, kind: .downloaded, agent, purpose: nil, detail: "export \(export): \(file), \(bytes) bytes")
    }

    /// Removes from `shelf` the exports made more than `keepDays` ago, and what unfinished
    /// exports left there over a day ago; each removed export is a custody event
    /// (`export-removed`) and its audit entry. Only the server's copies go: the recorded
    /// footage is not touched. Throws the first failure to record an event, after trying
    /// every one (the files are gone by then, and the rest must still be recorded).
    @discardableResult
    public func pruneShelf(_ shelf: ExportShelf, keepDays: Int) async throws -> [ExportShelf.Removed] {
        let nowMicros = clock.nowMicros()
        let removed = shelf.prune(madeBefore: nowMicros - Int64(keepDays) * 86_400_000_000, stagingMadeBefore: nowMicros - 86_400_000_000)
        let agent = Agent(user: "vigil", role: nil, address: nil, userAgent: "export shelf")
        var failure: (any Error)?
        for r in removed where r.published {
            do {
                let item = try await find(r.exhibit)
                try await record(
                    item, kind: .exportRemoved, agent, purpose: nil,
                    detail:
                        "export \(r.id), \(r.bytes) bytes, removed from the server after \(keepDays) days; the recorded footage is not touched"
                )
            } catch {
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
        return removed
    }

    public func find(_ exhibit: String) async throws -> EvidenceRecord {
        guard let item = try await catalog.evidence(exhibit: exhibit) else { throw VigilError(.notFound, "no exhibit \(exhibit)") }
        return item
    }

    /// Segments an exhibit covers (in any state).
    public func coveredSegments(_ item: EvidenceRecord) async throws -> [SegmentRecord] {
        var all: [SegmentRecord] = []
        for r in item.ranges { all += try await catalog.segments(cameraID: r.cameraID, from: r.fromMicros, to: r.toMicros) }
        return all
    }

    /// Records a custody event and its audit entry, together with `change` (the catalog
    /// write the event is about, if any) in one transaction: all three are stored or none,
    /// so a hold never ends, nor a share changes, without the event and entry that say who
    /// did it. `change` throws to refuse (nothing is then recorded).
    private func record(
        _ item: EvidenceRecord, kind: CustodyKind, _ agent: Agent, counterpart: String? = nil, purpose: String?,
        detail: String?, change: (@Sendable () async throws -> Void)? = nil
    ) async throws {
        let (custody, entry) = event(
            item, kind: kind, agent, counterpart: counterpart, purpose: purpose, detail: detail, at: clock.nowMicros())
        let catalog = self.catalog
        _ = try await audit.append(entry) {
            try await change?()
            try await catalog.addCustody(custody)
        }
    }

    /// A custody event and the audit entry that records it.
    private func event(
        _ item: EvidenceRecord, kind: CustodyKind, _ agent: Agent, counterpart: String? = nil, purpose: String?,
        detail: String?, at micros: Int64
    ) -> (custody: CustodyRecord, entry: AuditEntry) {
        let custody = CustodyRecord(
            evidenceID: item.id, kind: kind.rawValue, actor: agent.user, counterpart: counterpart,
            purpose: purpose, detail: detail, atMicros: micros)
        let text = [counterpart.map { "to \($0)" }, detail].compactMap { $0 }.joined(separator: "; ")
        let entry = AuditEntry(
            action: kind.auditAction, result: .ok, user: agent.user, role: agent.role, address: agent.address,
            userAgent: agent.userAgent, purpose: purpose ?? item.purpose, caseReference: item.caseReference,
            detail: "exhibit \(item.exhibit)" + (text.isEmpty ? "" : ": \(text)"))
        return (custody, entry)
    }

    // MARK: Export

    /// Exports one user may have the server make in 24 hours: each bundle is a full copy of
    /// its footage on the server's disk until it is pruned.
    public static let defaultExportsPerDay = 20

    /// Runs `body` (a server-side export of `item` by `agent`) if the rules allow it now:
    /// one export per user at a time and `concurrent` on the server; at most `limit` a user
    /// a day, counted from the custody record once the user's slot is held (so no two
    /// requests of one user can both pass the count); and the bundle's estimated size
    /// must leave `floorBytes` free on `shelfRoot`'s disk for recording.
    public func withExportSlot<T>(
        _ item: EvidenceRecord, by agent: Agent, limit: Int, shelfRoot: String, floorBytes: Int64,
        _ body: () async throws -> T
    ) async throws -> T {
        let estimate = try await coveredSegments(item).reduce(Int64(0)) { $0 + $1.byteCount }
        // Free space on the disk the exports share with the recordings (the shelf's parent,
        // the data directory, exists from the start); not knowing it refuses the export.
        let disk = (shelfRoot as NSString).deletingLastPathComponent
        guard let free = (try? FileManager.default.attributesOfFileSystem(forPath: disk)[.systemFreeSize] as? NSNumber)?.int64Value else {
            throw VigilError(.insufficientStorage, "cannot tell how much space is free on \(disk); no export is written blind")
        }
        try exportGate.enter(agent.user, bytes: estimate, free: free, floor: floorBytes)
        do {
            let made = try await catalog.custodyCount(
                kind: CustodyKind.exported.rawValue, actor: agent.user, sinceMicros: clock.nowMicros() - 86_400_000_000)
            guard made < limit else {
                throw VigilError(
                    .quotaExceeded,
                    "you had the server make \(made) exports in the last 24 hours, the most one user may: "
                        + "download what you need from those, or export again once the oldest is a day old")
            }
            let result = try await body()
            exportGate.leave(agent.user)
            return result
        } catch {
            exportGate.leave(agent.user)
            throw error
        }
    }

    /// Writes the exhibit's bundle into `directory`: one ONVIF-signed MP4 per range (the
    /// whole segments covering it, repackaged without re-encoding), the certificate, and
    /// the signed manifest. Returns the files written.
    @discardableResult
    public func export(exhibit: String, to directory: String, by agent: Agent) async throws -> [String] {
        let item = try await find(exhibit)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let site = keys.signer.name
        let now = clock.nowMicros()
        var files: [Manifest.File] = []
        for (n, r) in item.ranges.enumerated() {
            guard let camera = try await catalog.camera(id: r.cameraID) else { throw VigilError(.notFound, "no camera \(r.cameraID)") }
            try await SegmentChain.extend(catalog: catalog, cameraID: camera.id)
            let segments = try await catalog.segments(cameraID: camera.id, from: r.fromMicros, to: r.toMicros)
            guard !segments.isEmpty else { throw VigilError(.notFound, "\(exhibit): no footage of \(camera.name) in range \(n + 1)") }
            guard segments.allSatisfy({ $0.state == .closed }) else {
                throw VigilError(
                    .conflict, "\(exhibit): \(camera.name) is still recording part of range \(n + 1); export once that segment closes")
            }
            let plan = try await Exporter.plan(
                catalog: catalog, store: store, cameraID: camera.id,
                from: segments.first!.startMicros, to: segments.last!.endMicros)
            guard plan.segmentIDs == segments.map(\.id) else { throw VigilError(.invalid, "\(exhibit): segments changed while exporting") }
            let name = "\(exhibit)-\(n + 1)-\(Self.safe(camera.name)).mp4"
            let path = "\(directory)/\(name)"
            try plan.mp4(creationUnixSeconds: now / 1_000_000).write(toFile: path)
            let info = OnvifExport.ExportInfo(
                unitName: "Vigil (\(site))", unitURL: "", exportTime: UInt64(now / 1_000_000 + OnvifExport.mp4EpochOffset),
                operatorName: agent.user, sources: [.init(trackID: 1, name: camera.name, url: RTSPURL.redact(camera.url))],
                startTimes: [(1, OnvifExport.fileTime(unixMicros: plan.firstFrameMicros))])
            let sha256 = try SignedMP4.seal(
                path: path, info: info, signer: certificate, userInformation: "exhibit \(exhibit), case \(item.caseReference)")
            // The links of the exported segments, on to a head signed now if need be.
            try await ChainHeads.sign(catalog: catalog, signer: keys.signer, site: site, cameraID: camera.id, clock: clock)
            let links = try await catalog.chainLinks(segmentIDs: plan.segmentIDs)
            guard links.count == segments.count, let last = links.last,
                let head = try await catalog.latestChainHead(cameraID: camera.id), head.position >= last.position
            else {
                throw VigilError(.invalid, "\(exhibit): the chain of \(camera.name) does not cover the exported segments")
            }
            let continuation = try await catalog.chainLinks(cameraID: camera.id, from: last.position + 1, through: head.position)
            files.append(
                Manifest.File(
                    name: name, sha256: sha256, cameraID: camera.id, cameraName: camera.name,
                    requestedFrom: iso8601(micros: r.fromMicros), requestedTo: iso8601(micros: r.toMicros),
                    firstFrame: iso8601(micros: plan.firstFrameMicros), end: iso8601(micros: plan.endMicros),
                    segments: links.map(Self.link), continuation: continuation.map(Self.link), chainHead: head.note,
                    gaps: plan.gaps.map {
                        Manifest.Gap(from: iso8601(micros: $0.startMicros), to: $0.endMicros.map { iso8601(micros: $0) }, reason: $0.reason)
                    }))
        }
        // The export enters the audit log, and the manifest carries the proof of it.
        let detail = "exhibit \(exhibit): " + files.map { "\($0.name) sha256 \($0.sha256)" }.joined(separator: ", ")
        try await catalog.addCustody(
            CustodyRecord(
                evidenceID: item.id, kind: CustodyKind.exported.rawValue, actor: agent.user, purpose: item.purpose,
                detail: detail, atMicros: now))
        var entry = AuditEntry(
            action: .evidenceExported, result: .ok, user: agent.user, role: agent.role, address: agent.address,
            userAgent: agent.userAgent, purpose: item.purpose, caseReference: item.caseReference, detail: detail)
        entry.cameraName = files.map(\.cameraName).joined(separator: ", ")
        let index = try await audit.append(entry)
        let checkpoint = try await audit.checkpoint()
        let proof = try await audit.inclusionProof(index: Int(index), treeSize: Int(checkpoint.treeSize))
        guard let body = try await catalog.auditEntries(from: index, limit: 1).first?.body else {
            throw VigilError(.invalid, "export entry not stored")
        }
        let manifest = Manifest(
            site: site, exportedAt: iso8601(micros: now), exportedBy: agent.user,
            exhibit: .init(
                number: item.exhibit, requestingBody: item.requestingBody, caseReference: item.caseReference, legalBasis: item.legalBasis,
                purpose: item.purpose, createdBy: item.createdBy, created: iso8601(micros: item.createdMicros)),
            siteVerifierKey: keys.signer.verifier.encoded, files: files,
            audit: .init(
                index: Int(index), entry: Data(body).base64EncodedString(), checkpoint: checkpoint.note, proof: proof.map { hex($0) }))
        let bytes = try manifest.encoded()
        try Data(bytes).write(to: URL(fileURLWithPath: "\(directory)/\(Manifest.fileName)"))
        try (Data(try certificate.sign(SHA256.hash(data: bytes))).base64EncodedString() + "\n")
            .write(toFile: "\(directory)/\(Manifest.signatureFileName)", atomically: true, encoding: .utf8)
        try certificate.pem.write(toFile: "\(directory)/\(Manifest.certificateFileName)", atomically: true, encoding: .utf8)
        return files.map(\.name) + [Manifest.fileName, Manifest.signatureFileName, Manifest.certificateFileName]
    }

    static func link(_ l: ChainLinkRecord) -> Manifest.Link {
        Manifest.Link(
            position: l.position, segment: l.segmentID, start: iso8601(micros: l.startMicros), startMicros: l.startMicros,
            duration90k: l.duration90k, frames: l.frameCount, bytes: l.byteCount, sha256: hex(l.sha256),
            metaSHA256: hex(l.metaSHA256), previousLink: hex(l.previousLink), link: hex(l.link))
    }

    static func safe(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
    }
}

/// Server-side exports in progress: one per user, `concurrent` in all. Each copies footage
/// to the server's disk and reads it at disk speed, so a user's burst must wait its turn;
/// the bytes of those being written count against the free space the next one sees.
final class ExportGate: Sendable {
    private let running = Mutex<[String: Int64]>([:])
    let concurrent: Int

    init(concurrent: Int) {
        self.concurrent = concurrent
    }

    func enter(_ user: String, bytes: Int64, free: Int64, floor: Int64) throws {
        try running.withLock { users in
            guard users[user] == nil else {
                throw VigilError(.conflict, "one of your exports is still being written; wait for it to finish")
            }
            guard users.count < concurrent else {
                throw VigilError(.busy(retryAfterSeconds: 30), "the server is writing \(users.count) exports already; try again shortly")
            }
            let writing = users.values.reduce(0, +)
            guard free - writing - bytes >= floor else {
                throw VigilError(
                    .insufficientStorage,
                    String(
                        format: "this export needs about %.1f GB and the server has %.1f GB free "
                            + "(%.1f GB of it taken by exports being written), of which %.1f GB stay for "
                            + "recording: remove older exports first",
                        Double(bytes) / 1e9, Double(free) / 1e9, Double(writing) / 1e9, Double(floor) / 1e9))
            }
            users[user] = bytes
        }
    }

    func leave(_ user: String) {
        _ = running.withLock { $0.removeValue(forKey: user) }
    }
}
