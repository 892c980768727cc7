/// How the client bends for cameras that do not follow the RFCs. Each field is one named,
/// documented behaviour seen on real devices; each has a fixture test in RTSPTests.
/// The defaults are the tolerant choices that work for every camera we have fixtures
/// for; a stricter value turns the quirk into an error.
public struct QuirkPolicies: Sendable, Equatable {
    /// Some cameras answer each SETUP and PLAY with a different `Session` id (the H264DVR
    /// fixtures: 231970, then 231980). RFC 2326 §12.37 says the id is fixed.
    public enum SessionIDPolicy: Sendable, Equatable {
        /// Keep using the first id the camera gave; later ones are ignored.
        case keepFirst
        /// Treat a changed id as an error.
        case requireStable
    }

    /// Where relative `a=control` URLs are resolved from when the DESCRIBE reply has no
    /// usable `Content-Base` (missing, or like Anjvision's "192.168.1.10:554/stream0/",
    /// lacking a scheme). RFC 2326 §C.1.1 falls back to Content-Location, then the
    /// request URL.
    public enum ContentBasePolicy: Sendable, Equatable {
        case fallBackToRequestURL
        case requireAbsolute
    }

    /// Bytes that are neither an RTSP message nor a `$`-framed interleaved packet (some
    /// firmware pads or leaks stale data between frames).
    public enum JunkPolicy: Sendable, Equatable {
        /// Skip forward to the next `$` or `RTSP/`, at most this many bytes at a time.
        case skip(maxBytes: Int)
        case reject
    }

    /// Interleaved RTP that arrives before the camera's reply to PLAY (the camera starts
    /// sending as soon as it has processed the request).
    public enum EarlyDataPolicy: Sendable, Equatable {
        /// Keep the packets and hand them on once PLAY succeeds.
        case keep
        case drop
    }

    /// `sprop-parameter-sets` that do not decode to a usable SPS/PPS: Annex B start codes
    /// inside the base64 (GW Security), missing padding, or garbage.
    public enum ParameterSetPolicy: Sendable, Equatable {
        /// Repair what can be repaired (split on start codes, pad base64); if the result
        /// is still unusable, ignore it and wait for in-band parameter sets.
        case repairOrWaitForInBand
        /// Treat an unusable `sprop-parameter-sets` as an error.
        case reject
    }

    /// `RTP-Info` timestamps that are not 32-bit unsigned numbers (`rtptime=-1`, Wowza).
    public enum RTPInfoPolicy: Sendable, Equatable {
        case ignoreInvalid
        case reject
    }

    public var sessionID: SessionIDPolicy = .keepFirst
    public var contentBase: ContentBasePolicy = .fallBackToRequestURL
    public var junk: JunkPolicy = .skip(maxBytes: 64 * 1024)
    public var earlyData: EarlyDataPolicy = .keep
    public var parameterSets: ParameterSetPolicy = .repairOrWaitForInBand
    public var rtpInfo: RTPInfoPolicy = .ignoreInvalid

    public init() {}

    /// Every quirk turned into an error: for tests and for diagnosing a camera.
    public static let strict: QuirkPolicies = {
        var p = QuirkPolicies()
        p.sessionID = .requireStable
        p.contentBase = .requireAbsolute
        p.junk = .reject
        p.earlyData = .drop
        p.parameterSets = .reject
        p.rtpInfo = .reject
        return p
    }()
}
