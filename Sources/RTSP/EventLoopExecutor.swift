import NIOCore

/// Runs Swift tasks on one NIO event loop (SE-0417 task executor preference).
///
/// A camera's pipeline — the RTSP session reading its socket, the depacketiser, and the
/// recorder actor it feeds — runs under `withTaskExecutorPreference` of the event loop
/// that owns the connection, so a frame goes from socket to file on one thread. Without
/// it every batch of packets crossed from the event loop to the cooperative pool and
/// back (measured: a quarter of the recorder's CPU was thread hand-off; BENCHMARKS.md).
public final class EventLoopExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { [self] in
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
