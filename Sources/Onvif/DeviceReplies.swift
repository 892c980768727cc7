// The Device service (ONVIF Core §8, ver10 device WSDL): what a device is
// (GetDeviceInformation) and where its other services answer (GetCapabilities, the older
// way every ONVIF device has, and GetServices, the newer one).

public struct DeviceInformation: Sendable, Equatable {
    public var manufacturer: String
    public var model: String
    public var firmware: String
    public var serialNumber: String
    public var hardwareID: String
}

/// Where a device's services answer: the path of each on the device's own host (see
/// `OnvifEndpoint.resolve`), by service.
public struct ServiceAddresses: Sendable, Equatable {
    public var media: String?
    public var ptz: String?
    public init(media: String? = nil, ptz: String? = nil) {
        self.media = media
        self.ptz = ptz
    }
}

public enum DeviceRequests {
    static let ns = OnvifNamespace.device

    public static func getDeviceInformation() -> String { #"<tds:GetDeviceInformation xmlns:tds="\#(ns)"/>"# }

    public static func getCapabilities() -> String {
        #"<tds:GetCapabilities xmlns:tds="\#(ns)"><tds:Category>All</tds:Category></tds:GetCapabilities>"#
    }

    public static func getServices() -> String {
        #"<tds:GetServices xmlns:tds="\#(ns)"><tds:IncludeCapability>false</tds:IncludeCapability></tds:GetServices>"#
    }
}

public enum DeviceReplies {
    static let ns = OnvifNamespace.device
    static let tt = OnvifNamespace.schema

    public static func deviceInformation(_ reply: [UInt8]) throws -> DeviceInformation {
        let response = try Soap.responseBody(reply, action: "GetDeviceInformation", expected: (ns, "GetDeviceInformationResponse"))
        func field(_ name: String) -> String { PTZReplies.name(response.child(ns, name)) }
        return DeviceInformation(
            manufacturer: field("Manufacturer"), model: field("Model"), firmware: field("FirmwareVersion"),
            serialNumber: field("SerialNumber"), hardwareID: field("HardwareId"))
    }

    /// The Media and PTZ services' addresses from `GetCapabilities` (either may be absent:
    /// a fixed camera has no PTZ).
    public static func capabilities(_ reply: [UInt8]) throws -> ServiceAddresses {
        let action = "GetCapabilities"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "GetCapabilitiesResponse"))
        guard let capabilities = response.child(ns, "Capabilities") else {
            throw OnvifError.malformed(action: action, reason: "no Capabilities")
        }
        return ServiceAddresses(
            media: try capabilities.path(tt, "Media", "XAddr").map { try address($0.text, action: action) },
            ptz: try capabilities.path(tt, "PTZ", "XAddr").map { try address($0.text, action: action) })
    }

    /// The same from `GetServices`, by each service's namespace.
    public static func services(_ reply: [UInt8]) throws -> ServiceAddresses {
        let action = "GetServices"
        let response = try Soap.responseBody(reply, action: action, expected: (ns, "GetServicesResponse"))
        var found = ServiceAddresses()
        for service in response.children(ns, "Service") {
            guard let namespace = service.child(ns, "Namespace")?.text, let xaddr = service.child(ns, "XAddr")?.text else {
                throw OnvifError.malformed(action: action, reason: "a Service without a Namespace or an XAddr")
            }
            switch namespace.trimmingWhitespace() {
            case OnvifNamespace.media: found.media = try address(xaddr, action: action)
            case OnvifNamespace.ptz: found.ptz = try address(xaddr, action: action)
            default: continue
            }
        }
        return found
    }

    /// A service's address as a device gave it: an absolute http(s) URL of at most 1024
    /// bytes with no whitespace inside, control or non-ASCII character. Only its path is
    /// used (`OnvifEndpoint.resolve`).
    static func address(_ text: String, action: String) throws -> String {
        let xaddr = text.trimmingWhitespace()
        guard xaddr.utf8.count <= 1024, !xaddr.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7F || !$0.isASCII })
        else {
            throw OnvifError.malformed(
                action: action, reason: "a service address over 1024 bytes, or with whitespace, a control or a non-ASCII character")
        }
        let lower = xaddr.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") else {
            throw OnvifError.malformed(action: action, reason: "a service address that is not http(s)://")
        }
        return xaddr
    }
}

extension String {
    /// Without leading and trailing XML whitespace (space, tab, CR, LF).
    func trimmingWhitespace() -> String {
        let isSpace: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }), let last = scalars.lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(scalars[first...last])
    }
}
