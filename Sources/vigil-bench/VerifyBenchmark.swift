import ArgumentParser
import Audit
import Catalog
import Centre
import ChildProcess
import CommandSupport
import Evidence
import Foundation
import Logging
import Recording
import Records

struct BenchVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Evidence verification throughput (`vigil verify` of an exported bundle) vs sha256sum of the same MP4.")

    @Option(name: .long, help: "Minutes of footage in the exhibit (one 60 s segment per minute).") var minutes: Int = 60
    @Option(name: .long, help: "Rounds; the best of each is reported.") var rounds: Int = 5
    @Option(name: .long, help: "Scratch directory (deleted afterwards).") var work: String = "/tmp/vigil-bench-verify"

    /// Builds an exhibit over `minutes` of chained footage, exports its signed bundle, then
    /// times the whole `vigil verify --trust` run (every signature, the file hash, every
    /// segment hash, the chain, the audit proof) against `sha256sum` and `openssl dgst
    /// -sha256` of the MP4, alternately, with the page cache warm.
    func run() async throws {
        try? FileManager.default.removeItem(atPath: work)
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let catalog = try await Catalog.openSQLite(path: work + "/catalog.sqlite")
        let store = try SampleStore(root: work + "/samples")
        let camera = try await catalog.upsertCamera(name: "bench", url: "rtsp://bench", retentionDays: 30)
        let start: Int64 = 1_700_000_000_000_000
        _ = try await BenchFootage.record(catalog: catalog, store: store, cameraID: camera.id, minutes: minutes, start: start)
        try await SegmentChain.extend(catalog: catalog, cameraID: camera.id)
        let keys = try SiteKeys.loadOrCreate(directory: work + "/keys", siteName: "bench")
        let certificate = try SiteCertificate.loadOrCreate(directory: work + "/keys", siteName: "bench")
        let audit = try await AuditTrail(catalog: catalog, signer: keys.signer, origin: "bench/audit")
        let register = EvidenceRegister(catalog: catalog, store: store, audit: audit, keys: keys, certificate: certificate)
        let agent = EvidenceRegister.Agent(user: "bench", role: nil, address: "localhost", userAgent: "vigil bench verify")
        let item = try await register.create(
            ranges: [.init(cameraID: camera.id, fromMicros: start, toMicros: start + Int64(minutes) * 60_000_000)],
            requestingBody: "court", caseReference: "BENCH", legalBasis: "benchmark", purpose: "benchmark", by: agent, actor: nil)
        let bundle = work + "/bundle"
        let files = try await register.export(exhibit: item.exhibit, to: bundle, by: agent)
        await catalog.close()
        let mp4 = bundle + "/" + files[0]
        let pinned = work + "/site.pem"
        try certificate.pem.write(toFile: pinned, atomically: true, encoding: .utf8)
        let size = Double((try FileManager.default.attributesOfItem(atPath: mp4)[.size] as? NSNumber)?.int64Value ?? 0)

        let peers: [(name: String, path: String, arguments: [String])] =
            [
                ("vigil verify", try vigilExecutable(), ["verify", bundle, "--trust", pinned]),
                ("sha256sum", ChildProcess.which("sha256sum") ?? "/usr/bin/sha256sum", [mp4])
            ] + (ChildProcess.which("openssl").map { [("openssl dgst -sha256", $0, ["dgst", "-sha256", mp4])] } ?? [])
        var best = [Double](repeating: .infinity, count: peers.count)
        _ = try await ChildProcess.run(peers[1].path, peers[1].arguments) // warm the page cache
        for _ in 0..<rounds {
            for (i, peer) in peers.enumerated() {
                let t0 = DispatchTime.now().uptimeNanoseconds
                let result = try await ChildProcess.run(peer.path, peer.arguments)
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
                guard result.status == 0 else {
                    throw ValidationError("\(peer.name) failed: \(result.stdout.suffix(800))\(result.stderr.suffix(800))")
                }
                best[i] = min(best[i], seconds)
            }
        }
        say(String(format: "exhibit of %d min: one signed MP4 of %.1f MB, %d segments", minutes, size / 1e6, minutes))
        for (i, peer) in peers.enumerated() {
            let label = peer.name.padding(toLength: 22, withPad: " ", startingAt: 0)
            say(
                label
                    + String(
                        format: "%7.3f s  %6.0f MB/s  vigil verify's throughput ÷ this: %.2f×", best[i], size / best[i] / 1e6,
                        best[i] / best[0]))
        }
        say(
            "(best of \(rounds) each, run alternately, page cache warm; vigil verify checks the whole bundle, the others only hash the MP4)"
        )
    }
}
