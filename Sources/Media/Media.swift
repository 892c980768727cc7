// Media — codecs and containers, with no I/O of its own.
//
// What belongs here: parsing codec parameter sets (H.264 SPS/PPS, H.265 VPS/SPS/PPS),
// the encoded-frame and sample-index types every other module shares, and the ISO BMFF
// writer (progressive MP4 with co64, fragmented MP4 init + media segments) that turns a
// per-frame index plus byte ranges of sample files into a playable file.
// What does not: sockets, databases, clocks, the file system (a `VirtualMP4` names
// byte ranges of files; reading them is the caller's job or `VirtualMP4.read`'s, which
// uses only POSIX `pread`).
// Invariants: frames are stored exactly as received (length-prefixed NAL units, no
// re-encoding); timestamps are 90 kHz ticks; every parser rejects bad input with a
// `MediaError` that says what and where, never a trap.

import Base

/// Errors of the Media module: each names the structure and the byte offset that broke.
public enum MediaError: CodedError, Equatable {
    case truncated(what: String, offset: Int)
    case invalid(what: String, detail: String)
    case unsupported(what: String, detail: String)
    case io(path: String, errno: Int32)

    /// Bytes that do not parse are `invalid`; a file that cannot be read is a `failure`.
    public var code: ErrorCode {
        if case .io = self { .failure } else { .invalid }
    }

    public var description: String {
        switch self {
        case let .truncated(what, offset): "\(what): truncated at byte \(offset)"
        case let .invalid(what, detail): "\(what): \(detail)"
        case let .unsupported(what, detail): "\(what) unsupported: \(detail)"
        case let .io(path, errno): "I/O error on \(path): errno \(errno)"
        }
    }
}

/// The video codecs Vigil records. Cameras in the field send one of these two.
public enum VideoCodec: String, Sendable, Codable, Equatable {
    case h264 = "H264"
    case h265 = "H265"
}

/// A timestamp in 90 kHz units (RFC 6184 §5.1 / RFC 7798 §4.1: video RTP clock),
/// extended to 64 bits so that it never wraps.
public typealias Ticks90k = Int64

public let ticksPerSecond: Ticks90k = 90_000

/// One encoded access unit (a picture) as stored on disk: NAL units each preceded by a
/// 4-byte big-endian length (ISO/IEC 14496-15 §5.3.2, `lengthSizeMinusOne = 3`).
public struct EncodedFrame: Sendable, Equatable {
    /// Presentation time in 90 kHz ticks, extended past 32-bit RTP wrap.
    public var timestamp: Ticks90k
    /// True for an IDR (H.264) or IRAP (H.265) picture: decoding can start here.
    public var isKey: Bool
    /// Length-prefixed NAL units.
    public var data: [UInt8]

    public init(timestamp: Ticks90k, isKey: Bool, data: [UInt8]) {
        self.timestamp = timestamp
        self.isKey = isKey
        self.data = data
    }
}
