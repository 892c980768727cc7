import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import RTSP

@Suite("Handing a connection's messages to its session")
struct SessionInboundTests {
    /// Counts the reads that get past the session's handler to the connection.
    final class ReadCounter: ChannelOutboundHandler, Sendable {
        typealias OutboundIn = ByteBuffer
        let reads = Mutex(0)

        func read(context: ChannelHandlerContext) {
            reads.withLock { $0 += 1 }
            context.read()
        }
    }

    struct Broken: Error, Equatable {}

    func makeChannel(batching: Bool = false) async throws -> (NIOAsyncTestingChannel, ReadCounter, SessionInbound) {
        let channel = NIOAsyncTestingChannel()
        let counter = ReadCounter()
        let inbound = try await channel.testingEventLoop.executeInContext {
            let ops = channel.pipeline.syncOperations
            try ops.addHandler(counter)
            if batching { try ops.addHandler(ReadBatchingHandler(ReadBatching())) }
            let session = SessionInboundHandler(eventLoop: channel.eventLoop)
            try ops.addHandler(session)
            return session.inbound
        }
        try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 554))
        return (channel, counter, inbound)
    }

    /// Starts batching: its first tick reads at once (the next ones wait for real time,
    /// which the testing loop does not advance).
    func startBatching(_ channel: NIOAsyncTestingChannel) async throws {
        try await channel.testingEventLoop.executeInContext {
            let ops = channel.pipeline.syncOperations
            try ops.handler(type: ReadBatchingHandler.self).start(context: try ops.context(handlerType: ReadBatchingHandler.self))
        }
    }

    @Test func aBatchingTickReadsOnlyWhileTheSessionKeepsUp() async throws {
        let (idle, idleReads, _) = try await makeChannel(batching: true)
        try await startBatching(idle)
        #expect(idleReads.reads.withLock { $0 } == 1, "a tick reads")

        let (behind, behindReads, inbound) = try await makeChannel(batching: true)
        for i in 0..<SessionInbound.highWatermark { try await behind.writeInbound(SessionMessage.interleaved(channel: UInt8(i))) }
        try await startBatching(behind)
        #expect(behindReads.reads.withLock { $0 } == 0, "a tick's read is withheld while the session is behind")
        for _ in 0..<(SessionInbound.highWatermark - SessionInbound.lowWatermark) { _ = try await inbound.next() }
        await behind.testingEventLoop.run()
        #expect(behindReads.reads.withLock { $0 } == 1, "and made once it has caught up")
    }

    func number(_ message: SessionMessage?) -> Int? {
        if case let .interleaved(channel) = message { return Int(channel) }
        return nil
    }

    @Test func aConsumerThatFallsBehindStopsTheReadsUntilItCatchesUpAndGetsEverythingInOrder() async throws {
        let (channel, counter, inbound) = try await makeChannel()
        channel.pipeline.read()
        await channel.testingEventLoop.run()
        #expect(counter.reads.withLock { $0 } == 1, "reads pass while the queue is short")

        let sent = SessionInbound.highWatermark + 4
        for i in 0..<sent { try await channel.writeInbound(SessionMessage.interleaved(channel: UInt8(i))) }
        channel.pipeline.read()
        await channel.testingEventLoop.run()
        #expect(counter.reads.withLock { $0 } == 1, "a read is withheld while the queue is full")

        var received: [Int] = []
        while received.count < sent - SessionInbound.lowWatermark - 1 {
            received.append(try #require(number(try await inbound.next())))
        }
        await channel.testingEventLoop.run()
        #expect(counter.reads.withLock { $0 } == 1, "still above the low mark: the read waits")
        received.append(try #require(number(try await inbound.next())))
        await channel.testingEventLoop.run()
        #expect(counter.reads.withLock { $0 } == 2, "down to the low mark: the withheld read is made")

        // The error that ends the connection comes after what was read before it, once.
        channel.pipeline.fireErrorCaught(Broken())
        await channel.testingEventLoop.run()
        while received.count < sent { received.append(try #require(number(try await inbound.next()))) }
        #expect(received == Array(0..<sent))
        await #expect(throws: Broken.self) { try await inbound.next() }
        #expect(try await inbound.next() == nil)
    }

    @Test func aWaitingConsumerGetsTheNextMessageTheEndOrItsCancellation() async throws {
        let (channel, _, inbound) = try await makeChannel()
        let waiting = Task { try await inbound.next() }
        try await Task.sleep(for: .milliseconds(50))
        try await channel.writeInbound(SessionMessage.interleaved(channel: 7))
        #expect(number(try await waiting.value) == 7)

        let cancelled = Task { try await inbound.next() }
        try await Task.sleep(for: .milliseconds(50))
        cancelled.cancel()
        await #expect(throws: CancellationError.self) { try await cancelled.value }

        let closed = Task { try await inbound.next() }
        try await Task.sleep(for: .milliseconds(50))
        try await channel.close()
        #expect(try await closed.value == nil)
        #expect(try await inbound.next() == nil)
    }
}
