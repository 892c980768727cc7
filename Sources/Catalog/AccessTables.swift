// Accounts, per-camera grants, sessions and API tokens. Rows in, rows out; who may do
// what is decided in Access.

import Base
import Foundation
import Media
import Records
import SQLKit

/// A unique or primary-key constraint refused a row: someone else wrote it first.
public struct CatalogConflict: Error {}

/// What an audited change threw, carried out of the transaction it rolled back.
struct ChangeFailed: Error {
    let underlying: any Error
}

extension Catalog {
    // MARK: Users

    public func addUser(_ u: UserRecord) async throws -> UserRecord {
        let rows = try await run("insert user \(u.name)") {
            try await database.raw(
                """
                INSERT INTO users (name, role, password_hash, disabled, must_change_password, failed_sign_ins,
                                   locked_until_micros, created_micros)
                VALUES (\(bind: u.name), \(bind: u.role), \(bind: u.passwordHash), \(bind: u.disabled ? 1 : 0),
                        \(bind: u.mustChangePassword ? 1 : 0), \(bind: u.failedSignIns), \(bind: u.lockedUntilMicros),
                        \(bind: u.createdMicros))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert user returned no id")
        }
        var added = u
        added.id = id
        return added
    }

    // A user's columns are written one concern at a time, each in one statement, so
    // that a slow sign-in (bcrypt) can never write back a row read before an
    // administrator's change to it (a disable, a role, a new password).

    /// Sets a new password hash, clearing the lockout; `mustChange` marks a one-time password.
    public func setUserPassword(id: Int64, passwordHash: String, mustChange: Bool) async throws {
        try await run("set password of user \(id)") {
            try await database.raw(
                """
                UPDATE users SET password_hash = \(bind: passwordHash), must_change_password = \(bind: mustChange ? 1 : 0),
                       failed_sign_ins = 0, locked_until_micros = 0
                WHERE id = \(bind: id)
                """
            ).run()
        }
    }

    public func setUserDisabled(id: Int64, _ disabled: Bool) async throws {
        try await run("set disabled of user \(id)") {
            try await database.raw("UPDATE users SET disabled = \(bind: disabled ? 1 : 0) WHERE id = \(bind: id)").run()
        }
    }

    public func setUserRole(id: Int64, _ role: String) async throws {
        try await run("set role of user \(id)") {
            try await database.raw("UPDATE users SET role = \(bind: role) WHERE id = \(bind: id)").run()
        }
    }

    /// Counts one failed sign-in, in one statement so parallel failures each count; returns
    /// the count after it.
    func countFailedSignIn(id: Int64) async throws -> Int {
        let rows = try await run("count failed sign-in of user \(id)") {
            try await database.raw(
                "UPDATE users SET failed_sign_ins = failed_sign_ins + 1 WHERE id = \(bind: id) RETURNING failed_sign_ins"
            ).all()
        }
        guard let count = try rows.first?.decode(column: "failed_sign_ins", as: Int.self) else { throw CatalogError.notFound("user \(id)") }
        return count
    }

    /// Counts one failed sign-in and, when the count has reached `lockFrom`, locks the
    /// account until `until(count)`: one transaction, so no crash leaves the count past the
    /// threshold with the account unlocked. Returns the count.
    @discardableResult
    public func failSignIn(id: Int64, lockFrom threshold: Int, until: @Sendable (Int) -> Int64) async throws -> Int {
        try await transaction("failed sign-in of user \(id)") {
            let failures = try await countFailedSignIn(id: id)
            if failures >= threshold { try await lockUser(id: id, untilMicros: until(failures)) }
            return failures
        }
    }

    /// Locks a user until `untilMicros`, never shortening a longer lock already set.
    func lockUser(id: Int64, untilMicros: Int64) async throws {
        try await run("lock user \(id)") {
            try await database.raw(
                """
                UPDATE users SET locked_until_micros = \(bind: untilMicros) WHERE id = \(bind: id) AND locked_until_micros < \(bind: untilMicros)
                """
            ).run()
        }
    }

    /// Clears the failure count and lock after a good password, if the password checked is
    /// still the user's (not replaced while it was being checked).
    public func clearFailedSignIns(id: Int64, passwordHash: String) async throws {
        try await run("clear failed sign-ins of user \(id)") {
            try await database.raw(
                """
                UPDATE users SET failed_sign_ins = 0, locked_until_micros = 0
                WHERE id = \(bind: id) AND password_hash = \(bind: passwordHash) AND (failed_sign_ins <> 0 OR locked_until_micros <> 0)
                """
            ).run()
        }
    }

    public func user(named name: String) async throws -> UserRecord? {
        let rows = try await run("find user") { try await database.raw("SELECT * FROM users WHERE name = \(bind: name)").all() }
        return try rows.first.map(Self.userRecord)
    }

    public func user(id: Int64) async throws -> UserRecord? {
        let rows = try await run("find user \(id)") { try await database.raw("SELECT * FROM users WHERE id = \(bind: id)").all() }
        return try rows.first.map(Self.userRecord)
    }

    public func users() async throws -> [UserRecord] {
        let rows = try await run("list users") { try await database.raw("SELECT * FROM users ORDER BY name").all() }
        return try rows.map(Self.userRecord)
    }

    private static func userRecord(_ row: any SQLRow) throws -> UserRecord {
        UserRecord(
            id: try row.decode(column: "id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
            role: try row.decode(column: "role", as: String.self),
            passwordHash: try row.decode(column: "password_hash", as: String.self),
            disabled: try row.decode(column: "disabled", as: Int.self) != 0,
            mustChangePassword: try row.decode(column: "must_change_password", as: Int.self) != 0,
            failedSignIns: try row.decode(column: "failed_sign_ins", as: Int.self),
            lockedUntilMicros: try row.decode(column: "locked_until_micros", as: Int64.self),
            createdMicros: try row.decode(column: "created_micros", as: Int64.self))
    }

    // MARK: Grants

    public func grants(userID: Int64) async throws -> [GrantRecord] {
        let rows = try await run("grants of user \(userID)") {
            try await database.raw("SELECT * FROM grants WHERE user_id = \(bind: userID) ORDER BY permission, camera_id").all()
        }
        return try rows.map {
            GrantRecord(
                userID: try $0.decode(column: "user_id", as: Int64.self), permission: try $0.decode(column: "permission", as: String.self),
                cameraID: try $0.decode(column: "camera_id", as: Int64?.self))
        }
    }

    public func addGrant(_ g: GrantRecord) async throws {
        try await run("add grant") {
            try await database.raw(
                "INSERT INTO grants (user_id, permission, camera_id) VALUES (\(bind: g.userID), \(bind: g.permission), \(bind: g.cameraID))"
            ).run()
        }
    }

    public func removeGrant(_ g: GrantRecord) async throws {
        try await run("remove grant") {
            if let camera = g.cameraID {
                try await database.raw(
                    "DELETE FROM grants WHERE user_id = \(bind: g.userID) AND permission = \(bind: g.permission) AND camera_id = \(bind: camera)"
                ).run()
            } else {
                try await database.raw(
                    "DELETE FROM grants WHERE user_id = \(bind: g.userID) AND permission = \(bind: g.permission) AND camera_id IS NULL"
                ).run()
            }
        }
    }

    // MARK: Sessions and tokens

    public func addSession(_ s: SessionRecord) async throws {
        try await run("insert session") {
            try await database.raw(
                """
                INSERT INTO sessions (token_hash, user_id, csrf_token, created_micros, last_seen_micros, address, user_agent)
                VALUES (\(bind: Data(s.tokenHash)), \(bind: s.userID), \(bind: s.csrfToken), \(bind: s.createdMicros),
                        \(bind: s.lastSeenMicros), \(bind: s.address), \(bind: s.userAgent))
                """
            ).run()
        }
    }

    public func session(tokenHash: [UInt8]) async throws -> SessionRecord? {
        let rows = try await run("find session") {
            try await database.raw("SELECT * FROM sessions WHERE token_hash = \(bind: Data(tokenHash))").all()
        }
        return try rows.first.map { row in
            SessionRecord(
                tokenHash: [UInt8](try row.decode(column: "token_hash", as: Data.self)),
                userID: try row.decode(column: "user_id", as: Int64.self),
                csrfToken: try row.decode(column: "csrf_token", as: String.self),
                createdMicros: try row.decode(column: "created_micros", as: Int64.self),
                lastSeenMicros: try row.decode(column: "last_seen_micros", as: Int64.self),
                address: try row.decode(column: "address", as: String.self),
                userAgent: try row.decode(column: "user_agent", as: String.self))
        }
    }

    public func touchSession(tokenHash: [UInt8], atMicros: Int64) async throws {
        try await run("touch session") {
            try await database.raw("UPDATE sessions SET last_seen_micros = \(bind: atMicros) WHERE token_hash = \(bind: Data(tokenHash))")
                .run()
        }
    }

    public func deleteSession(tokenHash: [UInt8]) async throws {
        try await run("delete session") {
            try await database.raw("DELETE FROM sessions WHERE token_hash = \(bind: Data(tokenHash))").run()
        }
    }

    public func deleteSessions(userID: Int64) async throws {
        try await run("delete sessions of user \(userID)") {
            try await database.raw("DELETE FROM sessions WHERE user_id = \(bind: userID)").run()
        }
    }

    /// Stores a token. With `whileSession`, only while that session still exists, in the
    /// same statement: a password reset deletes the user's sessions before it revokes their
    /// tokens, so a token issued by a session racing the reset is either refused here or
    /// revoked by it. Returns nil when the session was gone.
    public func addAPIToken(
        tokenHash: [UInt8], userID: Int64, name: String, createdMicros: Int64, expiresMicros: Int64,
        whileSession session: [UInt8]? = nil
    ) async throws -> Int64? {
        let rows = try await run("insert api token") {
            if let session {
                try await database.raw(
                    """
                    INSERT INTO api_tokens (token_hash, user_id, name, created_micros, expires_micros, revoked)
                    SELECT \(bind: Data(tokenHash)), \(bind: userID), \(bind: name), \(bind: createdMicros), \(bind: expiresMicros), 0
                    WHERE EXISTS (SELECT 1 FROM sessions WHERE token_hash = \(bind: Data(session)) AND user_id = \(bind: userID))
                    RETURNING id
                    """
                ).all()
            } else {
                try await database.raw(
                    """
                    INSERT INTO api_tokens (token_hash, user_id, name, created_micros, expires_micros, revoked)
                    VALUES (\(bind: Data(tokenHash)), \(bind: userID), \(bind: name), \(bind: createdMicros), \(bind: expiresMicros), 0) RETURNING id
                    """
                ).all()
            }
        }
        guard let row = rows.first else {
            if session != nil { return nil }
            throw CatalogError.invalid("insert token returned no id")
        }
        return try row.decode(column: "id", as: Int64.self)
    }

    public func apiToken(tokenHash: [UInt8]) async throws -> APITokenRecord? {
        let rows = try await run("find api token") {
            try await database.raw("SELECT * FROM api_tokens WHERE token_hash = \(bind: Data(tokenHash))").all()
        }
        return try rows.first.map(Self.apiTokenRecord)
    }

    /// A user's API tokens, oldest first (their hashes, never the tokens).
    public func apiTokens(userID: Int64) async throws -> [APITokenRecord] {
        let rows = try await run("list api tokens of user \(userID)") {
            try await database.raw("SELECT * FROM api_tokens WHERE user_id = \(bind: userID) ORDER BY id").all()
        }
        return try rows.map(Self.apiTokenRecord)
    }

    private static func apiTokenRecord(_ row: any SQLRow) throws -> APITokenRecord {
        APITokenRecord(
            id: try row.decode(column: "id", as: Int64.self),
            tokenHash: [UInt8](try row.decode(column: "token_hash", as: Data.self)),
            userID: try row.decode(column: "user_id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
            createdMicros: try row.decode(column: "created_micros", as: Int64.self),
            expiresMicros: try row.decode(column: "expires_micros", as: Int64.self),
            revoked: try row.decode(column: "revoked", as: Int.self) != 0)
    }

    /// Revokes token `id` if it is `userID`'s; returns whether it was (revoking a revoked
    /// token again counts as done).
    public func revokeAPIToken(id: Int64, userID: Int64) async throws -> Bool {
        let rows = try await run("revoke api token \(id)") {
            try await database.raw("UPDATE api_tokens SET revoked = 1 WHERE id = \(bind: id) AND user_id = \(bind: userID) RETURNING id")
                .all()
        }
        return !rows.isEmpty
    }

    /// Revokes every token of `userID` (a password reset or a disabled account); returns how
    /// many were still live.
    @discardableResult
    public func revokeAPITokens(userID: Int64) async throws -> Int {
        let rows = try await run("revoke api tokens of user \(userID)") {
            try await database.raw("UPDATE api_tokens SET revoked = 1 WHERE user_id = \(bind: userID) AND revoked = 0 RETURNING id").all()
        }
        return rows.count
    }
}
