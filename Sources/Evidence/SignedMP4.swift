import Audit
import Base
import Crypto
import Foundation
import Media
import X509
import _CryptoExtras

/// Sealing and checking ONVIF-signed MP4 files. The signature of signing instance i is
/// RSASSA-PSS over SHA-256 of the whole file as it was when instance i was made: the
/// `meta` box with instance i's `sibo` payload zeroed and every later `sinf` removed.
public enum SignedMP4 {
    /// Appends the ONVIF `meta` box to a finished MP4 and signs the file in place.
    /// Returns the SHA-256 of the sealed file (hex), from the same read as the signature's.
    @discardableResult
    public static func seal(path: String, info: OnvifExport.ExportInfo, signer: SiteCertificate, userInformation: String? = nil) throws
        -> String
    {
        let instance = OnvifExport.SigningInstance(
            signature: [UInt8](repeating: 0, count: signer.signatureLength), certificate: signer.der,
            algorithm: SignatureAlgorithms.rsaPSSSHA256Salt32, userInformation: userInformation)
        let meta = OnvifExport.metaBox(info: info, instance: instance)
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let metaOffset = try file.seekToEnd()
        try file.write(contentsOf: meta)
        return try sign(file: file, metaOffset: Int64(metaOffset), meta: meta, instance: 0, signer: signer)
    }

    /// Adds a further signing instance (a second party's) to a sealed file. Returns the
    /// SHA-256 of the file as countersigned (hex).
    @discardableResult
    public static func countersign(path: String, signer: SiteCertificate, userInformation: String?) throws -> String {
        let file = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let (metaBox, meta) = try locateMeta(file)
        guard metaBox.end == Int64(try file.seekToEnd()) else {
            throw EvidenceError("the meta box is not the file's last box; cannot add a signature")
        }
        let parsed = try OnvifExport.parseMeta(meta)
        let instance = OnvifExport.SigningInstance(
            signature: [UInt8](repeating: 0, count: signer.signatureLength), certificate: signer.der,
            algorithm: SignatureAlgorithms.rsaPSSSHA256Salt32, userInformation: userInformation)
        let grown = OnvifExport.appending(instance, to: meta, parsed: parsed)
        try file.truncate(atOffset: UInt64(metaBox.offset))
        try file.seek(toOffset: UInt64(metaBox.offset))
        try file.write(contentsOf: grown)
        return try sign(file: file, metaOffset: metaBox.offset, meta: grown, instance: parsed.instances.count, signer: signer)
    }

    /// Signs instance `instance` of `meta`, the file's last box (written at `metaOffset`),
    /// and returns the SHA-256 of the whole file as signed. One read: the bytes before
    /// `meta` are hashed once, and that state is carried on both with the signing input
    /// and with the signed box.
    private static func sign(file: FileHandle, metaOffset: Int64, meta: [UInt8], instance: Int, signer: SiteCertificate) throws -> String {
        let parsed = try OnvifExport.parseMeta(meta)
        guard Int64(try file.seekToEnd()) == metaOffset + Int64(meta.count) else {
            throw EvidenceError("the meta box is not the file's last box")
        }
        var prefix = SHA256()
        try feed(&prefix, file, from: 0, to: metaOffset)
        var signing = prefix
        signing.update(data: OnvifExport.signingInput(meta: meta, parsed: parsed, instance: instance))
        let signature = try signer.sign(signing.finalize())
        let slot = parsed.instances[instance].signature
        guard signature.count == slot.count else { throw EvidenceError("signature length changed") }
        try file.seek(toOffset: UInt64(metaOffset) + UInt64(slot.lowerBound))
        try file.write(contentsOf: signature)
        try file.synchronize()
        var signed = meta
        signed.replaceSubrange(slot, with: signature)
        var whole = prefix
        whole.update(data: signed)
        return hex(Array(whole.finalize()))
    }

    /// What one signing instance proves.
    public struct SignatureReport: Sendable {
        public var subject: String
        public var certificateDER: [UInt8]
        public var userInformation: String?
        /// The signature matches the file as it was when this instance signed it.
        public var valid: Bool
        /// The certificate is the pinned one (nil: nothing was pinned).
        public var trusted: Bool?
        /// Why `valid` is false, or what else is wrong.
        public var problem: String?
    }

    public struct Report: Sendable {
        public var info: OnvifExport.ExportInfo
        public var signatures: [SignatureReport]
        /// Where the media data (`mdat` payload) lies in the file.
        public var mediaData: Range<Int64>?
        /// SHA-256 of the whole file (hex).
        public var sha256: String
        /// SHA-256 (hex) of each consecutive run of the media data whose sizes were given
        /// (nil when they do not add up to the media data).
        public var mediaRunDigests: [String]?
    }

