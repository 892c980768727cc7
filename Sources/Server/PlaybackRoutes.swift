import Access
import Base
import Centre
import Foundation
import Hummingbird
import Media
import NIOCore
import NIOPosix
import Records

/// Coverage and gaps of a time range, and the footage itself as an MP4 assembled on the fly
/// from the sample files (HTTP Range, ETag); nothing is materialised.
struct PlaybackRoutes {
    let env: ServerEnvironment

    struct Interval: Encodable {
        var from: String
        var to: String
    }
    struct Gap: Encodable {
        var from: String
        var to: String?
        var reason: String
    }
    struct Coverage: Encodable {
        var camera: Int64
        var from: String
        var to: String
        var recorded: [Interval]
        var gaps: [Gap]
        var segments: Int
        /// Where `view.mp4` of the range starts (its first key frame), to map the player's
        /// time to the clock; absent when nothing was recorded.
        var playsFrom: String?
        /// The stretches held as evidence (times only: which exhibit, and why, is the
        /// evidence register's to show to those who may see it).
        var held: [Interval]
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/cameras/{id}/recordings", .playback, imagery: true, onDenied: denied(.recordingsList)) {
            request, context, principal in
            let c = try await camera(env, context)
            let (from, to) = try range(request)
            try await requireCamera(c, .playback, principal, .recordingsList, request, context)
            let coverage = try await env.footage.coverage(cameraID: c.id, from: from, to: to)
            try await env.audit.append(entry(.recordingsList, principal, request, context, c, from, to))
            return try json(
                Coverage(
                    camera: c.id, from: iso8601(micros: from), to: iso8601(micros: to),
                    recorded: coverage.recorded.map { Interval(from: iso8601(micros: $0.from), to: iso8601(micros: $0.to)) },
                    gaps: coverage.gaps.map {
                        Gap(from: iso8601(micros: $0.startMicros), to: $0.endMicros.map { iso8601(micros: $0) }, reason: $0.reason)
                    },
                    segments: coverage.segmentCount, playsFrom: coverage.playsFromMicros.map { iso8601(micros: $0) },
                    held: coverage.held.map { Interval(from: iso8601(micros: $0.from), to: iso8601(micros: $0.to)) }))
        }
        t.add(.get, "/api/cameras/{id}/view.mp4", .playback, imagery: true, onDenied: denied(.playbackView)) {
            request, context, principal in
            try await mp4(request, context, principal, permission: .playback, action: .playbackView, attachment: false)
        }
        t.add(.get, "/api/cameras/{id}/export.mp4", .export, imagery: true, onDenied: denied(.exportDownload)) {
            request, context, principal in
            try await mp4(request, context, principal, permission: .export, action: .exportDownload, attachment: true)
        }
    }

    func denied(_ action: AuditAction) -> @Sendable (Request, VigilContext, Principal) async throws -> Void {
        let env = self.env
        return { request, context, principal in
            let c = try? await camera(env, context)
            try await env.audit.append(
                AuditEntry(
                    action, .denied, principal: principal, request: request, context: context, camera: c,
                    detail: "role lacks the permission"))
        }
    }

    func range(_ request: Request) throws -> (Int64, Int64) {
        let from = try timeParameter(request, "from"), to = try timeParameter(request, "to")
        guard from < to else { throw APIError(status: .badRequest, message: "from must be before to") }
        guard to - from <= 7 * 86_400_000_000 else { throw APIError(status: .badRequest, message: "a range is at most 7 days") }
        return (from, to)
    }

    func entry(
        _ action: AuditAction, _ p: Principal, _ request: Request, _ context: VigilContext, _ c: CameraRecord,
        _ from: Int64, _ to: Int64, result: AuditResult = .ok, detail: String? = nil
    ) -> AuditEntry {
        var e = AuditEntry(action, result, principal: p, request: request, context: context, camera: c, detail: detail)
        e.from = iso8601(micros: from)
        e.to = iso8601(micros: to)
        e.purpose = request.uri.queryParameters["purpose"].map { String($0.prefix(200)) }
        e.caseReference = request.uri.queryParameters["case"].map { String($0.prefix(100)) }
        return e
    }

    /// Refuses (and audits) a principal without `permission` on this camera.
    func requireCamera(
        _ c: CameraRecord, _ permission: Permission, _ p: Principal, _ action: AuditAction,
        _ request: Request, _ context: VigilContext
    ) async throws {
        guard p.may(permission, camera: c.id) else {
            try await env.audit.append(
                AuditEntry(
                    action, .denied, principal: p, request: request, context: context, camera: c,
                    detail: "no \(permission.rawValue) grant on this camera"))
            throw APIError(status: .forbidden, message: "no \(permission.rawValue) permission on camera \(c.name)")
        }
    }

    func mp4(
        _ request: Request, _ context: VigilContext, _ principal: Principal, permission: Permission, action: AuditAction,
        attachment: Bool
    ) async throws -> Response {
        let c = try await camera(env, context)
        let (from, to) = try range(request)
        try await requireCamera(c, permission, principal, action, request, context)
        do {
            let purpose = request.uri.queryParameters["purpose"].map(String.init)
            if permission == .export || purpose != nil {
                try TextField.check(purpose ?? "", "an export's purpose (query parameter purpose)", maximum: 200)
            }
            if let reference = request.uri.queryParameters["case"].map(String.init) {
                try TextField.check(reference, "the case reference (query parameter case)", maximum: 100, required: false)
            }
        } catch let error as VigilError {
            try await env.audit.append(entry(action, principal, request, context, c, from, to, result: .denied, detail: error.message))
            throw APIError.from(error)
        }
        let served: Footage.Served
        do {
            served = try await env.footage.mp4(cameraID: c.id, from: from, to: to, maxFrames: env.maximumServedFrames)
        } catch {
            // What a client asked wrongly is said; the server's own trouble (paths, SQL) is
            // not written into a permanent log: it goes to the server's log with the 500.
            let said =
                (error as? any CodedError).flatMap { $0.code == .failure ? nil : $0.description }
                ?? "the server could not read this footage"
            try await env.audit.append(entry(action, principal, request, context, c, from, to, result: .failed, detail: said))
            throw error
        }
        let file = served.file, etag = served.etag
        var headers: HTTPFields = [.contentType: "video/mp4", .acceptRanges: "bytes", .eTag: etag, .cacheControl: "private, no-store"]
        if attachment {
            headers[.contentDisposition] = "attachment; filename=\"\(c.name)-\(iso8601(micros: from)).mp4\""
        }
        let byteRange: Range<Int64>
        let status: HTTPResponse.Status
        switch Self.parseRange(request.headers[.range], size: file.size, ifRange: request.headers[.ifRange], etag: etag) {
        case .whole:
            byteRange = 0..<file.size
            status = .ok
        case let .partial(r):
            byteRange = r
            status = .partialContent
            headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound - 1)/\(file.size)"
        case .unsatisfiable:
            try await env.audit.append(
                entry(action, principal, request, context, c, from, to, result: .failed, detail: "range not satisfiable"))
            throw APIError(status: .rangeNotSatisfiable, message: "range not satisfiable", headers: [.contentRange: "bytes */\(file.size)"])
        }
        headers[.contentLength] = String(byteRange.count)
        try await env.audit.append(
            entry(
                action, principal, request, context, c, from, to,
                detail:
                    "bytes \(byteRange.lowerBound)-\(max(byteRange.lowerBound, byteRange.upperBound - 1))/\(file.size), \(served.frameCount) frames"
            ))
        return Response(
            status: status, headers: headers,
            body: ResponseBody { writer in
                var offset = byteRange.lowerBound
                while offset < byteRange.upperBound {
                    let end = min(byteRange.upperBound, offset + (1 << 20))
                    let start = offset
                    let bytes = try await NIOThreadPool.singleton.runIfActive { try file.read(start..<end) }
                    try await writer.write(ByteBuffer(bytes: bytes))
                    offset = end
                }
                try await writer.finish(nil)
            })
    }

    /// RFC 9110 §14 (parsed in Media, where it can be fuzzed without the server).
    static func parseRange(_ header: String?, size: Int64, ifRange: String? = nil, etag: String = "") -> ByteRangeRequest {
        ByteRangeRequest(header: header, size: size, ifRange: ifRange, etag: etag)
    }
}
