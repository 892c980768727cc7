/// An `rtsp://[user[:password]@]host[:port]/path` URL split into what the client sends
/// (no credentials) and the credentials it answers challenges with. `description` never
/// shows the password, so the value is safe to log.
public struct RTSPURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var user: String?
    public var password: String?
    /// Path and query, starting with "/".
    public var pathAndQuery: String

    public init(_ string: String) throws {
        guard string.lowercased().hasPrefix("rtsp://") else {
            throw RTSPError(.invalidURL("scheme must be rtsp:// in \(Self.redact(string))"))
        }
        var rest = Substring(string.dropFirst(7))
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        var authority = rest[..<slash]
        rest = rest[slash...]
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = percentDecode(userInfo[..<colon])
                password = percentDecode(userInfo[userInfo.index(after: colon)...])
            } else {
                user = percentDecode(userInfo)
            }
        }
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            port = after.hasPrefix(":") ? Int(after.dropFirst()) ?? -1 : 554
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon])
            port = Int(authority[authority.index(after: colon)...]) ?? -1
        } else {
            host = String(authority)
            port = 554
        }
        guard !host.isEmpty, (1...65535).contains(port) else {
            throw RTSPError(.invalidURL("bad host or port in \(Self.redact(string))"))
        }
        pathAndQuery = rest.isEmpty ? "/" : String(rest)
    }

    /// The URL as sent on the wire: no user information.
    public var requestURL: String {
        let h = host.contains(":") ? "[\(host)]" : host
        return "rtsp://\(h):\(port)\(pathAndQuery)"
    }

    public var description: String { requestURL }

    /// Removes the user-information part of any URL-like string, for logs and errors.
    public static func redact(_ string: String) -> String {
        guard let scheme = string.range(of: "://") else { return string }
        let afterScheme = string[scheme.upperBound...]
        let end = afterScheme.firstIndex(of: "/") ?? afterScheme.endIndex
        guard let at = afterScheme[..<end].lastIndex(of: "@") else { return string }
        return String(string[..<scheme.upperBound]) + "***@" + afterScheme[afterScheme.index(after: at)...]
    }
}

func percentDecode<S: StringProtocol>(_ s: S) -> String {
    var bytes: [UInt8] = []
    var it = Array(s.utf8)[...]
    while let b = it.popFirst() {
        if b == UInt8(ascii: "%"), it.count >= 2,
            let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16)
        {
            bytes.append(v)
            it = it.dropFirst(2)
        } else {
            bytes.append(b)
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Resolves an SDP `a=control` value against the presentation's base URL
/// (RFC 2326 §C.1.1): "*" or empty means the base itself; an absolute URL stands alone.
public func resolveControl(_ control: String?, base: String) -> String {
    guard let control, !control.isEmpty, control != "*" else { return base }
    if control.lowercased().hasPrefix("rtsp://") || control.lowercased().hasPrefix("rtsps://") { return control }
    if base.hasSuffix("/") { return base + control }
    return base + "/" + control
}
