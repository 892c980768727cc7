// Live fan-out: frames from a camera's ingest go to every viewer of that camera without the
// ingest ever waiting. Each viewer has a small bounded queue; a viewer that falls behind
// loses its queue and resumes at the next key frame, so a slow station neither slows
// recording nor grows memory. A joining viewer starts at the latest key frame: the feed
// keeps the current group of pictures (bounded) for that.

import Foundation
import Media
import Synchronization

/// One frame as viewers receive it.
public struct LiveFrame: Sendable {
    public var parameters: VideoParameters
    public var frame: EncodedFrame
    /// When ingest handed the frame over (monotonic nanoseconds), for latency measurement.
    public var receivedNanos: UInt64
    /// Vigil's own time of the frame: the wall clock (UTC µs) when it arrived from the
    /// camera. Viewers get it in each fragment's `prft`, to show and to measure the delay.
    public var receivedMicros: Int64

    public init(parameters: VideoParameters, frame: EncodedFrame, receivedNanos: UInt64, receivedMicros: Int64 = 0) {
        self.parameters = parameters
        self.frame = frame
        self.receivedNanos = receivedNanos
        self.receivedMicros = receivedMicros
    }
}

/// A viewer's queue. `offer` never blocks; `next` waits for a frame.
public final class LiveViewer: Sendable {
    public struct Limits: Sendable {
        public var maxQueuedBytes = 4 << 20
        public var maxQueuedFrames = 100
        public init() {}
    }

    private struct State {
        var frames: [LiveFrame] = []
        var head = 0
        var bytes = 0
        var waitingForKey = true
        var waiter: CheckedContinuation<LiveFrame?, Never>?
        var closed = false
        var skips = 0
        var reason: String?
    }

    private let state = Mutex(State())
    let limits: Limits
    public let id = UUID()

    init(limits: Limits) {
        self.limits = limits
    }

    /// How many times this viewer was skipped forward to a key frame.
    public var skips: Int { state.withLock { $0.skips } }

    func offer(_ f: LiveFrame) {
        let resume: (CheckedContinuation<LiveFrame?, Never>, LiveFrame)? = state.withLock { s in
            guard !s.closed else { return nil }
            if s.waitingForKey {
                guard f.frame.isKey else { return nil }
                s.waitingForKey = false
            }
            if let waiter = s.waiter {
                s.waiter = nil
                return (waiter, f)
            }
            if s.bytes + f.frame.data.count > limits.maxQueuedBytes || s.frames.count - s.head >= limits.maxQueuedFrames {
                // Behind: drop what is queued and start again at a key frame.
                s.frames = []
                s.head = 0
                s.bytes = 0
                s.skips += 1
                guard f.frame.isKey else {
                    s.waitingForKey = true
                    return nil
                }
            }
            s.frames.append(f)
            s.bytes += f.frame.data.count
            return nil
        }
        if let (waiter, frame) = resume { waiter.resume(returning: frame) }
    }

    /// The next frame, or nil once the viewer is closed.
    public func next() async -> LiveFrame? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<LiveFrame?, Never>) in
                let ready: LiveFrame?? = state.withLock { s in
                    if s.head < s.frames.count {
                        let f = s.frames[s.head]
                        s.head += 1
                        s.bytes -= f.frame.data.count
                        if s.head == s.frames.count {
                            s.frames = []
                            s.head = 0
                        }
                        return .some(f)
                    }
                    if s.closed { return .some(nil) }
                    s.waiter = c
                    return nil
                }
                if let ready { c.resume(returning: ready) }
            }
        } onCancel: {
            close()
        }
    }

    /// Why the feed ended this viewer (`LiveHub.end`), once it did; nil while it runs or
    /// when its own side closed it.
    public var endReason: String? { state.withLock { $0.reason } }

    public func close(reason: String? = nil) {
        let waiter = state.withLock { s -> CheckedContinuation<LiveFrame?, Never>? in
            if !s.closed { s.reason = reason }
            s.closed = true
            s.frames = []
            s.head = 0
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume(returning: nil)
    }
}

/// Every camera's live feed.
public final class LiveHub: Sendable {
    private struct Feed {
        var viewers: [UUID: LiveViewer] = [:]
        /// Frames since the latest key frame, so a new viewer starts at once.
        var gop: [LiveFrame] = []
        var gopBytes = 0
    }

    private let feeds = Mutex([Int64: Feed]())
    private let maxGOPBytes: Int
    public let limits: LiveViewer.Limits

    public init(limits: LiveViewer.Limits = LiveViewer.Limits(), maxGOPBytes: Int = 16 << 20) {
        self.limits = limits
        self.maxGOPBytes = maxGOPBytes
    }

