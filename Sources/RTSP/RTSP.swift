// RTSP — pulling video from IP cameras.
//
// What belongs here: an RTSP 1.0 client (RFC 2326) over swift-nio with Basic and Digest
// authentication (RFC 2617), SDP parsing (RFC 4566), RTP/RTCP interleaved over the RTSP
// TCP connection (RFC 2326 §10.12), the H.264 and H.265 RTP depacketisers (RFC 6184,
// RFC 7798), camera quirks as named policies (`QuirkPolicies`), and how often a playing
// connection's socket is read (`ReadBatching`).
// What does not: storage, databases, clocks for wall time (the recorder stamps frames),
// anything about MP4.
// Invariants: bad bytes from a camera become an `RTSPError` that names the camera, the
// request and the byte offset — never a trap; every buffer is bounded (headers, bodies,
// access units), so a hostile or broken peer cannot grow memory without limit.

import Base

/// What went wrong talking to a camera, with enough context to find the packet.
public struct RTSPError: CodedError, Sendable {
    public enum Kind: Sendable, Equatable {
        case malformedMessage(String)
        case messageTooLarge(limit: Int)
        case junkBeforeFrame(byteCount: Int)
        case badStatus(status: Int, reason: String)
        case authenticationFailed
        case unsupportedAuthentication(String)
        case sdp(String)
        case noUsableVideoTrack(String)
        case transport(String)
        case rtp(String)
        case depacketization(String)
        case frameTooLarge(byteCount: Int)
        case connection(String)
        case timeout(String)
        case invalidURL(String)
    }

    public var kind: Kind

    /// A camera URL that does not parse is `invalid`; everything else is a camera or its
    /// network failing, not the fault of whoever asked.
    public var code: ErrorCode {
        if case .invalidURL = kind { .invalid } else { .failure }
    }

    /// The camera's name, when known.
    public var camera: String?
    /// The request in flight: method and URL with credentials removed.
    public var request: String?
    /// Byte offset in the connection's inbound stream.
    public var offset: Int64?

    public init(_ kind: Kind, camera: String? = nil, request: String? = nil, offset: Int64? = nil) {
        self.kind = kind
        self.camera = camera
        self.request = request
        self.offset = offset
    }

    public var description: String {
        var parts: [String] = []
        if let camera { parts.append("camera \(camera)") }
        if let request { parts.append("request \(request)") }
        if let offset { parts.append("byte \(offset)") }
        let context = parts.isEmpty ? "" : " [" + parts.joined(separator: ", ") + "]"
        return "\(kind)\(context)"
    }

    func with(camera: String?, request: String? = nil) -> RTSPError {
        var copy = self
        if copy.camera == nil { copy.camera = camera }
        if copy.request == nil { copy.request = request }
        return copy
    }
}
