// Sub-streams: a camera's second, smaller RTSP stream, for viewing only. It is pulled only
// while someone watches it (a small tile of the video wall) and never recorded: a camera's
// pull starts with its first viewer and stops `linger` after its last one left, so paging
// back and forth does not reconnect every time. Its frames go to a hub of their own, where
// a viewer joins at the latest key frame as on the main stream. The fleet hands it the
// registry at every reconcile: a pull whose camera was switched off, removed, or given
// another sub-stream or account stops (its viewers told why). A pull that cannot connect,
// or loses the camera three times running without a frame between, fails: its viewers
// are ended with the reason (the live route carries each on with the main stream) and the
// same sub-stream is not offered again for `coolOff`.

import Base
import Foundation
import Logging
import NIOPosix
import RTSP
import Records
import Synchronization

public actor SubStreams {
    /// What `subscribe` gives: a viewer of the sub-stream, or why the main stream it is.
    public enum Subscription: Sendable {
        case viewer(LiveViewer)
        case unavailable(String)
    }

    /// Why viewers are ended when the server stops: the live route ends their streams too,
    /// rather than moving them to a main stream that stops as well.
    public static let stopping = "the server is stopping"

    /// The sub-streams' frames, by camera id.
    public nonisolated let hub = LiveHub()
    private let keys: SiteKeys
    private let logger: Logger
    private let linger: Duration
    private let coolOff: Duration
    private let clock: WallClock

    /// What a pull was started with: a camera whose sub-stream or account changed restarts it.
    private struct Settings: Equatable {
        var url: String
        var username: String?
        var sealedPassword: [UInt8]?

        init?(_ c: CameraRecord) {
            guard let url = c.subStreamURL, c.enabled, c.removedMicros == nil else { return nil }
            self.url = url
            username = c.username
            sealedPassword = c.sealedPassword
        }
    }

    private struct Pull {
        var settings: Settings
        var task: Task<Void, Never>
        var viewers: Set<UUID>
        /// Tells this pull from a later one of the same camera (a late stop or failure of an
        /// earlier pull leaves a new one alone).
        var id: UUID
        /// Set when the last viewer left: the linger's stop applies only if nobody came and
        /// went since.
        var idleSince: UUID?
    }

    private var pulls: [Int64: Pull] = [:]
    private var failures: [Int64: (settings: Settings, reason: String, at: ContinuousClock.Instant)] = [:]
    private var closed = false

    public init(
        keys: SiteKeys, logger: Logger, linger: Duration = .seconds(10), coolOff: Duration = .seconds(60), clock: WallClock = .system
    ) {
        self.keys = keys
        self.logger = logger
        self.linger = linger
        self.coolOff = coolOff
        self.clock = clock
    }

    /// A viewer of camera `c`'s sub-stream, its pull started when none runs; or why there is
    /// none to watch (none configured, switched off, failed lately).
    public func subscribe(_ c: CameraRecord) -> Subscription {
        guard !closed else { return .unavailable(Self.stopping) }
        guard c.subStreamURL != nil else { return .unavailable("the camera has no sub-stream") }
        guard let settings = Settings(c) else { return .unavailable("the camera is switched off or removed") }
        if let failure = failures[c.id] {
            // A failure of other settings (a URL since corrected) does not count.
            if failure.settings == settings, ContinuousClock.now - failure.at < coolOff { return .unavailable(failure.reason) }
            failures[c.id] = nil
        }
        if let pull = pulls[c.id], pull.settings != settings { stop(c.id, reason: "the camera's sub-stream settings changed") }
        if pulls[c.id] == nil {
            do {
                let id = UUID()
                pulls[c.id] = Pull(settings: settings, task: try start(c, settings, pullID: id), viewers: [], id: id)
            } catch {
                let reason = "the sub-stream cannot be opened: \((error as? RTSPError)?.reason ?? "\(error)")"
                failures[c.id] = (settings, reason, .now)
                return .unavailable(reason)
            }
        }
        let viewer = hub.subscribe(camera: c.id)
        pulls[c.id]!.viewers.insert(viewer.id)
        pulls[c.id]!.idleSince = nil
        return .viewer(viewer)
    }

    /// The viewer left; the pull stops `linger` later unless another viewer came meanwhile.
    public func unsubscribe(camera id: Int64, _ viewer: LiveViewer) {
        hub.unsubscribe(camera: id, viewer)
        // A viewer of an earlier pull, ended with it, leaves a later one alone.
        guard let pull = pulls[id], pull.viewers.contains(viewer.id) else { return }
        pulls[id]!.viewers.remove(viewer.id)
        guard pulls[id]!.viewers.isEmpty else { return }
        let idle = UUID()
        pulls[id]!.idleSince = idle
        let linger = self.linger
        Task {
            try? await Task.sleep(for: linger)
            self.stopIfIdle(id, idle)
        }
    }

    /// The registry as the fleet last read it: a pull whose camera is gone, switched off, or
    /// has another sub-stream or account now stops, its viewers told why.
    public func follow(_ cameras: [CameraRecord]) {
        let byID = Dictionary(uniqueKeysWithValues: cameras.map { ($0.id, $0) })
        for (id, pull) in pulls {
            guard let camera = byID[id], let settings = Settings(camera) else {
                stop(id, reason: "the camera was switched off, removed or relieved of its sub-stream")
                continue
            }
            if settings != pull.settings { stop(id, reason: "the camera's sub-stream settings changed") }
        }
    }

    /// Cameras whose sub-stream is being pulled now.
    public var pulling: [Int64] { pulls.keys.sorted() }

    /// The sub-stream's picture width as last received, or nil before its first key frame.
    public nonisolated func width(camera: Int64) -> Int? {
        hub.pictureSize(camera: camera)?.width ?? knownWidths[camera]
    }

    /// Each camera's sub-stream width as last received, kept after its pull stops (for the
    /// console's choice of stream), readable without the actor: the camera list reads it
    /// for each camera.
    private nonisolated let knownWidths = Widths()

    final class Widths: Sendable {
        private let state = Mutex([Int64: Int]())
        subscript(camera: Int64) -> Int? {
            get { state.withLock { $0[camera] } }
            set { state.withLock { $0[camera] = newValue } }
        }
    }

    /// Stops every pull (the server stops).
    public func close() async {
        closed = true
        let tasks = pulls.values.map(\.task)
        for id in Array(pulls.keys) { stop(id, reason: Self.stopping) }
        for task in tasks { await task.value }
    }

    private func stopIfIdle(_ id: Int64, _ idle: UUID) {
        guard let pull = pulls[id], pull.viewers.isEmpty, pull.idleSince == idle else { return }
        stop(id, reason: "nobody watches it")
    }

    private func stop(_ id: Int64, reason: String) {
        guard let pull = pulls.removeValue(forKey: id) else { return }
        pull.task.cancel()
        hub.end(camera: id, reason: reason)
        logger.debug("sub-stream of camera \(id) stopped: \(reason)")
    }

    /// The pull failed: its viewers go back to the main stream with the reason.
    private func failed(_ id: Int64, _ pullID: UUID, reason: String) {
        guard let pull = pulls[id], pull.id == pullID else { return }
        failures[id] = (pull.settings, reason, .now)
        stop(id, reason: reason)
    }

    private func start(_ c: CameraRecord, _ settings: Settings, pullID: UUID) throws -> Task<Void, Never> {
        var url = try RTSPURL(settings.url)
        url.user = settings.username
        url.password = try settings.sealedPassword.map(keys.unseal)
        var endpoint = CameraEndpoint(name: "\(c.name) (sub-stream)", url: url)
        // A viewer waits on it: a dead address is said within seconds, not the recorder's ten.
        endpoint.connectTimeout = .seconds(3)
        endpoint.readTimeout = .seconds(5)
        endpoint.frameTimeout = .seconds(5)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        endpoint.eventLoop = loop
        let source = CameraSource(endpoint: endpoint, logger: logger)
        let hub = self.hub, clock = self.clock, id = c.id, name = c.name, widths = self.knownWidths
        logger.info("pulling the sub-stream of \(name) for its viewers")
        // Detached: the pull runs on the connection's event loop, not on this actor.
        return Task.detached {
            await withTaskExecutorPreference(EventLoopExecutor(loop)) {
                // Lost three times running without a frame between (or never connected): failed.
                var delivered = false, lost = 0
                await source.run { event in
                    switch event {
                    case let .frames(frames):
                        // A stopped pull's last buffered frames go nowhere.
                        guard !Task.isCancelled else { return }
                        delivered = true
                        lost = 0
                        let arrived = clock.nowMicros()
                        for f in frames { hub.publish(camera: id, parameters: f.parameters, frame: f.frame, receivedMicros: arrived) }
                        if let width = frames.last?.parameters.width { widths[id] = width }
                    case let .disconnected(error):
                        lost += 1
                        if !delivered || lost >= 3 { await self.failed(id, pullID, reason: "the sub-stream failed: \(error.reason)") }
                    case .playing:
                        break
                    }
                }
            }
        }
    }
}
