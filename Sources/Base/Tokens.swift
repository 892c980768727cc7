import Foundation

/// `count` random bytes from the system's CSPRNG.
public func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
}

/// `count` random bytes from the system's CSPRNG, as URL-safe base64 without padding:
/// session cookies, CSRF tokens, API tokens, one-time passwords.
public func randomToken(bytes count: Int = 32) -> String {
    Data(randomBytes(count)).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}

/// `count` random bytes from the system's CSPRNG, as lower-case hex (nonces, identities).
public func randomHex(bytes count: Int) -> String { hex(randomBytes(count)) }
