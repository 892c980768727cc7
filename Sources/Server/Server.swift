// Server: the HTTP face of the centre — API routes, sessions and CSRF, WebSocket live view,
// the console's push of camera statuses (EventRoutes), the static console and metrics. It formats HTTP and nothing else: rules about who may do
// what live in Centre and Access, SQL in Catalog, media assembly in Media and Recording.
// It builds on the domain's services and Records' plain rows only: it imports neither
// Catalog nor Recording (ServerTests' `serverImportsNoStorage`), and it is compiled with
// member import visibility, so it cannot reach them through another module either.
// Every route is declared with the permission it needs (`RouteTable`), so the security
// tests can enumerate the router and check each one.

import Access
import Audit
import Base
import Centre
import Dispatching
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Incidents
import Logging
import NIOSSL
import PTZ
import Records
import ServiceLifecycle

/// Everything the routes use.
public struct ServerEnvironment: Sendable {
    /// The camera registry, and what each camera has recorded.
    public var cameras: CameraRegistry
    public var footage: Footage
    public var accounts: Accounts
    public var audit: AuditTrail
    public var fleet: RecorderFleet
    public var live: LiveHub
    public var keys: SiteKeys
    /// The evidence register, and where the bundles it exports for download are kept.
    public var evidence: EvidenceRegister
    public var exports: ExportShelf
    /// PTZ control of the cameras added over ONVIF, and the tours the server runs.
    public var ptz: CameraControl
    public var tours: TourRegister
    /// The incident register.
    public var incidents: IncidentRegister
    /// Dispatch's configuration and outbox, on the register's catalog.
    public var dispatch: DispatchDesk
    /// The pictures reports ask for, made after their answers (`PictureService` at shutdown).
    public let pictures = PictureQueue()
    public var metrics: VigilMetrics
    /// Directory of the browser console's static files.
    public var webRoot: String
    /// The OpenAPI document served at /api/openapi.json.
    public var openAPIPath: String
    /// Cookies get `Secure` when the server speaks TLS.
    public var secureCookies: Bool
    public var logger: Logger
    /// What a camera added through the API gets for the settings its request leaves out
    /// (the server's configuration: `retentionDays`, `segmentSeconds`).
    public var newCameraDefaults = CameraDefaults()
    /// How often an open live stream re-checks that its viewer may still watch (the stream
    /// ends within this of a sign-out, a disabled account or a withdrawn grant).
    public var liveRecheck: Duration = .seconds(2)
    let liveRechecks = LiveRechecks()
    /// The most frames one playback or export answer may hold (`Footage.maximumServedFrames`).
    public var maximumServedFrames = Footage.maximumServedFrames
    /// Signed bundles one user may have the server export in 24 hours.
    public var exportsPerUserPerDay = EvidenceRegister.defaultExportsPerDay
    /// Origins (`https://vms.example`) the console is also served at, through a reverse
    /// proxy; a cookie-authenticated live stream may be opened from them too.
    public var publicOrigins: [String] = []
    /// Addresses of the site's reverse proxies, whose `X-Forwarded-For` names the station.
    public var trustedProxies: Set<String> = []
    /// Free space a server-side export must leave for recording (the retention disk floor).
    public var diskFloorBytes: Int64 = 1 << 30
    /// Wall time for the routes (the same clock the domain's parts were given).
    public var clock: WallClock = .system
    /// Where the camera admin page's "find cameras" probes (none: the local segment).
    public var finder = CameraFinder()

    public struct CameraDefaults: Sendable {
        public var retentionDays = CameraRules.defaultRetentionDays
        public var segmentSeconds = 60
        public init(retentionDays: Int = CameraRules.defaultRetentionDays, segmentSeconds: Int = 60) {
            self.retentionDays = retentionDays
            self.segmentSeconds = segmentSeconds
        }
    }

