import Catalog
import Foundation
import Records
import TestSupport
import Testing

/// Operator and administrator mistakes, and an intruder with the catalog in hand, tried
/// through the real binary: none may lose footage or rewrite the log unnoticed.
extension EndToEndTests {
    @Test func aLostCatalogStopsTheRecorderAndEveryFileStays() async throws {
        let dir = try TestSupport.temporaryDirectory("lost-catalog")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let port = TestSupport.freePort()
        let data = dir + "/data"
        let args = ["record", "--data", data, "--camera", "gst=rtsp://vigil:s3cret@127.0.0.1:\(port)/cam", "--segment-seconds", "2"]
        let camera = try await gstreamerCamera(port: port, codec: "h264", dir: dir)
        defer { _ = camera.interrupt() }
        let first = try Peer(TestSupport.vigilBinary, args, log: dir + "/record-1.log")
        try await first.waitFor("recording gst", seconds: 10)
        try await Task.sleep(for: .seconds(5))
        #expect(first.interrupt() == 0, "\(first.output)")
        func files() throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: data + "/samples").filter { $0.hasSuffix(".sample") }.sorted()
        }
        let recorded = try files()
        #expect(recorded.count >= 2)

        // `mv DATA/catalog.sqlite /tmp; vigil record`: refused, nothing deleted or moved.
        for suffix in ["", "-wal", "-shm"] {
            try? FileManager.default.moveItem(atPath: data + "/catalog.sqlite" + suffix, toPath: dir + "/moved" + suffix)
        }
        let refused = try await TestSupport.run(TestSupport.vigilBinary, args)
        #expect(refused.status != 0 && refused.stderr.contains("the catalog is not the one the sample files"), "\(refused.stderr)")
        #expect(refused.stderr.contains("Nothing was changed"), "\(refused.stderr)")
        #expect(try files() == recorded)
    }

    @Test func deletingTheAuditLogsTailIsCaughtByItsWitness() async throws {
        let dir = try TestSupport.temporaryDirectory("witness")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vigil = TestSupport.vigilBinary
        let data = dir + "/data", witness = dir + "/witness"
        try FileManager.default.createDirectory(atPath: witness, withIntermediateDirectories: true)
        /// What a command that must refuse printed; one that keeps running is stopped and fails the test.
        func refusal(_ arguments: [String]) throws -> String {
            let peer = try Peer(vigil, arguments, log: dir + "/refusal-\(UUID().uuidString).log")
            guard peer.waitForExit(seconds: 30) else {
                Issue.record("vigil \(arguments.prefix(1)) did not refuse: \(peer.output.suffix(1000))")
                peer.kill9()
                return ""
            }
            #expect(peer.process.terminationStatus != 0, "\(peer.output)")
            return peer.output
        }
        func serve(_ extra: [String] = []) throws -> (Peer, Int) {
            let port = TestSupport.freePort()
            return (
                try Peer(
                    vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(port)", "--witness-dir", witness] + extra,
                    log: dir + "/serve-\(UUID().uuidString).log"), port
            )
        }
        // Two runs, so the log has entries from both and the witness a checkpoint of all.
        for _ in 0..<2 {
            let (server, port) = try serve()
            try await server.waitFor("Vigil console: http://127.0.0.1:\(port)/", seconds: 30)
            #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        }
        let witnessed = try String(contentsOfFile: witness + "/vigil_audit.checkpoint", encoding: .utf8)
        #expect(witnessed.hasPrefix("vigil/audit\n"), "\(witnessed)")
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data, "--witness-dir", witness]).status == 0)

        // The intruder deletes the newest entries and every checkpoint that covers them.
        let size = try await TestSupport.run(vigil, ["audit", "list", "--data", data]).stdout.split(separator: "\n").count
        try #require(size >= 2)
        let catalog = try await Catalog.openSQLite(path: data + "/catalog.sqlite")
        try await catalog.database.raw("DELETE FROM audit_entries WHERE seq >= \(bind: Int64(size - 1))").run()
        try await catalog.database.raw("DELETE FROM audit_checkpoints WHERE tree_size > \(bind: Int64(size - 1))").run()
        await catalog.close()
        // What the catalog holds is consistent with itself: only the witness tells.
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data]).status == 0)
        let caught = try await TestSupport.run(vigil, ["audit", "verify", "--data", data, "--witness-dir", witness])
        #expect(caught.status != 0 && caught.stderr.contains("log truncated"), "\(caught.stdout)\(caught.stderr)")

        // The server will not start on it, and says why and what to do.
        let refused = try refusal(["serve", "--data", data, "--listen", "127.0.0.1:\(TestSupport.freePort())", "--witness-dir", witness])
        #expect(refused.contains("entries were deleted from its end") && refused.contains("--accept-witness-mismatch"), "\(refused)")
        // Told to, it starts, records that it was told, and the witness moves on with the log.
        let (accepted, port) = try serve(["--accept-witness-mismatch"])
        try await accepted.waitFor("Vigil console: http://127.0.0.1:\(port)/", seconds: 30)
        #expect(accepted.interrupt() == 0)
        let listed = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        #expect(listed.stdout.contains("audit.witness-mismatch-accepted"))
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data, "--witness-dir", witness]).status == 0)
        // What the witness held when it was overruled is kept beside it.
        let kept = try FileManager.default.contentsOfDirectory(atPath: witness).filter { $0.contains(".superseded-") }
        #expect(kept.count == 1, "\((try? FileManager.default.contentsOfDirectory(atPath: witness)) ?? [])")

        // A witness emptied (or a new, empty one) beside a log that has signed checkpoints is a problem too.
        try FileManager.default.removeItem(atPath: witness + "/vigil_audit.checkpoint")
        let emptied = try refusal(["serve", "--data", data, "--listen", "127.0.0.1:\(TestSupport.freePort())", "--witness-dir", witness])
        #expect(emptied.contains("holds no checkpoint"), "\(emptied)")
    }
}

