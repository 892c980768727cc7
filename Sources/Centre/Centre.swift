// Centre: the monitoring centre's domain — roles and permissions, accounts and sessions,
// the camera registry and the recorders that serve it, live fan-out, and the audit trail of
// who touched which imagery. No HTTP, no SQL text: Centre decides, Catalog stores, Server
// speaks HTTP.

import Foundation
import Recording

/// Errors the domain reports to whoever asked; Server maps each kind to an HTTP status.
public struct CentreError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Sendable, Equatable {
        case invalid, notFound, conflict, unauthenticated, forbidden, locked(retryAfterSeconds: Int), passwordChangeRequired
        /// Refused for what came from this address before (too many failures), not for this
        /// request; `slot` names what was counted (the address, its network, or the shared
        /// count of untracked addresses).
        case rateLimited(retryAfterSeconds: Int, slot: String)
        /// Refused for load, not for the request: try again after the given seconds.
        case busy(retryAfterSeconds: Int)
        /// The user used up a quota (server-side exports a day).
        case quotaExceeded
        /// Doing it would leave too little disk for recording.
        case insufficientStorage
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// Microseconds since the Unix epoch, now (the recorder's wall clock).
public func currentMicros() -> Int64 {
    WallClock.system.nowMicros()
}

/// `count` random bytes from the system's CSPRNG, as URL-safe base64 without padding.
public func randomToken(bytes count: Int = 32) -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    return Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
}
