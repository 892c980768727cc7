import NIOCore
import Synchronization

/// The hand-over of a connection's messages from its pipeline (on the event loop) to the
/// session's task, which awaits them one at a time with `next()`.
///
/// It stands where `NIOAsyncChannel`'s inbound stream stood: same order, same end (the
/// connection's error, else nil once it is closed), same bound. It exists because that
/// stream's producer is generic and unspecialised across modules, and its hand-over was a
/// tenth of the recorder's CPU (BENCHMARKS.md); this one is written for one element type.
///
/// Bounded: once `highWatermark` messages wait, the handler withholds the connection's
/// reads (those asked by `autoRead` and those of `ReadBatching`'s ticks, which go through
/// the whole pipeline for this reason) until the consumer has taken the queue down to
/// `lowWatermark`; then the withheld read is made. A consumer whose task is cancelled
/// while it waits gets a `CancellationError`.
final class SessionInbound: Sendable {
    static let highWatermark = 16
    static let lowWatermark = 4

    private struct State {
        var buffer = CircularBuffer<SessionMessage>(initialCapacity: 8)
        var waiter: UnsafeContinuation<SessionMessage?, any Error>?
        /// Set when the connection ended: nil until then, then its error or success.
        var end: Result<Void, any Error>?
        var paused = false
        var readWithheld = false
    }

    private let state = Mutex(State())
    private let eventLoop: any EventLoop
    /// The handler's context, for the read made when the consumer catches up.
    fileprivate let context: NIOLoopBoundBox<ChannelHandlerContext?>

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        context = .makeEmptyBox(valueType: ChannelHandlerContext.self, eventLoop: eventLoop)
    }

    /// The next message, or nil once the connection is closed; throws the error that
    /// ended the connection (once), or `CancellationError` when the task is cancelled.
    func next() async throws -> SessionMessage? {
        if let taken = take() { return try taken.get() }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<SessionMessage?, any Error>) in
                if let taken = take(orWait: continuation) { continuation.resume(with: taken) }
            }
        } onCancel: {
            let waiter = state.withLock { s in
                defer { s.waiter = nil }
                return s.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// A message, the end, or (nil) nothing yet — in which case `continuation`, if given,
    /// is kept to be resumed by the producer.
    private func take(orWait continuation: UnsafeContinuation<SessionMessage?, any Error>? = nil) -> Result<SessionMessage?, any Error>? {
        let (taken, readAgain): (Result<SessionMessage?, any Error>?, Bool) = state.withLock { s in
            if let message = s.buffer.popFirst() {
                guard s.paused, s.buffer.count <= Self.lowWatermark else { return (.success(message), false) }
                s.paused = false
                defer { s.readWithheld = false }
                return (.success(message), s.readWithheld)
            }
            if let end = s.end {
                s.end = .success(()) // an error is thrown once; nil after it
                return (end.map { nil }, false)
            }
            if continuation != nil, Task.isCancelled { return (.failure(CancellationError()), false) }
            s.waiter = continuation
            return (nil, false)
        }
        if readAgain {
            let context = self.context
            eventLoop.execute { context.value?.read() }
        }
        return taken
    }

    /// From the handler: a message arrived. Returns nothing; pauses reads past the mark.
    fileprivate func push(_ message: SessionMessage) {
        let waiter: UnsafeContinuation<SessionMessage?, any Error>? = state.withLock { s in
            if let waiter = s.waiter {
                s.waiter = nil
                return waiter
            }
            s.buffer.append(message)
            if s.buffer.count >= Self.highWatermark { s.paused = true }
            return nil
        }
        waiter?.resume(returning: message)
    }

    /// From the handler: the connection ended (with the error that ended it, if any).
    /// Only the first end counts.
    fileprivate func finish(_ end: Result<Void, any Error>) {
        let waiter: UnsafeContinuation<SessionMessage?, any Error>? = state.withLock { s in
            guard s.end == nil else { return nil }
            s.end = end
            guard let waiter = s.waiter else { return nil }
            s.waiter = nil
            s.end = .success(())
            return waiter
        }
        waiter?.resume(with: end.map { nil })
    }

    /// The consumer is behind on frames: the queue is full enough to hold the connection's
    /// reads back, and frames wait in it. (Other messages alone do not count: a camera
    /// controls how many of those it sends.)
    var isHoldingBackFrames: Bool {
        state.withLock { s in
            s.paused && s.buffer.contains { if case .frames = $0 { true } else { false } }
        }
    }

    /// From the handler: may the connection read now? If not, the read is remembered.
    fileprivate func mayRead() -> Bool {
        state.withLock { s in
            if s.paused { s.readWithheld = true }
            return !s.paused
        }
    }
}

/// Last in a session's pipeline: feeds `SessionInbound` and withholds reads while it is full.
final class SessionInboundHandler: ChannelDuplexHandler {
    typealias InboundIn = SessionMessage
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let inbound: SessionInbound

    init(eventLoop: any EventLoop) {
        inbound = SessionInbound(eventLoop: eventLoop)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        inbound.context.value = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        inbound.context.value = nil
        inbound.finish(.success(()))
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbound.push(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        inbound.finish(.failure(error))
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbound.finish(.success(()))
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if inbound.mayRead() { context.read() }
    }
}
