import Access
import Base
import Centre
import Foundation
import Hummingbird
import PTZ
import Records

/// The tours the server runs: read by those who may see routes (`ptz-history`), changed by
/// those who manage tours. Each change is one transaction with its audit entry, which names
/// the tour and camera but not the route.
struct TourRoutes {
    let env: ServerEnvironment

    struct TourInput: Decodable {
        var camera: Int64
        var name: String
        var steps: [PTZTourRecord.Step]
        var schedule: [PTZTourRecord.Window]?
        var enabled: Bool?

        func record(id: Int64) -> PTZTourRecord {
            PTZTourRecord(id: id, cameraID: camera, name: name, steps: steps, schedule: schedule ?? [], enabled: enabled ?? true)
        }
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        // Reading the confidential routes is audited, as reading the history is; so is a refusal.
        t.add(.get, "/api/tours", .ptzHistory, onDenied: denied(.ptzTourView)) { request, context, principal in
            let tours = try await mapErrors { try await env.tours.all() }
            try await env.audit.append(
                AuditEntry(.ptzTourView, .ok, principal: principal, request: request, context: context, detail: "\(tours.count) tours"))
            return try json(tours)
        }
        t.add(.get, "/api/tours/{tid}", .ptzHistory, onDenied: denied(.ptzTourView)) { request, context, principal in
            let tour = try await mapErrors { try await env.tours.tour(id: try tourID(context)) }
            try await env.audit.append(
                entry(.ptzTourView, .ok, request, context, principal, camera: tour.cameraID, detail: "tour \(tour.id)"))
            return try json(tour)
        }
        t.add(.post, "/api/tours", .manageTours, onDenied: denied(.ptzTourChange)) { request, context, principal in
            let input = try await request.decode(as: TourInput.self, context: context)
            let added = try await mapErrors { () async throws -> PTZTourRecord in
                try await env.audit.append(
                    with: { try await env.tours.add(input.record(id: 0)) },
                    entry: { entry(.ptzTourChange, .ok, request, context, principal, camera: $0.cameraID, detail: "added tour \($0.id)") }
                ).1
            }
            return try json(added, status: .created)
        }
        t.add(.put, "/api/tours/{tid}", .manageTours, onDenied: denied(.ptzTourChange)) { request, context, principal in
            let id = try tourID(context)
            let input = try await request.decode(as: TourInput.self, context: context)
            let record = input.record(id: id)
            let before = try await mapErrors { try await env.tours.tour(id: id) }
            let moved = before.cameraID == record.cameraID ? "" : " (moved from camera \(before.cameraID))"
            try await mapErrors {
                _ = try await env.audit.append(
                    entry(.ptzTourChange, .ok, request, context, principal, camera: record.cameraID, detail: "changed tour \(id)\(moved)")
                ) {
                    try await env.tours.replace(record)
                }
            }
            return try json(record)
        }
        t.add(.delete, "/api/tours/{tid}", .manageTours, onDenied: denied(.ptzTourChange)) { request, context, principal in
            let id = try tourID(context)
            let existing = try await mapErrors { try await env.tours.tour(id: id) }
            try await mapErrors {
                _ = try await env.audit.append(
                    entry(.ptzTourChange, .ok, request, context, principal, camera: existing.cameraID, detail: "deleted tour \(id)")
                ) {
                    try await env.tours.remove(id: id)
                }
            }
            return Response(status: .noContent)
        }
    }

    /// A refused reading or change of the tours, audited.
    func denied(_ action: AuditAction) -> @Sendable (Request, VigilContext, Principal) async throws -> Void {
        let env = self.env
        return { request, context, principal in
            try await env.audit.append(
                AuditEntry(action, .denied, principal: principal, request: request, context: context, detail: "role lacks the permission"))
        }
    }

    func entry(
        _ action: AuditAction, _ result: AuditResult, _ request: Request, _ context: VigilContext, _ principal: Principal, camera: Int64,
        detail: String
    ) -> AuditEntry {
        var e = AuditEntry(action, result, principal: principal, request: request, context: context, detail: detail)
        e.camera = camera
        return e
    }

    func tourID(_ context: VigilContext) throws -> Int64 { try pathID(context, "tid", "a tour id") }
}
