// Accounts, per-camera grants, sessions and API tokens as rows (Catalog's AccessTables stores
// them; Access decides what they allow).

public struct UserRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// A role identifier (`operator`, `admin`, …); Access's `Role` gives it meaning.
    public var role: String
    /// bcrypt hash (`$2b$…`).
    public var passwordHash: String
    public var disabled: Bool
    /// Set for a one-time password: only a password change is allowed until it is replaced.
    public var mustChangePassword: Bool
    public var failedSignIns: Int
    public var lockedUntilMicros: Int64
    public var createdMicros: Int64

    public init(
        id: Int64 = 0, name: String, role: String, passwordHash: String, disabled: Bool = false,
        mustChangePassword: Bool = false, failedSignIns: Int = 0, lockedUntilMicros: Int64 = 0, createdMicros: Int64
    ) {
        self.id = id
        self.name = name
        self.role = role
        self.passwordHash = passwordHash
        self.disabled = disabled
        self.mustChangePassword = mustChangePassword
        self.failedSignIns = failedSignIns
        self.lockedUntilMicros = lockedUntilMicros
        self.createdMicros = createdMicros
    }
}

/// A signed-in browser. Only the SHA-256 of the cookie's token is stored.
public struct SessionRecord: Sendable, Equatable {
    public var tokenHash: [UInt8]
    public var userID: Int64
    public var csrfToken: String
    public var createdMicros: Int64
    public var lastSeenMicros: Int64
    public var address: String
    public var userAgent: String

    public init(
        tokenHash: [UInt8], userID: Int64, csrfToken: String, createdMicros: Int64, lastSeenMicros: Int64,
        address: String, userAgent: String
    ) {
        self.tokenHash = tokenHash
        self.userID = userID
        self.csrfToken = csrfToken
        self.createdMicros = createdMicros
        self.lastSeenMicros = lastSeenMicros
        self.address = address
        self.userAgent = userAgent
    }
}

/// A bearer token for an integration; only its SHA-256 is stored.
public struct APITokenRecord: Sendable, Equatable {
    public var id: Int64
    public var tokenHash: [UInt8]
    public var userID: Int64
    public var name: String
    public var createdMicros: Int64
    /// After this the token is refused (as if revoked).
    public var expiresMicros: Int64
    public var revoked: Bool

    public init(
        id: Int64, tokenHash: [UInt8], userID: Int64, name: String, createdMicros: Int64, expiresMicros: Int64, revoked: Bool
    ) {
        self.id = id
        self.tokenHash = tokenHash
        self.userID = userID
        self.name = name
        self.createdMicros = createdMicros
        self.expiresMicros = expiresMicros
        self.revoked = revoked
    }
}

/// A permission given to one user beyond their role, on one camera or (nil) all cameras.
public struct GrantRecord: Sendable, Equatable, Hashable {
    public var userID: Int64
    public var permission: String
    public var cameraID: Int64?

    public init(userID: Int64, permission: String, cameraID: Int64?) {
        self.userID = userID
        self.permission = permission
        self.cameraID = cameraID
    }
}
