// Sub-streams: a camera's second, smaller RTSP stream, for viewing only. It is pulled only
// while someone watches it (a small tile of the video wall) and never recorded: a camera's
// pull starts with its first viewer and stops `linger` after its last one left, so paging
// back and forth does not reconnect every time. Its frames go to a hub of their own, where
// a viewer joins at the latest key frame as on the main stream. A pull that fails ends its
// viewers with the reason (the live route carries each on with the main stream) and the
// camera's sub-stream is not offered again for `coolOff`.

import Base
import Foundation
import Logging
import NIOPosix
import RTSP
import Records

public actor SubStreams {
    /// What `subscribe` gives: a viewer of the sub-stream, or why the main stream it is.
    public enum Subscription: Sendable {
        case viewer(LiveViewer)
        case unavailable(String)
    }

    /// The sub-streams' frames, by camera id.
    public nonisolated let hub = LiveHub()
    private let keys: SiteKeys
    private let logger: Logger
    private let linger: Duration
    private let coolOff: Duration
    private let clock: WallClock

    private struct Pull {
        /// What it was started with: a camera whose sub-stream or account changed restarts it.
        var url: String
        var username: String?
        var sealedPassword: [UInt8]?
        var task: Task<Void, Never>
        var viewers: Set<UUID>
        /// Tells this pull from a later one of the same camera (a late stop or failure of an
        /// earlier pull leaves a new one alone).
        var id: UUID
    }

    private var pulls: [Int64: Pull] = [:]
    private var failures: [Int64: (reason: String, at: ContinuousClock.Instant)] = [:]
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
        guard let sub = c.subStreamURL else { return .unavailable("the camera has no sub-stream") }
        guard !closed, c.enabled, c.removedMicros == nil else { return .unavailable("the camera is not in use") }
        if let failure = failures[c.id] {
            guard ContinuousClock.now - failure.at >= coolOff else { return .unavailable(failure.reason) }
            failures[c.id] = nil
        }
        if let pull = pulls[c.id], pull.url != sub || pull.username != c.username || pull.sealedPassword != c.sealedPassword {
            stop(c.id, reason: "the camera's sub-stream settings changed")
        }
        if pulls[c.id] == nil {
            do {
                let id = UUID()
                pulls[c.id] = Pull(
                    url: sub, username: c.username, sealedPassword: c.sealedPassword, task: try start(c, sub, pullID: id), viewers: [],
                    id: id)
            } catch {
                let reason = "the sub-stream cannot be opened: \((error as? RTSPError)?.reason ?? "\(error)")"
                failures[c.id] = (reason, .now)
                return .unavailable(reason)
            }
        }
        let viewer = hub.subscribe(camera: c.id)
        pulls[c.id]!.viewers.insert(viewer.id)
        return .viewer(viewer)
    }

    /// The viewer left; the pull stops `linger` later unless another viewer came meanwhile.
    public func unsubscribe(camera id: Int64, _ viewer: LiveViewer) {
        hub.unsubscribe(camera: id, viewer)
        // A viewer of an earlier pull, ended with it, leaves a later one alone.
        guard let pull = pulls[id], pull.viewers.contains(viewer.id) else { return }
        pulls[id]!.viewers.remove(viewer.id)
        guard pulls[id]!.viewers.isEmpty else { return }
        let linger = self.linger, pullID = pull.id
        Task {
            try? await Task.sleep(for: linger)
            self.stopIfIdle(id, pullID)
        }
    }

    /// Cameras whose sub-stream is being pulled now.
    public var pulling: [Int64] { pulls.keys.sorted() }

    /// Stops every pull (the server stops).
    public func close() async {
        closed = true
        let tasks = pulls.values.map(\.task)
        for id in Array(pulls.keys) { stop(id, reason: "the server is stopping") }
        for task in tasks { await task.value }
    }

    /// The camera was switched off or removed: its pull stops, its viewers are told why.
    public func drop(camera id: Int64, reason: String) {
        stop(id, reason: reason)
    }

    private func stopIfIdle(_ id: Int64, _ pullID: UUID) {
        guard let pull = pulls[id], pull.id == pullID, pull.viewers.isEmpty else { return }
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
        failures[id] = (reason, .now)
        stop(id, reason: reason)
    }

    private func start(_ c: CameraRecord, _ sub: String, pullID: UUID) throws -> Task<Void, Never> {
        var url = try RTSPURL(sub)
        url.user = c.username
        url.password = try c.sealedPassword.map(keys.unseal)
        var endpoint = CameraEndpoint(name: "\(c.name) (sub-stream)", url: url)
        // A viewer waits on it: a dead address is said within seconds, not the recorder's ten.
        endpoint.connectTimeout = .seconds(3)
        endpoint.readTimeout = .seconds(5)
        endpoint.frameTimeout = .seconds(5)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        endpoint.eventLoop = loop
        let source = CameraSource(endpoint: endpoint, logger: logger)
        let hub = self.hub, clock = self.clock, id = c.id, name = c.name
        logger.info("pulling the sub-stream of \(name) for its viewers")
        // Detached: the pull runs on the connection's event loop, not on this actor.
        return Task.detached {
            await withTaskExecutorPreference(EventLoopExecutor(loop)) {
                await source.run { event in
                    switch event {
                    case let .frames(frames):
                        let arrived = clock.nowMicros()
                        for f in frames { hub.publish(camera: id, parameters: f.parameters, frame: f.frame, receivedMicros: arrived) }
                    case let .disconnected(error):
                        await self.failed(id, pullID, reason: "the sub-stream failed: \(error.reason)")
                    case .playing:
                        break
                    }
                }
            }
        }
    }
}
