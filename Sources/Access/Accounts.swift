// Accounts: users, passwords (bcrypt), sign-in with lockout, browser sessions with idle and
// absolute expiry, and API tokens. Only hashes of passwords and tokens are stored.

import Base
import Catalog
import Crypto
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Records

public struct AccountPolicy: Sendable {
    /// bcrypt work factor (2^cost rounds).
    public var bcryptCost: UInt8 = 12
    public var minimumPasswordLength = 10
    /// Failures allowed before the account locks.
    public var failuresBeforeLock = 5
    /// First lock; each further failure doubles it, up to `maximumLock`.
    public var firstLockSeconds = 30
    public var maximumLockSeconds = 900
    public var sessionIdleSeconds: Int64 = 30 * 60
    public var sessionAbsoluteSeconds: Int64 = 12 * 3600
    /// Failed sign-ins one address may make in `attemptWindowSeconds`, whatever the names.
    public var attemptsPerAddress = 10
    public var attemptWindowSeconds: Int64 = 60
    /// Lifetime of an API token unless its request asks for less, and the most it may ask.
    public var apiTokenDays = 90
    public var maximumAPITokenDays = 365

    public init() {}
}

/// A signed-in session as handed to the browser: the cookie's token and the CSRF token the
/// console must echo in `X-CSRF-Token` on every state-changing request.
public struct IssuedSession: Sendable {
    public var token: String
    public var csrfToken: String
    public var principal: Principal
}

/// How a request proved who it is.
public enum Credential: Sendable {
    case session(token: String)
    case apiToken(String)
}

public struct Authenticated: Sendable {
    public var principal: Principal
    /// nil for API tokens, which need no CSRF token (they are not sent by browsers on their own).
    public var csrfToken: String?
    public var sessionTokenHash: [UInt8]?
}

