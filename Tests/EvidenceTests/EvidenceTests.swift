import Audit
import Base
import Catalog
import Centre
import Crypto
import Foundation
import Logging
import RTSP
import Records
import TestSupport
import Testing
import X509
import _CryptoExtras

@testable import Evidence
@testable import Media
@testable import Recording

/// A site with one camera's recorded footage, its keys and certificate, and an exhibit.
struct EvidenceSite {
    let dir: String
    let catalog: Catalog
    let register: EvidenceRegister
    let cameraID: Int64
    let certificate: SiteCertificate

    /// Runs `body` on a fresh site, closed and removed afterwards (`TestSupport.withCatalog`).
    static func with(_ label: String, _ body: (EvidenceSite) async throws -> Void) async throws {
        try await TestSupport.withCatalog(label) { dir, catalog in
            let store = try SampleStore(root: dir + "/samples")
            let keys = try SiteKeys.loadOrCreate(directory: dir + "/keys", siteName: "test-city")
            let certificate = try SiteCertificate.loadOrCreate(directory: dir + "/keys", siteName: "test-city")
            let audit = try await AuditTrail(catalog: catalog, signer: keys.signer, origin: "test-city/audit")
            // Six seconds of a real clip, recorded in 2 s segments, ending just now.
            let camera = try await catalog.upsertCamera(
                name: "market square", url: "rtsp://viewer:secret@10.1.2.3/stream1", retentionDays: 30)
            try await TestSupport.recordFootage(camera: camera, catalog: catalog, store: store)
            let register = EvidenceRegister(catalog: catalog, store: store, audit: audit, keys: keys, certificate: certificate)
            try await body(EvidenceSite(dir: dir, catalog: catalog, register: register, cameraID: camera.id, certificate: certificate))
        }
    }

    static let clerk = EvidenceRegister.Agent(user: "j.nowak", role: "investigator", address: "10.0.0.7", userAgent: "test")

    /// An exhibit over the middle of the footage, exported into `bundle/`.
    func exportedBundle() async throws -> (exhibit: String, bundle: String, mp4: String) {
        let segments = try await catalog.allSegments()
        let from = segments[1].startMicros + 500_000, to = segments[1].endMicros + 500_000
        let item = try await register.create(
            ranges: [.init(cameraID: cameraID, fromMicros: from, toMicros: to)], requestingBody: "police",
            caseReference: "RSD-77/26", legalBasis: "art. 15 ustawy o Policji", purpose: "theft at the market",
            by: Self.clerk, actor: nil)
        let bundle = dir + "/bundle"
        let files = try await register.export(exhibit: item.exhibit, to: bundle, by: Self.clerk)
        return (item.exhibit, bundle, bundle + "/" + files[0])
    }

}

