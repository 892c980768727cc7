import Catalog
import NIOPosix
import Records

/// Group commit of the recorders' per-second progress.
///
/// Every second each recorder makes what it wrote durable: its sample file is synced,
/// then its open segment's row is updated. Done per camera, that is one synchronous
/// database commit per camera per second — 71 a second at the city's centre, each an
/// fsync of the catalog's log, most of the IOPS a spinning disk has. Here the recorders
/// flush on a shared one-second grid and the requests that arrive within `window` of
/// each other are committed together: one thread-pool job writes each file's staged
/// frames and syncs it, for every file in the batch, then one catalog statement updates
/// every row whose file was written and synced. The ordering each recorder relies on is
/// kept per request: its row is updated only after its file synced, and `commit` returns
/// only after the row is committed.
public actor ProgressCommitter {
    private let catalog: Catalog
    private let window: Duration
    private var waiting: [Request] = []
    private var batchScheduled = false
    /// Batches committed so far, and the requests in them (for tests and benchmarks).
    public private(set) var batches = 0
    public private(set) var requests = 0

    struct Request {
        var file: SampleFile
        var progress: SegmentProgress
        var continuation: CheckedContinuation<Void, any Error>
    }

    /// `window`: how long the first request of a batch waits for others. Zero commits each
    /// request on its own (a recorder alone, as in tests).
    public init(catalog: Catalog, window: Duration = .milliseconds(60)) {
        self.catalog = catalog
        self.window = window
    }

    /// Writes what `file` has staged and syncs it, then records `progress` in the catalog;
    /// returns once all are done. A failed write or sync fails only its own request; a
    /// failed statement fails the batch.
    public func commit(file: SampleFile, progress: SegmentProgress) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            waiting.append(Request(file: file, progress: progress, continuation: continuation))
            if !batchScheduled {
                batchScheduled = true
                // A task of its own: a recorder's task may be cancelled (at shutdown), and
                // the thread pool refuses work from a cancelled task.
                Task { await self.runBatch() }
            }
        }
    }

    private func runBatch() async {
        if window > .zero { try? await Task.sleep(for: window) }
        let batch = waiting
        waiting = []
        batchScheduled = false
        let files = batch.map(\.file)
        let synced: [(any Error)?]
        do {
            synced = try await NIOThreadPool.singleton.runIfActive {
                files.map { file -> (any Error)? in
                    do {
                        try file.writeStagedAndSync()
                        return nil
                    } catch { return error }
                }
            }
        } catch {
            for r in batch { r.continuation.resume(throwing: error) }
            return
        }
        var ready: [Request] = []
        for (r, failure) in zip(batch, synced) {
            if let failure { r.continuation.resume(throwing: failure) } else { ready.append(r) }
        }
        guard !ready.isEmpty else { return }
        do {
            try await catalog.recordProgress(ready.map(\.progress))
            batches += 1
            requests += ready.count
            for r in ready { r.continuation.resume() }
        } catch {
            for r in ready { r.continuation.resume(throwing: error) }
        }
    }
}
