import Base
import Catalog
import Logging
import Records

/// What retention may keep and must free.
public struct RetentionPolicy: Sendable {
    /// The city's legal limit for footage not secured as evidence.
    public static let maximumDays = 90
    public static let defaultDays = 30
    /// Below this many free bytes the oldest unheld footage of any camera is deleted.
    public var freeBytesFloor: Int64

    public init(freeBytesFloor: Int64 = 1 << 30) {
        self.freeBytesFloor = freeBytesFloor
    }

    /// Validates a per-camera retention setting.
    public static func validate(days: Int) throws -> Int {
        guard days >= 1, days <= maximumDays else {
            throw RecordingError.invalid("retention of \(days) days refused: it must be 1...\(maximumDays) (legal limit)")
        }
        return days
    }
}

/// Deletes what retention allows: segments older than their camera's retention, then —
/// while free space is under the floor — the oldest segments of any camera. Held and
/// still-open segments are never touched; the hold is checked in the statement that
/// deletes. The row goes first (its chain link marked deleted), then the file: a crash in
/// between leaves a file whose deletion is on record, which recovery removes, never a row
/// without its file.
public enum Retention {
    @discardableResult
    public static func enforce(
        catalog: Catalog, store: SampleStore, policy: RetentionPolicy,
        wallClock: WallClock = .system, logger: Logger
    ) async throws -> [String] {
        var deleted: [String] = []
        let now = wallClock.nowMicros()
        for camera in try await catalog.cameras() {
            let cutoff = now - Int64(camera.retentionDays) * 86_400 * 1_000_000
            // The confidential history of steering the camera goes with its footage; a
            // failure there is logged and never stops the footage's retention.
            do { try await catalog.deletePTZHistory(camera: camera.id, beforeMicros: cutoff) } catch {
                logger.error("retention could not delete camera \(camera.id)'s PTZ history: \(error)")
            }
            while true {
                let batch = try await catalog.expiredSegments(cameraID: camera.id, endedBefore: cutoff, limit: 100)
                if batch.isEmpty { break }
                for s in batch {
                    try await delete(s, catalog: catalog, store: store, reason: "older than \(camera.retentionDays) days", into: &deleted)
                }
            }
        }
        while let free = store.freeBytes(), free < policy.freeBytesFloor {
            let batch = try await catalog.oldestDeletableSegments(limit: 10)
            if batch.isEmpty {
                logger.error(
                    "free space \(free) bytes is below the floor \(policy.freeBytesFloor) and every remaining segment is held or open")
                break
            }
            // Deleting rows whose files are not there frees nothing: the samples volume is not
            // mounted, or the files went some other way. Going on would empty the catalog of
            // an archive that is only out of sight.
            guard batch.contains(where: { store.size(cameraID: $0.cameraID, fileName: $0.fileName) != nil }) else {
                logger.critical(
                    """
                    free space \(free) bytes is below the floor, but none of the \(batch.count) oldest segments' files is in \
                    \(store.root): is the samples volume mounted? Nothing was deleted; run vigil check
                    """)
                break
            }
            for s in batch {
                try await delete(s, catalog: catalog, store: store, reason: "disk floor (\(free) bytes free)", into: &deleted)
            }
        }
        if !deleted.isEmpty { logger.info("retention deleted \(deleted.count) segments") }
        return deleted
    }

    /// Runs retention only when free space is under the floor: cheap enough to call after
    /// every segment.
    public static func keepFloor(catalog: Catalog, store: SampleStore, policy: RetentionPolicy, logger: Logger) async {
        guard let free = store.freeBytes(), free < policy.freeBytesFloor else { return }
        do {
            try await enforce(catalog: catalog, store: store, policy: policy, logger: logger)
        } catch {
            logger.error("retention could not free space: \(error)")
        }
    }

    private static func delete(_ s: SegmentRecord, catalog: Catalog, store: SampleStore, reason: String, into deleted: inout [String])
        async throws
    {
        // The hold is checked again in the statement that deletes: an exhibit made since
        // the segment was selected keeps it.
        guard try await catalog.deleteExpiredSegment(id: s.id, reason: "retention: \(reason)") else { return }
        try store.remove(cameraID: s.cameraID, fileName: s.fileName)
        try await catalog.log(action: "retention-delete", detail: "segment \(s.id) file \(s.fileName): \(reason)")
        deleted.append(s.fileName)
    }
}
