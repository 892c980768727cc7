import Access
import Base
import Centre
import Dispatching
import Foundation
import Hummingbird
import Incidents
import Logging
import NIOCore
import PTZ
import Records

/// The incident register: reported, read and followed up by those with the `incidents`
/// permission (the operator team, the duty officers, supervisors), each camera named also
/// needing live or playback on it; categories changed by administrators. Incidents are
/// personal data: every read and change is one audit entry (a list's entry names the
/// incidents listed, a change its fields, never their text), as is a refusal for want of
/// the permission or of a camera's.
struct IncidentRoutes {
    let env: ServerEnvironment
    /// What a person is not told: why ffmpeg or the catalog failed a picture.
    static let logger = Logger(label: "vigil.incidents")

    struct CameraInput: Decodable {
        var camera: Int64
        var from: String
        var to: String
    }

    struct ReportInput: Decodable {
        /// A category's id or key.
        var category: CategoryReference
        var priority: Int?
        var observed: String
        var cameras: [CameraInput]?
        var location: String?
        var address: String?
        var latitude: Double?
        var longitude: Double?
        var description: String
        /// Pictures to take from the recording once it is filed: each of a camera of the report,
        /// at a moment in its range.
        var snapshots: [SnapshotInput]?
    }

    struct SnapshotInput: Decodable {
        var camera: Int64
        var at: String
    }

    struct ChangeInput: Decodable {
        var category: CategoryReference?
        var priority: Int?
        var location: String?
        var address: String?
        var description: String?
        var status: String?
        var note: String?
    }

