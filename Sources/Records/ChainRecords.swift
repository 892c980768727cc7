// Links of a camera's segment chain and their signed heads as rows (Catalog's ChainTables
// stores them; Integrity hashes a link, Recording extends the chain).

/// One link of a camera's segment chain: what the link commits to, and the link itself.
/// The row outlives its segment (retention marks it deleted), so a removed segment leaves
/// a trace and the chain stays verifiable across it.
public struct ChainLinkRecord: Sendable, Equatable, Codable {
    public var cameraID: Int64
    /// 0, 1, 2… per camera, in recording order.
    public var position: Int64
    public var segmentID: Int64
    public var startMicros: Int64
    public var duration90k: Int64
    public var frameCount: Int64
    public var byteCount: Int64
    /// SHA-256 of the sample file.
    public var sha256: [UInt8]
    /// SHA-256 of the codec, parameter sets and sample index (how the bytes are played).
    public var metaSHA256: [UInt8]
    public var previousLink: [UInt8]
    public var link: [UInt8]
    public var deletedMicros: Int64?
    public var deletedReason: String?

    public init(
        cameraID: Int64, position: Int64, segmentID: Int64, startMicros: Int64, duration90k: Int64, frameCount: Int64,
        byteCount: Int64, sha256: [UInt8], metaSHA256: [UInt8], previousLink: [UInt8], link: [UInt8],
        deletedMicros: Int64? = nil, deletedReason: String? = nil
    ) {
        self.cameraID = cameraID
        self.position = position
        self.segmentID = segmentID
        self.startMicros = startMicros
        self.duration90k = duration90k
        self.frameCount = frameCount
        self.byteCount = byteCount
        self.sha256 = sha256
        self.metaSHA256 = metaSHA256
        self.previousLink = previousLink
        self.link = link
        self.deletedMicros = deletedMicros
        self.deletedReason = deletedReason
    }
}

/// A signed statement "camera C's chain had `position + 1` links, the last being L".
public struct ChainHeadRecord: Sendable, Equatable {
    public var cameraID: Int64
    public var position: Int64
    /// The signed note (same format and key as the audit log's checkpoints).
    public var note: String
    public var signedMicros: Int64

    public init(cameraID: Int64, position: Int64, note: String, signedMicros: Int64) {
        self.cameraID = cameraID
        self.position = position
        self.note = note
        self.signedMicros = signedMicros
    }
}
