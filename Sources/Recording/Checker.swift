import Base
import Catalog
import Crypto
import Foundation
import Media
import Records

/// `vigil check`: verifies every sample file against its catalog row — size, SHA-256,
/// index consistency (sizes sum to the file, durations to the row, first frame a key
/// frame, every frame a well-formed run of length-prefixed NAL units) — lists files no
/// row describes, and walks each camera's segment hash chain (SegmentChain.verify).
/// Signed chain heads are checked by the caller, which holds the site's key. Reads
/// everything; changes nothing.
public enum Checker {
    public struct Report: Sendable {
        public var segmentsChecked = 0
        public var bytesChecked: Int64 = 0
        public var chainLinksChecked = 0
        public var problems: [String] = []
        public var isClean: Bool { problems.isEmpty }
        /// Files start-up recovery moved aside (not a problem of the catalog's integrity,
        /// but footage an administrator must decide about, within the legal limit).
        public var quarantined: (files: Int, bytes: Int64) = (0, 0)
    }

    public static func check(catalog: Catalog, store: SampleStore) async throws -> Report {
        var report = Report()
        let cameras = Dictionary(uniqueKeysWithValues: try await catalog.cameras().map { ($0.id, $0.name) })
        let rows = try await catalog.allSegments()
        for row in rows {
            report.segmentsChecked += 1
            let label =
                "camera \(cameras[row.cameraID] ?? "#\(row.cameraID)") segment \(row.id) (\(store.path(cameraID: row.cameraID, fileName: row.fileName)))"
            for problem in checkSegment(row, store: store) {
                report.problems.append("\(label): \(problem)")
            }
            report.bytesChecked += row.byteCount
        }
        for (cameraID, file) in store.orphans(describedBy: rows) {
            report.problems.append("\(store.path(cameraID: cameraID, fileName: file)): file has no catalog row (orphan)")
        }
        let aside = store.quarantined()
        report.quarantined = (aside.count, aside.reduce(0) { $0 + $1.bytes })
        let rowsByCamera = Dictionary(grouping: rows, by: \.cameraID)
        for (id, name) in cameras.sorted(by: { $0.key < $1.key }) {
            let links = try await catalog.chainLinks(cameraID: id)
            report.chainLinksChecked += links.count
            report.problems += SegmentChain.verify(links: links, segments: rowsByCamera[id] ?? [], cameraName: name)
        }
        return report
    }

    static func checkSegment(_ row: SegmentRecord, store: SampleStore) -> [String] {
        var problems: [String] = []
        guard let size = store.size(cameraID: row.cameraID, fileName: row.fileName) else {
            return ["file is missing"]
        }
        if size != row.byteCount { problems.append("file is \(size) bytes, catalog says \(row.byteCount)") }
        let entries: [SampleEntry]
        do {
            entries = try SampleIndex.decode(row.sampleIndex)
        } catch {
            return problems + ["sample index unreadable: \(error)"]
        }
        if entries.count != row.frameCount { problems.append("index has \(entries.count) frames, catalog says \(row.frameCount)") }
        let indexedBytes = entries.reduce(Int64(0)) { $0 + Int64($1.byteCount) }
        if indexedBytes != row.byteCount { problems.append("index sizes sum to \(indexedBytes) bytes, catalog says \(row.byteCount)") }
        let indexedDuration = entries.reduce(Ticks90k(0)) { $0 + Ticks90k($1.duration) }
        if indexedDuration != row.duration {
            problems.append("index durations sum to \(indexedDuration) ticks, catalog says \(row.duration)")
        }
        if let first = entries.first, !first.isKey { problems.append("first frame is not a key frame") }
        do {
            _ = try VideoParameters(codec: row.codec, parameterSets: row.parameterSets)
        } catch {
            problems.append("codec parameters unusable: \(error)")
        }
        if row.state == .open { problems.append("segment is still open (recorder running, or needs start-up recovery)") }
        // Walk the frames: each must be whole length-prefixed NAL units, and the hash must match.
        let path = store.path(cameraID: row.cameraID, fileName: row.fileName)
        guard let handle = FileHandle(forReadingAtPath: path) else { return problems + ["file cannot be opened"] }
        defer { try? handle.close() }
        var hasher = SHA256()
        var offset: Int64 = 0
        for (i, e) in entries.enumerated() {
            guard let data = try? handle.read(upToCount: Int(e.byteCount)), data.count == Int(e.byteCount) else {
                problems.append("frame \(i) at byte \(offset): file ends early")
                return problems
            }
            let bytes = [UInt8](data)
            hasher.update(data: bytes)
            if (try? NALUnits.splitLengthPrefixed(bytes[...])) == nil {
                problems.append("frame \(i) at byte \(offset): not well-formed length-prefixed NAL units")
            }
            offset += Int64(e.byteCount)
        }
        if let rest = try? handle.readToEnd(), !rest.isEmpty { hasher.update(data: rest) }
        if let expected = row.sha256 {
            let actual = Array(hasher.finalize())
            if actual != expected {
                problems.append("SHA-256 mismatch: file \(hex(actual)), catalog \(hex(expected)) — the file was altered or damaged")
            }
        }
        return problems
    }
}
