import Access
import Audit
import Base
import Catalog
import Centre
import Evidence
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Incidents
import Logging
import NIOCore
import PTZ
import Recording
import Records
import SQLKit
import Server
import TestSupport
import Testing

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// The server over a fresh data directory, with one user per role (bcrypt cost lowered
/// for speed: the cost is a policy setting, not what is tested here), reached in one of two
/// ways. In process (the default): requests go straight to the application's router
/// through Hummingbird's testing framework, with every middleware and route as served, and
/// no socket. Over a socket: a real server on a loopback port, for what only a connection
/// has (the connection guard, WebSocket upgrades, the peer's address, raw bytes).
final class ServerHarness: Sendable {
    enum Transport { case inProcess, socket }

    let env: ServerEnvironment
    /// The router's routes as (method, path with `{name}` parameters), read from the router.
    let routes: [(method: String, path: String)]
    let policies: [RoutePolicy]
    /// The server's origin: its loopback address over a socket; a placeholder in process.
    let base: String
    /// The running server, over a socket.
    let task: Task<Void, any Error>?
    /// The router's client, in process.
    let client: (any TestClientProtocol)?
    let cameraID: Int64
    let directory: String
    /// The storage under the environment, for tests to set up and inspect (the server
    /// itself reaches it only through the domain's services).
    let catalog: Catalog
    let store: SampleStore

    static let password = "correct horse battery"

    /// A fresh data directory and the environment over it, with the users and one camera.
    private static func environment(
        cameraDefaults: ServerEnvironment.CameraDefaults, configure: (inout ServerEnvironment) -> Void
    ) async throws -> (env: ServerEnvironment, cameraID: Int64, directory: String, catalog: Catalog, store: SampleStore) {
        let dir = try TestSupport.temporaryDirectory("server")
        let logger = Logger(label: "test")
        let catalog = try await Catalog.openSQLite(path: "\(dir)/catalog.sqlite")
        let store = try SampleStore(root: "\(dir)/samples")
        let keys = try SiteKeys.loadOrCreate(directory: "\(dir)/keys", siteName: "test-site")
        var policy = AccountPolicy()
        policy.bcryptCost = 4
        let accounts = Accounts(catalog: catalog, policy: policy)
        let audit = try await AuditTrail(catalog: catalog, signer: keys.signer, origin: "test-site/audit")
        let live = LiveHub()
        let fleet = RecorderFleet(catalog: catalog, store: store, keys: keys, live: live, policy: RetentionPolicy(), logger: logger)
        for role in Role.allCases {
            _ = try await accounts.addUser(name: "u-\(role.rawValue)", role: role, password: password)
        }
        var camera = CameraRecord(id: 0, name: "gate", url: "rtsp://127.0.0.1:9/none", retentionDays: 30)
        camera.enabled = false
        camera = try await catalog.addCamera(camera)
        let certificate = try SiteCertificate.loadOrCreate(directory: "\(dir)/keys", siteName: "test-site")
        let evidence = EvidenceRegister(catalog: catalog, store: store, audit: audit, keys: keys, certificate: certificate)
        var env = ServerEnvironment(
            cameras: CameraRegistry(catalog: catalog), footage: Footage(catalog: catalog, store: store), accounts: accounts, audit: audit,
            fleet: fleet, live: live, keys: keys,
            evidence: evidence, exports: ExportShelf(root: "\(dir)/exports"),
            ptz: CameraControl(cameras: CameraRegistry(catalog: catalog), keys: keys, catalog: catalog),
            tours: TourRegister(catalog: catalog), incidents: IncidentRegister(catalog: catalog),
            metrics: VigilMetrics(), webRoot: "\(TestSupport.packageRoot)/Web",
            openAPIPath: "\(TestSupport.packageRoot)/docs/openapi.json", secureCookies: false, logger: logger)
        env.newCameraDefaults = cameraDefaults
        configure(&env)
        return (env, camera.id, dir, catalog, store)
    }