    /// Checks every signing instance of a file; `pinned` are trusted certificates (DER).
    /// `mediaRuns`, the byte sizes of consecutive runs that should make up the media data
    /// (an export's segments), are hashed in the same single read of the file.
    public static func inspect(path: String, pinned: [[UInt8]], mediaRuns: [Int64] = []) throws -> Report {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let size = Int64(try file.seekToEnd())
        let top = try OnvifExport.boxes(from: 0, to: size) { offset, count in try read(file, offset, count) }
        let (metaBox, meta) = try locateMeta(file, top: top)
        let parsed = try OnvifExport.parseMeta(meta)
        let mdat = top.first { $0.type == "mdat" }.map { $0.payloadOffset..<$0.end }
        let runs = layout(mediaRuns, in: mdat)
        let inputs = parsed.instances.indices.map { OnvifExport.signingInput(meta: meta, parsed: parsed, instance: $0) }
        let digests = try FileDigests.compute(file, size: size, meta: metaBox.offset..<metaBox.end, signingInputs: inputs, runs: runs ?? [])
        var reports: [SignatureReport] = []
        for (i, entry) in parsed.instances.enumerated() {
            var report = SignatureReport(
                subject: "(unreadable certificate)", certificateDER: entry.instance.certificate,
                userInformation: entry.instance.userInformation, valid: false,
                trusted: pinned.isEmpty ? nil : pinned.contains(entry.instance.certificate))
            do {
                let certificate = try Certificate(derEncoded: entry.instance.certificate)
                report.subject = certificate.subject.description
                guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
                    throw EvidenceError("the certificate's key is not RSA")
                }
                guard key.keySizeInBits >= 2048 else {
                    throw EvidenceError("RSA key of \(key.keySizeInBits) bits (at least 2048 required)")
                }
                guard let algorithm = entry.instance.algorithm else {
                    throw EvidenceError("signed with the ONVIF default (RSASSA-PSS, 20-byte salt), which this verifier does not support")
                }
                guard algorithm == SignatureAlgorithms.rsaPSSSHA256Salt32 else {
                    throw EvidenceError("unsupported signature algorithm in sigC")
                }
                report.valid = key.isValidSignature(
                    _RSA.Signing.RSASignature(rawRepresentation: entry.instance.signature),
                    for: digests.signing[i], padding: .PSS)
                if !report.valid { report.problem = "signature \(i + 1) does not match the file: the file was changed after it was signed" }
            } catch {
                report.problem = "signature \(i + 1): \(error)"
            }
            reports.append(report)
        }
        return Report(
            info: parsed.info, signatures: reports, mediaData: mdat, sha256: hex(Array(digests.whole)),
            mediaRunDigests: runs == nil ? nil : digests.runs.map { hex(Array($0)) })
    }

    /// For a file whose signatures cannot be read: where its media data lies, its SHA-256
    /// and the digests of its media runs, in one read.
    public static func digests(path: String, mediaRuns: [Int64]) throws -> (
        mediaData: Range<Int64>?, sha256: String, mediaRunDigests: [String]?
    ) {
        let file = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? file.close() }
        let size = Int64(try file.seekToEnd())
        let top = (try? OnvifExport.boxes(from: 0, to: size) { offset, count in try read(file, offset, count) }) ?? []
        let mdat = top.first { $0.type == "mdat" }.map { $0.payloadOffset..<$0.end }
        let runs = layout(mediaRuns, in: mdat)
        let digests = try FileDigests.compute(file, size: size, meta: size..<size, signingInputs: [], runs: runs ?? [])
        return (mdat, hex(Array(digests.whole)), runs == nil ? nil : digests.runs.map { hex(Array($0)) })
    }

    /// Consecutive runs of the given sizes from the start of `mdat`, if they fill it exactly.
    static func layout(_ sizes: [Int64], in mdat: Range<Int64>?) -> [Range<Int64>]? {
        guard let mdat, !sizes.isEmpty, sizes.allSatisfy({ $0 >= 0 }), let total = checkedSum(sizes), total == Int64(mdat.count) else {
            return nil
        }
        var at = mdat.lowerBound
        return sizes.map { n in
            defer { at += n }
            return at..<at + n
        }
    }

    /// The file-level `meta` box and its bytes; `top` is the file's top-level boxes when
    /// the caller already read them.
    static func locateMeta(_ file: FileHandle, top known: [OnvifExport.BoxHeader]? = nil) throws -> (OnvifExport.BoxHeader, [UInt8]) {
        let top =
            try known ?? OnvifExport.boxes(from: 0, to: Int64(try file.seekToEnd())) { offset, count in try read(file, offset, count) }
        guard let box = top.last(where: { $0.type == "meta" }) else {
            throw EvidenceError("no file-level meta box: this MP4 carries no ONVIF export signature")
        }
        guard box.size < 64 << 20 else { throw EvidenceError("meta box of \(box.size) bytes is implausible") }
        return (box, try read(file, box.offset, Int(box.size)))
    }

    static func read(_ file: FileHandle, _ offset: Int64, _ count: Int) throws -> [UInt8] {
        try file.seek(toOffset: UInt64(offset))
        return [UInt8](try file.read(upToCount: count) ?? Data())
    }

    /// Hashes `[from, to)` of a file in 4 MiB reads.
    static func feed(_ h: inout SHA256, _ file: FileHandle, from: Int64, to: Int64) throws {
        try file.seek(toOffset: UInt64(from))
        var left = to - from
        while left > 0 {
            guard let chunk = try file.read(upToCount: Int(min(left, 4 << 20))), !chunk.isEmpty else {
                throw EvidenceError("file ended \(left) bytes early")
            }
            h.update(data: chunk)
            left -= Int64(chunk.count)
        }
    }
}

/// The sum of sizes read from a file or manifest, or nil where it would overflow: such
/// sizes are lies, and a verifier must say so rather than trap.
func checkedSum(_ values: some Sequence<Int64>) -> Int64? {
    var total: Int64 = 0
    for v in values {
        let (sum, overflow) = total.addingReportingOverflow(v)
        guard !overflow else { return nil }
        total = sum
    }
    return total
}
