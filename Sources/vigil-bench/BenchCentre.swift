import ArgumentParser
import Audit
import Base
import CameraSim
import Catalog
import Centre
import ChildProcess
import CommandSupport
import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import Records
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `vigil bench live`: a real `vigil serve` recording N simulated cameras with V WebSocket
/// viewers on each; the server-added latency (frame assembled from RTP → its WebSocket
/// write done) is read from the server's own Prometheus histogram over the window.
struct BenchLive: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "live",
        abstract: "Server-added live latency p50/p99 with N cameras × V viewers, from `vigil serve`'s latency histogram.")

    @Option(name: .long) var cameras: Int = 16
    @Option(name: .long) var viewers: Int = 4
    @Option(name: .long) var seconds: Int = 30
    @Option(name: .long, help: "First of two TCP ports (simulator, server).") var port: Int = 18600
    @Option(name: .long, help: "Scratch directory (deleted afterwards).") var work: String = "/tmp/vigil-bench-live"

    func run() async throws {
        let me = try vigilExecutable()
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let clip = try await ClipMaker.ensureDefault(codec: .h264)
        let sim = try ChildProcess.spawn(
            me, ["simulate", "--cameras", "\(cameras)", "--port", "\(port)", "--file", clip], log: work + "/sim.log")
        defer {
            sim.interrupt()
            ChildProcess.waitForExit(sim, timeout: 10)
        }

        // Cameras, a viewer's API token and a metrics token, made before the server starts.
        let data = try DataOptions.parse(["--data", work + "/data"])
        let site = try await Site.open(data, recover: false, logger: makeLogger("vigil.bench"))
        for n in 1...cameras {
            var c = CameraRecord(id: 0, name: "bench-\(n)", url: "", retentionDays: 1)
            try CameraRules.setURL("rtsp://127.0.0.1:\(port)/cam\(n)", on: &c, keys: site.keys)
            _ = try await CameraRegistry(catalog: site.catalog).register(c)
        }
        let viewer = try await site.accounts.addUser(name: "bench-viewer", role: .operator, password: randomToken(bytes: 16))
        let viewerToken = try await site.accounts.issueAPIToken(userID: viewer.id, name: "bench").token
        let admin = try await site.accounts.addUser(name: "bench-admin", role: .admin, password: randomToken(bytes: 16))
        let metricsToken = try await site.accounts.issueAPIToken(userID: admin.id, name: "bench").token
        await site.catalog.close()

        let listen = "127.0.0.1:\(port + 1)"
        let server = try ChildProcess.spawn(me, ["serve", "--data", data.data, "--listen", listen], log: work + "/serve.log")
        defer {
            server.interrupt()
            ChildProcess.waitForExit(server, timeout: 30)
        }
        try await Task.sleep(for: .seconds(4))
        guard server.isRunning else { throw ValidationError("vigil serve exited: see \(work)/serve.log") }

        let received = Counter()
        let window = Duration.seconds(seconds + 6)
        let logger = Logger(label: "vigil.bench.viewer")
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(viewerToken)"
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 24, additionalHeaders: headers)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for camera in 1...cameras {
                for _ in 0..<viewers {
                    group.addTask {
                        _ = try await WebSocketClient.connect(
                            url: "ws://\(listen)/api/cameras/\(camera)/live", configuration: configuration,
                            logger: logger
                        ) { inbound, outbound, _ in
                            let end = ContinuousClock.now + window
                            for try await frame in inbound {
                                if frame.opcode == .binary { received.add(frame.data.readableBytes) }
                                if ContinuousClock.now > end { break }
                            }
                            try await outbound.close(.normalClosure, reason: nil)
                        }
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(3))
                let before = try await Self.scrape("http://\(listen)/metrics", token: metricsToken)
                let cpuBefore = ChildProcess.cpuSeconds(server.processIdentifier)
                let (messagesBefore, bytesBefore) = received.value
                let started = ContinuousClock.now
                try await Task.sleep(for: .seconds(seconds))
                let after = try await Self.scrape("http://\(listen)/metrics", token: metricsToken)
                let wall = elapsedSeconds(ContinuousClock.now - started)
                let cpu = ChildProcess.cpuSeconds(server.processIdentifier) - cpuBefore
                let (messages, bytes) = received.value
                let window = LatencyHistogram(after).minus(LatencyHistogram(before))
                say(String(format: "cameras: %d × viewers: %d, window %.1f s, clip 720p25 H.264 2 Mb/s", cameras, viewers, wall))
                say(
                    String(
                        format: "frames sent (server histogram): %d = %.1f per viewer-second (camera rate 25)", window.count,
                        Double(window.count) / wall / Double(cameras * viewers)))
                say(
                    String(
                        format: "messages received by the viewers: %d, %.1f MB/s", messages - messagesBefore,
                        Double(bytes - bytesBefore) / wall / 1e6))
                say(
                    String(
                        format: "server-added latency: p50 %.3f ms, p99 %.3f ms, p99.9 %.3f ms (target p99 < 5 ms)",
                        window.quantile(0.5) * 1000, window.quantile(0.99) * 1000, window.quantile(0.999) * 1000))
                say(String(format: "vigil serve CPU: %.1f%% of a core (recording and serving)", cpu / wall * 100))
            }
            try await group.next()
            try await group.waitForAll()
        }
        try? FileManager.default.removeItem(atPath: work)
    }

    static func scrape(_ url: String, token: String) async throws -> String {
        var request = URLRequest(url: URL(string: url)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (body, response) = try await URLSession(configuration: .ephemeral).data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200 else { throw ValidationError("GET /metrics: \(response)") }
        return String(decoding: body, as: UTF8.self)
    }
}

