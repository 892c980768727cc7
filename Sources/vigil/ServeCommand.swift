import ArgumentParser
import Audit
import Base
import Catalog
import Centre
import CommandSupport
import Dispatching
import Foundation
import Incidents
import Logging
import NIOCore
import Onvif
import PTZ
import Recording
import Records
import Server
import ServiceLifecycle

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the centre: recorders for every enabled camera, retention, the HTTP API and the browser console.")

    @Option(name: .long, help: "Data directory (default: the config's, else ./data).") var data: String?
    @Option(name: .long, help: "HOST:PORT to listen on (default 127.0.0.1:8080).") var listen: String?
    @Option(name: .long, help: "JSON configuration file (see docs/server.md).") var config: String?
    @Option(name: .long, help: "Directory of the console's static files (default: the repository's Web/).") var web: String?
    @Option(
        name: .customLong("witness-dir"),
        help:
            "Also write each signed audit checkpoint here (storage mounted from another machine); repeatable, added to the config's witnessDirs."
    )
    var witnessDirs: [String] = []
    @Flag(name: .long, help: "Start even though the audit log is shorter than, or differs from, a witnessed checkpoint (audited).")
    var acceptWitnessMismatch = false

    func run() async throws {
        var settings = try config.map(ServerSettings.load) ?? ServerSettings()
        if let data { settings.data = data }
        if let listen { settings.listen = listen }
        if let web { settings.web = web }
        settings.witnessDirs += witnessDirs
        var runner = CentreRunner(settings: settings)
        runner.acceptWitnessMismatch = acceptWitnessMismatch
        try await runner.run(beforeStart: { _ in }, onRunning: { url in say("Vigil console: \(url)") })
    }
}

/// `vigil serve`'s configuration file. Every field is optional.
struct ServerSettings: Codable {
    var data: String = "./data"
    var listen: String = "127.0.0.1:8080"
    var siteName: String = "vigil"
    var tls: TLSFiles?
    /// Retention for cameras added without one (at most 90).
    var retentionDays: Int = RetentionPolicy.defaultDays
    var segmentSeconds: Int = 60
    /// Delete the oldest unheld footage when free space falls below this many MiB.
    var diskFloorMB: Int64 = 1024
    var checkpointSeconds: Int = 60
    /// Days an export stays on the server for download (the bundle, not the footage).
    var exportKeepDays: Int = 30
    /// Days an incident keeps its personal data (description, reporter, address, notes); its
    /// category, times and status stay for the city's figures.
    var incidentRetentionDays: Int = IncidentRules.defaultRetentionDays
    /// Signed bundles one user may have the server export in 24 hours.
    var exportsPerUserPerDay: Int = EvidenceRegister.defaultExportsPerDay
    /// Where browsers reach the console besides this server's own address (a reverse proxy
    /// terminating TLS): `https://vms.city.example`.
    var publicOrigins: [String] = []
    /// The reverse proxies in front of the server (IP addresses): their `X-Forwarded-For`
    /// names the station, and the per-address connection cap does not apply to them.
    var trustedProxies: [String] = []
    /// Where the camera admin page's "find cameras" sends its WS-Discovery probe:
    /// `multicast` (the local segment, the default) and/or `HOST:PORT` of cameras or
    /// discovery proxies on other segments.
    var discoveryTargets: [String] = []
    var web: String?
    /// Directories (mounted from other machines) that keep a copy of each signed audit checkpoint.
    var witnessDirs: [String] = []

    struct TLSFiles: Codable {
        var certificate: String
        var key: String
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case data, listen, siteName, tls, retentionDays, segmentSeconds, diskFloorMB, checkpointSeconds, exportKeepDays,
            incidentRetentionDays, exportsPerUserPerDay, publicOrigins, trustedProxies, discoveryTargets, web, witnessDirs
    }

    init() {}

