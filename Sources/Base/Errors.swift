/// What went wrong, in the one vocabulary every module's errors speak. Each code has one
/// meaning wherever it is raised, and the server answers it with one HTTP status
/// (`Server.APIError`): the same refusal is never a 404 on one route and a 400 on another.
public enum ErrorCode: Sendable, Equatable {
    /// The request is malformed or asks for something that cannot be (400).
    case invalid
    /// What the request names does not exist, or holds nothing in the range asked (404).
    case notFound
    /// The request contradicts the current state (a name taken, a hold already released) (409).
    case conflict
    /// No one is signed in, or the credentials are wrong (401).
    case unauthenticated
    /// Signed in, not allowed (403).
    case forbidden
    /// The user must change a one-time password before anything else (403).
    case passwordChangeRequired
    /// The account is locked after failed sign-ins (429, Retry-After).
    case locked(retryAfterSeconds: Int)
    /// Refused for what came from this address before (too many failures), not for this
    /// request; `slot` names what was counted (the address, its network, or the shared
    /// count of untracked addresses) (429, Retry-After).
    case rateLimited(retryAfterSeconds: Int, slot: String)
    /// Refused for load, not for the request: try again after the given seconds (503).
    case busy(retryAfterSeconds: Int)
    /// The user used up a quota (server-side exports a day) (429).
    case quotaExceeded
    /// Doing it would leave too little disk for recording (507).
    case insufficientStorage
    /// A camera or other device Vigil asked refused or failed; the message says which and
    /// why, in the device's words (clipped) (502).
    case deviceFailed
    /// Vigil or what it stands on failed (a disk, the database, a corrupt file): not the
    /// request's fault (500).
    case failure
}

/// An error that says which `ErrorCode` it is. Every module's error type conforms; its
/// `description` is the message a person reads (no secrets: it may reach a browser).
public protocol CodedError: Error, CustomStringConvertible {
    var code: ErrorCode { get }
}

/// A coded error with its message: what the domain modules raise when a request is refused.
public struct VigilError: CodedError, Equatable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
