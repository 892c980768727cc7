import Base
import Catalog
import Media
import Records

/// Start-up reconciliation of sample files with catalog rows (docs/design/recording.md):
/// - a row still `open` (the recorder died) keeps the frames its row describes: the file
///   is cut back to the row's byte count (or the row's index to the file, if the file is
///   shorter), hashed and closed, and a gap opens at its end;
/// - a file with no row (the recorder died before its first commit, < 1 s of video; or an
///   older copy of the catalog was restored) is moved to the store's quarantine, never
///   deleted: only `vigil quarantine --purge` deletes it; except a file whose segment's
///   deletion is on record (retention died between the row and the file), which goes;
/// - bytes cut from an open segment's file, unless only the zeros padding its last block,
///   are copied to the quarantine first: frames without an index, but frames;
/// - a catalog that is not the one the files were recorded under (lost, empty, or another
///   site's) stops start-up before anything is touched (`RecordingError.refusedToStart`);
/// - a closed row whose file is gone is reported (and left for `vigil check`), never
///   silently dropped;
/// - closed segments not yet in their camera's hash chain are chained.
/// Every action is returned and written to the catalog's maintenance log.
public enum Recovery {
    public static func reconcile(catalog: Catalog, store: SampleStore, wallClock: WallClock = .system) async throws -> [String] {
        var actions: [String] = []
        func note(_ action: String, _ detail: String) async throws {
            actions.append("\(action): \(detail)")
            try await catalog.log(action: action, detail: detail)
        }
        try await checkCatalogBelongs(catalog: catalog, store: store)
        let cameras = Dictionary(uniqueKeysWithValues: try await catalog.cameras().map { ($0.id, $0.name) })
        for row in try await catalog.segments(state: .open) {
            let name = cameras[row.cameraID] ?? "#\(row.cameraID)"
            let where_ = "camera \(name), segment \(row.id), file \(row.fileName)"
            // A file that cannot be read or cut is reported and left for the next start-up
            // and `vigil check`: one bad file must not keep every camera from recording.
            do {
                guard let fileSize = store.size(cameraID: row.cameraID, fileName: row.fileName) else {
                    try await catalog.deleteSegment(id: row.id)
                    try await note("removed-row", "\(where_): file missing, row of an unfinished segment removed")
                    continue
                }
                var entries = try SampleIndex.decode(row.sampleIndex)
                var keptBytes = entries.reduce(Int64(0)) { $0 + Int64($1.byteCount) }
                while keptBytes > fileSize, let last = entries.popLast() {
                    keptBytes -= Int64(last.byteCount)
                }
                if entries.isEmpty {
                    // The row describes no whole frame of the file, but the file's bytes may still
                    // be frames: aside, not deleted, like any file no row describes.
                    let moved = try store.quarantine(cameraID: row.cameraID, fileName: row.fileName)
                    try await catalog.deleteSegment(id: row.id)
                    try await note(
                        "quarantined-segment", "\(where_): no complete frame the row describes; \(fileSize) bytes moved to \(moved)")
                    continue
                }
                if fileSize != keptBytes {
                    // Past the row: zeros padding the last block (`SampleFile`), or frames, of a
                    // crash's unindexed last second or that an older copy of the catalog does
                    // not know. Frames are kept aside.
                    if try !store.isZero(cameraID: row.cameraID, fileName: row.fileName, from: keptBytes) {
                        let copy = try store.quarantineTail(cameraID: row.cameraID, fileName: row.fileName, from: keptBytes)
                        try await note("quarantined-tail", "\(where_): \(fileSize - keptBytes) bytes past the row copied to \(copy)")
                    }
                    try store.truncate(cameraID: row.cameraID, fileName: row.fileName, to: keptBytes)
                }
                let digest = try store.sha256(cameraID: row.cameraID, fileName: row.fileName)
                let duration = entries.reduce(Ticks90k(0)) { $0 + Ticks90k($1.duration) }
                try await catalog.updateSegment(
                    id: row.id, duration: duration, byteCount: keptBytes, frameCount: entries.count,
                    sampleIndex: SampleIndex.encode(entries), sha256: digest)
                try await note(
                    "recovered-segment",
                    "\(where_): kept \(entries.count) frames (\(keptBytes) bytes), cut \(fileSize - keptBytes) unindexed bytes")
                let end = row.startMicros + duration * 1_000_000 / ticksPerSecond
                if try await catalog.openGaps(cameraID: row.cameraID).isEmpty {
                    _ = try await catalog.openGap(cameraID: row.cameraID, startMicros: end, reason: "recorder stopped unexpectedly")
                }
            } catch let error as CatalogError {
                throw error
            } catch {
                try await note("recovery-failed", "\(where_): \(error); left as it was")
            }
        }
        let rows = try await catalog.allSegments()
        let orphans = store.orphans(describedBy: rows)
        for (cameraID, file) in orphans {
            let size = store.size(cameraID: cameraID, fileName: file) ?? 0
            // Retention deletes the row, then the file: a crash between leaves a file whose
            // deletion is on record (its chain link is marked). Keeping it would keep footage
            // past its legal limit; it goes, as retention meant.
            if let start = Int64(file.prefix { $0 != "-" }), try await catalog.segmentWasDeleted(cameraID: cameraID, startMicros: start) {
                try store.remove(cameraID: cameraID, fileName: file)
                try await note(
                    "removed-deleted-segment-file",
                    "camera \(cameras[cameraID] ?? "#\(cameraID)"), file \(file): \(size) bytes whose segment retention had deleted")
                continue
            }
            do {
                let moved = try store.quarantine(cameraID: cameraID, fileName: file)
                try await note(
                    "quarantined-orphan",
                    "camera \(cameras[cameraID] ?? "#\(cameraID)"), file \(file): \(size) bytes with no catalog row, moved to \(moved)")
            } catch let error as CatalogError {
                throw error
            } catch {
                try await note("recovery-failed", "camera \(cameras[cameraID] ?? "#\(cameraID)"), file \(file): \(error); left as it was")
            }
        }
        // An orphan means the recorder died within a segment's first flush: a crash too.
        for cameraID in Set(orphans.map(\.cameraID)).sorted() where cameras[cameraID] != nil {
            if try await catalog.openGaps(cameraID: cameraID).isEmpty, let last = try await catalog.lastSegment(cameraID: cameraID) {
                _ = try await catalog.openGap(cameraID: cameraID, startMicros: last.endMicros, reason: "recorder stopped unexpectedly")
            }
        }
        for r in rows where r.state == .closed && store.size(cameraID: r.cameraID, fileName: r.fileName) == nil {
            try await note(
                "missing-file", "camera \(cameras[r.cameraID] ?? "#\(r.cameraID)"), segment \(r.id), file \(r.fileName): file missing")
        }
        // Segments closed above (or closed just before a crash) join their camera's chain.
        for (cameraID, name) in cameras.sorted(by: { $0.key < $1.key }) {
            if let last = try await SegmentChain.extend(catalog: catalog, cameraID: cameraID) {
                try await note("chained", "camera \(name): chain extended to position \(last.position)")
            }
        }
        return actions
    }

    /// Refuses to go on when the catalog is not the one the sample files were recorded
    /// under: treating every file as an orphan would move the whole archive aside (or, as
    /// before the quarantine, delete it). The store notes the catalog's identity the first
    /// time; a store without that note but with files, beside a catalog without segments,
    /// is refused too (a lost catalog from before the note existed).
    static func checkCatalogBelongs(catalog: Catalog, store: SampleStore) async throws {
        let identity = try await catalog.identity()
        switch store.catalogMarker() {
        case identity:
            return
        case let other?:
            let census = store.census()
            throw RecordingError.refusedToStart(
                """
                the catalog is not the one the sample files in \(store.root) were recorded under \
                (the files name catalog \(other), this catalog is \(identity)); \(census.files) files, \(census.bytes) bytes. \
                Nothing was changed. Restore that catalog (or its backup), or give this catalog an empty samples directory.
                """)
        case nil:
            let census = store.census()
            if census.files == 0, case let segments = try await catalog.allSegments(), !segments.isEmpty {
                throw RecordingError.refusedToStart(
                    """
                    the catalog describes \(segments.count) recorded segments, but \(store.root) holds no sample files and no \
                    note of its catalog: is the samples volume mounted? Nothing was changed. Mount it (or restore it) and start again.
                    """)
            }
            if census.files > 0, try await catalog.allSegments().isEmpty {
                throw RecordingError.refusedToStart(
                    """
                    the catalog describes no recordings, but \(store.root) holds \(census.files) sample files (\(census.bytes) bytes): \
                    the catalog is missing, empty or was replaced. Nothing was changed. Restore the catalog from its backup, \
                    or move the samples directory aside to start anew.
                    """)
            }
            try store.writeCatalogMarker(identity)
        }
    }
}
