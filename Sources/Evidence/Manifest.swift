import Base
import Crypto
import Foundation

/// `manifest.json` of an evidence bundle: the exhibit, and for each exported MP4 its
/// SHA-256, the segments its media data is made of with their chain links, the links
/// from there to a signed chain head, the gaps in its range; the audit entry recording the
/// export with its inclusion proof under a signed checkpoint; the site's public keys.
/// `manifest.sig` beside it is RSASSA-PSS (SHA-256, 32-byte salt) over the manifest's
/// bytes with the site certificate's key, so the bundle as a whole is signed.
public struct Manifest: Codable, Sendable, Equatable {
    public static let format = "vigil-evidence-bundle/1"
    public static let fileName = "manifest.json"
    public static let signatureFileName = "manifest.sig"
    public static let certificateFileName = "site-certificate.pem"

    public struct Exhibit: Codable, Sendable, Equatable {
        public var number: String
        public var requestingBody: String
        public var caseReference: String
        public var legalBasis: String
        public var purpose: String
        public var createdBy: String
        public var created: String
        public init(
            number: String, requestingBody: String, caseReference: String, legalBasis: String, purpose: String,
            createdBy: String, created: String
        ) {
            self.number = number
            self.requestingBody = requestingBody
            self.caseReference = caseReference
            self.legalBasis = legalBasis
            self.purpose = purpose
            self.createdBy = createdBy
            self.created = created
        }
    }

    /// One chain link with what it commits to (hex for hashes).
    public struct Link: Codable, Sendable, Equatable {
        public var position: Int64
        public var segment: Int64
        public var start: String
        public var startMicros: Int64
        public var duration90k: Int64
        public var frames: Int64
        public var bytes: Int64
        public var sha256: String
        public var metaSHA256: String
        public var previousLink: String
        public var link: String
        public init(
            position: Int64, segment: Int64, start: String, startMicros: Int64, duration90k: Int64, frames: Int64, bytes: Int64,
            sha256: String, metaSHA256: String, previousLink: String, link: String
        ) {
            self.position = position
            self.segment = segment
            self.start = start
            self.startMicros = startMicros
            self.duration90k = duration90k
            self.frames = frames
            self.bytes = bytes
            self.sha256 = sha256
            self.metaSHA256 = metaSHA256
            self.previousLink = previousLink
            self.link = link
        }
    }

    public struct Gap: Codable, Sendable, Equatable {
        public var from: String
        public var to: String?
        public var reason: String
        public init(from: String, to: String?, reason: String) {
            self.from = from
            self.to = to
            self.reason = reason
        }
    }

    public struct File: Codable, Sendable, Equatable {
        public var name: String
        public var sha256: String
        public var cameraID: Int64
        public var cameraName: String
        public var requestedFrom: String
        public var requestedTo: String
        public var firstFrame: String
        public var end: String
        /// The segments whose sample files, back to back, are the MP4's media data.
        public var segments: [Link]
        /// The links after the last segment up to the signed head.
        public var continuation: [Link]
        /// The signed chain head (C2SP note) at the last link of `segments + continuation`.
        public var chainHead: String
        public var gaps: [Gap]
        public init(
            name: String, sha256: String, cameraID: Int64, cameraName: String, requestedFrom: String, requestedTo: String,
            firstFrame: String, end: String, segments: [Link], continuation: [Link], chainHead: String, gaps: [Gap]
        ) {
            self.name = name
            self.sha256 = sha256
            self.cameraID = cameraID
            self.cameraName = cameraName
            self.requestedFrom = requestedFrom
            self.requestedTo = requestedTo
            self.firstFrame = firstFrame
            self.end = end
            self.segments = segments
            self.continuation = continuation
            self.chainHead = chainHead
            self.gaps = gaps
        }
    }

    /// The audit-log entry that records this export, proven included in the log.
    public struct AuditProof: Codable, Sendable, Equatable {
        public var index: Int
        /// The entry's exact bytes (canonical JSON), base64.
        public var entry: String
        /// The signed checkpoint the proof leads to.
        public var checkpoint: String
        /// RFC 9162 inclusion proof, hex hashes.
        public var proof: [String]
        public init(index: Int, entry: String, checkpoint: String, proof: [String]) {
            self.index = index
            self.entry = entry
            self.checkpoint = checkpoint
            self.proof = proof
        }
    }

    public var format = Manifest.format
    public var site: String
    public var exportedAt: String
    public var exportedBy: String
    public var exhibit: Exhibit
    /// The site's Ed25519 verifier key (C2SP note form) for chain heads and checkpoints.
    public var siteVerifierKey: String
    public var files: [File]
    public var audit: AuditProof?

    public init(
        site: String, exportedAt: String, exportedBy: String, exhibit: Exhibit, siteVerifierKey: String, files: [File],
        audit: AuditProof?
    ) {
        self.site = site
        self.exportedAt = exportedAt
        self.exportedBy = exportedBy
        self.exhibit = exhibit
        self.siteVerifierKey = siteVerifierKey
        self.files = files
        self.audit = audit
    }

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(self)) + [0x0A]
    }
}