    static func start(
        _ transport: Transport = .inProcess,
        cameraDefaults: ServerEnvironment.CameraDefaults = .init(),
        limits: ConnectionLimits = ConnectionLimits(),
        configure: (inout ServerEnvironment) -> Void = { _ in }
    ) async throws -> ServerHarness {
        let (env, cameraID, dir, catalog, store) = try await environment(cameraDefaults: cameraDefaults, configure: configure)
        let server = VigilServer(environment: env)
        let routes = server.router.routes.map { (method: $0.method.rawValue, path: RouterShape.normalise("\($0.path)")) }
        switch transport {
        case .inProcess:
            precondition(limits.perAddress == ConnectionLimits().perAddress, "connection limits apply over a socket only")
            // With no services, the framework hands its client to the closure and keeps
            // nothing running: the client (the router's responder) serves as long as it is held.
            let client = try await Application(router: server.router, logger: env.logger).test(.router) { $0 }
            return ServerHarness(
                env: env, routes: routes, policies: server.policies, base: "http://localhost", task: nil, client: client,
                cameraID: cameraID, directory: dir, catalog: catalog, store: store)
        case .socket:
            let (started, continuation) = AsyncStream.makeStream(of: Int.self)
            let logger = env.logger
            let task = Task {
                try await VigilServer(environment: env).run(
                    host: "127.0.0.1", port: 0, tls: nil, services: [], limits: limits, logger: logger
                ) { port in
                    continuation.yield(port)
                }
            }
            var iterator = started.makeAsyncIterator()
            guard let port = await iterator.next() else { throw ToolError("server did not start") }
            return ServerHarness(
                env: env, routes: routes, policies: server.policies, base: "http://127.0.0.1:\(port)", task: task, client: nil,
                cameraID: cameraID, directory: dir, catalog: catalog, store: store)
        }
    }

    init(
        env: ServerEnvironment, routes: [(method: String, path: String)], policies: [RoutePolicy], base: String,
        task: Task<Void, any Error>?, client: (any TestClientProtocol)?, cameraID: Int64, directory: String, catalog: Catalog,
        store: SampleStore
    ) {
        self.catalog = catalog
        self.store = store
        self.env = env
        self.routes = routes
        self.policies = policies
        self.base = base
        self.task = task
        self.client = client
        self.cameraID = cameraID
        self.directory = directory
    }

    func stop() async {
        task?.cancel()
        _ = try? await task?.value
        await catalog.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs `body` against a fresh server, stopping it whatever happens.
    static func with(
        _ transport: Transport = .inProcess,
        cameraDefaults: ServerEnvironment.CameraDefaults = .init(), limits: ConnectionLimits = ConnectionLimits(),
        configure: (inout ServerEnvironment) -> Void = { _ in },
        _ body: (ServerHarness) async throws -> Void
    ) async throws {
        let h = try await start(transport, cameraDefaults: cameraDefaults, limits: limits, configure: configure)
        do {
            try await body(h)
        } catch {
            await h.stop()
            throw error
        }
        await h.stop()
    }

    struct Reply {
        var status: Int
        var headers: [String: String]
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    }

    struct Session {
        var cookie: String
        var csrf: String
    }

    /// A client that never stores or sends cookies on its own: each request carries exactly
    /// the session the test gives it.
    static let http: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpCookieStorage = nil
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        return URLSession(configuration: configuration)
    }()

