// TestSupport — helpers the test targets share: the package root, the built `vigil`
// binary, running real tools (ffmpeg, ffprobe, GStreamer), and generated clips.
// Nothing here is a stand-in for a real part: clips are encoded by ffmpeg, files are
// judged by ffmpeg and ffprobe.

import ChildProcess
import Foundation
import Media

/// Tests run in parallel on Swift's cooperative pool, one thread per core (two on CI). A
/// test that holds its thread for seconds — waiting for ffmpeg, or a long CPU-bound property
/// loop — starves every other test's tasks, and tests whose peers keep time (an RTSP read
/// timeout, a server's idle timer) then fail for no fault of their own. So children are
/// awaited (`run`), never waited for on a pool thread, and long loops `Task.yield()`.
public enum TestSupport {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// The `vigil` executable built for these tests (`swift build` runs before `swift test`
    /// in scripts/test.sh); `VIGIL_BIN` overrides.
    public static var vigilBinary: String {
        if let path = ProcessInfo.processInfo.environment["VIGIL_BIN"] { return path }
        return packageRoot + "/.build/debug/vigil"
    }

    public typealias Result = ChildProcess.Output

    /// Runs a program to completion.
    @discardableResult
    public static func run(_ path: String, _ arguments: [String], input: String? = nil) async throws -> Result {
        try await ChildProcess.run(path, arguments, input: input)
    }

    /// Starts a program in the background with its output going to `log`.
    public static func spawn(_ path: String, _ arguments: [String], log: String) throws -> Process {
        try ChildProcess.spawn(path, arguments, log: log)
    }

    public static func which(_ name: String) -> String? { ChildProcess.which(name) }

    /// A fresh temporary directory.
    public static func temporaryDirectory(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "vigil-test-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// An encoded Annex B clip made by ffmpeg (testsrc2, no B-frames, key frame every `gop`).
    public static func clip(codec: VideoCodec, width: Int = 640, height: Int = 360, seconds: Int = 4, fps: Int = 25, gop: Int = 25)
        async throws -> String
    {
        let dir = NSTemporaryDirectory() + "vigil-test-clips"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/\(codec.rawValue)-\(width)x\(height)-\(seconds)s-\(fps)-\(gop).\(codec == .h264 ? "h264" : "h265")"
        if FileManager.default.fileExists(atPath: path) { return path }
        let ffmpeg = try require("ffmpeg")
        let codecArgs =
            codec == .h264
            ? ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "0", "-g", "\(gop)", "-f", "h264"]
            : [
                "-c:v", "libx265", "-preset", "ultrafast", "-x265-params",
                "keyint=\(gop):min-keyint=\(gop):bframes=0:repeat-headers=1:log-level=error", "-f", "hevc"
            ]
        // One temporary file per call: tests running in parallel in one process may ask for
        // the same clip at once, and a shared name let one rename the other's half-written file.
        let tmp = path + ".\(getpid()).\(UUID().uuidString).tmp"
        let r = try await run(
            ffmpeg,
            [
                "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(width)x\(height):rate=\(fps)",
                "-t", "\(seconds)", "-pix_fmt", "yuv420p"
            ] + codecArgs + [tmp])
        guard r.status == 0 else { throw ToolError("ffmpeg failed: \(r.stderr)") }
        // Another call may have put the clip in place first: then this copy goes.
        if (try? FileManager.default.moveItem(atPath: tmp, toPath: path)) == nil {
            try? FileManager.default.removeItem(atPath: tmp)
        }
        return path
    }

    /// The clip's access units as Vigil stores them: length-prefixed, with key flags.
    public static func frames(of clipPath: String, codec: VideoCodec) throws -> [(data: [UInt8], isKey: Bool)] {
        NALUnits.storedFrames(codec: codec, annexB: [UInt8](try Data(contentsOf: URL(fileURLWithPath: clipPath))))
    }

    /// The clip's parameters.
    public static func parameters(of clipPath: String, codec: VideoCodec) throws -> VideoParameters {
        try VideoParameters(firstParameterSetsIn: [UInt8](try Data(contentsOf: URL(fileURLWithPath: clipPath))), codec: codec)
    }

    /// ffmpeg's strictest decode of a file: returns its standard error, which must be empty
    /// (with exit status 0) for the file to count as clean.
    public static func strictDecode(_ path: String) async throws -> (status: Int32, stderr: String) {
        let r = try await run(try require("ffmpeg"), ["-v", "error", "-xerror", "-err_detect", "explode", "-i", path, "-f", "null", "-"])
        return (r.status, r.stderr)
    }

    /// Frames ffprobe decodes from a file's first video stream, and its duration in seconds.
    public static func probe(_ path: String) async throws -> (frames: Int, duration: Double, codec: String) {
        let r = try await run(
            try require("ffprobe"),
            [
                "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
                "stream=nb_read_frames,duration,codec_name", "-of", "default=noprint_wrappers=1", path
            ])
        var fields: [String: String] = [:]
        for line in r.stdout.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        return (Int(fields["nb_read_frames"] ?? "") ?? -1, Double(fields["duration"] ?? "") ?? -1, fields["codec_name"] ?? "")
    }

    public static func require(_ tool: String) throws -> String {
        guard let path = which(tool) else { throw ToolError("\(tool) is not installed: run scripts/setup.sh") }
        return path
    }

    /// A TCP port that was free a moment ago.
    /// A loopback TCP port nobody listens on now, below Linux's ephemeral range
    /// (32768-60999), so no outgoing connection of another test takes it meanwhile. A
    /// random port anywhere up to 60 000 once collided with one (a peer "cannot listen").
    /// Calls `body` with 127.0.0.1:`port` as a socket address (for bind and connect).
    public static func withLoopback<T>(port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return withLoopback(port: port, { connect(fd, $0, $1) }) == 0
    }

    public static func freePort() -> Int {
        for _ in 0..<100 {
            let port = Int.random(in: 20_000...32_000)
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            if withLoopback(port: port, { bind(fd, $0, $1) }) == 0 { return port }
        }
        return Int.random(in: 20_000...32_000)
    }
}

public struct ToolError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
