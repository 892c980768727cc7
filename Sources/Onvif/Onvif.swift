// Onvif — the ONVIF client's protocol, written from the ONVIF Core, Media and PTZ
// specifications and SOAP 1.2: the XML a device sends, read into a namespace-aware element
// tree with limits (`XMLTree`); the SOAP envelope and its WS-Security UsernameToken with
// PasswordDigest, and a reply's body or fault (`Soap`); the device's clock, for the
// token's creation time (`DeviceTime`); and the replies of the Media and PTZ services as
// checked values (`MediaReplies`, `PTZReplies`); and WS-Discovery, the probe that finds
// ONVIF devices on the local segment and their answers read strictly (`Discovery`), sent
// over UDP (`DiscoveryProbe`).
//
// What belongs here: what any ONVIF client needs, with no Vigil policy. What does not:
// who may steer which camera, leases, tours (the PTZ domain module), storage (Catalog),
// HTTP routes (Server). The HTTP transport (async-http-client, `Transport`) and the
// session with one device (`OnvifDevice`: its clock, its services' addresses, every
// operation as a typed call) are here too; docs/design/ptz.md is the plan.
// Invariants: a device is hostile input. Every element is matched by namespace URI and
// local name, never by prefix; a reply with a document type declaration, an undeclared
// prefix, or beyond the tree's limits is refused with a typed error naming the action;
// every number is checked finite and within ±10⁶ (a node's declared ranges are checked
// where a value is used against them), every token's and name's length in bytes, and a
// device's text is clipped before it reaches an error message.

import Base

/// The namespaces ONVIF replies use.
public enum OnvifNamespace {
    public static let soap = "http://www.w3.org/2003/05/soap-envelope"
    public static let schema = "http://www.onvif.org/ver10/schema"
    public static let device = "http://www.onvif.org/ver10/device/wsdl"
    public static let media = "http://www.onvif.org/ver10/media/wsdl"
    public static let ptz = "http://www.onvif.org/ver20/ptz/wsdl"
    public static let error = "http://www.onvif.org/ver10/error"
    public static let security = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
    public static let utility = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
}

/// What went wrong talking to a device, with the action it was about.
public enum OnvifError: CodedError, Equatable {
    /// The reply is not well-formed XML, or breaks a limit of the tree.
    case unreadable(action: String, reason: String)
    /// Well-formed, but not what the action answers (no envelope, no expected element, a
    /// value missing or out of range).
    case malformed(action: String, reason: String)
    /// The device answered with a SOAP fault. `subcode` is the most specific ONVIF code
    /// (`ter:NotAuthorized` → "NotAuthorized").
    case fault(action: String, code: String, subcode: String?, reason: String)
    /// No reply: the device could not be reached, or did not answer within the deadline, or
    /// its reply was over the limit.
    case unreachable(action: String, reason: String)
    /// An HTTP status other than a SOAP reply's (a 401 asks for HTTP authentication, which
    /// Vigil does not send: ONVIF's UsernameToken is what it uses).
    case httpStatus(action: String, status: Int)
    /// The device cannot do what was asked (a node without the space for it, no PTZ).
    case unsupported(action: String, reason: String)
    /// A device address that cannot be used.
    case badAddress(reason: String)

    /// A device's failure is not the request's fault (502, with the device's reason); an
    /// address that cannot be used, or an action the device does not have, is the request's.
    public var code: ErrorCode {
        switch self {
        case .badAddress, .unsupported: .invalid
        default: .deviceFailed
        }
    }

    /// A fault a device gives for a refused UsernameToken (a wrong password, or a creation
    /// time too far from its clock): ONVIF's `ter:NotAuthorized`, or WS-Security's own
    /// codes, which many devices use instead.
    public var isNotAuthorized: Bool {
        guard case let .fault(_, code, subcode, _) = self else { return false }
        let refusals: Set<String> = ["NotAuthorized", "FailedAuthentication", "InvalidSecurityToken", "MessageExpired", "InvalidSecurity"]
        return refusals.contains(subcode ?? "") || refusals.contains(code)
    }

    public var description: String {
        switch self {
        case let .unreadable(action, reason): "ONVIF \(action): unreadable reply: \(reason)"
        case let .malformed(action, reason): "ONVIF \(action): unexpected reply: \(reason)"
        case let .fault(action, code, subcode, reason):
            "ONVIF \(action): the device refused (\(code)\(subcode.map { "/\($0)" } ?? "")): \(reason)"
        case let .unreachable(action, reason): "ONVIF \(action): no reply: \(reason)"
        case let .httpStatus(action, status):
            status == 401
                ? "ONVIF \(action): the device asks for HTTP authentication (401), which Vigil does not send; enable WS-Security (UsernameToken) on the device"
                : "ONVIF \(action): the device answered HTTP \(status) without a SOAP reply"
        case let .unsupported(action, reason): "ONVIF \(action): the device cannot: \(reason)"
        case let .badAddress(reason): "ONVIF device address: \(reason)"
        }
    }
}
