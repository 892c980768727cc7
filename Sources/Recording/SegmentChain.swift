import Base
import Catalog
import Foundation
import Integrity
import Media
import Records

/// Each camera's segments form a hash chain from the moment they are recorded
/// (`Integrity.ChainLinkContent` says what a link commits to and how it is hashed; signed
/// chain heads, `ChainHeads`, pin the end of the chain). This is the chain over the
/// catalog's rows: extending it as segments close, and checking it against them.
/// docs/design/integrity.md gives the exact encoding.
public enum SegmentChain {
    /// The link before a camera's first segment.
    public static let genesis = ChainLinkContent.genesis

    public static func link(of l: ChainLinkRecord) -> [UInt8] { l.content.link }

    /// The link a closed segment gets at `position` after `previous`.
    public static func makeLink(for s: SegmentRecord, position: Int64, previous: [UInt8]) throws -> ChainLinkRecord {
        guard let sha = s.sha256, s.state == .closed else {
            throw CatalogError.invalid("segment \(s.id) is not closed; it cannot be chained")
        }
        var l = ChainLinkRecord(
            cameraID: s.cameraID, position: position, segmentID: s.id, startMicros: s.startMicros,
            duration90k: s.duration, frameCount: Int64(s.frameCount), byteCount: s.byteCount, sha256: sha,
            metaSHA256: ChainLinkContent.metaHash(
                codec: s.codec.rawValue, parameterSets: s.parameterSets,
                sampleIndex: s.sampleIndex),
            previousLink: previous, link: [])
        l.link = link(of: l)
        return l
    }

    /// Chains every closed segment of the camera that is not chained yet, in recording
    /// order. The recorder calls it after closing a segment; start-up calls it for what a
    /// crash left closed but unchained. Returns the new last link, if any was added.
    @discardableResult
    public static func extend(catalog: Catalog, cameraID: Int64) async throws -> ChainLinkRecord? {
        var last = try await catalog.lastChainLink(cameraID: cameraID)
        var added: ChainLinkRecord?
        // Only segments at or after the last link can follow it; the rest need not be read.
        for s in try await catalog.unchainedSegments(cameraID: cameraID, startingFrom: last?.startMicros ?? 0) {
            // Only what follows the chain's end is appended: a segment that would go back
            // in time was not made by this recorder, and `vigil check` reports it.
            if let last, s.startMicros < last.startMicros + last.duration90k * 1_000_000 / ticksPerSecond - 1_000_000 { continue }
            let l = try makeLink(for: s, position: (last?.position ?? -1) + 1, previous: last?.link ?? genesis)
            try await catalog.addChainLink(l)
            last = l
            added = l
        }
        return added
    }

    /// Checks a camera's whole chain against itself and against the segment rows: each
    /// link recomputes, follows its predecessor, and matches the segment it names; every
    /// segment it names still exists unless marked deleted; every closed segment is in it.
    public static func verify(links: [ChainLinkRecord], segments: [SegmentRecord], cameraName: String) -> [String] {
        var problems: [String] = []
        let byID = Dictionary(uniqueKeysWithValues: segments.map { ($0.id, $0) })
        var previous = genesis
        var expectedPosition: Int64 = 0
        for l in links {
            let label = "camera \(cameraName) chain position \(l.position) (segment \(l.segmentID), \(iso8601(micros: l.startMicros)))"
            if l.position != expectedPosition {
                problems.append("\(label): positions \(expectedPosition)…\(l.position - 1) are missing: chain links were removed")
            }
            if l.previousLink != previous {
                problems.append("\(label): does not follow the link before it: a segment was removed, inserted or reordered")
            }
            if link(of: l) != l.link {
                problems.append("\(label): link does not match its contents: the chain record was altered")
            }
            if let s = byID[l.segmentID] {
                let recomputed = try? makeLink(for: s, position: l.position, previous: l.previousLink)
                if recomputed?.link != l.link {
                    problems.append(
                        "\(label): the segment's catalog row differs from what was chained (start, duration, size, hash or index altered)")
                }
            } else if l.deletedMicros == nil {
                problems.append("\(label): the segment is gone but was never deleted by Vigil: removed outside retention")
            }
            previous = l.link
            expectedPosition = l.position + 1
        }
        let chained = Set(links.map(\.segmentID))
        for s in segments where s.state == .closed && !chained.contains(s.id) {
            problems.append(
                "camera \(cameraName) segment \(s.id) (\(iso8601(micros: s.startMicros))) is not in the chain (inserted afterwards, or awaiting start-up)"
            )
        }
        return problems
    }
}

extension ChainLinkRecord {
    /// What the stored link commits to.
    public var content: ChainLinkContent {
        ChainLinkContent(
            cameraID: cameraID, position: position, startMicros: startMicros, duration90k: duration90k,
            frameCount: frameCount, byteCount: byteCount, sha256: sha256, metaSHA256: metaSHA256,
            previousLink: previousLink)
    }
}
