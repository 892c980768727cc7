// The Media service (ONVIF Media Service Specification, ver10 WSDL): a device's profiles
// and the RTSP URI of one, which onboarding records as the camera's stream.

public struct MediaProfile: Sendable, Equatable {
    public var token: String
    public var name: String
    /// `H264`, `H265`, `JPEG`… as the device names its encoder; nil without one.
    public var encoding: String?
    public var width: Int?
    public var height: Int?
    /// The PTZ node this profile steers, when it has a PTZ configuration.
    public var ptzNode: String?
}

public enum MediaRequests {
    static let ns = OnvifNamespace.media
    static let tt = OnvifNamespace.schema

    public static func getProfiles() -> String { #"<trt:GetProfiles xmlns:trt="\#(ns)"/>"# }

    /// An RTSP URI over RTP/RTSP/TCP (interleaved): what Vigil's recorder uses.
    public static func getStreamUri(profile: String) -> String {
        #"<trt:GetStreamUri xmlns:trt="\#(ns)" xmlns:tt="\#(tt)"><trt:StreamSetup><tt:Stream>RTP-Unicast</tt:Stream>"#
            + #"<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup>"#
            + #"<trt:ProfileToken>\#(Soap.escape(profile))</trt:ProfileToken></trt:GetStreamUri>"#
    }

    public static func getSnapshotUri(profile: String) -> String {
        #"<trt:GetSnapshotUri xmlns:trt="\#(ns)"><trt:ProfileToken>\#(Soap.escape(profile))</trt:ProfileToken></trt:GetSnapshotUri>"#
    }
}

public enum MediaReplies {
    static let ns = OnvifNamespace.media
    static let tt = OnvifNamespace.schema

    public static func profiles(_ reply: [UInt8]) throws -> [MediaProfile] {
        let action = "GetProfiles"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "GetProfilesResponse"))
        return try response.children(ns, "Profiles").map { profile in
            guard let token = profile.attributes["token"], !token.isEmpty, token.utf8.count <= 64 else {
                throw OnvifError.malformed(action: action, reason: "a profile without a token (or one over 64 characters)")
            }
            let encoder = profile.child(tt, "VideoEncoderConfiguration")
            func dimension(_ name: String) throws -> Int? {
                guard let text = encoder?.path(tt, "Resolution", name)?.text else { return nil }
                guard let value = Int(text), (1...16_384).contains(value) else {
                    throw OnvifError.malformed(action: action, reason: "profile \(token): \(name) \(Soap.clip(text, 20))")
                }
                return value
            }
            let node = profile.path(tt, "PTZConfiguration", "NodeToken")?.text
            return MediaProfile(
                token: token, name: PTZReplies.name(profile.child(tt, "Name")),
                encoding: encoder?.child(tt, "Encoding").map { String(decoding: $0.text.utf8.prefix(16), as: UTF8.self) },
                width: try dimension("Width"), height: try dimension("Height"),
                ptzNode: node.flatMap { $0.isEmpty || $0.utf8.count > 64 ? nil : $0 })
        }
    }

    /// The stream's URI: `rtsp://` (or `rtsps://`), no whitespace or control character (it
    /// goes into an RTSP request line), and with any `user:password@` the device put in it
    /// removed (credentials are kept apart, sealed; never in a URL). Errors never show it.
    public static func streamURI(_ reply: [UInt8]) throws -> String {
        try mediaURI(reply, action: "GetStreamUri", schemes: ["rtsp", "rtsps"])
    }

    /// A JPEG snapshot's URI (`http://` or `https://`), cleaned as `streamURI` is.
    public static func snapshotURI(_ reply: [UInt8]) throws -> String {
        try mediaURI(reply, action: "GetSnapshotUri", schemes: ["http", "https"])
    }

    static func mediaURI(_ reply: [UInt8], action: String, schemes: [String]) throws -> String {
        let response = try Soap.responseBody(reply, action: action, expected: (ns, action + "Response"))
        guard let uri = response.path(ns, "MediaUri")?.child(tt, "Uri")?.text.trimmingWhitespace(), !uri.isEmpty else {
            throw OnvifError.malformed(action: action, reason: "no MediaUri/Uri")
        }
        guard uri.utf8.count <= 2048 else { throw OnvifError.malformed(action: action, reason: "a URI over 2048 bytes") }
        guard !uri.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || !$0.isASCII }) else {
            throw OnvifError.malformed(action: action, reason: "the URI holds whitespace, a control or a non-ASCII character")
        }
        let lower = uri.lowercased()
        guard let schemeEnd = uri.range(of: "://"), schemes.contains(where: { lower.hasPrefix($0 + "://") }) else {
            throw OnvifError.malformed(action: action, reason: "the URI is not \(schemes[0])://")
        }
        let rest = uri[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return uri }
        return String(uri[..<schemeEnd.upperBound]) + String(rest[rest.index(after: at)...])
    }
}
