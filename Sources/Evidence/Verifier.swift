import Audit
import Base
import Crypto
import Foundation
import Integrity
import SwiftASN1
import X509
import _CryptoExtras

/// `vigil verify`: checks an evidence bundle (a directory with `manifest.json`) or a
/// single signed MP4, offline, trusting nothing but the files and the certificates the
/// user pins. Each question gets its own answer:
/// - signature: every ONVIF signature and the manifest's signature match the bytes;
/// - signer: the signing certificate is a pinned one, or only self-consistent;
/// - since export: each MP4 is the file the manifest lists (SHA-256);
/// - since recording: the MP4's media data is the recorded segments, byte for byte, and
///   their chain links lead to a chain head signed by the site;
/// - audit: the export is an entry of the site's audit log under a signed checkpoint;
/// - gaps: what the range does not contain (reported, not a failure).
public enum EvidenceVerifier {
    public enum Status: String, Sendable { case pass = "PASS", fail = "FAIL", info = "INFO" }

    public struct Finding: Sendable {
        public var check: String
        public var status: Status
        public var detail: String
    }

    public struct Report: Sendable {
        public var findings: [Finding] = []
        public var passed: Bool { !findings.contains { $0.status == .fail } && findings.contains { $0.status == .pass } }
        mutating func add(_ check: String, _ status: Status, _ detail: String) {
            findings.append(Finding(check: check, status: status, detail: detail))
        }
    }

