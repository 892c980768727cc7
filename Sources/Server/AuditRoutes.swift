import Access
import Audit
import Centre
import Foundation
import Hummingbird
import Records

/// The audit log over HTTP: entries (newest first), the signed checkpoint, and inclusion
/// and consistency proofs a client can check against it.
struct AuditRoutes {
    let env: ServerEnvironment

    struct Page: Encodable {
        var size: Int
        var entries: [AuditEntry]
    }
    struct CheckpointView: Encodable {
        var treeSize: Int64
        var checkpoint: String
        var verifierKey: String
    }
    struct InclusionView: Encodable {
        var index: Int
        var treeSize: Int
        var leafHash: String
        var proof: [String]
        var entry: String
    }
    struct ConsistencyView: Encodable {
        var from: Int
        var to: Int
        var proof: [String]
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/audit", .viewAudit) { request, _, _ in
            // Given, a parameter must be what it says: a malformed one is refused, not ignored.
            let limit = try integer(request, "limit", 1...1000) ?? 100
            let before = try integer(request, "before", 0...Int.max).map(Int64.init)
            let rows = try await env.audit.latestEntries(limit: limit, before: before)
            return try json(Page(size: await env.audit.size, entries: try rows.map { try AuditEntry.decode($0.body) }))
        }
        t.add(.get, "/api/audit/checkpoint", .viewAudit) { request, _, _ in
            let row = try await env.audit.checkpoint()
            if request.headers[.accept]?.contains("text/plain") == true {
                return Response(
                    status: .ok, headers: [.contentType: "text/plain; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: .init(string: row.note)))
            }
            return try json(CheckpointView(treeSize: row.treeSize, checkpoint: row.note, verifierKey: env.keys.signer.verifier.encoded))
        }
        t.add(.get, "/api/audit/proof/inclusion", .viewAudit) { request, _, _ in
            guard let index = try integer(request, "index", 0...Int.max), let size = try integer(request, "size", 1...Int.max) else {
                throw APIError(status: .badRequest, message: "give index and size")
            }
            let proof = try await mapErrors { try await env.audit.inclusionProof(index: index, treeSize: size) }
            guard let leaf = await env.audit.leafHash(at: index),
                let row = try await env.audit.storedEntry(at: Int64(index))
            else {
                throw APIError(status: .notFound, message: "no entry \(index)")
            }
            return try json(
                InclusionView(
                    index: index, treeSize: size, leafHash: Data(leaf).base64EncodedString(),
                    proof: proof.map { Data($0).base64EncodedString() }, entry: String(decoding: row.body, as: UTF8.self)))
        }
        t.add(.get, "/api/audit/proof/consistency", .viewAudit) { request, _, _ in
            guard let from = try integer(request, "from", 1...Int.max), let to = try integer(request, "to", 1...Int.max), from <= to else {
                throw APIError(status: .badRequest, message: "give 1 <= from <= to")
            }
            let proof = try await mapErrors { try await env.audit.consistencyProof(from: from, to: to) }
            return try json(ConsistencyView(from: from, to: to, proof: proof.map { Data($0).base64EncodedString() }))
        }
    }
}

/// A query parameter that must be one integer in `range` when given; nil when absent.
func integer(_ request: Request, _ name: String, _ range: ClosedRange<Int>) throws -> Int? {
    let values = request.uri.queryParameters.getAll(name)
    guard !values.isEmpty else { return nil }
    guard values.count == 1, let value = Int(values[0]), range.contains(value) else {
        throw APIError(status: .badRequest, message: "\(name) must be one integer in \(range.lowerBound)...\(range.upperBound)")
    }
    return value
}