    /// Every field may be left out (its default above stands); a key this version does not
    /// know is refused, so that a misspelt setting cannot silently fail to apply.
    init(from decoder: any Decoder) throws {
        struct AnyKey: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }
        let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).filter { CodingKeys(rawValue: $0) == nil }
        guard unknown.isEmpty else {
            throw ValidationError(
                "unknown setting(s) \(unknown.sorted().joined(separator: ", ")); known: \(CodingKeys.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func value<T: Decodable>(_ key: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: key) ?? fallback }
        data = try value(.data, data)
        listen = try value(.listen, listen)
        siteName = try value(.siteName, siteName)
        tls = try c.decodeIfPresent(TLSFiles.self, forKey: .tls)
        retentionDays = try value(.retentionDays, retentionDays)
        segmentSeconds = try value(.segmentSeconds, segmentSeconds)
        diskFloorMB = try value(.diskFloorMB, diskFloorMB)
        checkpointSeconds = try value(.checkpointSeconds, checkpointSeconds)
        exportKeepDays = try value(.exportKeepDays, exportKeepDays)
        incidentRetentionDays = try value(.incidentRetentionDays, incidentRetentionDays)
        exportsPerUserPerDay = try value(.exportsPerUserPerDay, exportsPerUserPerDay)
        publicOrigins = try value(.publicOrigins, publicOrigins)
        trustedProxies = try value(.trustedProxies, trustedProxies)
        discoveryTargets = try value(.discoveryTargets, discoveryTargets)
        web = try c.decodeIfPresent(String.self, forKey: .web)
        witnessDirs = try value(.witnessDirs, witnessDirs)
    }

    static func load(_ path: String) throws -> ServerSettings {
        guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read config file \(path)") }
        do { return try JSONDecoder().decode(ServerSettings.self, from: data) } catch let error as ValidationError {
            throw ValidationError("config file \(path): \(error.message)")
        } catch {
            throw ValidationError("config file \(path): \(error)")
        }
    }

    /// Refuses values out of range before anything is opened.
    func validate() throws {
        _ = try RetentionPolicy.validate(days: retentionDays)
        func check(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
            guard range.contains(value) else {
                throw ValidationError("\(name) must be \(range.lowerBound)...\(range.upperBound), got \(value)")
            }
        }
        try check("segmentSeconds", segmentSeconds, RecorderConfiguration.allowedSegmentSeconds)
        try check("checkpointSeconds", checkpointSeconds, 1...3600)
        try check("exportKeepDays", exportKeepDays, 1...3650)
        try check("incidentRetentionDays", incidentRetentionDays, IncidentRules.retentionDays)
        try check("exportsPerUserPerDay", exportsPerUserPerDay, 1...1000)
        for origin in publicOrigins where WebOrigin.normalised(origin) == nil {
            throw ValidationError("publicOrigins: \(origin) is not an origin (scheme://host[:port], http or https, no path)")
        }
        for proxy in trustedProxies where (try? SocketAddress(ipAddress: proxy, port: 0)) == nil {
            throw ValidationError("trustedProxies: \(proxy) is not an IP address")
        }
        for target in discoveryTargets {
            do { _ = try DiscoveryProbe.target(target) } catch let error as VigilError {
                throw ValidationError("discoveryTargets: \(error.message)")
            }
        }
        guard diskFloorMB >= 0 else { throw ValidationError("diskFloorMB must not be negative, got \(diskFloorMB)") }
    }

    /// Browsers reach the console over TLS: the server's own, or a proxy's when every
    /// published origin is https. Cookies are then `Secure` and HSTS is sent.
    var servedOverTLS: Bool {
        tls != nil || (!publicOrigins.isEmpty && publicOrigins.allSatisfy { $0.lowercased().hasPrefix("https://") })
    }

    var hostAndPort: (String, Int) {
        get throws {
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port)
            else {
                throw ValidationError("--listen expects HOST:PORT, got \(listen)")
            }
            return (String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port)
        }
    }

    /// The console's files: the given directory, else the repository's Web/ next to the
    /// build folder that holds this executable, else ./Web.
    var webRoot: String {
        if let web { return web }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<5 {
            if FileManager.default.fileExists(atPath: dir.appendingPathComponent("Web/index.html").path) {
                return dir.appendingPathComponent("Web").path
            }
            dir = dir.deletingLastPathComponent()
        }
        return "Web"
    }
}

/// Opens the site, builds the server, runs everything until SIGINT/SIGTERM.
struct CentreRunner {
    var settings: ServerSettings
    /// Start on a log that disagrees with its witnesses (an explicit flag, never the config).
    var acceptWitnessMismatch = false