    /// Verifies `path` (bundle directory, its manifest, or an MP4) against `pinned` certificates (PEM).
    public static func verify(path: String, pinned pinnedPEM: [String]) throws -> Report {
        var report = Report()
        let pinned = try pinnedPEM.map { pem -> [UInt8] in
            var serializer = DER.Serializer()
            try serializer.serialize(try Certificate(pemEncoded: pem))
            return serializer.serializedBytes
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw EvidenceError("\(path) does not exist") }
        let directory = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        let manifestPath = directory + "/" + Manifest.fileName
        let single = isDirectory.boolValue || path.hasSuffix(Manifest.fileName) ? nil : (path as NSString).lastPathComponent
        guard FileManager.default.fileExists(atPath: manifestPath) else {
            guard let single else { throw EvidenceError("\(path) holds no \(Manifest.fileName)") }
            _ = checkSignatures(of: directory + "/" + single, pinned: pinned, into: &report)
            report.add("since recording", .info, "no manifest beside \(single): only the file's own signatures were checked")
            return report
        }
        let manifestBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: manifestPath)))
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(manifestBytes))
        } catch {
            report.add("manifest", .fail, "\(Manifest.fileName) is not a valid manifest: \(error)")
            return report
        }
        guard manifest.format == Manifest.format else { throw EvidenceError("unknown bundle format \(manifest.format)") }
        try checkManifestSignature(directory: directory, manifest: manifestBytes, pinned: pinned, into: &report)
        let vkey = try? NoteVerifier(encoded: manifest.siteVerifierKey)
        if vkey == nil { report.add("manifest", .fail, "the site verifier key in the manifest is unreadable") }
        for file in manifest.files where single == nil || single == file.name {
            let mp4 = directory + "/" + file.name
            guard FileManager.default.fileExists(atPath: mp4) else {
                report.add("since export", .fail, "\(file.name) is listed in the manifest but missing")
                continue
            }
            // One read of the file yields every digest: signatures, whole file, segments.
            let runs = file.segments.map(\.bytes)
            let inspected = checkSignatures(of: mp4, pinned: pinned, mediaRuns: runs, into: &report)
            let plain = inspected == nil ? try SignedMP4.digests(path: mp4, mediaRuns: runs) : nil
            let digest = inspected?.sha256 ?? plain!.sha256
            if digest == file.sha256 {
                report.add("since export", .pass, "\(file.name): SHA-256 \(digest) is the one the signed manifest lists")
            } else {
                report.add(
                    "since export", .fail,
                    "\(file.name): SHA-256 is \(digest), the manifest lists \(file.sha256): the file was changed after export")
            }
            if let vkey {
                checkRecording(
                    file: file, media: inspected?.mediaData ?? plain?.mediaData,
                    digests: inspected?.mediaRunDigests ?? plain?.mediaRunDigests, verifier: vkey, into: &report)
            }
            if file.gaps.isEmpty {
                report.add("gaps", .info, "\(file.name): no gap in \(file.requestedFrom) – \(file.requestedTo)")
            }
            for gap in file.gaps {
                report.add("gaps", .info, "\(file.name): no footage \(gap.from) – \(gap.to ?? "(ongoing)"): \(gap.reason)")
            }
        }
        if let vkey { checkAudit(manifest: manifest, verifier: vkey, into: &report) }
        return report
    }

    /// Reports each signing instance of an MP4; returns what the inspection found (nil
    /// when the file could not be read as a signed MP4).
    @discardableResult
    static func checkSignatures(of path: String, pinned: [[UInt8]], mediaRuns: [Int64] = [], into report: inout Report) -> SignedMP4.Report?
    {
        let name = (path as NSString).lastPathComponent
        let inspected: SignedMP4.Report
        do {
            inspected = try SignedMP4.inspect(path: path, pinned: pinned, mediaRuns: mediaRuns)
        } catch {
            report.add("signature", .fail, "\(name): \(error)")
            return nil
        }
        report.add(
            "export", .info,
            "\(name): exported by \(inspected.info.unitName) (\(inspected.info.operatorName)), cameras: "
                + inspected.info.sources.map(\.name).joined(separator: ", "))
        var anyTrusted = false
        for (i, s) in inspected.signatures.enumerated() {
            let who = "\(name) signature \(i + 1) by \(s.subject)" + (s.userInformation.map { " (\($0))" } ?? "")
            if s.valid {
                report.add("signature", .pass, "\(who): valid signature")
            } else {
                report.add("signature", .fail, "\(who): \(s.problem ?? "invalid")")
            }
            switch s.trusted {
            case nil: report.add("signer", .info, "\(who): no certificate pinned (--trust): the signer is only self-consistent")
            case true?:
                anyTrusted = anyTrusted || s.valid
                report.add("signer", s.valid ? .pass : .fail, "\(who): signer trusted (pinned certificate)")
            case false?: report.add("signer", .info, "\(who): \(s.valid ? "valid signature, " : "")untrusted signer")
            }
        }
        if !pinned.isEmpty && !anyTrusted {
            report.add("signer", .fail, "\(name): no valid signature by a pinned certificate")
        }
        return inspected
    }

    static func checkManifestSignature(directory: String, manifest: [UInt8], pinned: [[UInt8]], into report: inout Report) throws {
        let certPath = directory + "/" + Manifest.certificateFileName, sigPath = directory + "/" + Manifest.signatureFileName
        guard let pem = try? String(contentsOfFile: certPath, encoding: .utf8),
            let sigText = try? String(contentsOfFile: sigPath, encoding: .utf8),
            let signature = Data(base64Encoded: sigText.trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            report.add(
                "signature", .fail, "manifest: \(Manifest.signatureFileName) or \(Manifest.certificateFileName) is missing or unreadable")
            return
        }
        let certificate = try Certificate(pemEncoded: pem)
        guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
            report.add("signature", .fail, "manifest: the bundle's certificate is not an RSA certificate")
            return
        }
        if key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: manifest), padding: .PSS) {
            report.add("signature", .pass, "manifest: valid signature by \(certificate.subject)")
        } else {
            report.add(
                "signature", .fail, "manifest: the signature does not match \(Manifest.fileName): the manifest was changed after export")
        }
        if !pinned.isEmpty {
            var serializer = DER.Serializer()
            try serializer.serialize(certificate)
            let trusted = pinned.contains(serializer.serializedBytes)
            report.add(
                "signer", trusted ? .pass : .fail, "manifest: " + (trusted ? "signer trusted (pinned certificate)" : "untrusted signer"))
        }
    }

    /// The MP4's media data against the segments (`digests`: SHA-256 of each segment's
    /// stretch of it), and the segments' links to a signed head.
    static func checkRecording(
        file: Manifest.File, media: Range<Int64>?, digests: [String]?, verifier: NoteVerifier,
        into report: inout Report
    ) {
        let name = file.name
        func fail(_ detail: String) { report.add("since recording", .fail, "\(name): \(detail)") }
        guard let media else { return fail("no media data (mdat) in the file") }
        guard file.segments.allSatisfy({ $0.bytes >= 0 }), let expected = checkedSum(file.segments.map(\.bytes)) else {
            return fail("the manifest gives the segments impossible sizes")
        }
        guard media.count == expected, let digests, digests.count == file.segments.count else {
            return fail("the media data is \(media.count) bytes; the recorded segments are \(expected) bytes")
        }
        var offset = media.lowerBound
        var problems = 0
        for (s, digest) in zip(file.segments, digests) {
            if digest != s.sha256 {
                fail(
                    "media bytes \(offset)…\(offset + s.bytes) differ from segment \(s.segment) as recorded at \(s.start) (chain position \(s.position))"
                )
                problems += 1
            }
            offset += s.bytes
        }
        // The links recompute and follow each other up to the signed head.
        var previous: String?
        for l in file.segments + file.continuation {
            guard let content = chainContent(l, cameraID: file.cameraID) else {
                fail("chain position \(l.position) is unreadable")
                problems += 1
                continue
            }
            if hex(content.link) != l.link {
                fail("chain position \(l.position) does not match what it commits to (start, duration, size, hashes)")
                problems += 1
            }
            if let previous, l.previousLink != previous {
                fail("chain position \(l.position) does not follow the link before it: a segment is missing or out of order")
                problems += 1
            }
            previous = l.link
        }
        // The head must sign exactly the file's last link (the chain is carried no further).
        let last = (file.segments + file.continuation).last
        if let problem = ChainHead.problem(
            note: file.chainHead, cameraID: file.cameraID, verifier: verifier, chainEnd: last?.position,
            link: { position in last.flatMap { $0.position == position ? bytes(hex: $0.link) : nil } })
        {
            return fail("the signed chain head does not end at the file's last link: \(problem)")
        }
        if problems == 0 {
            report.add(
                "since recording", .pass,
                "\(name): media data is \(file.segments.count) recorded segments byte for byte; "
                    + "their chain links lead to the site's signed head at position \(file.segments.last.map { "\($0.position &+ Int64(file.continuation.count))" } ?? "?")"
            )
        }
    }

    static func chainContent(_ l: Manifest.Link, cameraID: Int64) -> ChainLinkContent? {
        guard let sha = bytes(hex: l.sha256), let meta = bytes(hex: l.metaSHA256), let previous = bytes(hex: l.previousLink),
            bytes(hex: l.link) != nil
        else { return nil }
        return ChainLinkContent(
            cameraID: cameraID, position: l.position, startMicros: l.startMicros, duration90k: l.duration90k,
            frameCount: l.frames, byteCount: l.bytes, sha256: sha, metaSHA256: meta, previousLink: previous)
    }

    static func checkAudit(manifest: Manifest, verifier: NoteVerifier, into report: inout Report) {
        guard let proof = manifest.audit else {
            report.add("audit", .fail, "the manifest carries no audit-log proof of the export")
            return
        }
        do {
            guard let entry = Data(base64Encoded: proof.entry) else { throw EvidenceError("the audit entry is not base64") }
            let checkpoint = try Checkpoint(text: try verifier.verify(proof.checkpoint))
            let hashes = try proof.proof.map { hex -> MerkleTree.Hash in
                guard let b = bytes(hex: hex) else { throw EvidenceError("unreadable proof hash") }
                return b
            }
            try MerkleTree.verifyInclusion(
                index: proof.index, treeSize: checkpoint.treeSize, leafHash: MerkleTree.leafHash([UInt8](entry)),
                proof: hashes, root: checkpoint.rootHash)
            let text = String(decoding: entry, as: UTF8.self)
            guard text.contains("exhibit \(manifest.exhibit.number)"), manifest.files.allSatisfy({ text.contains($0.sha256) }) else {
                throw EvidenceError("the audit entry does not name this exhibit and these files")
            }
            report.add(
                "audit", .pass,
                "the export is entry \(proof.index) of the site's audit log, included under its signed checkpoint of \(checkpoint.treeSize) entries"
            )
        } catch {
            report.add("audit", .fail, "the export's audit-log proof fails: \(error)")
        }
    }

    public static func sha256(of path: String) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var h = SHA256()
        let size = Int64(try handle.seekToEnd())
        try SignedMP4.feed(&h, handle, from: 0, to: size)
        return hex(Array(h.finalize()))
    }
}
