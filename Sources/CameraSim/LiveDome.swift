// A simulated dome's live picture: each frame a crop of one large still scene at where the
// dome points (pan across it, tilt up and down, zoom how much of it), rendered here and
// encoded live by an ffmpeg child (libx264: one slice a frame, a key frame a second with
// its parameter sets, access unit delimiters), so an operator sees the camera move and a
// test can see that a move changed the picture. The encoder's access units are packetised
// as the looped clips are and the last two seconds kept for the RTSP sessions, each of
// which sends every one it has not sent, in order, from a key frame on.

import Base
import ChildProcess
import Foundation
import Media
import Synchronization

/// The still scene the domes look at: ffmpeg's testsrc2 test card, large, as planar YUV
/// 4:2:0, made once into the user's cache.
public struct DomeScene: Sendable {
    public let width: Int
    public let height: Int
    /// Y, then U, then V.
    let planes: [UInt8]

    public static func ensureDefault(width: Int = 2560, height: Int = 1440) async throws -> DomeScene {
        let dir = ClipMaker.defaultDirectory()
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/dome-scene-\(width)x\(height).yuv"
        if !FileManager.default.fileExists(atPath: path) {
            guard let ffmpeg = ChildProcess.which("ffmpeg") else {
                throw VigilError(.failure, "ffmpeg is needed to draw the simulated domes' scene (apt-get install ffmpeg)")
            }
            // Drawn under a name of its own and renamed into place: simulators starting at
            // once on a fresh cache each draw it, and none reads another's half-written file.
            let scratch = "\(path).\(getpid()).\(UUID().uuidString).tmp"
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let made = try await ChildProcess.run(
                ffmpeg,
                [
                    "-y", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=\(width)x\(height)", "-frames:v", "1", "-pix_fmt", "yuv420p",
                    "-f", "rawvideo", scratch
                ])
            guard made.status == 0 else { throw VigilError(.failure, "ffmpeg failed drawing the domes' scene: \(made.stderr)") }
            guard rename(scratch, path) == 0 else {
                throw VigilError(.failure, "the domes' scene could not be put at \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard let data = FileManager.default.contents(atPath: path), data.count == width * height * 3 / 2 else {
            throw VigilError(.failure, "the domes' scene \(path) is not \(width)x\(height) YUV 4:2:0; delete it to have it drawn again")
        }
        return DomeScene(width: width, height: height, planes: [UInt8](data))
    }

    /// The picture a dome pointing at `p` sees, `width`×`height` YUV 4:2:0 (both even), into
    /// `out`: zoom 0 shows half the scene's width, zoom 1 an eighth; pan −1…1 runs from its
    /// left edge to its right, tilt −1…1 from its bottom to its top. Nearest pixel.
    func render(_ p: PTZPoint, width: Int, height: Int, into out: inout [UInt8]) {
        let cropWidth = Double(self.width) / (2 * (1 + 3 * min(1, max(0, p.zoom))))
        let cropHeight = min(Double(self.height), cropWidth * Double(height) / Double(width))
        let left = (Double(self.width) - cropWidth) * (min(1, max(-1, p.pan)) + 1) / 2
        let top = (Double(self.height) - cropHeight) * (1 - min(1, max(-1, p.tilt))) / 2
        planes.withUnsafeBufferPointer { scene in
            out.withUnsafeMutableBufferPointer { picture in
                // Luma, then each chroma plane at half the size both ways.
                var sceneOffset = 0, pictureOffset = 0
                for plane in 0..<3 {
                    let scale = plane == 0 ? 1 : 2
                    let sw = self.width / scale, sh = self.height / scale, pw = width / scale, ph = height / scale
                    let columns = (0..<pw).map { x in
                        min(sw - 1, Int((left + (Double(x) + 0.5) * cropWidth / Double(pw)) / Double(scale)))
                    }
                    for y in 0..<ph {
                        let sy = min(sh - 1, Int((top + (Double(y) + 0.5) * cropHeight / Double(ph)) / Double(scale)))
                        let row = sceneOffset + sy * sw, to = pictureOffset + y * pw
                        for x in 0..<pw { picture[to + x] = scene[row + columns[x]] }
                    }
                    sceneOffset += sw * sh
                    pictureOffset += pw * ph
                }
            }
        }
    }
}

/// One dome's live picture: its renderer and encoder, and the newest access unit.
public final class LiveDome: Sendable {
    /// An encoded picture, ready to send: its RTP payloads.
    public struct Frame: Sendable {
        /// Pictures since the encoder started (for the RTP timestamp).
        public var index: Int
        public var payloads: [[UInt8]]
        public var isKey: Bool
    }

    public let width: Int
    public let height: Int
    public let framesPerSecond: Int
    /// The stream's parameters, from its first key frame (for the session description).
    public let parameters: SimulatedClip
    let newest: Newest
    let encoder: Process

    /// The last `kept` frames, and the first key frame's Annex B bytes.
    final class Newest: Sendable {
        let frames = Mutex<[Frame]>([])
        let firstKey = Mutex<[UInt8]?>(nil)
        let stopped = Mutex(false)
        let ended = Mutex(false)
    }

    /// Frames kept for sessions to catch up on (two seconds at the default 25 fps).
    static let kept = 50

    private init(width: Int, height: Int, framesPerSecond: Int, parameters: SimulatedClip, newest: Newest, encoder: Process) {
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.parameters = parameters
        self.newest = newest
        self.encoder = encoder
    }

    /// The frames after picture `index` still kept, oldest first: a session sends each, so
    /// none is skipped that a later one refers to.
    public func frames(after index: Int) -> [Frame] {
        newest.frames.withLock { kept in kept.filter { $0.index > index } }
    }

    /// The newest picture's number (−1 before the first): a new session starts after it,
    /// at the next key frame, so what it shows is never older than its PLAY.
    public var newestIndex: Int { newest.frames.withLock { $0.last?.index ?? -1 } }

    /// Starts rendering what `position` says the dome sees, `framesPerSecond` times a
    /// second, and encoding it; returns once the first key frame is out.
    public static func start(
        scene: DomeScene, position: @escaping @Sendable () -> PTZPoint, width: Int = 640, height: Int = 360, framesPerSecond: Int = 25
    ) async throws -> LiveDome {
        guard width > 0, height > 0, width % 2 == 0, height % 2 == 0, (1...60).contains(framesPerSecond) else {
            throw VigilError(.invalid, "a live dome's picture is an even width and height at 1–60 frames a second")
        }
        guard let ffmpeg = ChildProcess.which("ffmpeg") else {
            throw VigilError(.failure, "ffmpeg is needed to encode the simulated domes' picture (apt-get install ffmpeg)")
        }
        let encoder = Process()
        encoder.executableURL = URL(fileURLWithPath: ffmpeg)
        encoder.arguments = [
            "-hide_banner", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", "\(width)x\(height)", "-r",
            "\(framesPerSecond)", "-i", "pipe:0", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-threads", "1",
            "-g", "\(framesPerSecond)", "-bf", "0", "-x264-params", "repeat-headers=1:aud=1:scenecut=0", "-f", "h264", "pipe:1"
        ]
        // An encoder that dies must end its writer with an error, not the whole process
        // with SIGPIPE (a server ignores it anyway: SwiftNIO does for its sockets).
        signal(SIGPIPE, SIG_IGN)
        let input = Pipe(), output = Pipe()
        // What the encoder says when it fails goes to a file, to be quoted in the error.
        let errors = NSTemporaryDirectory() + "vigil-dome-\(UUID().uuidString).log"
        _ = FileManager.default.createFile(atPath: errors, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errors) }
        encoder.standardInput = input
        encoder.standardOutput = output
        encoder.standardError = FileHandle(forWritingAtPath: errors) ?? FileHandle.nullDevice
        try ChildProcess.launch(encoder)
        let newest = Newest()
        let frameBytes = width * height * 3 / 2
        let writer = input.fileHandleForWriting, reader = output.fileHandleForReading

        // The renderer: a picture every 1/fps s, drawn again only when the dome has moved.
        Thread.detachNewThread {
            var picture = [UInt8](repeating: 0, count: frameBytes)
            var drawn: PTZPoint?
            let interval = 1 / Double(framesPerSecond)
            var next = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
            while !newest.stopped.withLock({ $0 }) {
                let p = position()
                if p != drawn {
                    scene.render(p, width: width, height: height, into: &picture)
                    drawn = p
                }
                do { try writer.write(contentsOf: picture) } catch { break }
                next += interval
                let wait = next - Double(DispatchTime.now().uptimeNanoseconds) / 1e9
                if wait > 0 { Thread.sleep(forTimeInterval: wait) } else if wait < -1 { next += -wait }
            }
            try? writer.close()
        }
        // The encoder's output: split into access units at each delimiter.
        Thread.detachNewThread {
            var splitter = AccessUnitSplitter()
            var index = 0
            var chunk = [UInt8](repeating: 0, count: 65_536)
            while true {
                // What the pipe holds, as soon as it holds anything (FileHandle's
                // read(upToCount:) would wait for the whole count, availableData traps on
                // an error); an error is the end as much as EOF is.
                let count = chunk.withUnsafeMutableBytes { read(reader.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { break }
                for unit in splitter.take(Array(chunk[0..<count])) {
                    let nals = NALUnits.splitAnnexB(unit).filter { nal in
                        nal.first.map { H264.nalType($0) != H264.NALType.accessUnitDelimiter } ?? false
                    }
                    let isKey = nals.contains { nal in nal.first.map { H264.nalType($0) == H264.NALType.idrSlice } ?? false }
                    let frame = Frame(index: index, payloads: SimulatedClip.packetize(nals.map(Array.init), codec: .h264), isKey: isKey)
                    newest.frames.withLock { kept in
                        kept.append(frame)
                        if kept.count > Self.kept { kept.removeFirst(kept.count - Self.kept) }
                    }
                    if isKey { newest.firstKey.withLock { if $0 == nil { $0 = unit } } }
                    index += 1
                }
            }
            newest.ended.withLock { $0 = true }
        }
        // Whatever goes wrong from here stops the renderer and the encoder (the reader ends
        // with the encoder's output).
        do {
            for _ in 0..<500 {
                if let first = newest.firstKey.withLock({ $0 }) {
                    let parameters = try SimulatedClip(annexB: first, codec: .h264)
                    return LiveDome(
                        width: width, height: height, framesPerSecond: framesPerSecond, parameters: parameters, newest: newest,
                        encoder: encoder)
                }
                guard encoder.isRunning else { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            let said = (try? String(contentsOfFile: errors, encoding: .utf8)).map { String($0.suffix(500)) } ?? ""
            throw VigilError(
                .failure,
                "the simulated dome's encoder (ffmpeg with libx264) gave no key frame within 10 s"
                    + (encoder.isRunning ? "" : " (it exited with status \(encoder.terminationStatus))") + (said.isEmpty ? "" : ": \(said)")
            )
        } catch {
            newest.stopped.withLock { $0 = true }
            if encoder.isRunning { encoder.terminate() }
            throw error
        }
    }

    /// The encoder's output ended (it exited or failed): no picture will come again.
    public var ended: Bool { newest.ended.withLock { $0 } }

    /// A live picture for each of `responder`'s cameras (numbered from 1), following where
    /// it points: 640×360, or the size given (320×180 for the sub-streams).
    public static func forEach(
        of responder: OnvifResponder, cameras: Int, framesPerSecond: Int, width: Int = 640, height: Int = 360
    ) async throws -> [Int: LiveDome] {
        let scene = try await DomeScene.ensureDefault()
        var domes: [Int: LiveDome] = [:]
        do {
            for n in 1...max(1, cameras) {
                let mirror = responder.mirror
                domes[n] = try await LiveDome.start(
                    scene: scene, position: { mirror.position(camera: n - 1) ?? PTZPoint(pan: 0, tilt: 0, zoom: 0) },
                    width: width, height: height, framesPerSecond: framesPerSecond)
            }
        } catch {
            for dome in domes.values { dome.close() }
            throw error
        }
        return domes
    }

    deinit { close() }

    /// Stops the renderer and the encoder.
    public func close() {
        newest.stopped.withLock { $0 = true }
        if encoder.isRunning { encoder.terminate() }
    }
}

/// An H.264 Annex B stream whose access units each begin with a delimiter (x264's `aud=1`),
/// cut into those access units as its bytes arrive in chunks of any size: a unit is whole
/// when the next one's delimiter arrives.
struct AccessUnitSplitter {
    private var buffer: [UInt8] = []
    /// How far the buffer was searched (a start code split across chunks is found again).
    private var scanned = 0
    /// Where the unit under way begins (its delimiter), once found.
    private var current: Int?

    /// The access units that `chunk` completed, each from its delimiter's start code.
    mutating func take(_ chunk: [UInt8]) -> [[UInt8]] {
        buffer.append(contentsOf: chunk)
        let found = Self.delimiters(in: buffer, from: max(0, scanned - 4))
        scanned = buffer.count
        var starts = current.map { [$0] } ?? []
        starts += found.filter { start in current.map { start > $0 } ?? true }
        guard let last = starts.last, starts.count >= 2 else {
            current = starts.first
            return []
        }
        let units = zip(starts, starts.dropFirst()).map { Array(buffer[$0..<$1]) }
        buffer.removeFirst(last)
        scanned = buffer.count
        current = 0
        return units
    }

    /// Where each delimiter's start code (three bytes, or four with a leading zero) begins
    /// in `bytes`, looking from `start`.
    static func delimiters(in bytes: [UInt8], from start: Int = 0) -> [Int] {
        var found: [Int] = []
        var i = start
        while i + 3 < bytes.count {
            if bytes[i] == 0, bytes[i + 1] == 0, bytes[i + 2] == 1, bytes[i + 3] & 0x1F == H264.NALType.accessUnitDelimiter {
                found.append(i > 0 && bytes[i - 1] == 0 ? i - 1 : i)
                i += 4
            } else {
                i += 1
            }
        }
        return found
    }
}