    func request(
        _ method: String, _ path: String, session: Session? = nil, csrf: Bool = true, json: [String: Any]? = nil,
        headers: [String: String] = [:]
    ) async throws -> Reply {
        var r = URLRequest(url: URL(string: base + path)!)
        r.httpMethod = method
        r.httpShouldHandleCookies = false
        if let session {
            r.setValue("vigil_session=\(session.cookie)", forHTTPHeaderField: "Cookie")
            if csrf { r.setValue(session.csrf, forHTTPHeaderField: "X-CSRF-Token") }
        }
        if let json {
            r.httpBody = try JSONSerialization.data(withJSONObject: json)
            r.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (k, v) in headers { r.setValue(v, forHTTPHeaderField: k) }
        if let client { return try await Self.send(r, to: client) }
        let (data, response) = try await Self.http.data(for: r)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (k, v) in http.allHeaderFields { fields[String(describing: k).lowercased()] = String(describing: v) }
        return Reply(status: http.statusCode, headers: fields, body: data)
    }

    /// The same request, handed to the router in process.
    private static func send(_ r: URLRequest, to client: any TestClientProtocol) async throws -> Reply {
        var fields = HTTPFields()
        for (name, value) in r.allHTTPHeaderFields ?? [:] {
            guard let name = HTTPField.Name(name) else { throw ToolError("bad header name \(name)") }
            fields.append(HTTPField(name: name, value: value))
        }
        // As sent: percent-encoding kept (`URL.path` would decode a %2F into a slash).
        let parts = try #require(r.url.flatMap { URLComponents(url: $0, resolvingAgainstBaseURL: false) })
        let uri = parts.percentEncodedPath + (parts.percentEncodedQuery.map { "?" + $0 } ?? "")
        let response = try await client.executeRequest(
            uri: uri, method: HTTPRequest.Method(r.httpMethod ?? "GET")!, headers: fields, body: r.httpBody.map { ByteBuffer(bytes: $0) })
        var headers: [String: String] = [:]
        for field in response.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        // What a real client would refuse: a length that is not the body's.
        if let length = headers["content-length"], r.httpMethod != "HEAD" {
            #expect(
                Int(length) == response.body.readableBytes,
                "\(r.httpMethod ?? "") \(uri): Content-Length \(length), body \(response.body.readableBytes)")
        }
        return Reply(status: response.status.code, headers: headers, body: Data(response.body.readableBytesView))
    }

    func signIn(_ role: Role) async throws -> Session { try await signIn(name: "u-\(role.rawValue)") }

    /// Signs in as the user `name`, whose password is the harness's.
    func signIn(name: String) async throws -> Session {
        let reply = try await request("POST", "/api/session", json: ["username": name, "password": Self.password])
        guard reply.status == 200, let cookieHeader = reply.headers["set-cookie"], let csrf = reply.json?["csrfToken"] as? String else {
            throw ToolError("sign-in as \(name) failed: \(reply.status) \(String(decoding: reply.body, as: UTF8.self))")
        }
        let token = cookieHeader.split(separator: ";")[0].split(separator: "=", maxSplits: 1)[1]
        return Session(cookie: String(token), csrf: csrf)
    }

    /// A concrete URL for a router path: parameters filled, required query given.
    func concrete(_ path: String) -> String {
        var p = path.replacingOccurrences(of: "{id}", with: "\(cameraID)").replacingOccurrences(of: ":id", with: "\(cameraID)")
        p = p.replacingOccurrences(of: "{uid}", with: "1").replacingOccurrences(of: ":uid", with: "1")
        p = p.replacingOccurrences(of: "{tid}", with: "1").replacingOccurrences(of: ":tid", with: "1")
        p = p.replacingOccurrences(of: "{vid}", with: "1").replacingOccurrences(of: ":vid", with: "1")
        for (name, value) in [
            ("exhibit", "EV-2026-000001"), ("export", "20261124T100000Z"), ("file", "EV-2026-000001-1-gate.mp4"), ("name", "entrance"),
            ("iid", "1"), ("sid", "1")
        ] {
            p = p.replacingOccurrences(of: "{\(name)}", with: value).replacingOccurrences(of: ":\(name)", with: value)
        }
        let now = Date()
        let from = ISO8601DateFormatter().string(from: now.addingTimeInterval(-60)), to = ISO8601DateFormatter().string(from: now)
        switch true {
        case p.hasSuffix("/recordings"), p.hasSuffix("/view.mp4"), p.hasSuffix("/ptz/history"): return p + "?from=\(from)&to=\(to)"
        case p.hasSuffix("/export.mp4"): return p + "?from=\(from)&to=\(to)&purpose=test"
        case p.hasSuffix("/proof/inclusion"): return p + "?index=0&size=1"
        case p.hasSuffix("/proof/consistency"): return p + "?from=0&to=1"
        default: return p
        }
    }
}

