import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

/// Reading a playing camera in batches rather than packet by packet.
///
/// A 2 Mb/s camera's packets arrive every few milliseconds; waking the event loop, the
/// pipeline and the recorder's task for each batch of one or two of them cost Vigil's
/// recorder about half its CPU (BENCHMARKS.md). With batching, the socket's receive
/// low-water mark (`SO_RCVLOWAT`, Linux `tcp(7)`) is set to about `target` worth of the
/// stream at its recent rate, so the loop wakes a few times a second per camera. The mark
/// is re-tuned every `period`, on a grid shared by every connection (so the re-tuning of a
/// loop's connections is one wake): a period in which nothing was read drops it to one
/// byte, so bytes never wait in the socket much longer than a period even when the
/// stream's rate falls, and while `wantsLowLatency` answers true (someone is watching the
/// camera live) it stays at one byte and packets are read as they arrive.
public struct ReadBatching: Sendable {
    /// About how much of the stream, in time, to let accumulate before a read.
    public var target: Duration = .milliseconds(100)
    /// How often the mark is re-tuned; bounds how long bytes wait when the rate drops.
    public var period: Duration = .milliseconds(250)
    /// The mark never exceeds this many bytes.
    public var ceiling = 64 << 10
    /// Asked every period: true while low latency matters more than CPU.
    public var wantsLowLatency: @Sendable () -> Bool
    /// Told each mark the socket was given, in bytes (for metrics and tests).
    public var onWatermark: (@Sendable (Int) -> Void)?

    public init(wantsLowLatency: @escaping @Sendable () -> Bool = { false }) {
        self.wantsLowLatency = wantsLowLatency
    }

    /// The mark for `bytes` read over the last period.
    func watermark(afterReading bytes: Int, lowLatency: Bool) -> Int {
        guard !lowLatency, bytes > 0 else { return 1 }
        let share = Double(target.nanoseconds) / Double(max(1, period.nanoseconds))
        return min(ceiling, max(1, Int(Double(bytes) * share)))
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}

/// First in a connection's pipeline: counts the bytes read and, once `start` is called
/// (after PLAY), re-tunes the socket's low-water mark every period.
final class ReadBatchingHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let batching: ReadBatching
    private var bytesThisPeriod = 0
    private(set) var watermark = 1
    private var timer: Scheduled<Void>?
    private var unsupported = false

    init(_ batching: ReadBatching) {
        self.batching = batching
    }

    func start(context: ChannelHandlerContext) {
        guard timer == nil else { return }
        scheduleRetune(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytesThisPeriod += unwrapInboundIn(data).readableBytes
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
    }

    private func scheduleRetune(context: ChannelHandlerContext) {
        let period = UInt64(max(1_000_000, batching.period.nanoseconds))
        let next = (NIODeadline.now().uptimeNanoseconds / period + 1) * period
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(next)) { [self] in
            retune(context: context)
            if context.channel.isActive && !unsupported { scheduleRetune(context: context) }
        }
    }

    private func retune(context: ChannelHandlerContext) {
        let wanted = batching.watermark(afterReading: bytesThisPeriod, lowLatency: batching.wantsLowLatency())
        bytesThisPeriod = 0
        guard wanted != watermark, let options = context.channel.syncOptions else { return }
        do {
            try options.setOption(ChannelOptions.socketOption(NIOBSDSocket.Option(rawValue: SO_RCVLOWAT)), value: wanted)
            watermark = wanted
            batching.onWatermark?(wanted)
        } catch {
            // Not fatal: the connection goes on reading packet by packet.
            unsupported = true
        }
    }
}