    public init(
        cameras: CameraRegistry, footage: Footage, accounts: Accounts, audit: AuditTrail, fleet: RecorderFleet, live: LiveHub,
        keys: SiteKeys, evidence: EvidenceRegister, exports: ExportShelf, ptz: CameraControl, tours: TourRegister,
        incidents: IncidentRegister,
        metrics: VigilMetrics,
        webRoot: String,
        openAPIPath: String,
        secureCookies: Bool, logger: Logger
    ) {
        self.cameras = cameras
        self.footage = footage
        self.accounts = accounts
        self.audit = audit
        self.fleet = fleet
        self.live = live
        self.keys = keys
        self.evidence = evidence
        self.exports = exports
        self.ptz = ptz
        self.tours = tours
        self.incidents = incidents
        self.dispatch = DispatchDesk(register: incidents, keys: keys)
        self.metrics = metrics
        self.webRoot = webRoot
        self.openAPIPath = openAPIPath
        self.secureCookies = secureCookies
        self.logger = logger
    }
}

/// What a route requires. `permission == nil`: any signed-in user. Routes in
/// `RouteTable.public` need no sign-in.
public struct RoutePolicy: Sendable, Equatable {
    public var method: String
    public var path: String
    public var permission: Permission?
    /// Touches imagery: every request appends exactly one audit entry.
    public var imagery: Bool
    public var key: String { "\(method) \(path)" }
}

/// The HTTP server: `router` for the API and console, `webSocketRouter` for live upgrades.
public struct VigilServer {
    public let router: Router<VigilContext>
    public let webSocketRouter: Router<VigilContext>
    public let policies: [RoutePolicy]
    /// Sign-in is the only API route open to anyone; static console files are open too.
    public static let publicRoutes: Set<String> = ["POST /api/session"]

    public init(environment env: ServerEnvironment) {
        let router = Router(context: VigilContext.self)
        router.add(middleware: ClientAddressMiddleware(trusted: env.trustedProxies))
        router.add(middleware: SecurityHeadersMiddleware(strictTransportSecurity: env.secureCookies))
        router.add(middleware: AuthMiddleware(accounts: env.accounts))
        let shapes = RouteShapes()
        router.add(middleware: MethodNotAllowedMiddleware(routes: shapes))
        router.add(middleware: FileMiddleware(env.webRoot, searchForIndexHtml: true, logger: env.logger))
        var table = RouteTable(router: router)
        SessionRoutes(env: env).register(&table)
        CameraRoutes(env: env).register(&table)
        PlaybackRoutes(env: env).register(&table)
        LiveRoutes(env: env).register(&table)
        UserRoutes(env: env).register(&table)
        AuditRoutes(env: env).register(&table)
        EvidenceRoutes(env: env).register(&table)
        PtzRoutes(env: env).register(&table)
        TourRoutes(env: env).register(&table)
        IncidentRoutes(env: env).register(&table)
        DispatchRoutes(env: env).register(&table)
        ExhibitRequestRoutes(env: env).register(&table)
        ViewRoutes(env: env).register(&table)
        EventRoutes(env: env).register(&table)
        MetaRoutes(env: env).register(&table)
        shapes.set(table.policies)
        self.router = router
        self.policies = table.policies
        let ws = Router(context: VigilContext.self)
        LiveRoutes(env: env).registerWebSocket(ws)
        PtzRoutes(env: env).registerWebSocket(ws)
        EventRoutes(env: env).registerWebSocket(ws)
        self.webSocketRouter = ws
    }

    /// Runs the server and `services` (recorders, checkpoints) in one ServiceGroup until
    /// SIGINT or SIGTERM, then shuts all down gracefully.
    public func run(
        host: String, port: Int, tls: (certificate: String, key: String)?, services: [any Service],
        limits: ConnectionLimits = ConnectionLimits(),
        logger: Logger, onRunning: @escaping @Sendable (Int) async -> Void
    ) async throws {
        let counter = ConnectionCounter(perAddress: limits.perAddress, total: limits.total, exempt: limits.exempt)
        let webSocketResponder = webSocketRouter.buildResponder()
        let tlsConfiguration = try tls.map { tls in
            let chain = try NIOSSLCertificate.fromPEMFile(tls.certificate).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tls.key, format: .pem)
            return TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: NIOSSLPrivateKeySource.privateKey(key))
        }
        // The guard sits inside TLS (it must see plain HTTP) and in front of everything else.
        let server = HTTPServerBuilder { responder in
            let http = GuardedChildChannel(
                inner: HTTP1WebSocketUpgradeChannel(
                    responder: responder, webSocketResponder: webSocketResponder,
                    configuration: .init()),
                counter: counter, limits: limits)
            guard let tlsConfiguration else { return http }
            return try TLSChannel(http, tlsConfiguration: tlsConfiguration)
        }
        let app = Application(
            router: router, server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "vigil"),
            services: services,
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger)
        try await app.runService()
    }
}

