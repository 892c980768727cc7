import ArgumentParser
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
import Recording
import Records
import Synchronization

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// `vigil bench soak`: a real `vigil serve` records N simulated cameras for M minutes while
/// viewers watch live, playback ranges are fetched and sign-in floods arrive. Afterwards
/// the catalog is read: gaps in the window (want none), frames recorded against frames
/// sent, and the server's memory at the start and end of the window (want it flat).
struct BenchSoak: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "soak",
        abstract:
            "Record N cameras for M minutes under viewers, playback and sign-in floods; print gaps, frames lost and the server's memory.")

    @Option(name: .long) var cameras: Int = 71
    @Option(name: .long) var minutes: Double = 30
    @Option(name: .long, help: "Live viewers, spread over the cameras.") var viewers: Int = 8
    @Option(name: .long, help: "Segment length of the cameras.") var segmentSeconds: Int = 60
    @Option(name: .long, help: "First of two TCP ports (simulator, server).") var port: Int = 18700
    @Option(name: .long, help: "Scratch directory (deleted afterwards unless --keep).") var work: String = "/tmp/vigil-bench-soak"
    @Flag(name: .long, help: "Keep the scratch directory (data, logs).") var keep = false
    @Option(
        name: .long,
        help: ArgumentHelp(
            "Environment for the server only, as NAME=VALUE (repeatable): to run it under a heap profiler.",
            discussion: "e.g. LD_PRELOAD=…/libheaptrack_preload.so DUMP_HEAPTRACK_OUTPUT=PIPE (docs: BENCHMARKS.md)"))
    var serverEnv: [String] = []

    /// What the load did, counted as it happened.
    final class Tally: Sendable {
        private let counts = Mutex<[String: Int]>([:])
        func add(_ key: String, _ n: Int = 1) { counts.withLock { $0[key, default: 0] += n } }
        subscript(_ key: String) -> Int { counts.withLock { $0[key, default: 0] } }
        var all: [String: Int] { counts.withLock { $0 } }
    }

    /// Memory samples taken by one task, read by another: the highest, and one a minute.
    final class Peak: Sendable {
        private let samples: Mutex<(highest: Double, perMinute: [Resident], taken: Int)>
        init(_ first: Resident) { samples = Mutex((first.total, [first], 0)) }
        /// Called every 10 s.
        func note(_ value: Resident) {
            samples.withLock {
                $0.highest = max($0.highest, value.total)
                $0.taken += 1
                if $0.taken % 6 == 0 { $0.perMinute.append(value) }
            }
        }
        var value: Double { samples.withLock { $0.highest } }
        var perMinute: [Resident] { samples.withLock { $0.perMinute } }
    }

    /// A process's resident memory in MB (/proc/PID/status): in all, and split into
    /// anonymous pages (the heap, thread stacks, NIO's buffers) and file or shared pages
    /// (the binary and its libraries, SQLite's shared WAL index), so a slope can be placed.
    struct Resident {
        var total = 0.0, anonymous = 0.0, files = 0.0

        init(pid: Int32) {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return }
            func megabytes(_ field: String) -> Double {
                guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
                    let kb = Double(line.split(separator: " ").dropFirst().first ?? "")
                else { return 0 }
                return kb / 1024
            }
            total = megabytes("VmRSS")
            anonymous = megabytes("RssAnon")
            files = megabytes("RssFile") + megabytes("RssShmem")
        }
    }

    func run() async throws {
        guard cameras >= 1, minutes > 0, viewers >= 0 else { throw ValidationError("--cameras and --minutes must be positive") }
        let me = try vigilExecutable()
        // Only a scratch directory this command made is ever deleted, never a site's data.
        let marker = work + "/.vigil-bench-soak"
        if FileManager.default.fileExists(atPath: work) {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: work)) ?? []
            guard entries.isEmpty || FileManager.default.fileExists(atPath: marker) else {
                throw ValidationError("\(work) exists and is not a scratch directory of `vigil bench soak`; give an empty or new --work")
            }
            try FileManager.default.removeItem(atPath: work)
        }
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: marker, contents: nil)
        let clip = try await ClipMaker.ensureDefault(codec: .h264)
        let sim = try ChildProcess.spawn(
            me, ["simulate", "--cameras", "\(cameras)", "--port", "\(port)", "--file", clip], log: work + "/sim.log")
        defer {
            sim.interrupt()
            ChildProcess.waitForExit(sim, timeout: 10)
        }

        let data = try DataOptions.parse(["--data", work + "/data"])
        let site = try await Site.open(data, recover: false, logger: makeLogger("vigil.bench"))
        for n in 1...cameras {
            var c = CameraRecord(id: 0, name: "soak-\(n)", url: "", retentionDays: 1)
            c.segmentSeconds = segmentSeconds
            try CameraRules.setURL("rtsp://127.0.0.1:\(port)/cam\(n)", on: &c, keys: site.keys)
            _ = try await CameraRegistry(catalog: site.catalog).register(c)
        }
        let watcher = try await site.accounts.addUser(name: "soak-supervisor", role: .supervisor, password: randomToken(bytes: 16))
        let token = try await site.accounts.issueAPIToken(userID: watcher.id, name: "soak").token
        await site.catalog.close()

        let listen = "127.0.0.1:\(port + 1)"
        var environment: [String: String] = [:]
        for pair in serverEnv {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--server-env takes NAME=VALUE, not \(pair)")
            }
            environment[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        let server = try ChildProcess.spawn(
            me, ["serve", "--data", data.data, "--listen", listen], log: work + "/serve.log",
            extraEnvironment: environment)
        defer {
            server.interrupt()
            ChildProcess.waitForExit(server, timeout: 30)
        }
        try await Task.sleep(for: .seconds(15))
        guard server.isRunning else { throw ValidationError("vigil serve exited: see \(work)/serve.log") }

        let tally = Tally()
        let window = Duration.milliseconds(Int64(minutes * 60_000))
        let startMicros = WallClock.system.nowMicros()
        let pid = server.processIdentifier
        let rssStart = Resident(pid: pid).total
        let rssPeak = Peak(Resident(pid: pid))
        let deadline = ContinuousClock.now + window
        say(String(format: "soak: %d cameras, %d viewers, %.1f min; server RSS at start %.1f MB", cameras, viewers, minutes, rssStart))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for v in 0..<viewers {
                group.addTask { await Self.watch(listen: listen, token: token, camera: v % cameras + 1, until: deadline, tally: tally) }
            }
            group.addTask { await Self.play(listen: listen, token: token, cameras: cameras, until: deadline, tally: tally) }
            group.addTask { await Self.flood(listen: listen, until: deadline, tally: tally) }
            group.addTask {
                while ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .seconds(10))
                    rssPeak.note(Resident(pid: pid))
                }
            }
            try await group.waitForAll()
        }
        let endMicros = WallClock.system.nowMicros()
        let rssEnd = Resident(pid: pid).total
        let cpu = ChildProcess.cpuSeconds(server.processIdentifier)
        // Recording runs on past the window, so the gap that stopping opens lies outside it.
        try await Task.sleep(for: .seconds(5))
        server.interrupt()
        guard ChildProcess.waitForExit(server, timeout: 60) else { throw ValidationError("vigil serve did not stop within 60 s") }

        // What was recorded in the window, from the catalog.
        let catalog = try await Catalog.openSQLite(path: data.catalogPath)
        var gaps: [(camera: Int64, gap: GapRecord)] = []
        var recorded = 0.0, coverage: [Double] = []
        for camera in try await catalog.cameras() {
            for gap in try await catalog.gaps(cameraID: camera.id, from: startMicros, to: endMicros) where gap.startMicros < endMicros {
                gaps.append((camera.id, gap))
            }
            var covered: Int64 = 0
            for segment in try await catalog.segments(cameraID: camera.id, from: startMicros, to: endMicros) {
                let overlap = min(segment.endMicros, endMicros) - max(segment.startMicros, startMicros)
                guard overlap > 0, segment.endMicros > segment.startMicros else { continue }
                covered += overlap
                recorded += Double(segment.frameCount) * Double(overlap) / Double(segment.endMicros - segment.startMicros)
            }
            coverage.append(Double(covered) / Double(endMicros - startMicros))
        }
        let auditEntries = try await catalog.auditCount()
        await catalog.close()
        let seconds = Double(endMicros - startMicros) / 1e6
        let sent = 25 * seconds * Double(cameras)
        say(String(format: "window %.0f s; gaps in the window: %d (want 0)", seconds, gaps.count))
        for g in gaps.prefix(20) {
            say(
                "  camera \(g.camera): \(iso8601(micros: g.gap.startMicros)) – \(g.gap.endMicros.map { iso8601(micros: $0) } ?? "open"): \(g.gap.reason)"
            )
        }
        say(
            String(
                format: "frames recorded: %.0f of %.0f sent by the cameras (%.3f%% lost; segment edges estimated)",
                recorded, sent, max(0, (sent - recorded) / sent * 100)))
        say(
            String(
                format: "coverage per camera: min %.4f, mean %.4f", coverage.min() ?? 0,
                coverage.reduce(0, +) / Double(max(coverage.count, 1))))
        say(
            String(
                format: "server RSS: start %.1f MB, end %.1f MB, peak %.1f MB; CPU %.1f%% of a core over the run",
                rssStart, rssEnd, rssPeak.value, cpu / (seconds + 15) * 100))
        let minutes = rssPeak.perMinute
        let fiveMinutes = stride(from: 0, to: minutes.count, by: 5).map { minutes[$0] }
        say("server RSS each 5 min (MB): " + fiveMinutes.map { String(format: "%.0f", $0.total) }.joined(separator: " → "))
        say(
            "  of which anonymous (heap, stacks, buffers): "
                + fiveMinutes.map { String(format: "%.1f", $0.anonymous) }.joined(separator: " → "))
        say(
            "  of which files and shared (code, SQLite's WAL index): "
                + fiveMinutes.map { String(format: "%.1f", $0.files) }.joined(separator: " → "))
        say("audit log at the end: \(auditEntries) entries")
        let t = tally.all
        say("live: \(t["live.frames", default: 0]) frames to \(viewers) viewers, \(t["live.reconnects", default: 0]) reconnects")
        let refused = t.filter { $0.key.hasPrefix("playback.") && $0.key != "playback.ok" }.sorted { $0.key < $1.key }.map {
            "\($0.key.dropFirst(9)): \($0.value)"
        }
        say(
            "playback: \(t["playback.ok", default: 0]) ranges served"
                + (refused.isEmpty ? "" : "; other answers " + refused.joined(separator: ", ")))
        say(
            "sign-in flood: \(t["signin.sent", default: 0]) attempts; answered 401: \(t["signin.401", default: 0]), 429: \(t["signin.429", default: 0]), "
                + "503: \(t["signin.503", default: 0]), other: \(t["signin.other", default: 0])")
        if !keep { try? FileManager.default.removeItem(atPath: work) }
    }

    /// One live viewer of `camera`, reconnecting until the deadline.
    static func watch(listen: String, token: String, camera: Int, until deadline: ContinuousClock.Instant, tally: Tally) async {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token)"
        let configuration = WebSocketClientConfiguration(maxFrameSize: 1 << 24, additionalHeaders: headers)
        let logger = Logger(label: "vigil.bench.viewer")
        while ContinuousClock.now < deadline {
            _ = try? await WebSocketClient.connect(
                url: "ws://\(listen)/api/cameras/\(camera)/live", configuration: configuration,
                logger: logger
            ) { inbound, outbound, _ in
                for try await frame in inbound {
                    if frame.opcode == .binary { tally.add("live.frames") }
                    if ContinuousClock.now > deadline { break }
                }
                try await outbound.close(.normalClosure, reason: nil)
            }
            if ContinuousClock.now < deadline {
                tally.add("live.reconnects")
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Playback as operators use it: a random camera's last few minutes, fetched whole in
    /// 1 MiB ranges, one range a second.
    static func play(listen: String, token: String, cameras: Int, until deadline: ContinuousClock.Instant, tally: Tally) async {
        let session = URLSession(configuration: .ephemeral)
        while ContinuousClock.now < deadline {
            try? await Task.sleep(for: .seconds(1))
            let now = WallClock.system.nowMicros()
            let camera = Int.random(in: 1...cameras)
            let from = iso8601(micros: now - Int64.random(in: 30...600) * 1_000_000), to = iso8601(micros: now - 2_000_000)
            var request = URLRequest(url: URL(string: "http://\(listen)/api/cameras/\(camera)/view.mp4?from=\(from)&to=\(to)")!)
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
            let start = Int.random(in: 0...4) << 20
            request.setValue("bytes=\(start)-\(start + (1 << 20) - 1)", forHTTPHeaderField: "Range")
            let status = ((try? await session.data(for: request))?.1 as? HTTPURLResponse)?.statusCode ?? 0
            // 416: the file is shorter than the range asked for, a valid answer.
            tally.add([200, 206, 416].contains(status) ? "playback.ok" : "playback.\(status)")
        }
    }

    /// Every 15 s, 50 sign-ins at once for names that do not exist.
    static func flood(listen: String, until deadline: ContinuousClock.Instant, tally: Tally) async {
        let session = URLSession(configuration: .ephemeral)
        while ContinuousClock.now < deadline {
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        var request = URLRequest(url: URL(string: "http://\(listen)/api/session")!)
                        request.httpMethod = "POST"
                        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                        request.httpBody = Data("{\"username\":\"intruder-\(i)\",\"password\":\"guess number \(i)\"}".utf8)
                        let status = ((try? await session.data(for: request))?.1 as? HTTPURLResponse)?.statusCode ?? 0
                        tally.add("signin.sent")
                        tally.add([401, 429, 503].contains(status) ? "signin.\(status)" : "signin.other")
                    }
                }
            }
            try? await Task.sleep(for: .seconds(15))
        }
    }
}
