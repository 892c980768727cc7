import Access
import Base
import Centre
import Foundation
import HTTPTypes
import Hummingbird
import Incidents
import Records

/// Requests, from an incident, to secure its footage as an exhibit (issue 17): the operator
/// team asks (`incidents`), and the footage of the incident's cameras and ranges is held
/// from then on; an investigator (`manage-evidence`) registers the exhibit under the
/// evidence register's own rules (a case, a legal basis, `register-evidence` on each camera)
/// and records it against the request, or refuses it with a reason. Every step is audited
/// (`incident.exhibit-request`).
struct ExhibitRequestRoutes {
    let env: ServerEnvironment

    struct RangeView: Encodable {
        var camera: Int64
        var name: String
        var from: String
        var to: String
    }

    struct RequestView: Encodable {
        var id: Int64
        var incident: Int64
        var number: String
        var category: String
        var cameras: [RangeView]
        var reason: String
        var requested: String
        var requestedBy: String
        var pending: Bool
        var decided: String?
        var decidedBy: String?
        var outcome: String?
        var exhibit: String?
        var refusal: String?
    }

    struct RequestInput: Decodable {
        var reason: String
    }

    struct DecisionInput: Decodable {
        var exhibit: String?
        var refusal: String?
    }

    /// The requests as `p` sees them: the exhibit's number only to those who see the
    /// evidence register (numbers are not to be probed), "registered" to the others.
    func views(_ requests: [ExhibitRequestRecord], for p: Principal) async throws -> [RequestView] {
        let categories = try await env.incidents.categories(), names = try await env.cameras.names()
        var out: [RequestView] = []
        for q in requests {
            let i = try await env.incidents.incident(id: q.incidentID)
            out.append(
                RequestView(
                    id: q.id, incident: i.id, number: i.number, category: categories.first { $0.id == i.categoryID }?.name ?? "",
                    cameras: i.cameras.map {
                        RangeView(
                            camera: $0.cameraID, name: names[$0.cameraID] ?? "camera \($0.cameraID)", from: iso8601(micros: $0.fromMicros),
                            to: iso8601(micros: $0.toMicros))
                    }, reason: q.reason, requested: iso8601(micros: q.requestedMicros), requestedBy: q.requestedBy,
                    pending: q.decidedMicros == nil, decided: q.decidedMicros.map { iso8601(micros: $0) }, decidedBy: q.decidedBy,
                    outcome: q.outcome, exhibit: p.may(.viewEvidence) || p.may(.manageEvidence) ? q.exhibit : nil, refusal: q.refusal))
        }
        return out
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        let denied = IncidentRoutes(env: env).denied
        t.add(.post, "/api/incidents/{iid}/exhibit-request", .incidents, onDenied: denied(.incidentExhibitRequest)) {
            request, context, principal in
            let id = try pathID(context, "iid", "an incident id")
            let input = try await request.decode(as: RequestInput.self, context: context)
            let author = IncidentAuthor(userID: principal.userID, name: principal.name)
            let now = env.clock.nowMicros()
            let made = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.incidents.requestExhibit(incidentID: id, reason: input.reason, by: author, nowMicros: now) },
                    entry: {
                        AuditEntry(
                            .incidentExhibitRequest, .ok, principal: principal, request: request, context: context,
                            detail: "request \($0.id) to secure incident id \(id)'s footage; held until an investigator decides")
                    }
                ).1
            }
            return try json(try await views([made], for: principal).first, status: .created)
        }
        t.add(.get, "/api/exhibit-requests", .manageEvidence, onDenied: denied(.incidentExhibitRequest)) { request, context, principal in
            let pending = try await env.incidents.pendingExhibitRequests()
            try await env.audit.append(
                AuditEntry(
                    .incidentExhibitRequest, .ok, principal: principal, request: request, context: context,
                    detail: "list of \(pending.count) pending request(s)"
                        + (pending.isEmpty ? "" : ": " + pending.prefix(50).map { String($0.id) }.joined(separator: " "))))
            return try json(try await views(pending, for: principal))
        }
        t.add(.post, "/api/exhibit-requests/{qid}/decide", .manageEvidence, onDenied: denied(.incidentExhibitRequest)) {
            request, context, principal in
            let id = try pathID(context, "qid", "a request id")
            let input = try await request.decode(as: DecisionInput.self, context: context)
            let decided = try await mapErrors {
                try await env.audit.append(
                    with: {
                        // Checked in the decision's own transaction: the exhibit exists, is one
                        // this investigator may see, still holds, and covers each of the
                        // incident's ranges in time (to the second: the form's precision).
                        if let exhibit = input.exhibit {
                            let item = try await env.evidence.find(exhibit, for: principal)
                            guard item.isHeld else {
                                throw VigilError(.invalid, "exhibit \(exhibit)'s hold was released: it keeps nothing")
                            }
                            guard let q = try await env.incidents.exhibitRequest(id: id) else {
                                throw VigilError(.notFound, "no such exhibit request")
                            }
                            let incident = try await env.incidents.incident(id: q.incidentID)
                            let uncovered = incident.cameras.filter { c in
                                !item.ranges.contains {
                                    $0.cameraID == c.cameraID && $0.fromMicros <= c.fromMicros + 1_000_000
                                        && $0.toMicros >= c.toMicros - 1_000_000
                                }
                            }
                            guard uncovered.isEmpty else {
                                let names = try await env.cameras.names()
                                throw VigilError(
                                    .invalid,
                                    "exhibit \(exhibit) does not cover "
                                        + uncovered.map {
                                            "\(names[$0.cameraID] ?? "camera \($0.cameraID)") \(iso8601(micros: $0.fromMicros))–\(iso8601(micros: $0.toMicros))"
                                        }
                                        .joined(separator: ", "))
                            }
                        }
                        return try await env.incidents.decideExhibitRequest(
                            id: id, exhibit: input.exhibit, refusal: input.refusal, by: principal.name, nowMicros: env.clock.nowMicros())
                    },
                    entry: {
                        AuditEntry(
                            .incidentExhibitRequest, .ok, principal: principal, request: request, context: context,
                            detail: "request \(id) of incident id \($0.incidentID) "
                                + ($0.exhibit.map { "registered as exhibit \($0)" } ?? "refused"))
                    }
                ).1
            }
            return try json(try await views([decided], for: principal).first)
        }
    }
}
