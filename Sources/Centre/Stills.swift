// Stills: one recorded frame of a camera as a JPEG picture, for an incident's report. The
// frame comes from Vigil's own recording, never from a station's screen: what is kept is
// what the camera sent and Vigil stored (its segment, hash-chained), decoded by ffmpeg.
// Who may take or see one, and the audit entry for each, are the caller's.

import Base
import Catalog
import ChildProcess
import Crypto
import Foundation
import Media
import NIOPosix
import Recording
import Records

/// A recorded frame as a picture.
public struct Still: Sendable {
    public var jpeg: [UInt8]
    /// When the frame shown starts (UTC µs): the latest recorded frame at or before the
    /// moment asked for.
    public var frameMicros: Int64
    public var width: Int
    public var height: Int
    /// The JPEG's SHA-256, hex.
    public var sha256: String
}

/// Makes stills with ffmpeg (5.1 or later, for `-fps_mode`), two at a time: each decodes a
/// group of pictures (up to a minute of frames) on one thread, and the recorders must keep
/// their cores. The frame is chosen by its place in the recording, which keeps frames in the
/// order they arrived: for a camera that sends B-frames (whose display order differs, and
/// which Vigil records without composition offsets) the picture may be a frame or two from
/// the moment asked.
public struct Stills: Sendable {
    let catalog: Catalog
    let store: SampleStore
    let ffmpeg: String?
    let gate: Gate

    /// The most frames decoded for one still: the key frame the recording starts from and
    /// those after it, up to the one asked for (a minute at 25 fps; cameras send a key frame
    /// every 1 to 4 seconds).
    public static let maximumFrames = 1_500
    /// The largest picture kept: pictures wider are scaled to this width.
    public static let maximumWidth = 1920
    public static let maximumJPEGBytes = 4 << 20
    /// How long ffmpeg may take over one picture before it is stopped (SIGTERM, then SIGKILL
    /// two seconds later).
    public static let decodeSeconds = 20.0
    /// How long a still of the last seconds waits for the recording to reach the moment (it
    /// is made durable each second).
    public static let recordingLagMicros: Int64 = 4_000_000

    /// `ffmpeg`: the program's path (nil: stills cannot be made, and each asking says so).
    public init(
        catalog: Catalog, store: SampleStore, ffmpeg: String? = ChildProcess.which("ffmpeg"), concurrent: Int = 2, waiting: Int = 16
    ) {
        self.catalog = catalog
        self.store = store
        self.ffmpeg = ffmpeg
        self.gate = Gate(slots: concurrent, queue: waiting)
    }

    /// The frame of camera `cameraID` showing at `atMicros`, as a JPEG. Throws `.notFound`
    /// when nothing was recorded then, `.busy` when too many are being made, `.failure` when
    /// ffmpeg is missing or fails.
    public func still(cameraID: Int64, atMicros: Int64, nowMicros: Int64) async throws -> Still {
        guard let ffmpeg else {
            throw VigilError(.failure, "ffmpeg is not installed on the server: pictures cannot be made (apt-get install ffmpeg)")
        }
        let plan = try await plan(cameraID: cameraID, atMicros: atMicros, nowMicros: nowMicros)
        guard plan.frameCount <= Self.maximumFrames else {
            throw VigilError(
                .invalid,
                "the frame at \(iso8601(micros: atMicros)) is \(plan.frameCount) frames after its key frame: more than a picture may decode"
            )
        }
        guard let last = plan.runs.last?.samples.last else { throw VigilError(.notFound, "nothing was recorded then") }
        let frameMicros = plan.endMicros - Int64(last.duration) * 1_000_000 / ticksPerSecond
        let file = try plan.mp4(creationUnixSeconds: plan.firstFrameMicros / 1_000_000)
        try await gate.enter()
        do {
            let still = try await decode(file, frame: plan.frameCount - 1, ffmpeg: ffmpeg, frameMicros: frameMicros)
            await gate.leave()
            return still
        } catch {
            await gate.leave()
            throw error
        }
    }

    /// The frames from the key frame before `atMicros` to the one showing then. A moment of
    /// the last few seconds may not be durable yet: it is asked again each second for up
    /// to `recordingLagMicros`.
    func plan(cameraID: Int64, atMicros: Int64, nowMicros: Int64) async throws -> ExportPlan {
        var waited: Int64 = 0
        while true {
            do {
                return try await Exporter.plan(catalog: catalog, store: store, cameraID: cameraID, from: atMicros, to: atMicros + 1)
            } catch RecordingError.notFound {
                guard atMicros > nowMicros - Self.recordingLagMicros, waited < Self.recordingLagMicros else {
                    throw VigilError(.notFound, "camera \(cameraID) recorded nothing at \(iso8601(micros: atMicros))")
                }
                try await Task.sleep(for: .seconds(1))
                waited += 1_000_000
            } catch let error as RecordingError {
                throw VigilError(.failure, "the recording of camera \(cameraID) at \(iso8601(micros: atMicros)) cannot be read: \(error)")
            }
        }
    }

