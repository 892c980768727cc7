// CameraSim — simulated RTSP cameras for the demo, tests and benchmarks.
//
// What belongs here: an RTSP 1.0 server (RFC 2326) that serves any number of cameras
// (`/cam1`, `/cam2`, …) from one encoded clip (or, for a PTZ dome, its live picture that
// follows where it points: `LiveDome`), looping it with fresh, paced RTP
// timestamps over TCP-interleaved RTP, with optional Digest authentication; packetised
// exactly as cameras do (RFC 6184 STAP-A + FU-A, RFC 7798 AP + FU), so it exercises the
// same depacketiser paths as the field.
// Also the clips it serves: `ClipMaker` encodes them once with ffmpeg (the only place Vigil
// encodes video) into the user's cache.
// What does not: recording, anything the recorder needs to know about (it is a peer).
// Invariants: a slow client never grows the server's memory without bound (writes to a
// connection whose socket is not writable are dropped frame by frame, as a camera would);
// frame n of a session is sent at start + n/fps and stamped base + n·90000/fps (a live
// dome's pictures are sent as its encoder makes them, picture k stamped
// base + (k − the first sent)·90000/fps).

import Base
import Foundation
import Media
import NIOCore
import NIOPosix
import RTSP

/// An encoded clip split into access units and pre-packetised into RTP payloads.
public struct SimulatedClip: Sendable {
    public let codec: VideoCodec
    public let parameters: VideoParameters
    /// For each access unit: its RTP payloads, in order.
    public let payloads: [[[UInt8]]]
    public let keyFrames: Int

    /// Largest RTP payload, like a camera's 1400-byte MTU budget.
    public static let maxPayload = 1400

    /// Loads an Annex B elementary stream (`.h264` or `.h265`). The first access units
    /// must carry the parameter sets, as encoders write them.
    public init(annexB bytes: [UInt8], codec: VideoCodec) throws {
        self.codec = codec
        let units = NALUnits.accessUnits(codec: codec, annexB: bytes)
        parameters = try VideoParameters(firstParameterSetsIn: bytes, codec: codec)
        guard let first = units.first, first.contains(where: { NALUnits.isKeySlice(codec: codec, header: $0.first!) }) else {
            throw MediaError.invalid(what: "clip", detail: "the clip must start with a key frame")
        }
        var keys = 0
        payloads = units.map { unit in
            if unit.contains(where: { NALUnits.isKeySlice(codec: codec, header: $0.first!) }) { keys += 1 }
            return Self.packetize(unit.map(Array.init), codec: codec)
        }
        keyFrames = keys
    }