@Suite(.serialized) struct ServerSecurityTests {
    @Test func everyRouteHasAPolicyAndIsDocumented() async throws {
        // Routes are read from the router itself, so a route added without a policy or
        // without documentation fails here.
        try await ServerHarness.with { h in
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(TestSupport.packageRoot)/docs/openapi.json"))
            let doc = try JSONSerialization.jsonObject(with: data) as! [String: Any]
            let paths = doc["paths"] as! [String: [String: Any]]
            let routes = h.routes
            let policies = Set(h.policies.map(\.key))
            #expect(routes.count >= 20)
            for route in routes {
                let key = "\(route.method) \(route.path)"
                #expect(policies.contains(key), "route \(key) has no policy")
                let documented = paths[route.path]?[route.method.lowercased()] as? [String: Any]
                #expect(documented != nil, "route \(key) is missing from docs/openapi.json")
                let permission = h.policies.first { $0.key == key }?.permission?.rawValue ?? "signed-in"
                #expect(
                    documented?["x-vigil-permission"] as? String == permission,
                    "docs/openapi.json gives \(key) another permission than its policy")
            }
            for (path, operations) in paths {
                for method in operations.keys {
                    #expect(
                        routes.contains { $0.path == path && $0.method == method.uppercased() },
                        "docs/openapi.json documents \(method.uppercased()) \(path), which the router lacks")
                }
            }
            let served = try await h.request("GET", "/api/openapi.json", session: try await h.signIn(.operator))
            #expect(served.status == 200 && served.body == data)
        }
    }

    @Test func withoutSessionEveryRouteAnswers401AndWithoutPermission403() async throws {
        try await ServerHarness.with { h in
            let routes = h.routes
            let policies = Dictionary(uniqueKeysWithValues: h.policies.map { ($0.key, $0) })
            var sessions: [Role: ServerHarness.Session] = [:]
            for role in Role.allCases { sessions[role] = try await h.signIn(role) }
            var checked403 = 0
            for route in routes {
                let key = "\(route.method) \(route.path)"
                let url = h.concrete(route.path)
                let anonymous = try await h.request(route.method, url, json: route.method == "GET" ? nil : [:])
                if VigilServer.publicRoutes.contains(key) {
                    #expect(anonymous.status != 401, "\(key) is public but answered 401")
                    continue
                }
                #expect(anonymous.status == 401, "\(key) without a session answered \(anonymous.status)")
                guard let permission = policies[key]?.permission else { continue }
                let lacking = try #require(Role.allCases.first { !$0.permissions.contains(permission) })
                let denied = try await h.request(route.method, url, session: sessions[lacking], json: route.method == "GET" ? nil : [:])
                #expect(denied.status == 403, "\(key) as \(lacking.rawValue) (lacking \(permission.rawValue)) answered \(denied.status)")
                checked403 += 1
            }
            #expect(checked403 >= 12)
        }
    }

    @Test func eachImageryRouteAppendsExactlyOneAuditEntry() async throws {
        try await ServerHarness.with(.socket) { h in // each entry names the peer's address
            let supervisor = try await h.signIn(.supervisor)
            let operatorSession = try await h.signIn(.operator)
            let imagery = h.policies.filter(\.imagery)
            #expect(
                Set(imagery.map(\.path)) == [
                    "/api/cameras/{id}/live", "/api/cameras/{id}/recordings", "/api/cameras/{id}/view.mp4", "/api/cameras/{id}/export.mp4",
                    "/api/evidence/{exhibit}/exports/{export}/{file}", "/api/incidents/{iid}/snapshots/{sid}"
                ])
            for route in imagery {
                for (who, session) in [("supervisor", supervisor), ("operator", operatorSession)] {
                    let before = await h.env.audit.size
                    let reply = try await h.request(route.method, h.concrete(route.path), session: session)
                    let after = await h.env.audit.size
                    #expect(after - before == 1, "\(route.key) as \(who) (answered \(reply.status)) appended \(after - before) entries")
                    let last = try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first)
                    let entry = try AuditEntry.decode(last.body)
                    #expect(entry.user == "u-\(who == "supervisor" ? "supervisor" : "operator")")
                    if route.path.contains("{id}") {
                        #expect(entry.camera == h.cameraID)
                    } else if route.path.hasPrefix("/api/incidents/") {
                        #expect(entry.action == "incident.snapshot")
                    } else {
                        #expect(entry.action.hasPrefix("evidence."))
                    }
                    #expect(entry.address == "127.0.0.1")
                }
            }
        }
    }

    @Test func crossOriginLiveUpgradeIsRefusedForCookieSessionsOnly() async throws {
        try await ServerHarness.with(.socket) { h in
            let session = try await h.signIn(.operator)
            let live = "/api/cameras/\(h.cameraID)/live"
            let foreign = ["Origin": "https://evil.example"]
            let refused = try await h.request("GET", live, session: session, headers: foreign)
            #expect(refused.status == 403, "a foreign page riding on the session cookie must be refused")
            let entry = try AuditEntry.decode(try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first).body)
            #expect(entry.action == "live.start" && entry.result == "denied" && entry.detail?.contains("cross-origin") == true)
            // The console's own origin passes the check (and, not being a handshake, gets 426).
            let own = try await h.request("GET", live, session: session, headers: ["Origin": h.base])
            #expect(own.status == 426)
            // An API token cannot be attached by a foreign page: no origin check.
            let user = try #require(try await h.catalog.user(named: "u-operator"))
            let token = try await h.env.accounts.issueAPIToken(userID: user.id, name: "wall").token
            let bearer = try await h.request("GET", live, headers: foreign.merging(["Authorization": "Bearer \(token)"]) { a, _ in a })
            #expect(bearer.status == 426)
            // The console's push of camera statuses likewise: a foreign page's handshake is refused.
            let port = try #require(Int(h.base.split(separator: ":").last ?? ""))
            for (origin, expected) in [("https://evil.example", "HTTP/1.1 403"), (h.base, "HTTP/1.1 101")] {
                let connection = try RawConnection(port: port)
                connection.sendHandshake("/api/events", host: "127.0.0.1:\(port)", origin: origin, cookie: session.cookie)
                let head = await connection.received(limit: 5) { $0.count >= 12 }
                #expect(String(decoding: head.prefix(12), as: UTF8.self) == expected, "\(origin): \(String(decoding: head, as: UTF8.self))")
            }
        }
    }

    @Test func anAPITokenIsListedWithoutItsSecretAndRevokedByItsOwnerOnly() async throws {
        try await ServerHarness.with { h in
            let owner = try await h.signIn(.operator)
            let other = try await h.signIn(.supervisor)
            let issued = try await h.request("POST", "/api/tokens", session: owner, json: ["name": "video wall"])
            #expect(issued.status == 201)
            let token = try #require(issued.json?["token"] as? String)
            let id = try #require((issued.json?["id"] as? String).flatMap { Int64($0) })
            let bearer = ["Authorization": "Bearer \(token)"]
            #expect(try await h.request("GET", "/api/cameras", headers: bearer).status == 200)

            let listed = try await h.request("GET", "/api/tokens", session: owner)
            let tokens = try #require(try JSONSerialization.jsonObject(with: listed.body) as? [[String: Any]])
            #expect(tokens.count == 1 && tokens.first?["name"] as? String == "video wall" && tokens.first?["revoked"] as? Bool == false)
            #expect(!String(decoding: listed.body, as: UTF8.self).contains(String(token.dropFirst(4))), "the list shows the token itself")
            let othersList = try await h.request("GET", "/api/tokens", session: other)
            let othersTokens = try JSONSerialization.jsonObject(with: othersList.body) as? [Any]
            #expect(othersList.status == 200 && othersTokens?.isEmpty == true)

            #expect(try await h.request("DELETE", "/api/tokens/\(id)", session: other).status == 404, "another user revoked the token")
            #expect(try await h.request("GET", "/api/cameras", headers: bearer).status == 200)
            #expect(try await h.request("DELETE", "/api/tokens/\(id)", session: owner).status == 204)
            let entry = try AuditEntry.decode(try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first).body)
            #expect(entry.action == "token.revoke" && entry.user == "u-operator" && entry.detail == "token \(id)")
            #expect(try await h.request("GET", "/api/cameras", headers: bearer).status == 401, "a revoked token still works")
            let after = try await h.request("GET", "/api/tokens", session: owner)
            let revoked = try JSONSerialization.jsonObject(with: after.body) as? [[String: Any]]
            #expect(revoked?.first?["revoked"] as? Bool == true)
        }
    }

    @Test func apiTokensExpireDieWithTheAccountAndAnAdministratorRevokesAnyones() async throws {
        try await ServerHarness.with { h in
            let owner = try await h.signIn(.operator), admin = try await h.signIn(.admin)
            let uid = try #require(try await h.catalog.user(named: "u-operator")).id
            for days in [0, 366, -5] {
                #expect(
                    try await h.request("POST", "/api/tokens", session: owner, json: ["name": "wall", "days": days]).status == 400,
                    "\(days) days")
            }
            #expect(try await h.request("POST", "/api/tokens", session: owner, json: ["name": "wall\u{202E}llaw"]).status == 400)
            let issued = try await h.request("POST", "/api/tokens", session: owner, json: ["name": "video wall"])
            #expect(issued.status == 201)
            let expires = try #require((issued.json?["expires"] as? String).flatMap { parseISO8601($0) })
            #expect(
                abs(expires - WallClock.system.nowMicros() - 90 * 86_400_000_000) < 60_000_000,
                "a token lives 90 days unless asked for less")
            let token = try #require(issued.json?["token"] as? String), id = try #require(issued.json?["id"] as? String)
            let bearer = ["Authorization": "Bearer \(token)"]
            #expect(try await h.request("GET", "/api/cameras", headers: bearer).status == 200)
            // A token cannot mint tokens: a stolen one would outlive its expiry through them.
            #expect(try await h.request("POST", "/api/tokens", json: ["name": "child"], headers: bearer).status == 403)

            // The administrator lists anyone's tokens (never the secrets) and revokes them.
            let listed = try await h.request("GET", "/api/users/\(uid)/tokens", session: admin)
            let tokens = try #require(try JSONSerialization.jsonObject(with: listed.body) as? [[String: Any]])
            #expect(tokens.count == 1 && tokens[0]["name"] as? String == "video wall" && tokens[0]["expired"] as? Bool == false)
            #expect(!String(decoding: listed.body, as: UTF8.self).contains(String(token.dropFirst(4))))
            #expect(try await h.request("GET", "/api/users/\(uid)/tokens", session: owner).status == 403)
            #expect(try await h.request("DELETE", "/api/users/\(uid)/tokens/\(id)", session: admin).status == 204)
            #expect(try await h.request("GET", "/api/cameras", headers: bearer).status == 401)
            let entry = try AuditEntry.decode(try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first).body)
            #expect(entry.action == "token.revoke" && entry.user == "u-admin" && entry.detail == "token \(id) of user u-operator")
            #expect(try await h.request("DELETE", "/api/users/\(uid)/tokens/\(id)9", session: admin).status == 404)

            // An expired token is refused.
            let short = try await h.env.accounts.issueAPIToken(userID: uid, name: "short", days: 1)
            #expect(try await h.request("GET", "/api/cameras", headers: ["Authorization": "Bearer \(short.token)"]).status == 200)
            try await h.catalog.database.raw(
                "UPDATE api_tokens SET expires_micros = \(bind: WallClock.system.nowMicros() - 1) WHERE id = \(bind: short.id)"
            ).run()
            #expect(try await h.request("GET", "/api/cameras", headers: ["Authorization": "Bearer \(short.token)"]).status == 401)

            // A password reset kills the user's tokens; so does disabling, for good.
            let beforeReset = try await h.env.accounts.issueAPIToken(userID: uid, name: "a").token
            #expect(
                try await h.request("PATCH", "/api/users/\(uid)", session: admin, json: ["password": "another long secret 9"]).status == 200
            )
            #expect(try await h.request("GET", "/api/cameras", headers: ["Authorization": "Bearer \(beforeReset)"]).status == 401)
            let guardID = try #require(try await h.catalog.user(named: "u-guard-duty")).id
            let beforeDisable = try await h.env.accounts.issueAPIToken(userID: guardID, name: "b").token
            #expect(try await h.request("PATCH", "/api/users/\(guardID)", session: admin, json: ["disabled": true]).status == 200)
            #expect(try await h.request("PATCH", "/api/users/\(guardID)", session: admin, json: ["disabled": false]).status == 200)
            #expect(
                try await h.request("GET", "/api/cameras", headers: ["Authorization": "Bearer \(beforeDisable)"]).status == 401,
                "re-enabling an account brought its old token back")
        }
    }

    @Test func noOneGrantsThemselvesAPermission() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin)
            let me = try #require(try await h.catalog.user(named: "u-admin")).id
            let other = try #require(try await h.catalog.user(named: "u-operator")).id
            for (method, path, body) in [
                ("PATCH", "/api/users/\(me)", ["role": "supervisor"] as [String: Any]),
                ("POST", "/api/users/\(me)/grants", ["permission": "live"]),
                ("POST", "/api/users/\(me)/grants", ["permission": "playback", "camera": h.cameraID])
            ] {
                let before = await h.env.audit.size
                let r = try await h.request(method, path, session: admin, json: body)
                #expect(r.status == 403, "\(method) \(path) \(body) answered \(r.status)")
                #expect(await h.env.audit.size == before + 1, "a refused self-grant was not audited")
                let entry = try AuditEntry.decode(
                    try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first).body)
                #expect(entry.result == "denied" && entry.user == "u-admin")
            }
            // Nor edits their own account through the administrators' route (their own
            // password is changed under the session).
            for body in [["disabled": true] as [String: Any], ["password": "a brand new passphrase"]] {
                #expect(try await h.request("PATCH", "/api/users/\(me)", session: admin, json: body).status == 403, "\(body)")
            }
            // An edit applies whole or not at all: a good role with a bad password changes nothing.
            let partial = try await h.request(
                "PATCH", "/api/users/\(other)", session: admin, json: ["role": "supervisor", "password": "short"])
            #expect(partial.status == 400)
            #expect(try await h.catalog.user(id: other)?.role == "operator", "the role changed though the edit was refused")
            let after = try #require(try await h.catalog.user(id: me))
            #expect(after.role == "admin" && !after.disabled)
            #expect(try await h.catalog.grants(userID: me).isEmpty)
            // Granting someone else is what the route is for.
            #expect(
                try await h.request(
                    "POST", "/api/users/\(other)/grants", session: admin, json: ["permission": "export", "camera": h.cameraID]
                ).status == 200)
            #expect(try await h.catalog.grants(userID: other).map(\.permission) == ["export"])
        }
    }

    /// A camera added without retention or segment length gets the server's configured
    /// ones; what the request gives wins.
    @Test func camerasAddedThroughTheAPIGetTheConfiguredDefaults() async throws {
        try await ServerHarness.with(cameraDefaults: .init(retentionDays: 14, segmentSeconds: 120)) { h in
            let admin = try await h.signIn(.admin)
            let plain = try await h.request("POST", "/api/cameras", session: admin, json: ["name": "plain", "url": "rtsp://10.0.0.1/"])
            let given = try await h.request(
                "POST", "/api/cameras", session: admin,
                json: ["name": "given", "url": "rtsp://10.0.0.2/", "retentionDays": 7, "segmentSeconds": 30])
            #expect(plain.status == 201 && given.status == 201)
            let cameras = try await h.catalog.cameras()
            let stored = Dictionary(uniqueKeysWithValues: cameras.map { ($0.name, ($0.retentionDays, $0.segmentSeconds)) })
            #expect(stored["plain"].map { [$0.0, $0.1] } == [14, 120])
            #expect(stored["given"].map { [$0.0, $0.1] } == [7, 30])
        }
    }

    /// A user's own password change and its audit entry are stored together or not at all:
    /// here the log refuses the entry (a trigger stands in for a full disk or a failing
    /// write), and the password must stay what it was, its sessions alive.
    @Test func anOwnPasswordChangeIsNotMadeWhenItsEntryCannotBeWritten() async throws {
        try await ServerHarness.with { h in
            let session = try await h.signIn(.operator)
            try await h.catalog.database.raw(
                """
                CREATE TRIGGER refuse_password_entries BEFORE INSERT ON audit_entries
                WHEN CAST(NEW.body AS TEXT) LIKE '%user.password-change%' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END
                """
            ).run()
            let changed = try await h.request(
                "POST", "/api/session/password", session: session,
                json: ["current": ServerHarness.password, "new": "a-new-secret-42"])
            #expect(changed.status == 500, "\(changed.status)")
            try await h.catalog.database.raw("DROP TRIGGER refuse_password_entries").run()
            #expect(
                try await h.request("GET", "/api/cameras", session: session).status == 200, "the session ended with an unrecorded change")
            let old = try await h.request("POST", "/api/session", json: ["username": "u-operator", "password": ServerHarness.password])
            #expect(old.status == 200, "the password changed without its audit entry")
        }
    }

    @Test func csrfLockoutAndOneTimePasswords() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin)
            // A state-changing request from the browser session without its CSRF token.
            let forged = try await h.request(
                "POST", "/api/cameras", session: admin, csrf: false, json: ["name": "x", "url": "rtsp://10.0.0.1/"])
            #expect(forged.status == 403)
            let added = try await h.request("POST", "/api/cameras", session: admin, json: ["name": "x", "url": "rtsp://u:secret@10.0.0.1/"])
            #expect(added.status == 201)
            #expect(!String(decoding: added.body, as: UTF8.self).contains("secret"), "a camera password was returned")

            // Lockout: five failures lock the account; the right password is then refused too.
            for _ in 0..<5 {
                let r = try await h.request("POST", "/api/session", json: ["username": "u-court", "password": "wrong password!"])
                #expect(r.status == 401)
            }
            let locked = try await h.request("POST", "/api/session", json: ["username": "u-court", "password": ServerHarness.password])
            #expect(locked.status == 429)
            #expect(Int(locked.headers["retry-after"] ?? "") ?? 0 > 0)

            // A user the administrator adds gets a one-time password: nothing but a change is allowed.
            let created = try await h.request(
                "POST", "/api/users", session: admin, json: ["name": "newop", "role": "operator", "password": "initial-secret-1"])
            #expect(created.status == 201)
            let first = try await h.request("POST", "/api/session", json: ["username": "newop", "password": "initial-secret-1"])
            #expect(first.json?["mustChangePassword"] as? Bool == true)
            let cookie = String(first.headers["set-cookie"]!.split(separator: ";")[0].split(separator: "=", maxSplits: 1)[1])
            let s = ServerHarness.Session(cookie: cookie, csrf: first.json!["csrfToken"] as! String)
            #expect(try await h.request("GET", "/api/cameras", session: s).status == 403)
            let changed = try await h.request(
                "POST", "/api/session/password", session: s, json: ["current": "initial-secret-1", "new": "my-own-secret-2"])
            #expect(changed.status == 200)
            let newCookie = String(changed.headers["set-cookie"]!.split(separator: ";")[0].split(separator: "=", maxSplits: 1)[1])
            let s2 = ServerHarness.Session(cookie: newCookie, csrf: changed.json!["csrfToken"] as! String)
            #expect(try await h.request("GET", "/api/cameras", session: s2).status == 200)
            #expect(try await h.request("GET", "/api/cameras", session: s).status == 401, "the old session survived a password change")

            // Cookie attributes.
            let signIn = try await h.request("POST", "/api/session", json: ["username": "u-operator", "password": ServerHarness.password])
            let setCookie = signIn.headers["set-cookie"] ?? ""
            #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        }
    }

    @Test func auditCheckpointAndProofsVerifyAgainstTheSiteKey() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin)
            for _ in 0..<5 { _ = try await h.signIn(.operator) }
            let cp = try await h.request("GET", "/api/audit/checkpoint", session: admin)
            #expect(cp.status == 200)
            let note = try #require(cp.json?["checkpoint"] as? String)
            let verifier = try NoteVerifier(encoded: try #require(cp.json?["verifierKey"] as? String))
            let checkpoint = try Checkpoint(text: try verifier.verify(note))
            #expect(checkpoint.treeSize == 6)
            for index in 0..<checkpoint.treeSize {
                let proof = try await h.request(
                    "GET", "/api/audit/proof/inclusion?index=\(index)&size=\(checkpoint.treeSize)", session: admin)
                let json = try #require(proof.json)
                let entry = Array((json["entry"] as! String).utf8)
                let path = (json["proof"] as! [String]).map { [UInt8](Data(base64Encoded: $0)!) }
                try MerkleTree.verifyInclusion(
                    index: index, treeSize: checkpoint.treeSize, leafHash: MerkleTree.leafHash(entry), proof: path,
                    root: checkpoint.rootHash)
            }
            let list = try await h.request("GET", "/api/audit?limit=5", session: admin)
            #expect((list.json?["entries"] as? [Any])?.count == 5)
            let operatorSession = try await h.signIn(.operator)
            #expect(try await h.request("GET", "/api/audit", session: operatorSession).status == 403)
        }
    }
}

/// Router paths with `{name}` parameters, whichever syntax the router prints.
enum RouterShape {
    static func normalise(_ path: String) -> String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
        }.joined(separator: "/")
    }
}