/// The receiving end of sd_notify(3): what systemd would read from `NOTIFY_SOCKET`.
final class NotifySocket {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw ToolError("cannot bind \(path): errno \(errno)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Messages received within `seconds`.
    func messages(for seconds: Double, until done: ([String]) -> Bool = { _ in false }) -> [String] {
        var got: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let end = Date().addingTimeInterval(seconds)
        while Date() < end, !done(got) {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { got.append(String(decoding: buffer[..<n], as: UTF8.self)) }
        }
        return got
    }

    deinit {
        close(fd)
        unlink(path)
    }
}

extension EndToEndTests {
    /// `vigil serve` under systemd (docs/ops/vigil.service): it says when it is ready, pings
    /// the watchdog while it is healthy, stops pinging when it hangs, and says when it
    /// stops. The unit file itself passes `systemd-analyze verify`.
    @Test func serveSpeaksSystemdsNotifyProtocolAndItsUnitVerifies() async throws {
        let dir = try TestSupport.temporaryDirectory("systemd")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let notify = try NotifySocket(path: dir + "/notify.sock")
        let port = TestSupport.freePort()
        let server = try Peer(
            "/usr/bin/env",
            [
                "NOTIFY_SOCKET=\(notify.path)", "WATCHDOG_USEC=400000", TestSupport.vigilBinary, "serve",
                "--data", dir + "/data", "--listen", "127.0.0.1:\(port)"
            ], log: dir + "/serve.log")
        let ready = notify.messages(for: 30) { $0.contains { $0.hasPrefix("READY=1") } }
        #expect(ready.contains { $0.hasPrefix("READY=1") && $0.contains("STATUS=listening on 127.0.0.1:\(port)") }, "\(ready)")
        let pings = notify.messages(for: 1.5).filter { $0 == "WATCHDOG=1" }
        #expect(pings.count >= 3, "\(pings.count) watchdog pings in 1.5 s at WATCHDOG_USEC=400000")
        // A hung process (here: stopped) pings no more, so systemd would restart it.
        kill(server.process.processIdentifier, SIGSTOP)
        _ = notify.messages(for: 0.3)
        #expect(notify.messages(for: 1.5).isEmpty)
        kill(server.process.processIdentifier, SIGCONT)
        #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        #expect(notify.messages(for: 2).contains("STOPPING=1"))

        // The shipped unit, pointed at this build, is valid as systemd reads it.
        guard let analyze = TestSupport.which("systemd-analyze") else {
            Issue.record("systemd-analyze is missing: scripts/setup.sh installs systemd")
            return
        }
        let unit = try String(contentsOfFile: TestSupport.packageRoot + "/docs/ops/vigil.service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/vigil", with: TestSupport.vigilBinary)
        try unit.write(toFile: dir + "/vigil.service", atomically: true, encoding: .utf8)
        let verified = try await TestSupport.run(analyze, ["verify", dir + "/vigil.service"])
        let complaints = (verified.stdout + verified.stderr).split(separator: "\n")
            .filter { !$0.contains("RequiresMountsFor") && !$0.contains("Documentation") && !$0.contains("/usr/local/share/vigil") }
        #expect(verified.status == 0 && complaints.isEmpty, "\(verified.stdout)\(verified.stderr)")
    }
}

extension EndToEndTests {
    /// Every input that ever crashed a parser (Fuzz/regressions/TARGET/) goes through the
    /// target's replay program (the normal build of the fuzz target) on every test run.
    @Test func everyInputThatOnceCrashedAParserIsReplayed() async throws {
        let root = TestSupport.packageRoot + "/Fuzz/regressions"
        let targets = try FileManager.default.contentsOfDirectory(atPath: root).sorted()
        #expect(targets.count >= 5)
        let build = URL(fileURLWithPath: TestSupport.vigilBinary).deletingLastPathComponent().path
        for target in targets {
            let replay = try await TestSupport.run("\(build)/Fuzz\(target)", ["\(root)/\(target)"])
            let count = try FileManager.default.contentsOfDirectory(atPath: "\(root)/\(target)").count
            #expect(
                replay.status == 0 && replay.stdout.contains("replayed \(count) inputs"), "Fuzz\(target): \(replay.stdout)\(replay.stderr)")
        }
    }
}