    /// A category by id (a number) or by key (a string).
    enum CategoryReference: Decodable {
        case id(Int64)
        case key(String)

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let id = try? c.decode(Int64.self) { self = .id(id) } else { self = .key(try c.decode(String.self)) }
        }
    }

    struct CategoryInput: Decodable {
        var key: String?
        var name: String?
        var group: String?
        var retired: Bool?
    }

    struct CameraView: Encodable {
        var camera: Int64
        var name: String
        var from: String
        var to: String
        /// Where the camera pointed when it was reported: to those who may read PTZ history only.
        var pan: Double?
        var tilt: Double?
        var zoom: Double?
    }

    /// A picture as a list shows it (its JPEG at `url`).
    struct SnapshotView: Encodable {
        var id: Int64
        var camera: Int64
        var name: String
        /// When the frame shown starts, and the moment asked for.
        var at: String
        var asked: String
        var requested: String
        var taken: String
        var takenBy: String
        var width: Int
        var height: Int
        var bytes: Int
        var sha256: String
        var url: String
    }

    struct UpdateView: Encodable {
        var at: String
        var user: String
        var kind: String
        var status: String?
        var text: String
    }

    struct IncidentView: Encodable {
        var id: Int64
        var number: String
        var category: IncidentCategoryRecord?
        var priority: Int
        var observed: String
        var reported: String
        var reporter: String
        var location: String
        var address: String
        var latitude: Double?
        var longitude: Double?
        /// Absent from lists: read one incident at a time.
        var description: String?
        var status: String
        var statusSince: String
        /// When its personal data was removed at the end of its retention.
        var anonymised: String?
        var cameras: [CameraView]
        var updates: [UpdateView]?
        /// Who was told, when, and who acknowledged (one incident at a time).
        var notifications: [DispatchRoutes.NotificationView]?
        /// Its requests to secure its footage as an exhibit (one incident at a time).
        var exhibitRequests: [ExhibitRequestRoutes.RequestView]?
        /// Its pictures that the reader may see (one incident at a time).
        var snapshots: [SnapshotView]?
        /// A report's answer: how many of the pictures it asked for are being made (each then
        /// listed with the incident, or said on its timeline when it cannot be made).
        var snapshotsPending: Int?
        /// A report's answer: the pictures it asked for that are left out, in words.
        var snapshotsLeftOut: [String]?
    }

    /// One incident as a single read shows it: its timeline and its notifications too.
    func full(_ i: IncidentRecord, _ p: Principal) async throws -> IncidentView {
        let categories = try await env.incidents.categories(), names = try await env.cameras.names()
        var v = view(i, p, categories: categories, names: names, updates: try await env.incidents.updates(incidentID: i.id))
        v.notifications = try await DispatchRoutes(env: env).views(try await env.dispatch.notifications(incidentID: i.id), for: p)
        v.exhibitRequests = try await ExhibitRequestRoutes(env: env).views(
            try await env.incidents.exhibitRequests(incidentID: i.id), for: p)
        v.snapshots = try await env.incidents.snapshots(incidentID: i.id).filter {
            Self.mayPicture(p, camera: $0.cameraID, askedMicros: $0.askedMicros, requestedMicros: $0.requestedMicros)
        }.map { snapshotView($0, names: names) }
        return v
    }

    func snapshotView(_ r: IncidentSnapshotRecord, names: [Int64: String]) -> SnapshotView {
        SnapshotView(
            id: r.id, camera: r.cameraID, name: names[r.cameraID] ?? "camera \(r.cameraID)", at: iso8601(micros: r.frameMicros),
            asked: iso8601(micros: r.askedMicros), requested: iso8601(micros: r.requestedMicros), taken: iso8601(micros: r.takenMicros),
            takenBy: r.takenBy, width: r.width,
            height: r.height, bytes: r.bytes, sha256: r.sha256, url: "/api/incidents/\(r.incidentID)/snapshots/\(r.id)")
    }

    /// Whether `p` may see (or take) a picture of `camera` of the moment `askedMicros`,
    /// requested at `requestedMicros`: with playback on the camera, or with live view for a
    /// moment of the last minute before it was requested (a report from a live tile). The
    /// same two times decide both, so whoever may take a picture may see it.
    static func mayPicture(_ p: Principal, camera: Int64, askedMicros: Int64, requestedMicros: Int64) -> Bool {
        p.may(.playback, camera: camera) || (p.may(.live, camera: camera) && askedMicros >= requestedMicros &- 60_000_000)
    }

    /// What a person reads of a picture's refusal or failure: the rule's words, or the
    /// server's own in general terms (why ffmpeg or the catalog failed is for the log).
    static func words(_ error: any Error) -> String {
        if let coded = error as? any CodedError, coded.code != .failure { return coded.description }
        if let api = error as? APIError { return api.message }
        return "the server could not make it (see its log)"
    }

    /// One audit entry for a picture not made or not kept, said on its incident's timeline
    /// too when `onTimeline` (a report's pictures: the reporter is not waiting for them).
    func noteMissed(_ job: PictureQueue.Job, _ result: AuditResult, _ words: String, onTimeline: Bool = true) async throws {
        let env = self.env
        let incident = try? await env.incidents.incident(id: job.incidentID)
        var e = job.entry
        e.result = result.rawValue
        e.camera = job.cameraID
        e.detail =
            "incident \(incident?.number ?? "?") (id \(job.incidentID)): no picture of camera \(job.cameraID) at "
            + "\(iso8601(micros: job.atMicros)): \(words.prefix(300))"
        let author = IncidentAuthor(userID: job.principal.userID, name: job.principal.name)
        let timeline = onTimeline && incident != nil && incident?.anonymisedMicros == nil
        _ = try await env.audit.append(e) {
            if timeline {
                try await env.incidents.noteSnapshotMissing(
                    incidentID: job.incidentID, cameraID: job.cameraID, atMicros: job.atMicros, reason: words, by: author,
                    nowMicros: env.clock.nowMicros())
            }
        }
    }

    /// Makes the picture `job` asks for from the camera's recording and stores it with the
    /// incident; one audit entry (the job's, completed here) whatever becomes of it.
    /// `onTimeline`: one not made or not kept is also said on the incident's timeline.
    func takeSnapshot(_ job: PictureQueue.Job, onTimeline: Bool) async throws -> IncidentSnapshotRecord {
        let env = self.env
        let author = IncidentAuthor(userID: job.principal.userID, name: job.principal.name)
        let moment = "camera \(job.cameraID) at \(iso8601(micros: job.atMicros))"
        func thrown(_ error: any Error) -> any Error {
            if let coded = error as? any CodedError, coded.code != .failure { return APIError.from(coded) }
            return APIError(status: .internalServerError, message: "the picture could not be made: \(Self.words(error))")
        }
        func failed(_ error: any Error) async throws -> Never {
            let refused = (error as? any CodedError).map { $0.code != .failure } ?? false
            if !refused { Self.logger.error("incident id \(job.incidentID): no picture of \(moment): \(error)") }
            try await noteMissed(job, refused ? .denied : .failed, Self.words(error), onTimeline: onTimeline)
            throw thrown(error)
        }
        let incident: IncidentRecord
        do {
            incident = try await env.incidents.snapshotTarget(incidentID: job.incidentID, cameraID: job.cameraID, atMicros: job.atMicros)
        } catch {
            try await failed(error)
        }
        let still: Still
        do {
            still = try await env.footage.stills.still(cameraID: job.cameraID, atMicros: job.atMicros, nowMicros: env.clock.nowMicros())
        } catch let error as any CodedError where error.code != .failure {
            // Nothing recorded then, or too busy: said as it is, and a failure of the picture.
            try await noteMissed(job, .failed, error.description, onTimeline: onTimeline)
            throw APIError.from(error)
        } catch {
            try await failed(error)
        }
        do {
            return try await env.audit.append(
                with: {
                    try await env.incidents.addSnapshot(
                        incidentID: job.incidentID, cameraID: job.cameraID, askedMicros: job.atMicros, requestedMicros: job.requestedMicros,
                        frameMicros: still.frameMicros, jpeg: still.jpeg, width: still.width, height: still.height, sha256: still.sha256,
                        by: author, nowMicros: env.clock.nowMicros())
                },
                entry: {
                    var e = job.entry
                    e.camera = job.cameraID
                    e.detail =
                        "incident \(incident.number) (id \(job.incidentID)): picture \($0.id) of camera \(job.cameraID), frame at "
                        + "\(iso8601(micros: $0.frameMicros)) (asked \(iso8601(micros: job.atMicros))), \($0.width)x\($0.height), sha256 \($0.sha256)"
                    return e
                }
            ).1
        } catch {
            // Made but not kept: the incident filled up or was anonymised meanwhile, or the catalog failed.
            try await failed(error)
        }
    }

    /// Makes a report's picture after its answer, and keeps what became of it for the
    /// requester's console.
    func makeQueued(_ job: PictureQueue.Job) async {
        let names = (try? await env.cameras.names()) ?? [:]
        let name = names[job.cameraID] ?? "camera \(job.cameraID)"
        let number = (try? await env.incidents.incident(id: job.incidentID).number) ?? "\(job.incidentID)"
        do {
            let made = try await takeSnapshot(job, onTimeline: true)
            await env.pictures.record(
                userID: job.principal.userID, incident: job.incidentID, made: true,
                text: "The picture of \(name) for incident \(number) is made (\(made.width)×\(made.height)).",
                nowMicros: env.clock.nowMicros())
        } catch {
            await env.pictures.record(
                userID: job.principal.userID, incident: job.incidentID, made: false,
                text: "No picture of \(name) for incident \(number): \(Self.words(error)).", nowMicros: env.clock.nowMicros())
        }
    }

    func view(
        _ i: IncidentRecord, _ p: Principal, categories: [IncidentCategoryRecord], names: [Int64: String],
        updates: [IncidentUpdateRecord]? = nil
    ) -> IncidentView {
        let positions = p.may(.ptzHistory)
        return IncidentView(
            id: i.id, number: i.number, category: categories.first { $0.id == i.categoryID }, priority: i.priority,
            observed: iso8601(micros: i.observedMicros), reported: iso8601(micros: i.reportedMicros), reporter: i.reporterName,
            location: i.location, address: i.address, latitude: i.latitude, longitude: i.longitude, description: i.description,
            status: i.status, statusSince: iso8601(micros: i.statusMicros), anonymised: i.anonymisedMicros.map { iso8601(micros: $0) },
            cameras: i.cameras.map {
                CameraView(
                    camera: $0.cameraID, name: names[$0.cameraID] ?? "camera \($0.cameraID)", from: iso8601(micros: $0.fromMicros),
                    to: iso8601(micros: $0.toMicros), pan: positions ? $0.pan : nil, tilt: positions ? $0.tilt : nil,
                    zoom: positions ? $0.zoom : nil)
            },
            updates: updates?.map {
                UpdateView(at: iso8601(micros: $0.atMicros), user: $0.userName, kind: $0.kind, status: $0.status, text: $0.text)
            }
        )
    }

    func categoryID(_ reference: CategoryReference) async throws -> Int64 {
        switch reference {
        case let .id(id): return id
        case let .key(key):
            guard let c = try await env.incidents.categories().first(where: { $0.key == key }) else {
                throw APIError(status: .badRequest, message: "there is no incident category \(String(key.prefix(40)))")
            }
            return c.id
        }
    }

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/incident-categories", nil) { _, _, _ in
            try json(try await env.incidents.categories())
        }
        t.add(.post, "/api/incident-categories", .manageIncidentCategories, onDenied: denied(.incidentCategoryChange)) {
            request, context, principal in
            let input = try await request.decode(as: CategoryInput.self, context: context)
            guard let key = input.key, let name = input.name else {
                throw APIError(status: .badRequest, message: "a category needs its key and name")
            }
            let added = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.incidents.addCategory(key: key, name: name, group: input.group ?? "other") },
                    entry: {
                        AuditEntry(
                            .incidentCategoryChange, .ok, principal: principal, request: request, context: context,
                            detail: "added category \($0.id) \($0.key)")
                    }
                ).1
            }
            return try json(added, status: .created)
        }
        t.add(.patch, "/api/incident-categories/{cid}", .manageIncidentCategories, onDenied: denied(.incidentCategoryChange)) {
            request, context, principal in
            let id = try pathID(context, "cid", "a category id")
            let input = try await request.decode(as: CategoryInput.self, context: context)
            guard input.key == nil else { throw APIError(status: .badRequest, message: "a category's key never changes") }
            let fields = [("name", input.name != nil), ("group", input.group != nil), ("retired", input.retired != nil)].filter(\.1).map(
                \.0)
            guard !fields.isEmpty else { throw APIError(status: .badRequest, message: "say what changes: name, group or retired") }
            let changed = try await mapErrors {
                try await env.audit.append(
                    AuditEntry(
                        .incidentCategoryChange, .ok, principal: principal, request: request, context: context,
                        detail: "changed category \(id): " + fields.joined(separator: ", ")
                            + (input.retired.map { $0 ? " (retired)" : " (in use again)" } ?? ""))
                ) { try await env.incidents.changeCategory(id: id, name: input.name, group: input.group, retired: input.retired) }.1
            }
            return try json(changed)
        }
        t.add(.delete, "/api/incident-categories/{cid}", .manageIncidentCategories, onDenied: denied(.incidentCategoryChange)) {
            request, context, principal in
            let id = try pathID(context, "cid", "a category id")
            try await mapErrors {
                _ = try await env.audit.append(
                    with: { try await env.incidents.deleteCategory(id: id) },
                    entry: {
                        AuditEntry(
                            .incidentCategoryChange, .ok, principal: principal, request: request, context: context,
                            detail: "deleted unused category \($0.id) \($0.key)")
                    })
            }
            return Response(status: .noContent)
        }

        // The city's figures: counts and times only, in the server's time zone (no audit
        // entry: nothing personal is read out).
        t.add(.get, "/api/incident-statistics", .incidentStatistics) { request, _, _ in
            let query = request.uri.queryParameters
            guard let year = query.get("year").flatMap({ Int($0) }) else {
                throw APIError(status: .badRequest, message: "year is required (2026), month optional (1-12)")
            }
            var month: Int?
            if let text = query.get("month") {
                guard let m = Int(text) else { throw APIError(status: .badRequest, message: "month is 1-12") }
                month = m
            }
            let figures = try await mapErrors { try await env.incidents.statistics(year: year, month: month, timeZone: .current) }
            guard query.get("format") == "csv" else { return try json(figures) }
            let name = "vigil-incidents-\(year)\(month.map { String(format: "-%02d", $0) } ?? "").csv"
            return Response(
                status: .ok,
                headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"\(name)\""],
                body: .init(byteBuffer: ByteBuffer(string: figures.csv)))
        }
        t.add(.get, "/api/incidents", .incidents, onDenied: denied(.incidentView)) { request, context, principal in
            let now = env.clock.nowMicros()
            let from = request.uri.queryParameters.get("from") == nil ? now - 7 * 86_400_000_000 : try timeParameter(request, "from")
            let to = request.uri.queryParameters.get("to") == nil ? now + IncidentRules.clockSkewMicros : try timeParameter(request, "to")
            let status = try await mapErrors { try request.uri.queryParameters.get("status").map { try IncidentStatus(parsing: $0) } }
            let cameraID = try request.uri.queryParameters.get("camera").map { text in
                guard let id = Int64(text), id >= 0 else { throw APIError(status: .badRequest, message: "camera is a camera's number") }
                return id
            }
            let list = try await mapErrors { try await env.incidents.list(from: from, to: to, status: status, cameraID: cameraID) }
            let categories = try await env.incidents.categories(), names = try await env.cameras.names()
            try await env.audit.append(
                AuditEntry(
                    .incidentView, .ok, principal: principal, request: request, context: context,
                    detail: IncidentRegister.listDetail(list, from: from, to: to, cameraID: cameraID, status: status))
            )
            // A list carries no description: the words are read one incident at a time, each audited.
            return try json(
                list.map {
                    var v = view($0, principal, categories: categories, names: names)
                    v.description = nil
                    return v
                })
        }
        t.add(.post, "/api/incidents", .incidents, onDenied: denied(.incidentReport)) { request, context, principal in
            let input = try await request.decode(as: ReportInput.self, context: context)
            guard let observed = parseISO8601(input.observed) else {
                throw APIError(status: .badRequest, message: "observed is an ISO 8601 time")
            }
            var cameras: [IncidentCameraRecord] = []
            // Checked before any camera is asked anything: the count, and each at most once.
            let named = input.cameras ?? []
            guard named.count <= IncidentRules.maximumCameras, Set(named.map(\.camera)).count == named.count else {
                throw APIError(status: .badRequest, message: "an incident names at most \(IncidentRules.maximumCameras) cameras, each once")
            }
            for c in named {
                guard let from = parseISO8601(c.from), let to = parseISO8601(c.to) else {
                    throw APIError(status: .badRequest, message: "each camera's from and to are ISO 8601 times")
                }
                // An incident may name only cameras its reporter may see.
                guard principal.may(.live, camera: c.camera) || principal.may(.playback, camera: c.camera) else {
                    try await env.audit.append(
                        AuditEntry(
                            .incidentReport, .denied, principal: principal, request: request, context: context,
                            detail: "camera \(c.camera): neither live nor playback permission"))
                    throw APIError(status: .forbidden, message: "you may neither watch nor play back camera \(c.camera)")
                }
                cameras.append(IncidentCameraRecord(cameraID: c.camera, fromMicros: from, toMicros: to))
            }
            // The pictures asked for: each of a camera of the report, in its range, and one the
            // reporter may see then.
            let now = env.clock.nowMicros()
            let pictures = input.snapshots ?? []
            guard pictures.count <= IncidentRules.snapshotsInAReport else {
                throw APIError(status: .badRequest, message: "a report asks for at most \(IncidentRules.snapshotsInAReport) pictures")
            }
            var stills: [(camera: Int64, at: Int64)] = []
            var refusedPictures: [(camera: Int64, at: Int64)] = []
            for p in pictures {
                guard let at = parseISO8601(p.at) else {
                    throw APIError(status: .badRequest, message: "each picture's at is an ISO 8601 time")
                }
                guard cameras.contains(where: { $0.cameraID == p.camera && $0.fromMicros <= at && at < $0.toMicros }) else {
                    throw APIError(status: .badRequest, message: "a picture is of one of the report's cameras, at a moment in its range")
                }
                // A picture the reporter may not take is left out; the report stands.
                guard Self.mayPicture(principal, camera: p.camera, askedMicros: at, requestedMicros: now) else {
                    refusedPictures.append((p.camera, at))
                    continue
                }
                stills.append((p.camera, at))
            }
            // Where each steerable camera points as it is reported (confidential), for a range
            // that reaches the present (a report from playback does not take today's position
            // for then); the cameras asked at once, those that do not say within 2 s left out.
            let current = cameras.filter { $0.toMicros >= now - 60_000_000 }.map(\.cameraID)
            let positions = await Self.positions(env, cameras: current)
            for n in cameras.indices {
                if let p = positions[cameras[n].cameraID] { (cameras[n].pan, cameras[n].tilt, cameras[n].zoom) = (p.pan, p.tilt, p.zoom) }
            }
            let report = IncidentReport(
                categoryID: try await categoryID(input.category), priority: input.priority ?? 3, observedMicros: observed,
                cameras: cameras, location: input.location, address: input.address ?? "", latitude: input.latitude,
                longitude: input.longitude, description: input.description)
            let author = IncidentAuthor(userID: principal.userID, name: principal.name)
            let filed = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.dispatch.report(report, by: author, nowMicros: now) },
                    entry: {
                        var e = AuditEntry(
                            .incidentReport, .ok, principal: principal, request: request, context: context,
                            detail: "incident \($0.number) (id \($0.id)), category \($0.categoryID), priority \($0.priority), "
                                + "\($0.cameras.count) cameras")
                        e.camera = $0.cameras.first?.cameraID
                        return e
                    }
                ).1
            }
            // The report is answered at once, its pictures made after: a slow decode never holds
            // up the operator. Each one left out or missed is audited and said, and nothing
            // about a picture fails the report's answer.
            let base = AuditEntry(.incidentSnapshot, .ok, principal: principal, request: request, context: context, detail: "")
            let jobs = stills.map {
                PictureQueue.Job(
                    incidentID: filed.id, cameraID: $0.camera, atMicros: $0.at, requestedMicros: now, entry: base, principal: principal)
            }
            let routes = self
            let queued = jobs.isEmpty ? 0 : await env.pictures.enqueue(jobs) { await routes.makeQueued($0) }
            var left: [String] = []
            for refused in refusedPictures {
                left.append("no picture of camera \(refused.camera) at \(iso8601(micros: refused.at)): it needs playback permission")
                let job = PictureQueue.Job(
                    incidentID: filed.id, cameraID: refused.camera, atMicros: refused.at, requestedMicros: now, entry: base,
                    principal: principal)
                do { try await noteMissed(job, .denied, "before the last minute, and no playback permission", onTimeline: false) } catch {
                    Self.logger.error("incident \(filed.number): a refused picture could not be audited: \(error)")
                }
            }
            for job in jobs.dropFirst(queued) {
                left.append("no picture of camera \(job.cameraID) at \(iso8601(micros: job.atMicros)): too many pictures are being made")
                do { try await noteMissed(job, .failed, "too many pictures were being made") } catch {
                    Self.logger.error("incident \(filed.number): a picture left out could not be audited: \(error)")
                }
            }
            var v = try await full(filed, principal)
            v.snapshotsPending = queued
            v.snapshotsLeftOut = left.isEmpty ? nil : left
            return try json(v, status: .created)
        }
        t.add(.post, "/api/incidents/{iid}/snapshots", .incidents, onDenied: denied(.incidentSnapshot)) { request, context, principal in
            let id = try pathID(context, "iid", "an incident id")
            let input = try await request.decode(as: SnapshotInput.self, context: context)
            guard let at = parseISO8601(input.at) else { throw APIError(status: .badRequest, message: "at is an ISO 8601 time") }
            let now = env.clock.nowMicros()
            guard Self.mayPicture(principal, camera: input.camera, askedMicros: at, requestedMicros: now) else {
                var e = AuditEntry(
                    .incidentSnapshot, .denied, principal: principal, request: request, context: context,
                    detail: "incident id \(id): camera \(input.camera) at \(iso8601(micros: at)) needs playback permission")
                e.camera = input.camera
                try await env.audit.append(e)
                throw APIError(
                    status: .forbidden, message: "a picture of camera \(input.camera) from before the last minute needs playback permission"
                )
            }
            let job = PictureQueue.Job(
                incidentID: id, cameraID: input.camera, atMicros: at, requestedMicros: now,
                entry: AuditEntry(.incidentSnapshot, .ok, principal: principal, request: request, context: context, detail: ""),
                principal: principal)
            let added = try await takeSnapshot(job, onTimeline: false)
            return try json(snapshotView(added, names: try await env.cameras.names()), status: .created)
        }
        // A picture is imagery: each asking is one audit entry, whatever its answer.
        t.add(.get, "/api/incidents/{iid}/snapshots/{sid}", .incidents, imagery: true, onDenied: denied(.incidentSnapshot)) {
            request, context, principal in
            var camera: Int64?
            func refuse(_ result: AuditResult, _ status: HTTPResponse.Status, _ message: String, detail: String) async throws -> Never {
                var e = AuditEntry(.incidentSnapshot, result, principal: principal, request: request, context: context, detail: detail)
                e.camera = camera
                try await env.audit.append(e)
                throw APIError(status: status, message: message)
            }
            let iidText = context.parameters.get("iid") ?? "", sidText = context.parameters.get("sid") ?? ""
            guard let iid = Int64(iidText), let sid = Int64(sidText) else {
                try await refuse(
                    .failed, .badRequest, "an incident and a picture are numbers",
                    detail: "picture \(sidText.prefix(20)) of incident \(iidText.prefix(20))")
            }
            let snapshot: IncidentSnapshotRecord?, jpeg: [UInt8]?, number: String?
            do {
                do {
                    number = try await env.incidents.incident(id: iid).number
                } catch let error as any CodedError where error.code == .notFound {
                    number = nil
                }
                snapshot = number == nil ? nil : try await env.incidents.snapshots(incidentID: iid).first { $0.id == sid }
                jpeg = snapshot == nil ? nil : try await env.incidents.snapshotJPEG(id: sid, incidentID: iid)
            } catch {
                Self.logger.error("picture \(sid) of incident \(iid) could not be read: \(error)")
                try await refuse(
                    .failed, .internalServerError, "the picture could not be read",
                    detail: "picture \(sid) of incident id \(iid): the server could not read it")
            }
            guard let snapshot, let jpeg, let number else {
                try await refuse(.failed, .notFound, "no such picture", detail: "no picture \(sid) of incident id \(iid)")
            }
            camera = snapshot.cameraID
            guard
                Self.mayPicture(
                    principal, camera: snapshot.cameraID, askedMicros: snapshot.askedMicros, requestedMicros: snapshot.requestedMicros)
            else {
                try await refuse(
                    .denied, .forbidden, "this picture of camera \(snapshot.cameraID) needs playback permission on it",
                    detail: "picture \(sid) of incident \(number): neither playback nor live at the time on camera \(snapshot.cameraID)")
            }
            var e = AuditEntry(
                .incidentSnapshot, .ok, principal: principal, request: request, context: context,
                detail:
                    "viewed picture \(sid) of incident \(number) (id \(iid)), frame at \(iso8601(micros: snapshot.frameMicros)), sha256 \(snapshot.sha256)"
            )
            e.camera = snapshot.cameraID
            try await env.audit.append(e)
            let name = "incident-\(number.replacingOccurrences(of: "/", with: "-"))-picture-\(sid).jpg"
            return Response(
                status: .ok,
                headers: [
                    .contentType: "image/jpeg", .contentLength: String(jpeg.count), .cacheControl: "private, no-store",
                    .contentDisposition: "inline; filename=\"\(name)\""
                ],
                body: .init(byteBuffer: ByteBuffer(bytes: jpeg)))
        }
        t.add(.get, "/api/incidents/{iid}", .incidents, onDenied: denied(.incidentView)) { request, context, principal in
            let id = try pathID(context, "iid", "an incident id")
            let incident = try await mapErrors { try await env.incidents.incident(id: id) }
            try await env.audit.append(
                AuditEntry(
                    .incidentView, .ok, principal: principal, request: request, context: context,
                    detail: "incident \(incident.number) (id \(id))"))
            return try json(try await full(incident, principal))
        }
        t.add(.patch, "/api/incidents/{iid}", .incidents, onDenied: denied(.incidentUpdate)) { request, context, principal in
            let id = try pathID(context, "iid", "an incident id")
            let input = try await request.decode(as: ChangeInput.self, context: context)
            let status = try await mapErrors { try input.status.map { try IncidentStatus(parsing: $0) } }
            var newCategory: Int64?
            if let reference = input.category { newCategory = try await categoryID(reference) }
            let change = IncidentChange(
                categoryID: newCategory, priority: input.priority,
                location: input.location, address: input.address, description: input.description, status: status, note: input.note)
            let author = IncidentAuthor(userID: principal.userID, name: principal.name)
            let now = env.clock.nowMicros()
            let changed = try await mapErrors {
                try await env.audit.append(
                    with: { try await env.dispatch.update(id: id, change, by: author, nowMicros: now) },
                    entry: {
                        AuditEntry(
                            .incidentUpdate, .ok, principal: principal, request: request, context: context,
                            detail: "incident \($0.number) (id \($0.id)): " + change.fields.joined(separator: ", ")
                                + (status.map { " → \($0.rawValue)" } ?? ""))
                    }
                ).1
            }
            return try json(try await full(changed, principal))
        }
    }

    typealias Position = (pan: Double?, tilt: Double?, zoom: Double?)

    /// Where each of `cameras` with PTZ points, asked at once; those that do not say within
    /// 2 s in all are left out.
    static func positions(_ env: ServerEnvironment, cameras ids: [Int64]) async -> [Int64: Position] {
        var steerable: [Int64] = []
        for id in ids {
            if let c = try? await env.cameras.camera(id: id), c.ptzProfile != nil, c.removedMicros == nil { steerable.append(id) }
        }
        guard !steerable.isEmpty else { return [:] }
        let control = env.ptz
        // Each camera's answer (nil: it could not say), or nil itself at the deadline.
        return await withTaskGroup(of: (id: Int64, position: Position?)?.self) { group in
            for id in steerable { group.addTask { (id, try? await control.position(camera: id)) } }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return nil
            }
            var found: [Int64: Position] = [:]
            var answered = 0
            while answered < steerable.count, let next = await group.next() {
                guard let answer = next else { break } // the deadline: the rest are left out
                answered += 1
                if let p = answer.position { found[answer.id] = p }
            }
            group.cancelAll()
            return found
        }
    }

    /// A refused read or change of the register, audited.
    func denied(_ action: AuditAction) -> @Sendable (Request, VigilContext, Principal) async throws -> Void {
        let env = self.env
        return { request, context, principal in
            try await env.audit.append(
                AuditEntry(action, .denied, principal: principal, request: request, context: context, detail: "role lacks the permission"))
        }
    }
}
