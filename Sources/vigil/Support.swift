import ChildProcess
import Dispatch
import Foundation
import Recording

func parseISO8601Argument(_ text: String) -> Int64? { parseISO8601(text) }

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

/// Runs a program to completion, returning its exit status and standard error.
@discardableResult
func runProgram(_ path: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let errPipe = Pipe()
    process.standardError = errPipe
    process.standardOutput = FileHandle.nullDevice
    try ChildProcess.launch(process)
    let err = errPipe.fileHandleForReading.readDataToEndOfFile()
    ChildProcess.waitForExit(process)
    return (process.terminationStatus, String(decoding: err, as: UTF8.self))
}

/// Finds a program on PATH.
func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