/// Registers routes together with their policy.
struct RouteTable {
    let router: Router<VigilContext>
    var policies: [RoutePolicy] = []

    typealias Handler = @Sendable (Request, VigilContext, Principal) async throws -> Response

    /// Adds a route. The handler runs only for a principal holding `permission` (on some
    /// camera, for imagery permissions; the handler checks the camera itself).
    mutating func add(
        _ method: HTTPRequest.Method, _ path: String, _ permission: Permission?, imagery: Bool = false,
        onDenied: (@Sendable (Request, VigilContext, Principal) async throws -> Void)? = nil,
        _ handler: @escaping Handler
    ) {
        policies.append(RoutePolicy(method: method.rawValue, path: path, permission: permission, imagery: imagery))
        router.on(RouterPath(path), method: method) { request, context in
            let principal = try context.principal()
            if let permission {
                let allowed = permission.isImagery ? principal.mayOnSomeCamera(permission) : principal.may(permission)
                guard allowed else {
                    try await onDenied?(request, context, principal)
                    throw APIError(
                        status: .forbidden, message: "your role (\(principal.role.rawValue)) lacks the \(permission.rawValue) permission")
                }
            }
            return try await handler(request, context, principal)
        }
    }
}

/// The station a request came from, for audit entries.
func station(_ request: Request, _ context: VigilContext) -> (address: String, userAgent: String) {
    // Cut by bytes: 200 characters can be megabytes of combining marks.
    (context.address, String(decoding: (request.headers[.userAgent] ?? "").utf8.prefix(200), as: UTF8.self))
}

extension AuditEntry {
    /// An entry for `principal` acting from the request's station.
    init(
        _ action: AuditAction, _ result: AuditResult, principal: Principal?, request: Request, context: VigilContext,
        camera: CameraRecord? = nil, detail: String? = nil
    ) {
        let s = station(request, context)
        self.init(
            action: action, result: result, user: principal?.name, role: principal?.role.rawValue, address: s.address,
            userAgent: s.userAgent, camera: camera?.id, cameraName: camera?.name, detail: detail)
    }
}

/// Ends access (a session, an API token) in one transaction with the entry that records
/// it. When the entry cannot be written the access is ended all the same, without its
/// entry, and the failure logged: no one keeps a session or a leaked token because the
/// log is failing. What `end` throws (no such token) is thrown as it is.
func endAccess(_ env: ServerEnvironment, _ entry: AuditEntry, _ end: @escaping @Sendable () async throws -> Void) async throws {
    struct Refused: Error { let underlying: any Error }
    do {
        _ = try await env.audit.append(entry) {
            do { try await end() } catch { throw Refused(underlying: error) }
        }
    } catch let refused as Refused {
        throw refused.underlying
    } catch {
        let what = "\(entry.action) (\(entry.detail ?? "")) by \(entry.user ?? "?")"
        do {
            try await end()
        } catch let second {
            env.logger.error("the audit log could not record \(what): \(error); access NOT ended either: \(second)")
            throw second
        }
        env.logger.error("the audit log could not record \(what): \(error); access ended without its entry")
    }
}

/// Reads a query parameter that must be an ISO 8601 time.
func timeParameter(_ request: Request, _ name: String) throws -> Int64 {
    guard let text = request.uri.queryParameters.get(name) else {
        throw APIError(status: .badRequest, message: "missing query parameter \(name) (ISO 8601 time)")
    }
    guard let micros = parseISO8601(text) else { throw APIError(status: .badRequest, message: "\(name)=\(text) is not an ISO 8601 time") }
    return micros
}

/// Maps every module's errors to API errors (by their code, `APIError.from`); others pass
/// through. For routes that must answer an error before leaving (a WebSocket's refusal);
/// the rest leave it to `SecurityHeadersMiddleware`, which maps the same way.
func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as any CodedError where error.code != .failure {
        throw APIError.from(error) // a failure goes on as it is, to be logged whole
    }
}