    public static func load(path: String) throws -> SimulatedClip {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw MediaError.io(path: path, errno: ENOENT)
        }
        let codec: VideoCodec = path.lowercased().hasSuffix(".h265") || path.lowercased().hasSuffix(".hevc") ? .h265 : .h264
        return try SimulatedClip(annexB: [UInt8](data), codec: codec)
    }

    /// Aggregates parameter sets into one STAP-A/AP packet, fragments large NAL units.
    public static func packetize(_ nals: [[UInt8]], codec: VideoCodec) -> [[UInt8]] {
        var packets: [[UInt8]] = []
        var aggregate: [[UInt8]] = []
        func flushAggregate() {
            guard !aggregate.isEmpty else { return }
            if aggregate.count == 1 {
                packets.append(aggregate[0])
            } else {
                var p: [UInt8]
                switch codec {
                case .h264:
                    let nri = aggregate.map { $0[0] & 0x60 }.max() ?? 0
                    p = [nri | 24]
                case .h265:
                    p = [48 << 1, 1] // AP, layer 0, TID 1
                }
                for nal in aggregate {
                    p.appendBigEndian(UInt16(nal.count))
                    p += nal
                }
                packets.append(p)
            }
            aggregate = []
        }
        for nal in nals {
            let isParameterSet: Bool =
                codec == .h264
                ? [H264.NALType.sps, H264.NALType.pps].contains(H264.nalType(nal[0]))
                : (32...34).contains(H265.nalType(nal[0]))
            if isParameterSet {
                aggregate.append(nal)
                continue
            }
            flushAggregate()
            if nal.count <= maxPayload {
                packets.append(nal)
                continue
            }
            switch codec {
            case .h264:
                let indicator = (nal[0] & 0xE0) | 28
                let type = nal[0] & 0x1F
                var offset = 1
                while offset < nal.count {
                    let end = min(nal.count, offset + maxPayload - 2)
                    var fu: UInt8 = type
                    if offset == 1 { fu |= 0x80 }
                    if end == nal.count { fu |= 0x40 }
                    packets.append([indicator, fu] + nal[offset..<end])
                    offset = end
                }
            case .h265:
                let type = H265.nalType(nal[0])
                let header0 = (nal[0] & 0x81) | (49 << 1)
                var offset = 2
                while offset < nal.count {
                    let end = min(nal.count, offset + maxPayload - 3)
                    var fu: UInt8 = type
                    if offset == 2 { fu |= 0x80 }
                    if end == nal.count { fu |= 0x40 }
                    packets.append([header0, nal[1], fu] + nal[offset..<end])
                    offset = end
                }
            }
        }
        flushAggregate()
        return packets
    }

    /// The `a=rtpmap`/`a=fmtp` lines for this clip (RFC 6184 §8.1, RFC 7798 §7.1).
    public var sdpMediaLines: [String] {
        func b64(_ b: [UInt8]) -> String { Data(b).base64EncodedString() }
        switch codec {
        case .h264:
            let profile = parameters.sps[1...3].map { String(format: "%02X", $0) }.joined()
            return [
                "a=rtpmap:96 H264/90000",
                "a=fmtp:96 packetization-mode=1;profile-level-id=\(profile);sprop-parameter-sets=\(b64(parameters.sps)),\(b64(parameters.pps))"
            ]
        case .h265:
            return [
                "a=rtpmap:96 H265/90000",
                "a=fmtp:96 sprop-vps=\(b64(parameters.vps ?? []));sprop-sps=\(b64(parameters.sps));sprop-pps=\(b64(parameters.pps))"
            ]
        }
    }
}

/// Configuration of a simulator instance.
public struct SimulatorConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 8554
    public var cameras = 1
    public var framesPerSecond = 25
    /// When set, every request must carry Digest credentials for this user.
    public var credentials: (user: String, password: String)?
    /// When set, each camera that loops the clip has a sub-stream, `/camNsub`, looping this one.
    public var subClip: SimulatedClip?

    public init() {}
}

/// The running simulator. `close()` stops it and drops every connection.
public final class CameraSimulator: Sendable {
    public let port: Int
    private let channel: any Channel

    private init(port: Int, channel: any Channel) {
        self.port = port
        self.channel = channel
    }

    /// Serves the cameras: each loops `clip`, but those in `live` (by camera number, from
    /// 1), whose picture is their dome's; `subLive` are the domes' sub-streams (`/camNsub`).
    public static func start(
        clip: SimulatedClip, configuration: SimulatorConfiguration, live: [Int: LiveDome] = [:], subLive: [Int: LiveDome] = [:]
    ) async throws -> CameraSimulator {
        let nonce = randomHex(bytes: 16)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.writeBufferWaterMark, value: .init(low: 256 * 1024, high: 1024 * 1024))
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        SimulatedCameraHandler(clip: clip, configuration: configuration, nonce: nonce, live: live, subLive: subLive))
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return CameraSimulator(port: channel.localAddress?.port ?? configuration.port, channel: channel)
    }

    public func close() async {
        try? await channel.close()
    }

    /// Waits until the server channel closes.
    public func wait() async {
        try? await channel.closeFuture.get()
    }
}
