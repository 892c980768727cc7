import Access
import Centre
import Foundation
import Hummingbird
import Records

/// The video wall's saved views: each user's own and the shared ones, for anyone with the
/// live permission. Only a view's owner changes or deletes it. A view names cameras, not
/// imagery: which tiles a user may watch is decided when each stream opens.
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
            let list = try await mapErrors { try await views.visible(to: principal.userID) }
            let owners = Dictionary(try await env.accounts.users().map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
            return try json(list.map { out($0, principal, owners: owners) })
        }
        t.add(.post, "/api/views", .live) { request, context, principal in
            let draft = try await request.decode(as: WallViews.Draft.self, context: context)
            let added = try await mapErrors { try await views.add(draft, owner: principal.userID) }
            return try json(out(added, principal, owners: [:]), status: .created)
        }
        t.add(.put, "/api/views/{vid}", .live) { request, context, principal in
            let id = try viewID(context)
            let draft = try await request.decode(as: WallViews.Draft.self, context: context)
            let changed = try await mapErrors { try await views.replace(id: id, with: draft, by: principal.userID) }
            return try json(out(changed, principal, owners: [:]))
        }
        t.add(.delete, "/api/views/{vid}", .live) { _, context, principal in
            let id = try viewID(context)
            try await mapErrors { try await views.remove(id: id, by: principal.userID) }
            return Response(status: .noContent)
        }
    }

    func viewID(_ context: VigilContext) throws -> Int64 {
        guard let id = context.parameters.get("vid", as: Int64.self) else { throw APIError(status: .notFound, message: "no such view") }
        return id
    }
}
