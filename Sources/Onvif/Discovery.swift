// WS-Discovery as ONVIF devices speak it (ONVIF Core §7.3, which takes WS-Discovery of
// April 2005 over SOAP 1.2 and UDP): the Probe a client sends to 239.255.255.250:3702 for
// NetworkVideoTransmitters, the ProbeMatches a device answers with, read into checked
// values, and both the other way round for the simulated cameras. A ProbeMatches is a
// stranger's datagram: it is parsed with the same strict tree and tighter limits, must
// answer this probe's MessageID, and each of its values is checked before it is shown.

import Base
import Foundation

public enum DiscoveryNamespace {
    public static let addressing = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
    public static let discovery = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
    /// Where `NetworkVideoTransmitter`, the type ONVIF devices declare, lives.
    public static let network = "http://www.onvif.org/ver10/network/wsdl"
}

/// One device that answered a probe, as it described itself.
public struct DiscoveredDevice: Sendable, Equatable, Codable {
    /// Its endpoint reference (`urn:uuid:…`): stable across its addresses.
    public var endpoint: String
    /// Its device service's addresses (`XAddrs`), http and https only.
    public var addresses: [String]
    /// Its types as written (`dn:NetworkVideoTransmitter tds:Device`).
    public var types: [String]
    /// Its scopes (`onvif://www.onvif.org/name/…`).
    public var scopes: [String]
    /// From its scopes: the name, hardware and location it was given, decoded.
    public var name: String?
    public var hardware: String?
    public var location: String?
    /// The address the answer came from (filled in by the probe).
    public var from: String
    /// Another host answered with the same endpoint reference (filled in by the probe):
    /// one of them may be answering in the other's name.
    public var contested = false

    public init(
        endpoint: String, addresses: [String], types: [String] = [], scopes: [String] = [], name: String? = nil,
        hardware: String? = nil, location: String? = nil, from: String = ""
    ) {
        self.endpoint = endpoint
        self.addresses = addresses
        self.types = types
        self.scopes = scopes
        self.name = name
        self.hardware = hardware
        self.location = location
        self.from = from
    }
}

public enum WSDiscovery {
    public static let multicastGroup = "239.255.255.250"
    public static let port = 3702
    static let probeAction = "http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe"
    static let matchesAction = "http://schemas.xmlsoap.org/ws/2005/04/discovery/ProbeMatches"
    static let anonymous = "http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous"
    static let discoveryTarget = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

    /// A datagram is at most 64 KiB; a reply's tree is kept small.
    static var limits: XMLLimits {
        var l = XMLLimits()
        l.bytes = 65_535
        l.elements = 2_000
        l.depth = 16
        l.textPerElement = 8 << 10
        l.retainedBytes = 256 << 10
        return l
    }
    /// What one answer may name: more is cut, longer is refused.
    public static let maxMatches = 32
    static let maxAddresses = 8
    static let maxScopes = 64
    static let maxValueBytes = 512

    /// A fresh `urn:uuid:` for a message.
    public static func messageID() -> String { "urn:uuid:" + UUID().uuidString.lowercased() }

    /// The Probe for ONVIF video transmitters, as UTF-8.
    public static func probe(messageID: String) -> [UInt8] {
        Array(
            """
            <?xml version="1.0" encoding="UTF-8"?>\
            <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="\(DiscoveryNamespace.addressing)" \
            xmlns:d="\(DiscoveryNamespace.discovery)" xmlns:dn="\(DiscoveryNamespace.network)">\
            <s:Header><a:Action s:mustUnderstand="1">\(probeAction)</a:Action>\
            <a:MessageID>\(Soap.escape(messageID))</a:MessageID>\
            <a:ReplyTo><a:Address>\(anonymous)</a:Address></a:ReplyTo>\
            <a:To s:mustUnderstand="1">\(discoveryTarget)</a:To></s:Header>\
            <s:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></s:Body></s:Envelope>
            """.utf8)
    }

    /// The devices a ProbeMatches datagram names, if it answers the probe `messageID`.
    /// Anything else (not a ProbeMatches, another probe's answer, a value out of bounds)
    /// is an `OnvifError` naming what was wrong.
    public static func probeMatches(_ datagram: [UInt8], answering messageID: String) throws -> [DiscoveredDevice] {
        let action = "ProbeMatches"
        let (header, body) = try envelope(datagram, action: action)
        let relatesTo = header.child(DiscoveryNamespace.addressing, "RelatesTo")?.text.trimmingCharacters(in: .whitespaces)
        guard relatesTo == messageID else {
            throw OnvifError.malformed(action: action, reason: "it answers another probe (\(Soap.clip(relatesTo ?? "none")))")
        }
        guard let matches = body.child(DiscoveryNamespace.discovery, "ProbeMatches") else {
            let found = body.children.first.map { "<\(Soap.clip($0.name))>" } ?? "nothing"
            throw OnvifError.malformed(action: action, reason: "expected <ProbeMatches> in the Body, found \(found)")
        }
        return try matches.children(DiscoveryNamespace.discovery, "ProbeMatch").prefix(maxMatches).map { try device($0) }
    }

