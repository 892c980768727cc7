import Access
import Base
import Centre
import Foundation
import Hummingbird
import PTZ
import Records

/// Accounts administration: list, add, change role, disable, reset password, grants.
struct UserRoutes {
    let env: ServerEnvironment

    struct UserView: Encodable {
        var id: Int64
        var name: String
        var role: String
        var disabled: Bool
        var mustChangePassword: Bool
        var locked: Bool
        var grants: [GrantView]
    }

    struct GrantView: Codable {
        var permission: String
        var camera: Int64?
    }
    struct NewUser: Decodable {
        var name: String
        var role: String
        var password: String
    }
    struct UserChange: Decodable {
        var role: String?
        var disabled: Bool?
        var password: String?
    }

    func view(_ u: UserRecord) async throws -> UserView {
        UserView(
            id: u.id, name: u.name, role: u.role, disabled: u.disabled, mustChangePassword: u.mustChangePassword,
            locked: u.lockedUntilMicros > env.clock.nowMicros(),
            grants: try await env.accounts.grants(userID: u.id).map { GrantView(permission: $0.permission, camera: $0.cameraID) })
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/users", .manageUsers) { _, _, _ in
            var views: [UserView] = []
            for u in try await env.accounts.users() { views.append(try await view(u)) }
            return try json(views)
        }
        t.add(.post, "/api/users", .manageUsers) { request, context, principal in
            let body = try await request.decode(as: NewUser.self, context: context)
            guard let role = Role(rawValue: body.role) else { throw APIError(status: .badRequest, message: "unknown role \(body.role)") }
            // A password set by someone else is one-time: its owner must change it.
            let user = try await mapErrors {
                let change = try await env.accounts.prepareUser(name: body.name, role: role, password: body.password, oneTime: true)
                // The account and its audit entry are stored together or not at all.
                return try await env.audit.append(
                    AuditEntry(
                        .userAdd, .ok, principal: principal, request: request, context: context,
                        detail: "user \(body.name) as \(role.rawValue)"),
                    with: { try await env.accounts.apply(change) }
                ).1
            }
            return try json(try await view(user), status: .created)
        }
        t.add(.patch, "/api/users/{uid}", .manageUsers) { request, context, principal in
            guard let id = context.parameters.get("uid", as: Int64.self), let user = try await env.accounts.user(id: id) else {
                throw APIError(status: .notFound, message: "no such user")
            }
            let body = try await request.decode(as: UserChange.self, context: context)
            // Everything is checked before anything changes: an edit applies whole or not at all.
            var role: Role?
            let change: Accounts.AccountChange
            do {
                change = try await mapErrors {
                    guard id != principal.userID else {
                        throw VigilError(
                            .forbidden,
                            "no one may change their own role, password or state here: another administrator does "
                                + "(your own password is changed under Session)")
                    }
                    if let r = body.role {
                        guard let parsed = Role(rawValue: r) else { throw VigilError(.invalid, "unknown role \(r)") }
                        role = parsed
                    }
                    return try await env.accounts.prepareEdit(
                        userID: id, role: role, disabled: body.disabled, password: body.password,
                        oneTime: true, by: principal)
                }
            } catch let error as APIError {
                if error.status == .forbidden {
                    try await env.audit.append(
                        AuditEntry(
                            .userEdit, .denied, principal: principal, request: request, context: context,
                            detail: "user \(user.name): \(error.message)"))
                }
                throw error
            }
            var changes: [String] = []
            if let role { changes.append("role \(user.role) → \(role.rawValue)") }
            if let disabled = body.disabled { changes.append(disabled ? "disabled" : "enabled") }
            if body.password != nil { changes.append("password reset (one-time)") }
            // The edit and its audit entry are stored together or not at all.
            let edited = try await mapErrors {
                try await env.audit.append(
                    AuditEntry(
                        .userEdit, .ok, principal: principal, request: request, context: context,
                        detail: "user \(user.name): " + changes.joined(separator: ", ")),
                    with: { try await env.accounts.apply(change) }
                ).1
            }
            if body.disabled == true || role != nil { await env.ptz.releaseAll(user: id) }
            return try json(try await view(edited))
        }
        t.add(.get, "/api/users/{uid}/tokens", .manageUsers) { _, context, _ in
            guard let id = context.parameters.get("uid", as: Int64.self), try await env.accounts.user(id: id) != nil else {
                throw APIError(status: .notFound, message: "no such user")
            }
            let now = env.clock.nowMicros()
            return try json(try await env.accounts.apiTokens(userID: id).map { SessionRoutes.TokenInfo($0, nowMicros: now) })
        }
        t.add(.delete, "/api/users/{uid}/tokens/{id}", .manageUsers) { request, context, principal in
            guard let uid = context.parameters.get("uid", as: Int64.self), let user = try await env.accounts.user(id: uid) else {
                throw APIError(status: .notFound, message: "no such user")
            }
            guard let id = context.parameters.get("id", as: Int64.self) else {
                throw APIError(status: .notFound, message: "\(user.name) has no such token")
            }
            try await mapErrors {
                try await endAccess(
                    env,
                    AuditEntry(
                        .tokenRevoke, .ok, principal: principal, request: request, context: context,
                        detail: "token \(id) of user \(user.name)")
                ) {
                    guard try await env.accounts.revokeAPIToken(id: id, userID: uid) else {
                        throw VigilError(.notFound, "\(user.name) has no such token")
                    }
                }
            }
            return Response(status: .noContent)
        }
        for (method, action) in [(HTTPRequest.Method.post, AuditAction.grantAdd), (.delete, .grantRemove)] {
            t.add(method, "/api/users/{uid}/grants", .manageUsers) { request, context, principal in
                guard let id = context.parameters.get("uid", as: Int64.self), let user = try await env.accounts.user(id: id) else {
                    throw APIError(status: .notFound, message: "no such user")
                }
                let body = try await request.decode(as: GrantView.self, context: context)
                let grant = GrantRecord(userID: id, permission: body.permission, cameraID: body.camera)
                let change: Accounts.AccountChange
                do {
                    change = try await mapErrors { try await env.accounts.prepareGrant(grant, granted: method == .post, by: principal) }
                } catch let error as APIError where error.status == .forbidden {
                    try await env.audit.append(
                        AuditEntry(
                            action, .denied, principal: principal, request: request, context: context,
                            detail: "user \(user.name): \(error.message)"))
                    throw error
                }
                let granted = try await mapErrors {
                    try await env.audit.append(
                        AuditEntry(
                            action, .ok, principal: principal, request: request, context: context,
                            detail: "user \(user.name): \(body.permission) on \(body.camera.map { "camera \($0)" } ?? "all cameras")"),
                        with: { try await env.accounts.apply(change) }
                    ).1
                }
                return try json(try await view(granted))
            }
        }
    }
}