    func run(beforeStart: (Site) async throws -> Void, onRunning: @escaping @Sendable (String) async -> Void = { _ in }) async throws {
        let logger = makeLogger("vigil.serve")
        let (host, port) = try settings.hostAndPort
        try settings.validate()
        let dataOptions = try DataOptions.parse(["--data", settings.data])
        let site = try await Site.open(dataOptions, siteName: settings.siteName, recover: true, logger: logger)
        try await Site.closingOnError(site.catalog) {
            try await checkWitnesses(site, logger: logger)
            try await beforeStart(site)
            let live = LiveHub()
            let fleet = RecorderFleet(
                catalog: site.catalog, store: site.store, keys: site.keys, live: live,
                policy: RetentionPolicy(freeBytesFloor: settings.diskFloorMB << 20), logger: logger,
                signEvery: .seconds(settings.checkpointSeconds))
            let webRoot = settings.webRoot
            let control = CameraControl(cameras: CameraRegistry(catalog: site.catalog), keys: site.keys, catalog: site.catalog)
            let tours = TourRunner(catalog: site.catalog, control: control, board: control.tours, logger: logger)
            let shelf = ExportShelf(root: site.data.exportsPath)
            var env = ServerEnvironment(
                cameras: CameraRegistry(catalog: site.catalog), footage: Footage(catalog: site.catalog, store: site.store),
                accounts: site.accounts, audit: site.audit, fleet: fleet, live: live,
                keys: site.keys, evidence: site.evidence, exports: shelf,
                ptz: control, tours: TourRegister(catalog: site.catalog), incidents: IncidentRegister(catalog: site.catalog),
                metrics: VigilMetrics(), webRoot: webRoot,
                openAPIPath: URL(fileURLWithPath: webRoot).deletingLastPathComponent().appendingPathComponent("docs/openapi.json").path,
                secureCookies: settings.servedOverTLS, logger: logger)
            env.newCameraDefaults = .init(retentionDays: settings.retentionDays, segmentSeconds: settings.segmentSeconds)
            env.exportsPerUserPerDay = settings.exportsPerUserPerDay
            env.diskFloorBytes = settings.diskFloorMB << 20
            env.publicOrigins = settings.publicOrigins
            env.trustedProxies = Set(settings.trustedProxies)
            env.finder = CameraFinder(targets: settings.discoveryTargets)
            let server = VigilServer(environment: env)
            let scheme = settings.tls == nil ? "http" : "https"
            let audit = site.audit
            let systemd = SystemdNotifier()
            try await site.auditCommandLine(.serverStart, detail: "listening on \(host):\(port)")
            if host != "127.0.0.1" && host != "::1" && host != "localhost" && settings.tls == nil {
                logger.warning(
                    """
                    serving plain HTTP on \(host):\(port), reachable from other machines: passwords, session cookies and \
                    video cross the network in clear. Configure tls (docs/server.md) or listen on 127.0.0.1 behind a TLS proxy.
                    """)
            }
            try await server.run(
                host: host, port: port, tls: settings.tls.map { ($0.certificate, $0.key) },
                services: [
                    FleetService(fleet: fleet),
                    TourService(runner: tours),
                    ShelfService(evidence: site.evidence, shelf: shelf, keepDays: settings.exportKeepDays, logger: logger),
                    CheckpointService(audit: audit, every: .seconds(settings.checkpointSeconds)),
                    IncidentRetentionService(
                        audit: audit, register: IncidentRegister(catalog: site.catalog), days: settings.incidentRetentionDays,
                        logger: logger),
                    DispatchService(dispatcher: Dispatcher(catalog: site.catalog, audit: audit, keys: site.keys, logger: logger)),
                    PictureService(environment: env),
                    WatchdogService(notifier: systemd, catalog: site.catalog, logger: logger)
                ],
                limits: ConnectionLimits(total: httpConnectionBudget(logger: logger), exempt: Set(settings.trustedProxies)),
                logger: logger,
                onRunning: { actualPort in
                    let shown = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host
                    systemd.notify("READY=1\nSTATUS=listening on \(host):\(actualPort)")
                    await onRunning("\(scheme)://\(shown):\(actualPort)/")
                })
            systemd.notify("STOPPING=1")
            // Shut down: the camera pipelines have committed their last segments and signed
            // their chains' heads; seal the log.
            _ = try await Task { try await audit.checkpoint() }.value
            await audit.settleWitnesses()
        }
        await site.catalog.close()
        say("stopped")
    }
}