func flip(_ path: String, at offset: Int64) throws {
    let handle = try FileHandle(forUpdating: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    try handle.seek(toOffset: UInt64(offset))
    var byte = try handle.read(upToCount: 1)!
    byte[0] ^= 0x20
    try handle.seek(toOffset: UInt64(offset))
    try handle.write(contentsOf: byte)
}

func failures(_ report: EvidenceVerifier.Report) -> [String] {
    report.findings.filter { $0.status == .fail }.map { "\($0.check): \($0.detail)" }
}

@Suite("Evidence: register, signed export, verifier", .serialized)
struct EvidenceTests {
    @Test func exportedBundleVerifiesAndStillPlays() async throws {
        try await EvidenceSite.with("evidence") { site in
            let (exhibit, bundle, mp4) = try await site.exportedBundle()
            let report = try EvidenceVerifier.verify(path: bundle, pinned: [site.certificate.pem])
            #expect(report.passed, "\(failures(report))")
            for check in ["signature", "signer", "since export", "since recording", "audit"] {
                #expect(report.findings.contains { $0.check == check && $0.status == .pass }, "no passing \(check) check")
            }
            // The single MP4, judged beside its manifest, passes too; and it plays.
            #expect(try EvidenceVerifier.verify(path: mp4, pinned: [site.certificate.pem]).passed)
            let decode = try await TestSupport.strictDecode(mp4)
            #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
            // The ONVIF metadata says who exported what, from which camera, starting when.
            let inspected = try SignedMP4.inspect(path: mp4, pinned: [])
            #expect(inspected.info.operatorName == "j.nowak" && inspected.info.sources.map(\.name) == ["market square"])
            #expect(!inspected.info.sources[0].url.contains("secret"), "camera credentials must not travel in exports")
            let manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: URL(fileURLWithPath: bundle + "/manifest.json")))
            #expect(
                inspected.info.startTimes.first.map { OnvifExport.unixMicros(fileTime: $0.startTime) }
                    == manifest.files[0].segments[0].startMicros)
            #expect(manifest.exhibit.number == exhibit && manifest.files[0].segments.count == 2)
            // The register shows the custody: created, then exported; both in the audit log.
            let item = try #require(try await site.catalog.evidence(exhibit: exhibit))
            #expect(try await site.catalog.custody(evidenceID: item.id).map(\.kind) == ["created", "exported"])
            let actions = try await site.catalog.auditEntries().map { try AuditEntry.decode($0.body).action }
            #expect(actions == ["evidence.created", "evidence.exported"])
        }
    }

    @Test func aByteFlipAnywhereFailsNamingWhatBroke() async throws {
        try await EvidenceSite.with("evidence-flip") { site in
            let (_, bundle, mp4) = try await site.exportedBundle()
            let pristine = try Data(contentsOf: URL(fileURLWithPath: mp4))
            let manifestPath = bundle + "/manifest.json"
            let manifestBytes = try Data(contentsOf: URL(fileURLWithPath: manifestPath))
            let layout = try SignedMP4.inspect(path: mp4, pinned: [])
            let media = try #require(layout.mediaData)
            let firstSegmentBytes = try JSONDecoder().decode(Manifest.self, from: manifestBytes).files[0].segments[0].bytes
            let places: [(String, Int64, [String])] = [
                (
                    "media data, second segment", media.lowerBound + firstSegmentBytes + 1000,
                    ["changed after it was signed", "was changed after export", "differ from segment"]
                ),
                ("moov", 40, ["changed after it was signed", "was changed after export"]),
                ("ONVIF metadata (the meta box after the media)", Int64(pristine.count) - 600, ["signature", "was changed after export"])
            ]
            for (what, offset, expected) in places {
                try pristine.write(to: URL(fileURLWithPath: mp4))
                try flip(mp4, at: offset)
                let report = try EvidenceVerifier.verify(path: bundle, pinned: [site.certificate.pem])
                #expect(!report.passed, "a flip in \(what) went unnoticed")
                for text in expected {
                    #expect(
                        failures(report).contains { $0.contains(text) },
                        "flip in \(what): no failure mentioning \"\(text)\": \(failures(report))")
                }
            }
            // The manifest.
            try pristine.write(to: URL(fileURLWithPath: mp4))
            var edited = manifestBytes
            let at = try #require(edited.firstRange(of: Data("theft".utf8)))
            edited[at.lowerBound] = UInt8(ascii: "T")
            try edited.write(to: URL(fileURLWithPath: manifestPath))
            let manifestReport = try EvidenceVerifier.verify(path: bundle, pinned: [site.certificate.pem])
            #expect(failures(manifestReport).contains { $0.contains("manifest was changed after export") })
        }
    }

    @Test func aSecondPartysSignatureIsAddedAndBothVerify() async throws {
        try await EvidenceSite.with("evidence-resign") { site in
            let (_, bundle, mp4) = try await site.exportedBundle()
            // A prosecutor's office countersigns with its own key and certificate.
            let other = try SiteCertificate.loadOrCreate(directory: site.dir + "/prosecutor", siteName: "prosecutor's office")
            let countersigned = try SignedMP4.countersign(path: mp4, signer: other, userInformation: "received by the prosecutor's office")
            #expect(countersigned == (try EvidenceVerifier.sha256(of: mp4)), "the digest returned is not the file's")
            let inspected = try SignedMP4.inspect(path: mp4, pinned: [site.certificate.der])
            #expect(inspected.signatures.count == 2 && inspected.signatures.allSatisfy(\.valid))
            #expect(inspected.signatures.map(\.trusted) == [true, false])
            // Verified alone (the manifest's hash is of the file before countersigning), the
            // file shows the site's trusted signature and the second as valid but untrusted.
            try FileManager.default.removeItem(atPath: bundle + "/manifest.json")
            let report = try EvidenceVerifier.verify(path: mp4, pinned: [site.certificate.pem])
            #expect(
                report.findings.contains { $0.detail.contains("signature 2") && $0.detail.contains("valid signature, untrusted signer") })
            #expect(report.passed, "\(failures(report))")
            let decode = try await TestSupport.strictDecode(mp4)
            #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
            // Pinning only the second party: its signature is trusted, the site's is not.
            let second = try EvidenceVerifier.verify(path: mp4, pinned: [other.pem])
            #expect(second.findings.contains { $0.detail.contains("signature 1") && $0.detail.contains("untrusted signer") })
            #expect(second.passed)
        }
    }

    @Test func anUnpinnedSignerIsOnlySelfConsistent() async throws {
        try await EvidenceSite.with("evidence-unpinned") { site in
            let (_, bundle, _) = try await site.exportedBundle()
            let other = try SiteCertificate.loadOrCreate(directory: site.dir + "/elsewhere", siteName: "elsewhere")
            let report = try EvidenceVerifier.verify(path: bundle, pinned: [other.pem])
            #expect(!report.passed)
            #expect(failures(report).contains { $0.contains("no valid signature by a pinned certificate") })
            let unpinned = try EvidenceVerifier.verify(path: bundle, pinned: [])
            #expect(unpinned.passed && unpinned.findings.contains { $0.detail.contains("only self-consistent") })
        }
    }

    @Test func registerRulesAndHoldRelease() async throws {
        try await EvidenceSite.with("evidence-rules") { site in
            let segments = try await site.catalog.allSegments()
            let range = EvidenceRecord.Range(cameraID: site.cameraID, fromMicros: segments[0].startMicros, toMicros: segments[0].endMicros)
            await #expect(throws: VigilError.self) {
                try await site.register.create(
                    ranges: [range], requestingBody: "journalist", caseReference: "x", legalBasis: "", purpose: "p", by: EvidenceSite.clerk,
                    actor: nil)
            }
            let future = EvidenceRecord.Range(
                cameraID: site.cameraID, fromMicros: WallClock.system.nowMicros(), toMicros: WallClock.system.nowMicros() + 60_000_000)
            await #expect(throws: VigilError.self) {
                try await site.register.create(
                    ranges: [future], requestingBody: "court", caseReference: "x", legalBasis: "", purpose: "p", by: EvidenceSite.clerk,
                    actor: nil)
            }
            let item = try await site.register.create(
                ranges: [range], requestingBody: "court", caseReference: "II K 12/26", legalBasis: "art. 236 kpk",
                purpose: "trial", by: EvidenceSite.clerk, actor: nil)
            #expect(try await site.catalog.heldByEvidence(segmentIDs: [segments[0].id]) == [segments[0].id])
            try await site.register.handOver(
                exhibit: item.exhibit, to: "Sąd Rejonowy, II Wydział Karny", purpose: "trial", by: EvidenceSite.clerk)
            try await site.register.acknowledge(exhibit: item.exhibit, by: EvidenceSite.clerk, note: "signed for by the court clerk")
            try await site.register.release(exhibit: item.exhibit, reason: "judgment final", by: EvidenceSite.clerk)
            await #expect(throws: VigilError.self) {
                try await site.register.release(exhibit: item.exhibit, reason: "again", by: EvidenceSite.clerk)
            }
            #expect(try await site.catalog.heldByEvidence(segmentIDs: [segments[0].id]).isEmpty)
            #expect(
                try await site.catalog.custody(evidenceID: item.id).map(\.kind) == [
                    "created", "handed-over", "acknowledged", "hold-released"
                ])
            let entries = try await site.catalog.auditEntries().map { try AuditEntry.decode($0.body) }
            #expect(
                entries.map(\.action) == ["evidence.created", "evidence.handed-over", "evidence.acknowledged", "evidence.hold-released"])
            #expect(entries.allSatisfy { $0.caseReference == "II K 12/26" && $0.detail?.contains(item.exhibit) == true })
        }
    }

    /// Two releases of one hold at once: one ends it, the other is refused, and the register
    /// says so once (one custody event, one audit entry, the winner's reason on the row).
    @Test func twoReleasesAtOnceEndTheHoldOnceOnRecord() async throws {
        try await EvidenceSite.with("evidence-release-race") { site in
            let segments = try await site.catalog.allSegments()
            let range = EvidenceRecord.Range(cameraID: site.cameraID, fromMicros: segments[0].startMicros, toMicros: segments[0].endMicros)
            let item = try await site.register.create(
                ranges: [range], requestingBody: "court", caseReference: "II K 13/26", legalBasis: "art. 236 kpk",
                purpose: "trial", by: EvidenceSite.clerk, actor: nil)
            let register = site.register
            let outcomes = await withTaskGroup(of: String?.self) { group in
                for reason in ["first", "second", "third"] {
                    group.addTask {
                        do {
                            try await register.release(exhibit: item.exhibit, reason: reason, by: EvidenceSite.clerk)
                            return reason
                        } catch {
                            return nil
                        }
                    }
                }
                var released: [String] = []
                for await outcome in group { if let outcome { released.append(outcome) } }
                return released
            }
            #expect(outcomes.count == 1)
            let custody = try await site.catalog.custody(evidenceID: item.id)
            #expect(custody.map(\.kind) == ["created", "hold-released"])
            #expect(custody.last?.detail == outcomes.first)
            let entries = try await site.catalog.auditEntries().map { try AuditEntry.decode($0.body) }
            #expect(entries.map(\.action) == ["evidence.created", "evidence.hold-released"])
            #expect(try await site.catalog.evidence(exhibit: item.exhibit)?.releaseReason == outcomes.first)
        }
    }

    /// An export past the keep period leaves the server's shelf as a custody event with its
    /// audit entry; a recent one stays, and the held footage is not touched.
    @Test func expiredExportsLeaveTheShelfOnRecord() async throws {
        try await EvidenceSite.with("evidence-shelf") { site in
            let segments = try await site.catalog.allSegments()
            let item = try await site.register.create(
                ranges: [.init(cameraID: site.cameraID, fromMicros: segments[0].startMicros, toMicros: segments[1].endMicros)],
                requestingBody: "police", caseReference: "RSD-9/26", legalBasis: "art. 15 ustawy o Policji",
                purpose: "theft", by: EvidenceSite.clerk, actor: nil)
            let shelf = ExportShelf(root: site.dir + "/exports")
            let now = WallClock.system.nowMicros(), day: Int64 = 86_400_000_000
            var ids: [String] = []
            for madeAt in [now - 8 * day, now - day] {
                let (id, path) = try shelf.newDirectory(exhibit: item.exhibit, atMicros: madeAt)
                try await site.register.export(exhibit: item.exhibit, to: path, by: EvidenceSite.clerk)
                try shelf.publish(exhibit: item.exhibit, id: id)
                ids.append(id)
            }
            let removed = try await site.register.pruneShelf(shelf, keepDays: 7)
            #expect(removed.map(\.id) == [ids[0]] && removed[0].bytes > 0)
            #expect(shelf.exports(exhibit: item.exhibit).map(\.id) == [ids[1]])
            let custody = try await site.catalog.custody(evidenceID: item.id)
            #expect(custody.map(\.kind) == ["created", "exported", "exported", "export-removed"])
            #expect(custody.last?.detail?.contains(ids[0]) == true && custody.last?.actor == "vigil")
            let entries = try await site.catalog.auditEntries().map { try AuditEntry.decode($0.body) }
            #expect(entries.last?.action == "evidence.export-removed" && entries.last?.caseReference == "RSD-9/26")
            // The footage is still there, and still held.
            let ids2 = segments.prefix(2).map(\.id)
            #expect(try await site.catalog.heldByEvidence(segmentIDs: ids2).sorted() == ids2.sorted())
            #expect(try await site.catalog.allSegments().count == segments.count)
        }
    }

    @Test func onvifMetaRoundTripsAndPSSAlgorithmIsRFC4055() throws {
        let info = OnvifExport.ExportInfo(
            unitName: "Vigil", unitURL: "", exportTime: 3_900_000_000, operatorName: "op",
            sources: [.init(trackID: 1, name: "cam", url: "rtsp://10.0.0.1/")],
            startTimes: [(1, OnvifExport.fileTime(unixMicros: 1_764_000_000_000_000))])
        for n in [1, 2, 3] {
            var meta = OnvifExport.metaBox(
                info: info,
                instance: .init(
                    signature: [UInt8](repeating: 1, count: 384), certificate: [9, 9],
                    algorithm: SignatureAlgorithms.rsaPSSSHA256Salt32))
            for i in 1..<n {
                meta = OnvifExport.appending(
                    .init(
                        signature: [UInt8](repeating: UInt8(i + 1), count: 256), certificate: [UInt8(i)], algorithm: nil,
                        userInformation: "party \(i)"), to: meta, parsed: try OnvifExport.parseMeta(meta))
            }
            let parsed = try OnvifExport.parseMeta(meta)
            #expect(parsed.info == info && parsed.instances.count == n)
            #expect(Int(meta.readU32(0)) == meta.count)
            // The first instance's signing input is exactly the one-instance box, signature zeroed.
            let first = OnvifExport.signingInput(meta: meta, parsed: parsed, instance: 0)
            #expect(
                first
                    == OnvifExport.metaBox(
                        info: info,
                        instance: .init(
                            signature: [UInt8](repeating: 0, count: 384), certificate: [9, 9],
                            algorithm: SignatureAlgorithms.rsaPSSSHA256Salt32)))
        }
        // RFC 4055's RSASSA-PSS-params for SHA-256 with MGF1-SHA-256 and a 32-byte salt.
        #expect(
            hex(SignatureAlgorithms.rsaPSSSHA256Salt32)
                == "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120"
        )
    }

    /// Property: the single-read digests equal each hash computed on its own, for random
    /// files, meta box places, signing inputs, segment runs and read sizes (down to a few
    /// bytes, so every boundary falls inside, at the start and at the end of a chunk). The
    /// first trials are the edges random draws rarely reach: an empty file with an empty run,
    /// and empty runs at the start and the end of a file.
    @Test func singleReadDigestsEqualSeparateHashes() throws {
        var rng = SystemRandomNumberGenerator()
        let dir = try TestSupport.temporaryDirectory("digests")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for trial in 0..<300 {
            let size = trial == 0 ? 0 : Int.random(in: 0...3000, using: &rng)
            let bytes = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let path = "\(dir)/\(trial)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let m0 = Int.random(in: 0...size, using: &rng), m1 = Int.random(in: m0...size, using: &rng)
            let inputs = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                (0..<Int.random(in: 0...50, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            var cuts = (0..<Int.random(in: 0...6, using: &rng)).map { _ in Int.random(in: 0...size, using: &rng) }.sorted()
            if cuts.count % 2 == 1 { cuts.removeLast() }
            if trial < 2 { cuts = [0, 0, size, size] }
            let runs = stride(from: 0, to: cuts.count, by: 2).map { Int64(cuts[$0])..<Int64(cuts[$0 + 1]) }
            let chunk = [1, 2, 7, 64, 1000, 8 << 20].randomElement(using: &rng)!
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let d = try FileDigests.compute(
                handle, size: Int64(size), meta: Int64(m0)..<Int64(m1), signingInputs: inputs, runs: runs, chunkSize: chunk)
            #expect(d.whole == SHA256.hash(data: bytes), "trial \(trial)")
            #expect(d.signing == inputs.map { SHA256.hash(data: Array(bytes[..<m0]) + $0 + Array(bytes[m1...])) }, "trial \(trial)")
            #expect(
                d.runs == runs.map { SHA256.hash(data: Array(bytes[Int($0.lowerBound)..<Int($0.upperBound)])) },
                "trial \(trial) chunk \(chunk)")
        }
    }
}