public actor Accounts {
    let catalog: Catalog
    public nonisolated let policy: AccountPolicy
    /// Verified against when the user does not exist, so both cases cost the same time.
    private let decoyHash: String
    /// bcrypt's own bounded threads: never the pool that recording writes and syncs on.
    private let hasher: PasswordHasher
    private let limiter: AttemptLimiter

    /// Wall time: sessions' and tokens' expiry, lockouts.
    public nonisolated let clock: WallClock

    public init(
        catalog: Catalog, policy: AccountPolicy = AccountPolicy(), hasher: PasswordHasher = PasswordHasher(),
        clock: WallClock = .system
    ) {
        self.catalog = catalog
        self.clock = clock
        self.policy = policy
        self.hasher = hasher
        self.limiter = AttemptLimiter(limit: policy.attemptsPerAddress, windowSeconds: policy.attemptWindowSeconds)
        self.decoyHash = Bcrypt.hash(randomToken(), cost: policy.bcryptCost)
    }

    // MARK: Users

    public static func validate(name: String) throws {
        guard (1...64).contains(name.unicodeScalars.count), name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }) else {
            throw VigilError(.invalid, "user names are 1-64 letters, digits, '.', '_', '-' or '@'")
        }
        // One spelling per name: the database compares bytes, Swift compares what is
        // displayed, and "é" can be one code point or two.
        guard name.unicodeScalars.elementsEqual(name.precomposedStringWithCanonicalMapping.unicodeScalars) else {
            throw VigilError(
                .invalid, "a user name must be in composed form (Unicode NFC); type it again, or ask for its letters to be composed")
        }
    }

    /// The password policy, checked before anything is changed.
    public func validate(password: String) throws {
        // Counted in code points, as the OpenAPI document's minLength counts.
        guard password.unicodeScalars.count >= policy.minimumPasswordLength else {
            throw VigilError(.invalid, "a password needs at least \(policy.minimumPasswordLength) characters")
        }
        guard password.utf8.count <= 72 else { throw VigilError(.invalid, "bcrypt uses at most 72 bytes of a password") }
        // bcrypt reads a C string: a NUL would end the password there, unseen.
        guard !password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw VigilError(.invalid, "a password may not contain control characters")
        }
    }

    private func hash(_ password: String) async throws -> String {
        try await hasher.hash(password, cost: policy.bcryptCost)
    }

    private func verify(_ password: String, hash: String) async throws -> Bool {
        try await hasher.verify(password, hash: hash)
    }

    // An account change is prepared first (checked, its password hashed: the slow part)
    // and then applied: only catalog writes, so that it can run inside the audit log's
    // transaction (`AuditTrail.append(_:with:)`), the change and its entry stored together.

    /// A change to an account, checked and ready to apply.
    public enum AccountChange: Sendable {
        /// A new account (its password already hashed).
        case add(UserRecord)
        /// Changes to an existing one; nil fields stay as they are.
        case edit(userID: Int64, role: Role?, disabled: Bool?, password: (hash: String, oneTime: Bool)?)
        case grant(GrantRecord, granted: Bool)
        /// The user's own new password, made only if the stored hash is still `proven`.
        case ownPassword(userID: Int64, proven: String, newHash: String)

        /// Makes the change: catalog writes only. Returns the account as it now is.
        @discardableResult
        public func apply(to catalog: Catalog) async throws -> UserRecord {
            switch self {
            case let .add(user):
                // Checked again inside the transaction: another request may have taken the name.
                if try await catalog.user(named: user.name) != nil { throw VigilError(.conflict, "user \(user.name) already exists") }
                return try await catalog.addUser(user)
            case let .edit(id, role, disabled, password):
                if let role { try await catalog.setUserRole(id: id, role.rawValue) }
                if let disabled { try await catalog.setUserDisabled(id: id, disabled) }
                if let password { try await catalog.setUserPassword(id: id, passwordHash: password.hash, mustChange: password.oneTime) }
                // Whoever knew the old password may have a session or have made a token.
                if disabled == true || password != nil {
                    try await catalog.deleteSessions(userID: id)
                    try await catalog.revokeAPITokens(userID: id)
                }
                guard let user = try await catalog.user(id: id) else { throw VigilError(.notFound, "no user \(id)") }
                return user
            case let .ownPassword(id, proven, newHash):
                guard let user = try await catalog.user(id: id), user.passwordHash == proven else {
                    throw VigilError(
                        .conflict, "the password was changed meanwhile (from another session or by an administrator); sign in again")
                }
                guard !user.disabled else { throw VigilError(.forbidden, "the account was disabled meanwhile") }
                return try await AccountChange.edit(userID: id, role: nil, disabled: nil, password: (newHash, false)).apply(to: catalog)
            case let .grant(grant, granted):
                if granted {
                    if !(try await catalog.grants(userID: grant.userID)).contains(grant) { try await catalog.addGrant(grant) }
                } else {
                    try await catalog.removeGrant(grant)
                }
                guard let user = try await catalog.user(id: grant.userID) else { throw VigilError(.notFound, "no user \(grant.userID)") }
                return user
            }
        }
    }

    /// A new account. With `oneTime`, the password must be changed at first sign-in.
    public func prepareUser(name: String, role: Role, password: String, oneTime: Bool = false) async throws -> AccountChange {
        try Self.validate(name: name)
        try validate(password: password)
        if try await catalog.user(named: name) != nil { throw VigilError(.conflict, "user \(name) already exists") }
        return .add(
            UserRecord(
                name: name, role: role.rawValue, passwordHash: try await hash(password), mustChangePassword: oneTime,
                createdMicros: clock.nowMicros()))
    }

    /// Changes to account `userID`, all checked before any applies. `actor` (nil: the
    /// machine's command line) may not change their own role: no one grants themselves a
    /// permission. A new password ends the user's sessions and revokes their API tokens,
    /// and so does disabling.
    public func prepareEdit(
        userID: Int64, role: Role? = nil, disabled: Bool? = nil, password: String? = nil, oneTime: Bool = false,
        by actor: Principal?
    ) async throws -> AccountChange {
        if role != nil { try Self.refuseSelf(userID, actor, "change your own role") }
        if let password { try validate(password: password) }
        guard try await catalog.user(id: userID) != nil else { throw VigilError(.notFound, "no user \(userID)") }
        var hashed: (hash: String, oneTime: Bool)?
        if let password { hashed = (try await hash(password), oneTime) }
        return .edit(userID: userID, role: role, disabled: disabled, password: hashed)
    }

    /// Gives or takes a permission beyond the user's role, on one camera or (nil) all;
    /// never to or from `actor`'s own account.
    public func prepareGrant(_ grant: GrantRecord, granted: Bool, by actor: Principal?) async throws -> AccountChange {
        try Self.refuseSelf(grant.userID, actor, granted ? "grant yourself a permission" : "change your own permissions")
        guard let permission = Permission(rawValue: grant.permission) else {
            throw VigilError(.invalid, "unknown permission \(grant.permission)")
        }
        guard try await catalog.user(id: grant.userID) != nil else { throw VigilError(.notFound, "no user \(grant.userID)") }
        // Tour routes, the history of steering and the incident register belong to roles by
        // the city's rules: no grant gives them (a stored grant can still be withdrawn).
        if granted, permission.isRoleOnly {
            throw VigilError(.invalid, "\(permission.rawValue) belongs to roles (\(permission.holders)) and is not granted")
        }
        if let camera = grant.cameraID, try await catalog.camera(id: camera) == nil { throw VigilError(.notFound, "no camera \(camera)") }
        return .grant(grant, granted: granted)
    }

    // The same without an audit entry (tests, and what audits on its own).

    public func addUser(name: String, role: Role, password: String, oneTime: Bool = false) async throws -> UserRecord {
        try await prepareUser(name: name, role: role, password: password, oneTime: oneTime).apply(to: catalog)
    }

    public func setDisabled(userID: Int64, _ disabled: Bool) async throws {
        try await prepareEdit(userID: userID, disabled: disabled, by: nil).apply(to: catalog)
    }

    public func setRole(userID: Int64, _ role: Role, by actor: Principal?) async throws {
        try await prepareEdit(userID: userID, role: role, by: actor).apply(to: catalog)
    }

    public func setGrant(_ grant: GrantRecord, granted: Bool, by actor: Principal?) async throws {
        try await prepareGrant(grant, granted: granted, by: actor).apply(to: catalog)
    }

    /// The user changes their own password, proving the current one. The change is made
    /// only while the password is still the one proven.
    public func preparePasswordChange(userID: Int64, current: String, new: String) async throws -> AccountChange {
        guard let user = try await catalog.user(id: userID) else { throw VigilError(.notFound, "no user \(userID)") }
        guard try await verify(current, hash: user.passwordHash) else { throw VigilError(.forbidden, "the current password is wrong") }
        guard current != new else { throw VigilError(.invalid, "the new password must differ from the current one") }
        try validate(password: new)
        return .ownPassword(userID: userID, proven: user.passwordHash, newHash: try await hash(new))
    }

    private static func refuseSelf(_ userID: Int64, _ actor: Principal?, _ what: String) throws {
        if let actor, actor.userID == userID { throw VigilError(.forbidden, "no one may \(what); ask another administrator") }
    }

    // What the server shows of accounts, read here so that it needs no catalog of its own.

    public func users() async throws -> [UserRecord] { try await catalog.users() }

    public func user(id: Int64) async throws -> UserRecord? { try await catalog.user(id: id) }

    public func grants(userID: Int64) async throws -> [GrantRecord] { try await catalog.grants(userID: userID) }

    /// Makes a prepared change (catalog writes only; see `AccountChange`). Inside
    /// `AuditTrail.append(_:with:)` it is stored with its entry.
    @discardableResult
    public nonisolated func apply(_ change: AccountChange) async throws -> UserRecord {
        try await change.apply(to: catalog)
    }

    public func principal(of user: UserRecord) async throws -> Principal {
        try await Self.principal(of: user, catalog: catalog)
    }

    /// `user` with their role and grants, as read from `catalog` now.
    public static func principal(of user: UserRecord, catalog: Catalog) async throws -> Principal {
        guard let role = Role(rawValue: user.role) else { throw VigilError(.invalid, "user \(user.name) has unknown role \(user.role)") }
        var grants: [Permission: Set<Int64>?] = [:]
        for g in try await catalog.grants(userID: user.id) {
            guard let permission = Permission(rawValue: g.permission) else { continue }
            if let camera = g.cameraID {
                if case .some(.some(var cameras)) = grants[permission] {
                    cameras.insert(camera)
                    grants[permission] = .some(cameras)
                } else if grants[permission] == nil {
                    grants[permission] = .some([camera])
                }
            } else {
                grants[permission] = .some(nil)
            }
        }
        return Principal(userID: user.id, name: user.name, role: role, grants: grants, mustChangePassword: user.mustChangePassword)
    }

    // MARK: Sign-in

    /// Checks a password, applying the lockout: after `failuresBeforeLock` failures the
    /// account is locked for `firstLockSeconds`, doubling with each further failure. Each
    /// address may fail `attemptsPerAddress` times a window; then it is refused before any
    /// bcrypt runs. An attempt counts against its address from the moment it is admitted
    /// (one that spends no guess takes it back), and the attempts naming one user are
    /// checked one at a time, the user's row read once the check is theirs: so guesses sent
    /// in parallel, from one address or many, get no more checks than guesses sent one
    /// after another. A name that is no one's is queued the same way, so the wait says
    /// nothing about whether the account exists. The user's row is never written back
    /// whole: bcrypt takes a quarter second, in which an administrator may disable the
    /// account or reset its password.
    ///
    /// `recorded`, when given, makes the session's writes (`commit`, catalog writes only):
    /// the server runs them inside `AuditTrail.append(with:entry:)`, so a session and the
    /// entry that records its sign-in are stored together or not at all. `commit` runs in
    /// the log's transaction: nothing it calls may append to the log.
    public func signIn(
        name: String, password: String, address: String, userAgent: String,
        recorded: (@Sendable (_ commit: @escaping @Sendable () async throws -> IssuedSession) async throws -> IssuedSession)? = nil
    ) async throws -> IssuedSession {
        let now = clock.nowMicros()
        let admission = try limiter.admit(address, now: now)
        do {
            let issued = try await checkedSignIn(
                name: name, password: password, address: address, userAgent: userAgent, recorded: recorded)
            limiter.takeBack(admission)
            return issued
        } catch let failed as SessionNotOpened {
            // The password was right; the session or its entry could not be stored.
            limiter.takeBack(admission)
            throw failed.underlying
        } catch let error as VigilError {
            switch error.code {
            case .busy, .locked: limiter.takeBack(admission) // refused before a password was checked: no guess spent
            default: break
            }
            throw error
        }
        // Any other failure (the catalog could not count a wrong guess) keeps its count:
        // only a guess known to be right, or refused before its check, is given back.
    }

    /// What failed after the password was found right: opening the session or writing the
    /// entry that records it. Not a guess spent.
    private struct SessionNotOpened: Error {
        let underlying: any Error
    }

    /// Attempts waiting for the one under way on a name, in order. A name with an entry
    /// has a check under way.
    private var checks: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// Attempts that may wait behind the one under way on a name; past that, busy.
    static let waitingPerName = 4

    /// Makes this attempt the one under way on `name`, waiting for those before it.
    private func beginCheck(_ name: String) async throws {
        guard var waiting = checks[name] else {
            checks[name] = []
            return
        }
        guard waiting.count < Self.waitingPerName else {
            // The same refusal as a full password checker's: it says nothing of the name.
            throw VigilError(.busy(retryAfterSeconds: 1), PasswordHasher.busyMessage)
        }
        await withCheckedContinuation { continuation in
            waiting.append(continuation)
            checks[name] = waiting
        }
    }

    /// Hands `name` to the next attempt waiting on it, if any.
    private func endCheck(_ name: String) {
        guard var waiting = checks[name] else { return }
        guard !waiting.isEmpty else {
            checks[name] = nil
            return
        }
        let next = waiting.removeFirst()
        checks[name] = waiting
        next.resume()
    }

    private func checkedSignIn(
        name: String, password: String, address: String, userAgent: String,
        recorded: (@Sendable (_ commit: @escaping @Sendable () async throws -> IssuedSession) async throws -> IssuedSession)?
    ) async throws -> IssuedSession {
        // Names are stored in NFC (validate(name:)): look up the same spelling.
        let name = name.precomposedStringWithCanonicalMapping
        try await beginCheck(name)
        defer { endCheck(name) }
        // The lock is judged when this attempt's turn comes, not when it arrived.
        let now = clock.nowMicros()
        guard let user = try await catalog.user(named: name) else {
            _ = try await verify(password, hash: decoyHash)
            throw VigilError(.unauthenticated, "unknown user or wrong password")
        }
        if user.lockedUntilMicros > now {
            let seconds = user.lockedUntilMicros.subtractingReportingOverflow(now).partialValue / 1_000_000 + 1
            throw VigilError(
                .locked(retryAfterSeconds: Int(clamping: min(seconds, Int64(policy.maximumLockSeconds)))),
                "account locked after repeated failures")
        }
        guard try await verify(password, hash: user.passwordHash) else {
            let policy = self.policy, clock = self.clock
            try await catalog.failSignIn(id: user.id, lockFrom: policy.failuresBeforeLock) { failures in
                let seconds = min(policy.maximumLockSeconds, policy.firstLockSeconds << min(failures - policy.failuresBeforeLock, 20))
                // From when the failure is recorded: the password check may have waited
                // for a thread, and a lock counted from before that would be short.
                return clock.nowMicros() + Int64(seconds) * 1_000_000
            }
            throw VigilError(.unauthenticated, "unknown user or wrong password")
        }
        let commit: @Sendable () async throws -> IssuedSession = {
            try await self.openSession(user, address: address, userAgent: userAgent, now: now)
        }
        do {
            guard let recorded else { return try await commit() }
            return try await recorded(commit)
        } catch {
            throw SessionNotOpened(underlying: error)
        }
    }

    /// The writes of a successful sign-in: what was checked must still be the user's.
    private func openSession(_ user: UserRecord, address: String, userAgent: String, now: Int64) async throws -> IssuedSession {
        // What was checked must still be the user's: not disabled, password not replaced.
        guard let current = try await catalog.user(id: user.id), current.passwordHash == user.passwordHash, !current.disabled else {
            throw VigilError(.unauthenticated, user.disabled ? "account disabled" : "unknown user or wrong password")
        }
        try await catalog.clearFailedSignIns(id: user.id, passwordHash: user.passwordHash)
        let token = randomToken(), csrf = randomToken()
        try await catalog.addSession(
            SessionRecord(
                tokenHash: Self.digest(token), userID: user.id, csrfToken: csrf, createdMicros: now,
                lastSeenMicros: now, address: address, userAgent: String(userAgent.prefix(256))))
        return IssuedSession(token: token, csrfToken: csrf, principal: try await principal(of: current))
    }

    public func signOut(sessionToken: String) async throws {
        try await catalog.deleteSession(tokenHash: Self.digest(sessionToken))
    }

    /// Resolves a session cookie or bearer token; nil when it is unknown, expired or revoked.
    /// A session's idle clock is reset when it was last touched over `touchAfterSeconds` ago.
    public func authenticate(_ credential: Credential, touchAfterSeconds: Int64 = 5) async throws -> Authenticated? {
        let now = clock.nowMicros()
        switch credential {
        case let .session(token):
            let digest = Self.digest(token)
            guard let session = try await catalog.session(tokenHash: digest) else { return nil }
            let idle = now - session.lastSeenMicros > policy.sessionIdleSeconds * 1_000_000
            let old = now - session.createdMicros > policy.sessionAbsoluteSeconds * 1_000_000
            guard !idle, !old, let user = try await catalog.user(id: session.userID), !user.disabled else {
                try await catalog.deleteSession(tokenHash: digest)
                return nil
            }
            // Touch at most every few seconds: the idle clock needs no finer grain.
            if now - session.lastSeenMicros > touchAfterSeconds * 1_000_000 {
                try await catalog.touchSession(tokenHash: digest, atMicros: now)
            }
            return Authenticated(principal: try await principal(of: user), csrfToken: session.csrfToken, sessionTokenHash: digest)
        case let .apiToken(token):
            guard let record = try await catalog.apiToken(tokenHash: Self.digest(token)), !record.revoked, record.expiresMicros > now,
                let user = try await catalog.user(id: record.userID), !user.disabled
            else { return nil }
            var principal = try await principal(of: user)
            principal.mustChangePassword = false
            return Authenticated(principal: principal, csrfToken: nil, sessionTokenHash: nil)
        }
    }

    /// Creates an API token for `userID`, valid `days` (the policy's default when nil); the
    /// token is shown once and only its hash is kept.
    /// `session`: the digest of the session issuing it; the token is stored only while that
    /// session still exists (nil: the machine's command line or a test).
    public func issueAPIToken(
        userID: Int64, name: String, days: Int? = nil,
        session: [UInt8]? = nil
    ) async throws -> (id: Int64, token: String, expiresMicros: Int64) {
        try TextField.check(name, "a token's name", maximum: 100)
        let days = days ?? policy.apiTokenDays
        guard (1...policy.maximumAPITokenDays).contains(days) else {
            throw VigilError(.invalid, "a token lives 1 to \(policy.maximumAPITokenDays) days")
        }
        let token = "vgl_" + randomToken()
        let now = clock.nowMicros(), expires = now + Int64(days) * 86_400_000_000
        guard
            let id = try await catalog.addAPIToken(
                tokenHash: Self.digest(token), userID: userID, name: name, createdMicros: now,
                expiresMicros: expires, whileSession: session)
        else {
            throw VigilError(.unauthenticated, "the session ended while the token was being issued; sign in again")
        }
        return (id, token, expires)
    }

    /// The user's API tokens, without the tokens themselves (only their hashes are kept).
    public func apiTokens(userID: Int64) async throws -> [APITokenRecord] {
        try await catalog.apiTokens(userID: userID)
    }

    /// Revokes the user's token `id` at once: the next request bearing it is refused.
    /// Returns false when the user has no token `id`.
    public func revokeAPIToken(id: Int64, userID: Int64) async throws -> Bool {
        try await catalog.revokeAPIToken(id: id, userID: userID)
    }

    static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }
}
