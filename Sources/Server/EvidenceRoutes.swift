import Access
import Base
import Centre
import Foundation
import Hummingbird
import NIOCore
import NIOPosix
import Records

/// The evidence register over HTTP: list and show exhibits, create one (which holds its
/// footage), custody events, the signed export and the download of its files. The rules
/// are `EvidenceRegister`'s; each custody event writes its own audit entry there, so a
/// route here appends none of its own except where the register is never reached.
struct EvidenceRoutes {
    let env: ServerEnvironment

    struct RangeView: Codable {
        var camera: Int64
        var cameraName: String?
        var from: String
        var to: String
    }
    struct CustodyView: Encodable {
        var at: String
        var kind: String
        var actor: String
        var counterpart: String?
        var purpose: String?
        var detail: String?
    }
    struct FileView: Encodable {
        var name: String
        var bytes: Int64
        var url: String
    }
    struct ExportView: Encodable {
        var id: String
        var files: [FileView]
    }
    struct Summary: Encodable {
        var exhibit: String
        var requestingBody: String
        var caseReference: String
        var purpose: String
        var createdBy: String
        var created: String
        var held: Bool
        var ranges: [RangeView]
    }
    struct Detail: Encodable {
        var exhibit: String
        var requestingBody: String
        var caseReference: String
        var legalBasis: String
        var purpose: String
        var createdBy: String
        var created: String
        var held: Bool
        var released: Released?
        var ranges: [RangeView]
        var segments: Int
        var heldSegments: Int
        var custody: [CustodyView]
        var exports: [ExportView]
        var sharedWith: [ShareView]
        /// Whether the asking user may share this exhibit with others.
        var mayShare: Bool
    }
    struct ShareView: Encodable {
        var user: String
        var by: String
        var at: String
    }
    struct Share: Decodable { var user: String }
    struct Released: Encodable {
        var by: String
        var at: String
        var reason: String
    }