extension EndToEndTests {
    /// One camera on the (cleartext) camera network turns hostile (scripts/hostile_camera.py:
    /// negative and huge lengths, endless headers and fragments, oversized and broken
    /// parameter sets, mutated RTP) while another records beside it in the same process:
    /// the good one records on without a gap, the bad one is reconnected to again and
    /// again, and the recorder's memory stays bounded.
    @Test func aHostileCameraNeitherStopsTheOthersNorGrowsMemory() async throws {
        let dir = try TestSupport.temporaryDirectory("hostile")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let goodPort = TestSupport.freePort(), badPort = TestSupport.freePort()
        let good = try await gstreamerCamera(port: goodPort, codec: "h264", dir: dir)
        defer { _ = good.interrupt() }
        let bad = try Peer(
            "/usr/bin/python3", [TestSupport.packageRoot + "/scripts/hostile_camera.py", "--port", "\(badPort)"],
            log: dir + "/hostile.log")
        defer { _ = bad.interrupt() }
        try await bad.waitFor("READY", seconds: 10)
        let data = dir + "/data"
        let recorder = try Peer(
            TestSupport.vigilBinary,
            [
                "record", "--data", data, "--segment-seconds", "5",
                "--camera", "good=rtsp://vigil:s3cret@127.0.0.1:\(goodPort)/cam",
                "--camera", "bad=rtsp://127.0.0.1:\(badPort)/cam"
            ], log: dir + "/record.log")
        try await recorder.waitFor("recording bad", seconds: 10)
        func residentMiB() -> Int? {
            let status = (try? String(contentsOfFile: "/proc/\(recorder.process.processIdentifier)/status", encoding: .utf8)) ?? ""
            return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
                .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true)[1]) }.map { $0 / 1024 }
        }
        var samples: [Int] = []
        for _ in 0..<45 {
            try await Task.sleep(for: .seconds(1))
            guard recorder.process.isRunning else { break }
            if let rss = residentMiB() { samples.append(rss) }
        }
        #expect(recorder.process.isRunning, "the recorder died: \(recorder.output.suffix(3000))")
        #expect(recorder.interrupt() == 0, "\(recorder.output.suffix(3000))")

        let attacks = bad.output.split(separator: "\n").filter { $0.hasPrefix("connection ") }
        let kinds = Set(attacks.compactMap { $0.split(separator: " ").last.map(String.init) })
        print("hostile camera: \(attacks.count) connections, attacks \(kinds.sorted()); recorder resident MiB \(samples)")
        #expect(kinds.count >= 5, "the recorder reconnected \(attacks.count) times, through \(kinds.sorted())")
        // Bounded: no attack leaves the process holding what it was sent.
        let settled = Array(samples.dropFirst(5))
        #expect(!settled.isEmpty && settled.max()! < 400, "resident MiB over time: \(samples)")
        if let first = settled.first, let last = settled.last { #expect(last - first < 100, "resident MiB over time: \(samples)") }

        let listing = try await recordings(data, camera: "good")
        let unexpected = listing.gaps.filter { !$0.reason.hasPrefix("recorder stopped") }
        #expect(unexpected.isEmpty, "the good camera had gaps: \(unexpected.map { "\($0.start) \($0.reason)" })")
        let recorded = listing.segments.reduce(0.0) { $0 + parseTime($1.end).timeIntervalSince(parseTime($1.start)) }
        #expect(recorded > 35, "the good camera recorded \(recorded) s of about 45")
    }
}
