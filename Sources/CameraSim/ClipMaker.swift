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
        let args =
            [
                "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(width)x\(height):rate=\(fps)", "-t", "\(seconds)",
                "-pix_fmt", "yuv420p", "-b:v", "\(bitrateKbps)k", "-maxrate", "\(bitrateKbps)k", "-bufsize", "\(bitrateKbps)k"
            ]
            + codecArgs + [out + ".tmp"]
        let result = try await ChildProcess.run(ffmpeg, args)
        guard result.status == 0 else { throw VigilError(.failure, "ffmpeg failed making \(out): \(result.stderr)") }
        try FileManager.default.moveItem(atPath: out + ".tmp", toPath: out)
    }
}
