import Audit
import Catalog
import Centre
import Foundation
import Hummingbird

/// The audit log over HTTP: entries (newest first), the signed checkpoint, and inclusion
/// and consistency proofs a client can check against it.
struct AuditRoutes {
    let env: ServerEnvironment

    struct Page: Encodable { var size: Int; var entries: [AuditEntry] }
    struct CheckpointView: Encodable { var treeSize: Int64; var checkpoint: String; var verifierKey: String }
    struct InclusionView: Encodable { var index: Int; var treeSize: Int; var leafHash: String; var proof: [String]; var entry: String }
    struct ConsistencyView: Encodable { var from: Int; var to: Int; var proof: [String] }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/audit", .viewAudit) { request, _, _ in
            let limit = min(1000, max(1, Int(request.uri.queryParameters["limit"] ?? "100") ?? 100))
            let before = request.uri.queryParameters["before"].flatMap { Int64($0) }
            let rows = try await env.catalog.latestAuditEntries(limit: limit, before: before)
            return try json(Page(size: await env.audit.size, entries: try rows.map { try AuditEntry.decode($0.body) }))
        }
        t.add(.get, "/api/audit/checkpoint", .viewAudit) { request, _, _ in
            let row = try await env.audit.checkpoint()
            if request.headers[.accept]?.contains("text/plain") == true {
                return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                                body: .init(byteBuffer: .init(string: row.note)))
            }
            return try json(CheckpointView(treeSize: row.treeSize, checkpoint: row.note, verifierKey: env.keys.signer.verifier.encoded))
        }
        t.add(.get, "/api/audit/proof/inclusion", .viewAudit) { request, _, _ in
            guard let index = request.uri.queryParameters["index"].flatMap({ Int($0) }),
                  let size = request.uri.queryParameters["size"].flatMap({ Int($0) }) else {
                throw APIError(status: .badRequest, message: "give index and size")
            }
            let proof = try await mapErrors { try await env.audit.inclusionProof(index: index, treeSize: size) }
            guard let leaf = await env.audit.leafHash(at: index), let row = try await env.catalog.auditEntries(from: Int64(index), limit: 1).first else {
                throw APIError(status: .notFound, message: "no entry \(index)")
            }
            return try json(InclusionView(index: index, treeSize: size, leafHash: Data(leaf).base64EncodedString(),
                                          proof: proof.map { Data($0).base64EncodedString() }, entry: String(decoding: row.body, as: UTF8.self)))
        }
        t.add(.get, "/api/audit/proof/consistency", .viewAudit) { request, _, _ in
            guard let from = request.uri.queryParameters["from"].flatMap({ Int($0) }),
                  let to = request.uri.queryParameters["to"].flatMap({ Int($0) }), from <= to else {
                throw APIError(status: .badRequest, message: "give from <= to")
            }
            let proof = try await mapErrors { try await env.audit.consistencyProof(from: from, to: to) }
            return try json(ConsistencyView(from: from, to: to, proof: proof.map { Data($0).base64EncodedString() }))
        }
    }
}