    func decode(_ file: VirtualMP4, frame index: Int, ffmpeg: String, frameMicros: Int64) async throws -> Still {
        // Footage is imagery: its working files sit in a directory of the server's own (0700),
        // removed with them after.
        let temporary = NSTemporaryDirectory()
        var template = Array((temporary + "vigil-still-XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) != nil }
        guard made else {
            let error = errno
            throw VigilError(.failure, "a picture's working directory could not be made in \(temporary) (errno \(error))")
        }
        let directory = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let input = directory + "/frames.mp4", output = directory + "/picture.jpg"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await NIOThreadPool.singleton.runIfActive {
            let fd = open(input, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw VigilError(.failure, "a picture's working file could not be made in \(NSTemporaryDirectory())") }
            defer { close(fd) }
            try file.write(toFileDescriptor: fd)
        }
        // The last frame decoded is the one asked for; pictures wider than the limit are scaled.
        let filter = "select=eq(n\\,\(index)),scale=w=min(\(Self.maximumWidth)\\,iw):h=-2"
        let result = try await ChildProcess.run(
            ffmpeg,
            [
                "-nostdin", "-v", "error", "-threads", "1", "-i", input, "-map", "0:v:0", "-filter_threads", "1", "-vf", filter,
                "-fps_mode", "passthrough", "-frames:v", "1", "-threads", "1", "-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", "3",
                "-f", "image2", "-y", output
            ], timeout: Self.decodeSeconds)
        guard !result.timedOut else {
            throw VigilError(.failure, "ffmpeg took more than \(Int(Self.decodeSeconds)) s to decode the picture and was stopped")
        }
        guard result.status == 0 else {
            throw VigilError(
                .failure, "ffmpeg could not decode the recorded frame (exit \(result.status)): \(result.stderr.suffix(300))")
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: output),
            let size = (attributes[.size] as? NSNumber)?.intValue, size > 0
        else { throw VigilError(.failure, "ffmpeg decoded no picture from the recorded frames") }
        guard size <= Self.maximumJPEGBytes else {
            throw VigilError(.failure, "the picture is \(size) bytes: more than \(Self.maximumJPEGBytes)")
        }
        let jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: output)))
        guard let (width, height) = JPEGSize.read(jpeg) else {
            throw VigilError(.failure, "ffmpeg's output is not a JPEG picture")
        }
        return Still(jpeg: jpeg, frameMicros: frameMicros, width: width, height: height, sha256: hex(SHA256.hash(data: jpeg)))
    }

    /// At most `slots` stills being made; up to `queue` more wait their turn, and beyond
    /// that asking is refused as busy.
    actor Gate {
        let slots: Int, queue: Int
        var running = 0
        var waiters: [CheckedContinuation<Void, Never>] = []

        init(slots: Int, queue: Int) {
            self.slots = max(1, slots)
            self.queue = queue
        }

        func enter() async throws {
            guard running >= slots else {
                running += 1
                return
            }
            guard waiters.count < queue else {
                throw VigilError(.busy(retryAfterSeconds: 5), "the server is making \(running + waiters.count) pictures: try again shortly")
            }
            await withCheckedContinuation { waiters.append($0) }
        }

        func leave() {
            if waiters.isEmpty {
                running -= 1
            } else {
                waiters.removeFirst().resume() // the slot passes to the next in line
            }
        }
    }
}

/// A JPEG's picture size, from its first start-of-frame marker; nil for anything that is
/// not a JPEG (no start-of-image, a segment running past the end, no frame header).
public enum JPEGSize {
    public static func read(_ b: [UInt8]) -> (width: Int, height: Int)? {
        guard b.count >= 4, b[0] == 0xFF, b[1] == 0xD8 else { return nil }
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xFF else { return nil }
            let marker = b[i + 1]
            if marker == 0xFF {
                i += 1 // fill byte
                continue
            }
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { return nil }
            // SOF0-SOF15, but DHT (C4), JPG (C8) and DAC (CC) share the range.
            if (0xC0...0xCF).contains(marker), ![0xC4, 0xC8, 0xCC].contains(marker) {
                guard length >= 7 else { return nil }
                let height = Int(b[i + 5]) << 8 | Int(b[i + 6]), width = Int(b[i + 7]) << 8 | Int(b[i + 8])
                return width > 0 && height > 0 ? (width, height) : nil
            }
            if marker == 0xDA || marker == 0xD9 { return nil } // the scan before any frame header
            i += 2 + length
        }
        return nil
    }
}
