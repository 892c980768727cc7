import NIOCore
import NIOPosix

/// Reading a playing camera in batches rather than packet by packet.
///
/// A 2 Mb/s camera's packets arrive every few milliseconds; waking the event loop, the
/// pipeline and the recorder's task for each one or two of them cost Vigil's recorder
/// about half its CPU (BENCHMARKS.md). With batching, a playing connection is not read as
/// bytes arrive (`autoRead` off) but once a `period`, on a grid of ticks shared by every
/// connection of the process: at each tick every batching connection asks for one read,
/// which drains its socket (up to `maxReadsPerTick` reads of the receive buffer), so an
/// event loop wakes once a tick for all its cameras rather than once a batch for each.
/// Bytes wait in the socket at most one period, whatever the stream's rate. While
/// `wantsLowLatency` answers true (someone is watching the camera live), the connection
/// reads as bytes arrive, as before PLAY; it is asked at every tick.
public struct ReadBatching: Sendable {
    /// How often a batching connection is read; how long bytes may wait in the socket.
    public var period: Duration = .milliseconds(100)
    /// Reads of the receive buffer (up to 64 KiB each) a tick may take to drain a socket.
    public var maxReadsPerTick = 64
    /// Asked every period: true while low latency matters more than CPU.
    public var wantsLowLatency: @Sendable () -> Bool
    /// Told each time the connection starts (true) or stops (false) reading in batches
    /// (for metrics and tests).
    public var onBatchingChange: (@Sendable (Bool) -> Void)?

    public init(wantsLowLatency: @escaping @Sendable () -> Bool = { false }) {
        self.wantsLowLatency = wantsLowLatency
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

/// First in a connection's pipeline: once `start` is called (after PLAY), reads the
/// connection once a tick while batching, or lets it read as bytes arrive while low
/// latency is wanted.
final class ReadBatchingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let batching: ReadBatching
    private(set) var isBatching = false
    private var timer: Scheduled<Void>?

    init(_ batching: ReadBatching) {
        self.batching = batching
    }

    func start(context: ChannelHandlerContext) {
        guard timer == nil, let options = context.channel.syncOptions else { return }
        try? options.setOption(ChannelOptions.maxMessagesPerRead, value: UInt(max(1, batching.maxReadsPerTick)))
        tick(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    private func tick(context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        let batch = !batching.wantsLowLatency()
        if batch != isBatching, let options = context.channel.syncOptions {
            do {
                try options.setOption(ChannelOptions.autoRead, value: !batch)
                isBatching = batch
                batching.onBatchingChange?(batch)
            } catch {
                return // the channel is closing: no more ticks
            }
        }
        // Through the whole pipeline, not from here: `SessionInboundHandler` withholds the
        // read while its consumer is behind.
        if isBatching { context.pipeline.syncOperations.read() }
        let period = UInt64(max(1_000_000, batching.period.nanoseconds))
        let next = (NIODeadline.now().uptimeNanoseconds / period + 1) * period
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(next)) { [self] in
            tick(context: context)
        }
    }
}