    static func device(_ match: OnvifElement) throws -> DiscoveredDevice {
        let action = "ProbeMatches"
        let d = DiscoveryNamespace.discovery
        guard let endpoint = match.path(DiscoveryNamespace.addressing, "EndpointReference", "Address")?.text else {
            throw OnvifError.malformed(action: action, reason: "a match without an endpoint reference")
        }
        let reference = try value(endpoint, "endpoint reference")
        guard !reference.isEmpty else { throw OnvifError.malformed(action: action, reason: "an empty endpoint reference") }
        let addresses = try words(match.child(d, "XAddrs")?.text ?? "", "XAddrs", limit: maxAddresses).filter { text in
            guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty else { return false }
            return ["http", "https"].contains(url.scheme?.lowercased() ?? "")
        }
        let types = try words(match.child(d, "Types")?.text ?? "", "Types", limit: 16)
        let scopes = try words(match.child(d, "Scopes")?.text ?? "", "Scopes", limit: maxScopes)
        func scope(_ kind: String) -> String? {
            let prefix = "onvif://www.onvif.org/\(kind)/"
            let found = scopes.first { $0.lowercased().hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
            guard let raw = found, !raw.isEmpty else { return nil }
            let decoded = raw.removingPercentEncoding ?? raw
            // A decoded control character or line break would reach a page or a terminal,
            // and a format character (a right-to-left override) would disguise the name.
            guard !decoded.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) }) else {
                return nil
            }
            return String(decoded.prefix(128))
        }
        return DiscoveredDevice(
            endpoint: reference, addresses: addresses, types: types, scopes: scopes, name: scope("name"),
            hardware: scope("hardware"), location: scope("location"))
    }

    /// The MessageID of a Probe datagram and whether it asks for video transmitters (a
    /// probe without types asks for every device), for a device answering it.
    public static func probeRequest(_ datagram: [UInt8]) throws -> (messageID: String, wantsVideo: Bool) {
        let action = "Probe"
        let (header, body) = try envelope(datagram, action: action)
        guard let probe = body.child(DiscoveryNamespace.discovery, "Probe") else {
            throw OnvifError.malformed(action: action, reason: "not a Probe")
        }
        guard let id = header.child(DiscoveryNamespace.addressing, "MessageID")?.text, !id.isEmpty else {
            throw OnvifError.malformed(action: action, reason: "a probe without a MessageID")
        }
        let types = try words(probe.child(DiscoveryNamespace.discovery, "Types")?.text ?? "", "Types", limit: 16)
        // Types are qualified names; their prefixes are the sender's, so the local name is
        // what can be compared here.
        let wantsVideo = types.isEmpty || types.contains { Soap.localName($0) == "NetworkVideoTransmitter" }
        return (try value(id, "MessageID"), wantsVideo)
    }

    /// A ProbeMatches answering `relatesTo` with `devices` (at most 32, as a reader keeps).
    public static func probeMatches(relatesTo: String, devices: [DiscoveredDevice], messageNumber: Int) -> [UInt8] {
        let matches = devices.prefix(maxMatches).map { device in
            """
            <d:ProbeMatch><a:EndpointReference><a:Address>\(Soap.escape(device.endpoint))</a:Address></a:EndpointReference>\
            <d:Types>\(Soap.escape(device.types.joined(separator: " ")))</d:Types>\
            <d:Scopes>\(Soap.escape(device.scopes.joined(separator: " ")))</d:Scopes>\
            <d:XAddrs>\(Soap.escape(device.addresses.joined(separator: " ")))</d:XAddrs>\
            <d:MetadataVersion>1</d:MetadataVersion></d:ProbeMatch>
            """
        }.joined()
        return Array(
            """
            <?xml version="1.0" encoding="UTF-8"?>\
            <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="\(DiscoveryNamespace.addressing)" \
            xmlns:d="\(DiscoveryNamespace.discovery)" xmlns:dn="\(DiscoveryNamespace.network)" \
            xmlns:tds="http://www.onvif.org/ver10/device/wsdl">\
            <s:Header><a:Action>\(matchesAction)</a:Action><a:MessageID>\(messageID())</a:MessageID>\
            <a:RelatesTo>\(Soap.escape(relatesTo))</a:RelatesTo><a:To>\(anonymous)</a:To>\
            <d:AppSequence InstanceId="1" MessageNumber="\(messageNumber)"/></s:Header>\
            <s:Body><d:ProbeMatches>\(matches)</d:ProbeMatches></s:Body></s:Envelope>
            """.utf8)
    }

    static func envelope(_ datagram: [UInt8], action: String) throws -> (header: OnvifElement, body: OnvifElement) {
        let root = try XMLTree.parse(datagram, action: action, limits: limits)
        guard root.namespace == OnvifNamespace.soap, root.name == "Envelope" else {
            throw OnvifError.malformed(action: action, reason: "not a SOAP 1.2 envelope")
        }
        guard let body = root.child(OnvifNamespace.soap, "Body") else {
            throw OnvifError.malformed(action: action, reason: "an envelope without a Body")
        }
        return (root.child(OnvifNamespace.soap, "Header") ?? OnvifElement(namespace: OnvifNamespace.soap, name: "Header"), body)
    }

    /// A single value, trimmed, without control characters and within bounds.
    static func value(_ text: String, _ what: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard trimmed.utf8.count <= maxValueBytes else {
            throw OnvifError.malformed(action: "ProbeMatches", reason: "\(what) longer than \(maxValueBytes) bytes")
        }
        guard !trimmed.unicodeScalars.contains(where: { [.control, .format].contains($0.properties.generalCategory) }) else {
            throw OnvifError.malformed(action: "ProbeMatches", reason: "\(what) with a control or format character")
        }
        return trimmed
    }

    /// A space-separated list (XML Schema's list type), each item checked, at most `limit`.
    static func words(_ text: String, _ what: String, limit: Int) throws -> [String] {
        let items = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).prefix(limit)
        return try items.map { try value(String($0), what) }
    }
}