extension CentreRunner {
    /// Refuses to start on an audit log that is shorter than, or differs from, a checkpoint
    /// its witnesses hold (someone deleted its tail, or restored an older catalog), unless
    /// `acceptWitnessMismatch`; then the acceptance is itself an audit entry, and the
    /// witnesses are given the log as it now is.
    func checkWitnesses(_ site: Site, logger: Logger) async throws {
        let witnesses = settings.witnessDirs.map { AuditWitness(directory: $0, origin: site.audit.origin) }
        let problems = try await site.audit.witnessProblems(witnesses)
        if !problems.isEmpty {
            guard acceptWitnessMismatch else {
                throw ValidationError(
                    """
                    the audit log disagrees with its witnesses, so it may have been rolled back; not starting:
                    \(problems.map { "  - \($0)" }.joined(separator: "\n"))
                    Find out why (vigil audit verify --data \(settings.data) \(settings.witnessDirs.map { "--witness-dir \($0)" }.joined(separator: " "))).
                    To start anyway, accepting the log as it is, pass --accept-witness-mismatch (this is audited).
                    """)
            }
            for problem in problems { logger.critical("audit witness mismatch accepted: \(problem)") }
            try await site.auditCommandLine(.witnessMismatchAccepted, detail: problems.joined(separator: "; "))
        }
        try await site.audit.setWitnesses(witnesses, force: !problems.isEmpty)
    }
}

/// Removes incidents' personal data at the end of their retention, hourly, each removal one
/// audited transaction (docs/server.md, "Incidents").
struct IncidentRetentionService: Service {
    let audit: AuditTrail
    let register: IncidentRegister
    let days: Int
    let logger: Logger
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let removed = try await IncidentCommand.removePersonalData(audit: audit, register: register, days: days, by: "Vigil")
                    if !removed.isEmpty { logger.info("incidents: personal data removed from \(removed.count) past \(days) days") }
                } catch {
                    logger.error("incidents: removing personal data past its retention failed: \(error)")
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}

/// Delivers the outbox of notifications (docs/design/dispatch.md).
struct DispatchService: Service {
    let dispatcher: Dispatcher
    func run() async throws {
        await cancelWhenGracefulShutdown { await dispatcher.run() }
    }
}

/// The recorders, as a service of the server's ServiceGroup.
struct FleetService: Service {
    let fleet: RecorderFleet
    func run() async throws {
        await cancelWhenGracefulShutdown { await fleet.run() }
    }
}

/// Runs the PTZ tours (docs/design/ptz.md).
struct TourService: Service {
    let runner: TourRunner
    func run() async throws {
        await cancelWhenGracefulShutdown { await runner.run() }
    }
}

/// Removes expired exports from the server's shelf: at start, then every hour.
struct ShelfService: Service {
    let evidence: EvidenceRegister
    let shelf: ExportShelf
    let keepDays: Int
    let logger: Logger
    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    for r in try await evidence.pruneShelf(shelf, keepDays: keepDays) {
                        logger.info(
                            "export shelf: removed \(r.published ? "export" : "unfinished export") \(r.id) of \(r.exhibit) (\(r.bytes) bytes)"
                        )
                    }
                } catch {
                    logger.error("export shelf: \(error)")
                }
                try? await Task.sleep(for: .seconds(3600))
            }
        }
    }
}

/// Signs, periodically, an audit checkpoint while the log grows. (Each camera's chain head
/// is signed by its own pipeline, `CameraPipeline`.)
struct CheckpointService: Service {
    let audit: AuditTrail
    let every: Duration
    func run() async throws {
        await cancelWhenGracefulShutdown {
            await audit.issueCheckpoints(every: every)
        }
    }
}

/// Raises the process's open-file limit to what the system allows and returns how many
/// HTTP connections the server may hold: at most 1024, and never more than half the
/// descriptors, so connections from the network cannot take those that cameras, sample
/// files and the catalog need.
func httpConnectionBudget(logger: Logger) -> Int {
    var limit = rlimit()
    #if os(Linux)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
        let resource = RLIMIT_NOFILE
    #endif
    guard getrlimit(resource, &limit) == 0 else { return 256 }
    if limit.rlim_cur < limit.rlim_max {
        var raised = limit
        raised.rlim_cur = limit.rlim_max
        if setrlimit(resource, &raised) == 0 { limit = raised }
    }
    let budget = Int(min(limit.rlim_cur / 2, 1024))
    if budget < 256 {
        logger.warning("only \(limit.rlim_cur) open files are allowed: at most \(budget) HTTP connections (raise LimitNOFILE)")
    }
    return budget
}
