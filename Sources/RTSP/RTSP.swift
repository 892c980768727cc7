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

    /// What went wrong, in words for an operator (a camera tile, the camera list): the
    /// kind without the byte offsets and requests that `description` keeps for the log.
    public var reason: String {
        switch kind {
        case let .malformedMessage(what): "the camera sent a message Vigil cannot read (\(what))"
        case let .messageTooLarge(limit): "the camera sent a message over \(limit) bytes"
        case let .junkBeforeFrame(count): "the camera sent \(count) bytes of noise"
        case let .badStatus(status, text): "the camera refused the stream: \(status) \(text)"
        case .authenticationFailed: "the camera refused Vigil's user name or password"
        case let .unsupportedAuthentication(what): "the camera asks for a sign-in Vigil does not speak (\(what))"
        case let .sdp(what): "the camera described its stream in a form Vigil cannot read (\(what))"
        case let .noUsableVideoTrack(what): "the camera offers no H.264 or H.265 video (\(what))"
        case let .transport(what): "the camera refused the stream's transport (\(what))"
        case let .rtp(what), let .depacketization(what): "the camera's video packets are damaged (\(what))"
        case let .frameTooLarge(count): "the camera sent a picture of \(count) bytes, over the limit"
        case let .connection(what): "the camera cannot be reached (\(Self.cause(of: what)))"
        case let .timeout(what): "the camera stopped answering (\(what))"
        case let .invalidURL(what): "the camera's address is not valid (\(what))"
        }
    }

    /// A network failure's cause in a few words: a socket library's error text is for the log.
    static func cause(of text: String) -> String {
        let lower = text.lowercased()
        if lower.contains("refused") { return "connection refused: nothing listens at its address" }
        if lower.contains("timed out") || lower.contains("timeout") { return "no answer in time" }
        if lower.contains("no route") || lower.contains("unreachable") { return "no route to its network" }
        if lower.contains("resolve") || lower.contains("not known") || lower.contains("nodename") { return "its host name is unknown" }
        if lower.contains("reset") { return "the connection was reset" }
        if lower == "session ended" { return "it ended the session" }
        return "the connection failed"
    }

    func with(camera: String?, request: String? = nil) -> RTSPError {
        var copy = self
        if copy.camera == nil { copy.camera = camera }
        if copy.request == nil { copy.request = request }
        return copy
    }
}
