import Access
import Centre
import Foundation
import Hummingbird
import Records

/// The video wall's saved views: each user's own and the shared ones, for anyone with the
/// live permission. Only a view's owner changes or deletes it; each change is one
/// transaction with its `view.change` entry. A view names cameras, not imagery: which
/// tiles a user may watch is decided when each stream opens.
struct ViewRoutes {
    let env: ServerEnvironment

    struct ViewOut: Encodable {
        var id: Int64
        var name: String
        var shared: Bool
        var layout: String
        var tiles: [Int64?]
        /// The owner's user name, and whether it is the asking user.
        var owner: String
        var mine: Bool
    }

    func out(_ v: WallViewRecord, _ p: Principal, owners: [Int64: String]) -> ViewOut {
        ViewOut(
            id: v.id, name: v.name, shared: v.shared, layout: v.layout, tiles: v.tiles,
            owner: v.ownerID == p.userID ? p.name : owners[v.ownerID] ?? "user \(v.ownerID)", mine: v.ownerID == p.userID)
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        let views = env.cameras.wallViews(clock: env.clock)
        t.add(.get, "/api/views", .live) { _, _, principal in
            let (list, owners) = try await mapErrors {
                let list = try await views.visible(to: principal.userID)
                let others = Set(list.map(\.ownerID)).subtracting([principal.userID])
                let owners =
                    others.isEmpty
                    ? [:]
                    : Dictionary(
                        try await env.accounts.users().filter { others.contains($0.id) }.map { ($0.id, $0.name) },
                        uniquingKeysWith: { a, _ in a })
                return (list, owners)
            }
            return try json(list.map { out($0, principal, owners: owners) })
        }
        t.add(.post, "/api/views", .live) { request, context, principal in
            let draft = try await request.decode(as: WallViews.Draft.self, context: context)
            let added = try await mapErrors {
                try await env.audit.append(
                    with: { try await views.add(draft, owner: principal.userID) },
                    entry: { entry(request, context, principal, "saved view \($0.id) \($0.name)\($0.shared ? ", shared" : "")") }
                ).1
            }
            return try json(out(added, principal, owners: [:]), status: .created)
        }
        t.add(.put, "/api/views/{vid}", .live) { request, context, principal in
            let id = try viewID(context)
            let draft = try await request.decode(as: WallViews.Draft.self, context: context)
            let changed = try await mapErrors {
                try await env.audit.append(
                    with: { try await views.replace(id: id, with: draft, by: principal.userID) },
                    entry: { entry(request, context, principal, "changed view \($0.id) \($0.name)\($0.shared ? ", shared" : "")") }
                ).1
            }
            return try json(out(changed, principal, owners: [:]))
        }
        t.add(.delete, "/api/views/{vid}", .live) { request, context, principal in
            let id = try viewID(context)
            try await mapErrors {
                _ = try await env.audit.append(
                    with: { try await views.remove(id: id, by: principal.userID) },
                    entry: { entry(request, context, principal, "deleted view \($0.id) \($0.name)") })
            }
            return Response(status: .noContent)
        }
    }

    func entry(_ request: Request, _ context: VigilContext, _ principal: Principal, _ detail: String) -> AuditEntry {
        AuditEntry(.wallViewChange, .ok, principal: principal, request: request, context: context, detail: detail)
    }

    func viewID(_ context: VigilContext) throws -> Int64 { try pathID(context, "vid", "a view id") }
}
