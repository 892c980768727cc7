import ChildProcess
import Dispatch
import Foundation
import Recording

/// Resolves when the process receives SIGINT or SIGTERM (installed once per process).
enum ShutdownSignal {
    static func wait() async -> Int32 {
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

final class Once: Sendable {
    private let claimed = Mutex(false)
    func claim() -> Bool {
        claimed.withLock { value in
            if value { return false }
            value = true
            return true
        }
    }
}

import Synchronization

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// This program's own path, for benchmarks that start more of it as child processes.
func ownExecutable() -> String {
    CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0]
        : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0]
}