    /// Called by ingest for each frame, with the wall time it arrived; never waits.
    public func publish(camera: Int64, parameters: VideoParameters, frame: EncodedFrame, receivedMicros: Int64) {
        let f = LiveFrame(
            parameters: parameters, frame: frame, receivedNanos: DispatchTime.now().uptimeNanoseconds, receivedMicros: receivedMicros)
        // Mutated in place: copying the feed out and back would copy its GOP on every frame.
        let viewers: [LiveViewer] = feeds.withLock { feeds in
            Self.record(f, in: &feeds[camera, default: Feed()], maxGOPBytes: maxGOPBytes)
            return feeds[camera]!.viewers.isEmpty ? [] : Array(feeds[camera]!.viewers.values)
        }
        for v in viewers { v.offer(f) }
    }

    private static func record(_ f: LiveFrame, in feed: inout Feed, maxGOPBytes: Int) {
        let size = f.frame.data.count
        if f.frame.isKey {
            feed.gop.removeAll(keepingCapacity: true)
            feed.gop.append(f)
            feed.gopBytes = size
        } else if !feed.gop.isEmpty {
            if feed.gopBytes + size > maxGOPBytes {
                feed.gop.removeAll()
                feed.gopBytes = 0
            } else {
                feed.gop.append(f)
                feed.gopBytes += size
            }
        }
    }

    /// The camera went away: new viewers must wait for a fresh key frame.
    public func reset(camera: Int64) {
        feeds.withLock { feeds in
            feeds[camera]?.gop = []
            feeds[camera]?.gopBytes = 0
        }
    }

    /// The feed itself ended (a sub-stream that failed): each viewer is closed with
    /// `reason`, and new viewers wait for a fresh key frame.
    public func end(camera: Int64, reason: String) {
        let viewers = feeds.withLock { feeds -> [LiveViewer] in
            let ended = feeds[camera].map { Array($0.viewers.values) } ?? []
            feeds[camera] = nil
            return ended
        }
        for v in viewers { v.close(reason: reason) }
    }

    /// A new viewer of `camera`, primed with the current group of pictures.
    public func subscribe(camera: Int64) -> LiveViewer {
        let viewer = LiveViewer(limits: limits)
        feeds.withLock { feeds in
            for f in feeds[camera, default: Feed()].gop { viewer.offer(f) }
            feeds[camera, default: Feed()].viewers[viewer.id] = viewer
        }
        return viewer
    }

    public func unsubscribe(camera: Int64, _ viewer: LiveViewer) {
        viewer.close()
        _ = feeds.withLock { $0[camera]?.viewers.removeValue(forKey: viewer.id) }
    }

    /// The stream's picture size as of its latest key frame (nil before one came).
    public func pictureSize(camera: Int64) -> (width: Int, height: Int)? {
        feeds.withLock { $0[camera]?.gop.first.map { ($0.parameters.width, $0.parameters.height) } }
    }

    public func viewerCount(camera: Int64) -> Int {
        feeds.withLock { $0[camera]?.viewers.count ?? 0 }
    }
}

/// Turns a viewer's frames into an MSE byte stream: an init segment whenever the codec
/// parameters change, then one `prft`+`moof`+`mdat` per frame, timed from the first frame.
/// The `prft` pairs the frame's media time with Vigil's wall time for it.
public struct LiveMuxer: Sendable {
    private var parameters: VideoParameters?
    private var baseTimestamp: Ticks90k?
    private var lastTimestamp: Ticks90k?
    private var lastDuration: UInt32 = 3_600
    private var sequence: UInt32 = 0

    public init() {}

    public enum Output: Sendable {
        /// Send first: the codec string (RFC 6381) for `MediaSource.addSourceBuffer`, then the init segment.
        case initialization(codec: String, width: Int, height: Int, segment: [UInt8])
        case media([UInt8])
    }

    public mutating func mux(_ f: LiveFrame) -> [Output] {
        var out: [Output] = []
        if parameters != f.parameters {
            parameters = f.parameters
            out.append(
                .initialization(
                    codec: f.parameters.rfc6381Codec, width: f.parameters.width, height: f.parameters.height,
                    segment: MP4.initSegment(parameters: f.parameters)))
        }
        var base = baseTimestamp ?? f.frame.timestamp
        if let last = lastTimestamp {
            let delta = f.frame.timestamp - last
            if delta > 0, delta < 10 * ticksPerSecond {
                lastDuration = UInt32(delta)
            } else {
                // The camera reconnected (new RTP clock): continue the timeline seamlessly.
                base = f.frame.timestamp - (last - base) - Ticks90k(lastDuration)
            }
        }
        baseTimestamp = base
        lastTimestamp = f.frame.timestamp
        sequence &+= 1
        let entry = SampleEntry(duration: lastDuration, byteCount: UInt32(f.frame.data.count), isKey: f.frame.isKey)
        let decodeTime = max(0, f.frame.timestamp - base)
        out.append(
            .media(
                MP4.mediaSegment(
                    sequenceNumber: sequence, baseDecodeTime: decodeTime, frames: [(entry, f.frame.data)],
                    producerTimeMicros: f.receivedMicros)))
        return out
    }
}
