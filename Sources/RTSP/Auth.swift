import Base
import Crypto
import Foundation

/// A `WWW-Authenticate` challenge (RFC 2617 §1.2 / §3.2.1, used by RFC 2326 §12.44).
public struct AuthChallenge: Sendable, Equatable {
    public enum Scheme: String, Sendable { case basic = "Basic", digest = "Digest" }
    public var scheme: Scheme
    public var realm: String
    public var nonce: String?
    public var opaque: String?
    public var qop: [String]
    public var algorithm: String?
    public var stale: Bool

    /// Parses one header value. Unknown schemes return nil; malformed parameters are skipped.
    public init?(parsing value: String) {
        let trimmed = value.trimmingWhitespace()
        let schemeEnd = trimmed.firstIndex(of: " ") ?? trimmed.endIndex
        switch trimmed[..<schemeEnd].lowercased() {
        case "basic": scheme = .basic
        case "digest": scheme = .digest
        default: return nil
        }
        let params = Self.parameters(String(trimmed[schemeEnd...]))
        realm = params["realm"] ?? ""
        nonce = params["nonce"]
        opaque = params["opaque"]
        qop = (params["qop"] ?? "").split(separator: ",").map { $0.trimmingWhitespace() }.filter { !$0.isEmpty }
        algorithm = params["algorithm"]
        stale = params["stale"]?.lowercased() == "true"
        if scheme == .digest && nonce == nil { return nil }
    }

    /// `name=value` or `name="quoted, value"` pairs separated by commas.
    public static func parameters(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        var chars = Substring(text)
        while !chars.isEmpty {
            chars = chars.drop { $0 == " " || $0 == "," || $0 == "\t" }
            guard let eq = chars.firstIndex(of: "=") else { break }
            let name = chars[..<eq].trimmingWhitespace().lowercased()
            chars = chars[chars.index(after: eq)...].drop { $0 == " " }
            var value = ""
            if chars.first == "\"" {
                chars = chars.dropFirst()
                while let c = chars.first, c != "\"" {
                    if c == "\\", chars.count > 1 { chars = chars.dropFirst() }
                    value.append(chars.first!)
                    chars = chars.dropFirst()
                }
                chars = chars.dropFirst()
            } else {
                let end = chars.firstIndex(of: ",") ?? chars.endIndex
                value = chars[..<end].trimmingWhitespace()
                chars = chars[end...]
            }
            out[name] = value
        }
        return out
    }
}

/// Answers authentication challenges for one camera. Digest (RFC 2617 §3.2.2) with MD5
/// and `qop=auth` or none; Basic (RFC 2617 §2) only when the camera offers nothing else.
/// The password never leaves this value except hashed (Digest) or to the camera (Basic).
public struct Authenticator: Sendable {
    public let user: String
    private let password: String
    public private(set) var challenge: AuthChallenge?
    private var nonceCount: UInt32 = 0
    private let makeCNonce: @Sendable () -> String

    public init(user: String, password: String, cnonce: @escaping @Sendable () -> String = { randomHex(bytes: 8) }) {
        self.user = user
        self.password = password
        self.makeCNonce = cnonce
    }

    /// Chooses the strongest challenge offered: Digest over Basic.
    public mutating func accept(challenges: [String]) throws {
        let parsed = challenges.compactMap(AuthChallenge.init(parsing:))
        guard let best = parsed.first(where: { $0.scheme == .digest }) ?? parsed.first else {
            throw RTSPError(.unsupportedAuthentication(challenges.joined(separator: " | ")))
        }
        if best.scheme == .digest, let algorithm = best.algorithm, algorithm.uppercased() != "MD5" {
            throw RTSPError(.unsupportedAuthentication("Digest algorithm \(algorithm)"))
        }
        if best.scheme == .digest, !best.qop.isEmpty, !best.qop.contains("auth") {
            throw RTSPError(.unsupportedAuthentication("Digest qop \(best.qop.joined(separator: ","))"))
        }
        challenge = best
        nonceCount = 0
    }

    /// The `Authorization` value for a request, or nil before any challenge.
    public mutating func authorization(method: String, uri: String) -> String? {
        guard let challenge else { return nil }
        switch challenge.scheme {
        case .basic:
            return "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        case .digest:
            let nonce = challenge.nonce ?? ""
            let ha1 = md5Hex("\(user):\(challenge.realm):\(password)")
            let ha2 = md5Hex("\(method):\(uri)")
            var fields = [
                "username=\"\(user)\"", "realm=\"\(challenge.realm)\"", "nonce=\"\(nonce)\"", "uri=\"\(uri)\""
            ]
            let response: String
            if challenge.qop.contains("auth") {
                nonceCount += 1
                let nc = String(format: "%08x", nonceCount)
                let cnonce = makeCNonce()
                response = md5Hex("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)")
                fields += ["response=\"\(response)\"", "qop=auth", "nc=\(nc)", "cnonce=\"\(cnonce)\""]
            } else {
                response = md5Hex("\(ha1):\(nonce):\(ha2)")
                fields.append("response=\"\(response)\"")
            }
            if let opaque = challenge.opaque { fields.append("opaque=\"\(opaque)\"") }
            fields.append("algorithm=MD5")
            return "Digest " + fields.joined(separator: ", ")
        }
    }
}

public func md5Hex(_ text: String) -> String {
    hex(Insecure.MD5.hash(data: Array(text.utf8)))
}
