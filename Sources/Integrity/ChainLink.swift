import Audit
import Base
import Crypto

/// What one link of a camera's segment chain commits to, and its hash: link n commits to
/// link n−1 and to everything that makes segment n what it is (camera, position, wall-clock
/// start, 90 kHz duration, frame and byte counts, the file's SHA-256 and the SHA-256 of the
/// codec, parameter sets and sample index). A removed, reordered or altered segment changes
/// a link; a signed chain head pins the chain's end.
public struct ChainLinkContent: Sendable, Equatable {
    public var cameraID: Int64
    /// 0, 1, 2… per camera, in recording order.
    public var position: Int64
    public var startMicros: Int64
    public var duration90k: Int64
    public var frameCount: Int64
    public var byteCount: Int64
    /// SHA-256 of the sample file.
    public var sha256: [UInt8]
    /// SHA-256 of how the bytes are played (`ChainLinkContent.metaHash`).
    public var metaSHA256: [UInt8]
    /// The link before this one (`genesis` before a camera's first segment).
    public var previousLink: [UInt8]

    public init(
        cameraID: Int64, position: Int64, startMicros: Int64, duration90k: Int64, frameCount: Int64, byteCount: Int64,
        sha256: [UInt8], metaSHA256: [UInt8], previousLink: [UInt8]
    ) {
        self.cameraID = cameraID
        self.position = position
        self.startMicros = startMicros
        self.duration90k = duration90k
        self.frameCount = frameCount
        self.byteCount = byteCount
        self.sha256 = sha256
        self.metaSHA256 = metaSHA256
        self.previousLink = previousLink
    }

    /// The link before a camera's first segment.
    public static let genesis = [UInt8](repeating: 0, count: 32)
    static let domain = Array("vigil segment chain v1\n".utf8)

    /// This link's hash: SHA-256 over the domain string, the previous link, the six integers
    /// as 64-bit big-endian, the file's hash and the meta hash.
    public var link: [UInt8] {
        var h = SHA256()
        h.update(data: Self.domain)
        h.update(data: previousLink)
        for field in [cameraID, position, startMicros, duration90k, frameCount, byteCount] {
            h.update(data: bigEndian(UInt64(bitPattern: field)))
        }
        h.update(data: sha256)
        h.update(data: metaSHA256)
        return Array(h.finalize())
    }

    /// SHA-256 over how the bytes are played: the codec's name and a zero byte, then each
    /// parameter set and the sample index, each preceded by its 32-bit big-endian length.
    public static func metaHash(codec: String, parameterSets: [[UInt8]], sampleIndex: [UInt8]) -> [UInt8] {
        var h = SHA256()
        h.update(data: Array(codec.utf8) + [0])
        for part in parameterSets + [sampleIndex] {
            h.update(data: bigEndian(UInt32(part.count)))
            h.update(data: part)
        }
        return Array(h.finalize())
    }
}

func bigEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
    withUnsafeBytes(of: v.bigEndian, Array.init)
}

/// A signed chain head: a C2SP signed note in the checkpoint form, origin
/// `<site>/chain/<camera id>`, size = links, hash = the last link it covers.
public enum ChainHead {
    public static func origin(site: String, cameraID: Int64) -> String { "\(site)/chain/\(cameraID)" }

    /// The checkpoint text a head signs for a chain whose last link is `link` at `position`.
    public static func text(site: String, cameraID: Int64, position: Int64, link: [UInt8]) -> String {
        Checkpoint(origin: origin(site: site, cameraID: cameraID), treeSize: Int(position + 1), rootHash: link).text
    }

    /// What is wrong with a signed head of camera `cameraID`'s chain, or nil when it
    /// verifies: its signature (by `verifier`'s key only), that it names this camera's
    /// chain, and that `link(position)` (the chain's link there, nil if the chain holds
    /// none) is the one it signed. `chainEnd` is the chain's last position, for the message.
    public static func problem(
        note: String, cameraID: Int64, verifier: NoteVerifier, chainEnd: Int64?,
        link: (Int64) -> [UInt8]?
    ) -> String? {
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(text: try verifier.verify(note))
        } catch {
            return "a signed chain head fails verification: \(error)"
        }
        guard checkpoint.origin.hasSuffix("/chain/\(cameraID)"), checkpoint.treeSize >= 1 else {
            return "a signed chain head names another chain (\(checkpoint.origin))"
        }
        let position = Int64(checkpoint.treeSize - 1)
        guard let signed = link(position) else {
            return
                "the chain ends at position \(chainEnd.map(String.init) ?? "none") but a head was signed at \(position): the chain was truncated"
        }
        guard signed == checkpoint.rootHash else {
            return "chain position \(position) is not the link signed there: the chain was rewritten"
        }
        return nil
    }
}
