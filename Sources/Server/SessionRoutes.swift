import Access
import Base
import Centre
import Foundation
import Hummingbird
import PTZ
import Records

/// Sign-in, sign-out, who am I, password change, API tokens.
struct SessionRoutes {
    let env: ServerEnvironment

    struct SignIn: Decodable {
        var username: String
        var password: String
    }
    struct PasswordChange: Decodable {
        var current: String
        var new: String
    }
    struct TokenRequest: Decodable {
        var name: String
        var days: Int?
    }
    struct TokenInfo: Encodable {
        var id: Int64
        var name: String
        var created: String
        var expires: String
        var revoked: Bool
        var expired: Bool
        init(_ t: APITokenRecord, nowMicros: Int64) {
            id = t.id
            name = t.name
            created = iso8601(micros: t.createdMicros)
            expires = iso8601(micros: t.expiresMicros)
            revoked = t.revoked
            expired = t.expiresMicros <= nowMicros
        }
    }

    struct Me: Encodable {
        var user: String
        var role: String
        var roleTitle: String
        var permissions: [String]
        var csrfToken: String?
        var mustChangePassword: Bool
    }

    static func me(_ p: Principal, csrf: String?) -> Me {
        let permissions = Permission.allCases.filter { p.mayOnSomeCamera($0) || p.may($0) }.map(\.rawValue)
        return Me(
            user: p.name, role: p.role.rawValue, roleTitle: p.role.title, permissions: permissions, csrfToken: csrf,
            mustChangePassword: p.mustChangePassword)
    }

    /// An audit result for a refused or failed request: "denied" for a refusal (4xx, a
    /// lock or a rate limit among them), "failed" for the server's own trouble (busy, 5xx).
    static func outcome(of error: any Error) -> AuditResult {
        guard let api = error as? APIError, api.status.code < 500 else { return .failed }
        return .denied
    }