    struct NewExhibit: Decodable {
        var ranges: [RangeView]
        var requestingBody: String
        var caseReference: String
        var legalBasis: String?
        var purpose: String
    }
    struct Reason: Decodable { var reason: String }
    struct Handover: Decodable {
        var to: String
        var purpose: String
    }
    struct Acknowledgement: Decodable { var note: String? }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/evidence", .viewEvidence) { _, _, principal in
            // Camera names read once for the whole register, not once per range.
            let names = try await cameraNames()
            return try json(
                try await env.evidence.visible(to: principal).map { e in
                    Summary(
                        exhibit: e.exhibit, requestingBody: e.requestingBody, caseReference: e.caseReference, purpose: e.purpose,
                        createdBy: e.createdBy, created: iso8601(micros: e.createdMicros), held: e.isHeld, ranges: Self.ranges(e, names))
                })
        }
        t.add(.post, "/api/evidence", .manageEvidence) { request, context, principal in
            let body: NewExhibit
            do { body = try await request.decode(as: NewExhibit.self, context: context) } catch {
                throw APIError(
                    status: .badRequest,
                    message: "expected {ranges: [{camera, from, to}], requestingBody, caseReference, legalBasis, purpose}")
            }
            var ranges: [EvidenceRecord.Range] = []
            for r in body.ranges {
                guard let from = parseISO8601(r.from), let to = parseISO8601(r.to) else {
                    throw APIError(status: .badRequest, message: "range times must be ISO 8601 (\(r.from), \(r.to))")
                }
                ranges.append(.init(cameraID: r.camera, fromMicros: from, toMicros: to))
            }
            let item = try await mapErrors {
                try await env.evidence.create(
                    ranges: ranges, requestingBody: body.requestingBody, caseReference: body.caseReference,
                    legalBasis: body.legalBasis ?? "not given", purpose: body.purpose, by: agent(principal, request, context),
                    actor: principal)
            }
            return try json(try await detail(item, principal), status: .created)
        }
        t.add(.get, "/api/evidence/{exhibit}", .viewEvidence) { _, context, principal in
            try json(try await detail(try await exhibit(context, principal), principal))
        }
        t.add(.post, "/api/evidence/{exhibit}/shares", .viewEvidence) { request, context, principal in
            let item = try await exhibit(context, principal)
            let body = try await decode(Share.self, request, context, "expected {user}")
            try await mapErrors {
                try await env.evidence.share(
                    exhibit: item.exhibit, with: body.user, by: agent(principal, request, context), actor: principal)
            }
            return try json(try await detail(item, principal))
        }
        t.add(.delete, "/api/evidence/{exhibit}/shares/{user}", .viewEvidence) { request, context, principal in
            let item = try await exhibit(context, principal)
            let user = text(context, "user")
            try await mapErrors {
                try await env.evidence.unshare(exhibit: item.exhibit, with: user, by: agent(principal, request, context), actor: principal)
            }
            return try json(try await detail(item, principal))
        }
        t.add(.post, "/api/evidence/{exhibit}/release", .releaseHold) { request, context, principal in
            let item = try await exhibit(context, principal)
            let body = try await decode(Reason.self, request, context, "expected {reason}")
            try await mapErrors {
                try await env.evidence.release(exhibit: item.exhibit, reason: body.reason, by: agent(principal, request, context))
            }
            return try json(try await detail(try await env.evidence.find(item.exhibit), principal))
        }
        t.add(.post, "/api/evidence/{exhibit}/handover", .manageEvidence) { request, context, principal in
            let item = try await exhibit(context, principal)
            let body = try await decode(Handover.self, request, context, "expected {to, purpose}")
            try await mapErrors {
                try await env.evidence.handOver(
                    exhibit: item.exhibit, to: body.to, purpose: body.purpose, by: agent(principal, request, context))
            }
            return try json(try await detail(item, principal))
        }
        t.add(.post, "/api/evidence/{exhibit}/acknowledge", .viewEvidence) { request, context, principal in
            let item = try await exhibit(context, principal)
            let body = try await decode(Acknowledgement.self, request, context, "expected {note}")
            try await mapErrors {
                try await env.evidence.acknowledge(exhibit: item.exhibit, by: agent(principal, request, context), note: body.note)
            }
            return try json(try await detail(item, principal))
        }
        t.add(.post, "/api/evidence/{exhibit}/exports", .manageEvidence) { request, context, principal in
            let item = try await exhibit(context, principal)
            let who = agent(principal, request, context)
            let id = try await mapErrors {
                try await env.evidence.withExportSlot(
                    item, by: who, limit: env.exportsPerUserPerDay, shelfRoot: env.exports.root,
                    floorBytes: env.diskFloorBytes
                ) {
                    let (id, path) = try env.exports.newDirectory(exhibit: item.exhibit, atMicros: env.clock.nowMicros())
                    do {
                        _ = try await env.evidence.export(exhibit: item.exhibit, to: path, by: who)
                        try env.exports.publish(exhibit: item.exhibit, id: id)
                    } catch {
                        // A failed export leaves nothing half-written on the shelf.
                        try? FileManager.default.removeItem(atPath: path)
                        throw error
                    }
                    return id
                }
            }
            let export = env.exports.exports(exhibit: item.exhibit).first { $0.id == id }
            guard let export else { throw APIError(status: .internalServerError, message: "export \(id) vanished") }
            return try json(view(item.exhibit, export), status: .created)
        }
        t.add(.get, "/api/evidence/{exhibit}/exports/{export}/{file}", .viewEvidence, imagery: true, onDenied: denied) {
            request, context, principal in
            let exhibit = text(context, "exhibit"), export = text(context, "export")
            let name = text(context, "file")
            guard let item = try await env.evidence.lookup(exhibit, for: principal),
                let path = env.exports.file(exhibit: item.exhibit, export: export, name: name),
                let size = (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber
            else {
                try await env.audit.append(
                    AuditEntry(
                        .evidenceDownload, .failed, principal: principal, request: request, context: context,
                        detail: "no file \(name.prefix(200)) in export \(export.prefix(40)) of \(exhibit.prefix(40))"))
                throw APIError(status: .notFound, message: "no such exported file")
            }
            let bytes = size.int64Value
            try await env.evidence.recordDownload(
                exhibit: item.exhibit, export: export, file: name, bytes: bytes, by: agent(principal, request, context))
            let type = name.hasSuffix(".mp4") ? "video/mp4" : name.hasSuffix(".json") ? "application/json" : "text/plain; charset=utf-8"
            let headers: HTTPFields = [
                .contentType: type, .contentLength: String(bytes), .cacheControl: "private, no-store",
                .contentDisposition: "attachment; filename=\"\(name)\""
            ]
            return Response(
                status: .ok, headers: headers,
                body: ResponseBody { writer in
                    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
                    defer { try? handle.close() }
                    while true {
                        let chunk = try await NIOThreadPool.singleton.runIfActive { try handle.read(upToCount: 1 << 20) ?? Data() }
                        if chunk.isEmpty { break }
                        try await writer.write(ByteBuffer(bytes: chunk))
                    }
                    try await writer.finish(nil)
                })
        }
    }

    var denied: @Sendable (Request, VigilContext, Principal) async throws -> Void {
        let env = self.env
        return { request, context, principal in
            try await env.audit.append(
                AuditEntry(
                    .evidenceDownload, .denied, principal: principal, request: request, context: context,
                    detail: "exhibit \((context.parameters.get("exhibit") ?? "").prefix(40)): role lacks view-evidence"))
        }
    }

    func agent(_ p: Principal, _ request: Request, _ context: VigilContext) -> EvidenceRegister.Agent {
        let s = station(request, context)
        return EvidenceRegister.Agent(user: p.name, userID: p.userID, role: p.role.rawValue, address: s.address, userAgent: s.userAgent)
    }

    /// A path parameter as the client meant it: the router hands it over still
    /// percent-encoded (`jan%40kmp`, `%C5%81ukasz`). A file name decoded to `..` is only
    /// ever matched against a listing, never joined into a path.
    func text(_ context: VigilContext, _ name: String) -> String {
        let raw = context.parameters.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    /// The route's exhibit if `principal` may see it; 404 otherwise, as if it did not exist.
    func exhibit(_ context: VigilContext, _ principal: Principal) async throws -> EvidenceRecord {
        let number = text(context, "exhibit")
        guard let item = try await env.evidence.lookup(number, for: principal) else {
            throw APIError(status: .notFound, message: "no such exhibit")
        }
        return item
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: VigilContext, _ expected: String) async throws -> T {
        do { return try await request.decode(as: type, context: context) } catch {
            throw APIError(status: .badRequest, message: expected)
        }
    }

    func cameraNames() async throws -> [Int64: String] {
        try await env.cameras.names()
    }

    static func ranges(_ e: EvidenceRecord, _ names: [Int64: String]) -> [RangeView] {
        e.ranges.map {
            RangeView(
                camera: $0.cameraID, cameraName: names[$0.cameraID], from: iso8601(micros: $0.fromMicros), to: iso8601(micros: $0.toMicros))
        }
    }

    func view(_ exhibit: String, _ export: ExportShelf.Export) -> ExportView {
        ExportView(
            id: export.id,
            files: export.files.map {
                FileView(name: $0.name, bytes: $0.bytes, url: "/api/evidence/\(exhibit)/exports/\(export.id)/\($0.name)")
            })
    }

    func detail(_ e: EvidenceRecord, _ principal: Principal) async throws -> Detail {
        let segments = try await env.evidence.coveredSegments(e)
        let held = try await env.evidence.heldByEvidence(segments)
        let released = e.releasedMicros.map { Released(by: e.releasedBy ?? "", at: iso8601(micros: $0), reason: e.releaseReason ?? "") }
        let custody = try await env.evidence.custody(e).map {
            CustodyView(
                at: iso8601(micros: $0.atMicros), kind: $0.kind, actor: $0.actor, counterpart: $0.counterpart, purpose: $0.purpose,
                detail: $0.detail)
        }
        return Detail(
            exhibit: e.exhibit, requestingBody: e.requestingBody, caseReference: e.caseReference, legalBasis: e.legalBasis,
            purpose: e.purpose, createdBy: e.createdBy, created: iso8601(micros: e.createdMicros), held: e.isHeld, released: released,
            ranges: Self.ranges(e, try await cameraNames()), segments: segments.count, heldSegments: held.count, custody: custody,
            exports: env.exports.exports(exhibit: e.exhibit).map { view(e.exhibit, $0) },
            sharedWith: try await env.evidence.shares(e).map {
                ShareView(user: $0.userName, by: $0.sharedBy, at: iso8601(micros: $0.sharedMicros))
            },
            mayShare: env.evidence.mayShare(e, principal))
    }
}
