import Base
import ChildProcess
import Foundation
import Media

/// Makes test clips with ffmpeg (the only place Vigil encodes video: for simulated cameras).
public enum ClipMaker {
    public static func defaultDirectory() -> String {
        let base = ProcessInfo.processInfo.environment["XDG_CACHE_HOME"] ?? (NSHomeDirectory() + "/.cache")
        return base + "/vigil"
    }

    /// A 10 s, 720p25, 2 Mb/s clip with a key frame every 2 s and no B-frames, as a PTZ
    /// dome's main stream is configured.
    public static func ensureDefault(codec: VideoCodec) async throws -> String {
        let dir = defaultDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/sim-720p25-\(codec == .h264 ? "h264.h264" : "h265.h265")"
        if FileManager.default.fileExists(atPath: path) { return path }
        try await make(codec: codec, width: 1280, height: 720, fps: 25, seconds: 10, bitrateKbps: 2000, out: path)
        return path
    }

    /// The same test card at 320×180 and 200 kb/s: a camera's sub-stream, for small tiles.
    public static func ensureSubStream(codec: VideoCodec) async throws -> String {
        let dir = defaultDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/sim-180p25-\(codec == .h264 ? "h264.h264" : "h265.h265")"
        if FileManager.default.fileExists(atPath: path) { return path }
        try await make(codec: codec, width: 320, height: 180, fps: 25, seconds: 10, bitrateKbps: 200, out: path)
        return path
    }

    public static func make(codec: VideoCodec, width: Int, height: Int, fps: Int, seconds: Int, bitrateKbps: Int, out: String) async throws
    {
        guard let ffmpeg = ChildProcess.which("ffmpeg") else {
            throw VigilError(.failure, "ffmpeg is needed to generate a clip (apt-get install ffmpeg), or pass --file")
        }
        let codecArgs: [String] =
            codec == .h264
            ? ["-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency", "-bf", "0", "-g", "\(fps * 2)", "-f", "h264"]
            : [
                "-c:v", "libx265", "-preset", "veryfast", "-x265-params",
                "keyint=\(fps * 2):min-keyint=\(fps * 2):bframes=0:repeat-headers=1:log-level=error", "-f", "hevc"
            ]
        let scratch = "\(out).\(getpid()).\(UUID().uuidString).tmp"
        let args =
            [
                "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(width)x\(height):rate=\(fps)", "-t", "\(seconds)",
                "-pix_fmt", "yuv420p", "-b:v", "\(bitrateKbps)k", "-maxrate", "\(bitrateKbps)k", "-bufsize", "\(bitrateKbps)k"
            ]
            + codecArgs + [scratch]
        // Made under a name of its own and renamed into place: two simulators starting at
        // once on a fresh cache each make it, and neither reads the other's half-written file.
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let result = try await ChildProcess.run(ffmpeg, args)
        guard result.status == 0 else { throw VigilError(.failure, "ffmpeg failed making \(out): \(result.stderr)") }
        guard rename(scratch, out) == 0 else {
            throw VigilError(.failure, "the clip could not be put at \(out): \(String(cString: strerror(errno)))")
        }
    }
}
