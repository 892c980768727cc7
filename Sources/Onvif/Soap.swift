// SOAP 1.2 envelopes as ONVIF devices take them (ONVIF Core §5.6), the WS-Security
// UsernameToken with PasswordDigest they authenticate (WS-Security UsernameToken Profile
// 1.0 §3.1; ONVIF Core §5.12.2), and a reply's body or fault (SOAP 1.2 Part 1 §5.4).

import Base
import Crypto
import Foundation

/// A device account's credentials, as a UsernameToken. Printing one never shows the password.
public struct UsernameToken: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "UsernameToken(\(username), password hidden)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["username": username]) }

    /// `Base64(SHA-1(nonce ‖ created ‖ password))`: the password never crosses the network.
    public static func digest(nonce: [UInt8], created: String, password: String) -> String {
        var sha1 = Insecure.SHA1()
        sha1.update(data: nonce)
        sha1.update(data: Array(created.utf8))
        sha1.update(data: Array(password.utf8))
        return Data(sha1.finalize()).base64EncodedString()
    }

    /// The `wsse:Security` header for one request. `nonce`: fresh random bytes each time;
    /// `created`: the device's time now (`DeviceTime`), as `2026-12-02T05:00:00Z`.
    public func header(nonce: [UInt8], created: String) -> String {
        let digest = Self.digest(nonce: nonce, created: created, password: password)
        return """
            <wsse:Security s:mustUnderstand="1" xmlns:wsse="\(OnvifNamespace.security)" xmlns:wsu="\(OnvifNamespace.utility)">\
            <wsse:UsernameToken><wsse:Username>\(Soap.escape(username))</wsse:Username>\
            <wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest">\(digest)</wsse:Password>\
            <wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">\(Data(nonce).base64EncodedString())</wsse:Nonce>\
            <wsu:Created>\(Soap.escape(created))</wsu:Created></wsse:UsernameToken></wsse:Security>
            """
    }
}

public enum Soap {
    /// A device's text as it may appear in an error: at most `bytes` bytes, control
    /// characters shown as `?`.
    public static func clip(_ text: String, _ bytes: Int = 80) -> String {
        let cut = String(decoding: text.utf8.prefix(bytes), as: UTF8.self)
        let shown = String(String.UnicodeScalarView(cut.unicodeScalars.map { $0.properties.generalCategory == .control ? "?" : $0 }))
        return text.utf8.count > bytes ? shown + "…" : shown
    }

    /// Text for element content or an attribute value.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// A request: `body` is the operation's element, with its namespace declared on it.
    public static func envelope(body: String, security: String? = nil) -> [UInt8] {
        let header = security.map { "<s:Header>\($0)</s:Header>" } ?? ""
        return Array(
            """
            <?xml version="1.0" encoding="UTF-8"?>\
            <s:Envelope xmlns:s="\(OnvifNamespace.soap)">\(header)<s:Body>\(body)</s:Body></s:Envelope>
            """.utf8)
    }

    /// The element a reply's body holds, which must be `expected` (the operation's
    /// response element); a fault is thrown as `OnvifError.fault`.
    public static func responseBody(
        _ reply: [UInt8], action: String, expected: (namespace: String, name: String), limits: XMLLimits = XMLLimits()
    ) throws -> OnvifElement {
        let envelope = try XMLTree.parse(reply, action: action, limits: limits)
        guard envelope.namespace == OnvifNamespace.soap, envelope.name == "Envelope" else {
            throw OnvifError.malformed(
                action: action, reason: "not a SOAP 1.2 envelope (<\(clip(envelope.name))> in \(clip(envelope.namespace)))")
        }
        guard let body = envelope.child(OnvifNamespace.soap, "Body") else {
            throw OnvifError.malformed(action: action, reason: "an envelope without a Body")
        }
        if let fault = body.child(OnvifNamespace.soap, "Fault") { throw Self.fault(fault, action: action) }
        guard let response = body.child(expected.namespace, expected.name) else {
            let found = body.children.first.map { "<\(clip($0.name))>" } ?? "nothing"
            throw OnvifError.malformed(action: action, reason: "expected <\(expected.name)> in the Body, found \(found)")
        }
        return response
    }

    /// A SOAP 1.2 fault: its code (`env:Sender`…), the innermost subcode's local name
    /// (`ter:NotAuthorized` → `NotAuthorized`), and its first reason text.
    static func fault(_ fault: OnvifElement, action: String) -> OnvifError {
        let ns = OnvifNamespace.soap
        let code = fault.path(ns, "Code", "Value").map { localName($0.text) } ?? "unknown"
        var subcode: String?
        var node = fault.child(ns, "Code")?.child(ns, "Subcode")
        var depth = 0
        while let current = node, depth < 8 {
            if let value = current.child(ns, "Value") { subcode = localName(value.text) }
            node = current.child(ns, "Subcode")
            depth += 1
        }
        let reason = fault.path(ns, "Reason", "Text")?.text ?? ""
        return .fault(action: action, code: clip(code, 64), subcode: subcode.map { clip($0, 64) }, reason: clip(reason, 300))
    }

    static func localName(_ qualified: String) -> String {
        String(qualified.split(separator: ":").last ?? Substring(qualified))
    }
}