/// Messages and bytes received by all viewers.
final class Counter: Sendable {
    private let state = Mutex<(Int, Int)>((0, 0))
    func add(_ bytes: Int) {
        state.withLock {
            $0.0 += 1
            $0.1 += bytes
        }
    }
    var value: (Int, Int) { state.withLock { $0 } }
}

/// `vigil_live_send_latency_seconds` from a Prometheus exposition: cumulative bucket counts;
/// quantiles interpolate linearly inside a bucket, as Prometheus's histogram_quantile does.
struct LatencyHistogram {
    var buckets: [(le: Double, count: Double)] = []

    init(_ exposition: String) {
        let prefix = "vigil_live_send_latency_seconds_bucket{le=\""
        for line in exposition.split(separator: "\n") where line.hasPrefix(prefix) {
            let rest = line.dropFirst(prefix.count)
            guard let quote = rest.firstIndex(of: "\""), let space = rest.lastIndex(of: " ") else { continue }
            let le = rest[..<quote] == "+Inf" ? Double.infinity : Double(rest[..<quote]) ?? .nan
            if let count = Double(rest[rest.index(after: space)...]), !le.isNaN { buckets.append((le, count)) }
        }
        buckets.sort { $0.le < $1.le }
    }

    private init(buckets: [(le: Double, count: Double)]) { self.buckets = buckets }

    func minus(_ earlier: LatencyHistogram) -> LatencyHistogram {
        LatencyHistogram(buckets: buckets.map { b in (b.le, b.count - (earlier.buckets.first { $0.le == b.le }?.count ?? 0)) })
    }

    var count: Int { Int(buckets.last?.count ?? 0) }

    func quantile(_ q: Double) -> Double {
        guard let total = buckets.last?.count, total > 0 else { return .nan }
        let rank = q * total
        var lower = 0.0, below = 0.0
        for b in buckets {
            if b.count >= rank {
                if b.le.isInfinite { return lower }
                return lower + (b.le - lower) * (rank - below) / max(b.count - below, 1)
            }
            lower = b.le
            below = b.count
        }
        return lower
    }
}

/// `vigil bench audit`: appends per second through the audit trail (canonical JSON, leaf
/// hash, Merkle frontier, group commit of concurrent appends, each batch one durable
/// SQLite transaction), side by side with the database floor: the same rows inserted
/// directly with the same batch sizes.
struct BenchAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Audit appends per second with batched durability, vs inserting the same rows directly.")

    @Option(name: .long) var entries: Int = 200_000
    @Option(name: .long, help: "Concurrent appenders (requests in flight).") var writers: Int = 256
    @Option(name: .long, help: "Scratch directory (deleted afterwards).") var work: String = "/tmp/vigil-bench-audit"

    /// A typical entry: an operator viewing five minutes of one camera.
    static func entry(_ i: Int) -> AuditEntry {
        AuditEntry(
            action: .playbackView, result: .ok, user: "operator-\(i % 12)", role: "operator", address: "10.0.4.\(i % 200)",
            userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0", camera: Int64(i % 71 + 1), cameraName: "camera \(i % 71 + 1)",
            from: "2026-11-24T10:00:00.000Z", to: "2026-11-24T10:05:00.000Z")
    }

    func run() async throws {
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let keys = try SiteKeys.loadOrCreate(directory: work + "/keys", siteName: "bench")
        // Vigil: `writers` tasks, each appending and awaiting durability before the next.
        let catalog = try await Catalog.openSQLite(path: work + "/vigil.sqlite")
        let trail = try await AuditTrail(catalog: catalog, signer: keys.signer, origin: "bench/audit")
        let perWriter = entries / writers
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<writers {
                group.addTask {
                    for i in 0..<perWriter { try await trail.append(Self.entry(w * perWriter + i)) }
                }
            }
            try await group.waitForAll()
        }
        let vigilSeconds = elapsedSeconds(ContinuousClock.now - started)
        let written = await trail.size
        let checkpoint = try await trail.checkpoint()
        let stored = try await catalog.auditEntries().map { LogVerifier.StoredEntry(position: $0.seq, body: $0.body) }
        let report = LogVerifier.verify(entries: stored, checkpoints: [checkpoint.note], external: nil, verifier: keys.signer.verifier)
        let batches = await trail.batchesWritten
        await catalog.close()

        // Peer: the same bodies, inserted directly in batches of the mean size Vigil used.
        let batchSize = max(1, written / max(batches, 1))
        let peer = try await Catalog.openSQLite(path: work + "/peer.sqlite")
        var rows: [AuditRow] = []
        for i in 0..<written {
            var e = Self.entry(i)
            e.seq = Int64(i)
            e.time = "2026-11-24T10:00:00.000Z"
            rows.append(AuditRow(seq: e.seq, body: try e.encoded()))
        }
        let peerStarted = ContinuousClock.now
        for start in stride(from: 0, to: rows.count, by: batchSize) {
            try await peer.appendAudit(Array(rows[start..<min(start + batchSize, rows.count)]))
        }
        let peerSeconds = elapsedSeconds(ContinuousClock.now - peerStarted)
        await peer.close()

        let vigilRate = Double(written) / vigilSeconds, peerRate = Double(written) / peerSeconds
        say("entries: \(written), writers in flight: \(writers), durable batches: \(batches) (mean \(batchSize) entries)")
        say(String(format: "vigil audit trail: %.0f appends/s (%.2f s)", vigilRate, vigilSeconds))
        say(String(format: "direct INSERT of the same rows, same batches: %.0f rows/s (%.2f s)", peerRate, peerSeconds))
        say(String(format: "ratio vigil/direct: %.2f (target: ≥ 50 000 appends/s)", vigilRate / peerRate))
        say("log verified after the run: " + (report.passed ? "intact" : "PROBLEMS: \(report.problems)"))
    }
}

private func elapsedSeconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}
