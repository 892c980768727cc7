import ChildProcess
import Dispatch
import Foundation
import Synchronization

/// Resolves when the process receives SIGINT or SIGTERM (installed once per process).
public enum ShutdownSignal {
    public static func wait() async -> Int32 {
        await withCheckedContinuation { continuation in
            let once = Once()
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
                // The handler captures its own source: a deliberate cycle that keeps the
                // source alive for the life of the process.
                source.setEventHandler {
                    _ = source
                    if once.claim() { continuation.resume(returning: sig) }
                }
                source.resume()
            }
        }
    }
}

public final class Once: Sendable {
    public init() {}
    private let claimed = Mutex(false)
    public func claim() -> Bool {
        claimed.withLock { value in
            if value { return false }
            value = true
            return true
        }
    }
}

public func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