    func cookie(_ value: String, maxAge: Int64) -> String {
        "\(AuthMiddleware.cookieName)=\(value); Path=/; Max-Age=\(maxAge); HttpOnly; SameSite=Strict"
            + (env.secureCookies ? "; Secure" : "")
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        // Registered directly: sign-in is the one API route without a session.
        t.policies.append(RoutePolicy(method: "POST", path: "/api/session", permission: nil, imagery: false))
        t.router.post("/api/session") { request, context -> Response in
            // JSON only: a cross-site HTML form can post urlencoded or multipart, never JSON.
            guard
                request.headers[.contentType]?.lowercased().split(separator: ";").first?.trimmingCharacters(in: .whitespaces)
                    == "application/json"
            else {
                throw APIError(status: .unsupportedMediaType, message: "sign-in takes a JSON body (Content-Type: application/json)")
            }
            let body: SignIn
            do { body = try await request.decode(as: SignIn.self, context: context) } catch {
                throw APIError(status: .badRequest, message: "expected JSON {\"username\": …, \"password\": …}")
            }
            let s = station(request, context)
            do {
                // The session and its entry are stored in one transaction.
                let issued = try await env.accounts.signIn(
                    name: body.username, password: body.password, address: s.address, userAgent: s.userAgent,
                    recorded: { commit in
                        try await env.audit.append(
                            with: commit,
                            entry: { AuditEntry(.signIn, .ok, principal: $0.principal, request: request, context: context) }
                        ).1
                    })
                return try json(
                    Self.me(issued.principal, csrf: issued.csrfToken),
                    headers: [.setCookie: cookie(issued.token, maxAge: env.accounts.policy.sessionAbsoluteSeconds)])
            } catch let error as VigilError {
                var entry = AuditEntry(.signIn, .denied, principal: nil, request: request, context: context, detail: error.message)
                // Cut by bytes: 64 characters can be megabytes of combining marks.
                entry.user = String(decoding: body.username.utf8.prefix(64), as: UTF8.self)
                if let key = AuditTrail.RepeatKey(signInRefusal: error, name: body.username) {
                    try await env.audit.appendRepeatable(entry, key: key)
                } else {
                    try await env.audit.append(entry)
                }
                throw APIError.from(error)
            }
        }
        t.add(.get, "/api/session", nil) { _, context, principal in
            try json(Self.me(principal, csrf: context.authenticated?.csrfToken))
        }
        t.add(.delete, "/api/session", nil) { request, context, principal in
            let session: String?
            if case let .session(token)? = AuthMiddleware.credential(of: request) { session = token } else { session = nil }
            try await endAccess(env, AuditEntry(.signOut, .ok, principal: principal, request: request, context: context)) {
                if let session { try await env.accounts.signOut(sessionToken: session) }
            }
            // Cameras the user steered are free at once, not 30 s later.
            await env.ptz.releaseAll(user: principal.userID)
            return Response(status: .noContent, headers: [.setCookie: cookie("", maxAge: 0)])
        }
        t.add(.post, "/api/session/password", nil) { request, context, principal in
            let body = try await request.decode(as: PasswordChange.self, context: context)
            // Checked, then made in one transaction with its entry: stored together or not
            // at all. A refused or failed change is recorded as such (if the log can still
            // be written).
            do {
                _ = try await mapErrors {
                    let change = try await env.accounts.preparePasswordChange(
                        userID: principal.userID, current: body.current, new: body.new)
                    return try await env.audit.append(
                        AuditEntry(.passwordChange, .ok, principal: principal, request: request, context: context),
                        with: { try await env.accounts.apply(change) })
                }
            } catch {
                _ = try? await env.audit.append(
                    AuditEntry(
                        .passwordChange, Self.outcome(of: error), principal: principal, request: request,
                        context: context, detail: (error as? APIError)?.message ?? "the change could not be stored"))
                throw error
            }
            // Changing the password ended every session; start a fresh one for this station.
            let s = station(request, context)
            let issued = try await mapErrors {
                try await env.accounts.signIn(
                    name: principal.name, password: body.new, address: s.address, userAgent: s.userAgent,
                    recorded: { commit in
                        try await env.audit.append(
                            with: commit,
                            entry: {
                                AuditEntry(
                                    .signIn, .ok, principal: $0.principal, request: request, context: context,
                                    detail: "a fresh session after the password change")
                            }
                        ).1
                    })
            }
            return try json(
                Self.me(issued.principal, csrf: issued.csrfToken),
                headers: [.setCookie: cookie(issued.token, maxAge: env.accounts.policy.sessionAbsoluteSeconds)])
        }
        t.add(.post, "/api/tokens", nil) { request, context, principal in
            // From a signed-in session only: a token must not mint tokens (a stolen one would
            // outlive its own expiry and revocation through its children).
            guard let session = context.authenticated?.sessionTokenHash else {
                throw APIError(
                    status: .forbidden, message: "API tokens are issued from a signed-in session (the console), not with another token")
            }
            let body = try await request.decode(as: TokenRequest.self, context: context)
            // Stored in one transaction with its entry, which names the new token's id.
            let issued = try await mapErrors {
                try await env.audit.append(
                    with: {
                        try await env.accounts.issueAPIToken(userID: principal.userID, name: body.name, days: body.days, session: session)
                    },
                    entry: { issued in
                        AuditEntry(
                            .tokenIssue, .ok, principal: principal, request: request, context: context,
                            detail: "token \(issued.id) \"\(body.name)\" until \(iso8601(micros: issued.expiresMicros))")
                    }
                ).1
            }
            return try json(
                ["id": String(issued.id), "token": issued.token, "expires": iso8601(micros: issued.expiresMicros)], status: .created)
        }
        t.add(.get, "/api/tokens", nil) { _, _, principal in
            let tokens = try await env.accounts.apiTokens(userID: principal.userID)
            let now = env.clock.nowMicros()
            return try json(tokens.map { TokenInfo($0, nowMicros: now) })
        }
        t.add(.delete, "/api/tokens/{id}", nil) { request, context, principal in
            guard let id = context.parameters.get("id", as: Int64.self) else {
                throw APIError(status: .badRequest, message: "token id must be a number")
            }
            // No entry for a token that is not theirs.
            try await mapErrors {
                try await endAccess(
                    env, AuditEntry(.tokenRevoke, .ok, principal: principal, request: request, context: context, detail: "token \(id)")
                ) {
                    guard try await env.accounts.revokeAPIToken(id: id, userID: principal.userID) else {
                        throw VigilError(.notFound, "you have no token \(id)")
                    }
                }
            }
            return Response(status: .noContent)
        }
    }
}
