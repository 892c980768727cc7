// ChildProcess — starting and stopping other programs (ffmpeg, GStreamer, a recorder)
// from Swift concurrency code, for the CLI's benchmarks and for the tests.
// What belongs here: spawning with a clean signal mask, waiting without spinning,
// reading a child's CPU time. What does not: anything about what the child does.

import Foundation

public enum ChildProcess {
    /// Starts `process` with no signals blocked. Swift concurrency runs on libdispatch
    /// worker threads, which block most signals, and a child inherits the spawning thread's
    /// mask: without this, SIGINT/SIGTERM would never reach a child we started.
    public static func launch(_ process: Process) throws {
        var empty = sigset_t(), previous = sigset_t()
        sigemptyset(&empty)
        pthread_sigmask(SIG_SETMASK, &empty, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        try process.run()
    }

    /// Starts a program in the background, its output appended to `log`.
    /// `extraEnvironment` is added to this process's environment for the child.
    public static func spawn(_ path: String, _ arguments: [String], log: String, extraEnvironment: [String: String] = [:]) throws -> Process
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        if !extraEnvironment.isEmpty {
            p.environment = ProcessInfo.processInfo.environment.merging(extraEnvironment) { $1 }
        }
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        p.standardOutput = handle
        p.standardError = handle
        p.standardInput = FileHandle.nullDevice
        try launch(p)
        return p
    }

    /// Waits for a child to exit, polling (Foundation's `waitUntilExit` spins a run loop).
    /// Returns false if it was still running at the timeout. This blocks its thread: for
    /// `defer` blocks and synchronous code only; async code uses `exited(_:timeout:)`.
    @discardableResult
    public static func waitForExit(_ process: Process, timeout: Double = .infinity) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        return !process.isRunning
    }

    /// Waits for a child to exit without holding a thread: the cooperative pool has one
    /// thread per core, and a task blocked in `waitForExit` while ffmpeg runs for seconds
    /// starves every other task of the process (their peers' read timeouts then fire).
    /// Returns false if it was still running at the timeout.
    @discardableResult
    public static func exited(_ process: Process, timeout: Double = .infinity) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            do { try await Task.sleep(for: .milliseconds(20)) } catch { break }
        }
        return !process.isRunning
    }

    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
        /// Stopped at `run`'s timeout (SIGTERM, then SIGKILL): its output is what it had written.
        public var timedOut = false
    }

    /// Runs a program to completion and returns its exit status and output; `input`, when
    /// given, is its standard input. Input and output go through temporary files, so a
    /// chatty child can never block on a full pipe. A child still running after `timeout`
    /// seconds is stopped and its output comes back marked `timedOut`.
    public static func run(_ path: String, _ arguments: [String], input: String? = nil, timeout: Double = .infinity) async throws
        -> Output
    {
        let base = NSTemporaryDirectory() + "vigil-child-\(UUID().uuidString)"
        let outPath = base + ".out", errPath = base + ".err", inPath = base + ".in"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        if let input {
            _ = FileManager.default.createFile(atPath: inPath, contents: Data(input.utf8), attributes: [.posixPermissions: 0o600])
        }
        defer {
            for file in [outPath, errPath, inPath] { try? FileManager.default.removeItem(atPath: file) }
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.standardOutput = FileHandle(forWritingAtPath: outPath)
        p.standardError = FileHandle(forWritingAtPath: errPath)
        p.standardInput = input == nil ? FileHandle.nullDevice : FileHandle(forReadingAtPath: inPath)
        try launch(p)
        await exited(p, timeout: timeout)
        var timedOut = false
        if p.isRunning {
            // Cancelled while waiting, or past its time: the child must not outlive its caller.
            p.terminate()
            if Task.isCancelled {
                // A cancelled task cannot sleep: the wait (then SIGKILL) runs in a task of its own,
                // holding no thread of the pool.
                let pid = p.processIdentifier
                await Task.detached {
                    if !(await exited(p, timeout: 2)) {
                        kill(pid, SIGKILL)
                        await exited(p, timeout: 2)
                    }
                }.value
                throw CancellationError()
            }
            if !(await exited(p, timeout: 2)) {
                kill(p.processIdentifier, SIGKILL)
                await exited(p, timeout: 5)
            }
            timedOut = true
        }
        func read(_ file: String) -> String { (try? String(contentsOfFile: file, encoding: .utf8)) ?? "" }
        // A child that outlives even SIGKILL (stuck in the kernel on a hung disk) has no status
        // yet: Foundation traps on reading one.
        let status = p.isRunning ? -1 : p.terminationStatus
        return Output(status: status, stdout: read(outPath), stderr: read(errPath), timedOut: timedOut)
    }

    /// The path of a program on PATH, if any.
    public static func which(_ name: String) -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// User + system CPU seconds of a process, from /proc/<pid>/stat (fields 14 and 15).
    public static func cpuSeconds(_ pid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = text.lastIndex(of: ")")
        else { return 0 }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After the ")" the state is field 3, so utime (14) is index 11 and stime (15) index 12.
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
