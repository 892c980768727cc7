import ArgumentParser
import Base
import Catalog
import Centre
import CommandSupport
import Foundation
import Media
import Recording
import Records

/// Opens the catalog read-mostly for the playback commands (no recovery: another process
/// may be recording).
func openCatalog(_ data: DataOptions) async throws -> (Catalog, SampleStore) {
    guard FileManager.default.fileExists(atPath: data.catalogPath) else {
        throw ValidationError("no catalog at \(data.catalogPath): is --data the recorder's data directory?")
    }
    return (try await Catalog.openSQLite(path: data.catalogPath), try SampleStore(root: data.samplesPath))
}

func findCamera(_ catalog: Catalog, _ name: String) async throws -> CameraRecord {
    guard let camera = try await catalog.camera(named: name) else {
        let known = try await catalog.cameras().map(\.name).joined(separator: ", ")
        throw ValidationError("no camera named \"\(name)\" (known: \(known.isEmpty ? "none" : known))")
    }
    return camera
}

struct Recordings: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a camera's segments and gaps in a time range.")

    @OptionGroup var dataOptions: DataOptions
    @Option(name: .long, help: "Camera name.") var camera: String
    @Option(name: .long, help: "Start (ISO 8601); default: the beginning.") var from: String?
    @Option(name: .long, help: "End (ISO 8601); default: now.") var to: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let (catalog, _) = try await openCatalog(dataOptions)
        defer { Task { await catalog.close() } }
        let cam = try await findCamera(catalog, camera)
        let start = try from.map { try parseTime($0, option: "--from") } ?? 0
        let end = try to.map { try parseTime($0, option: "--to") } ?? (WallClock.system.nowMicros() + 86_400_000_000)
        let segments = try await catalog.segments(cameraID: cam.id, from: start, to: end)
        let gaps = try await catalog.gaps(cameraID: cam.id, from: start, to: end)
        if json {
            let doc: [String: Any] = [
                "camera": cam.name,
                "segments": segments.map { s -> [String: Any] in
                    [
                        "id": s.id, "start": iso8601(micros: s.startMicros), "end": iso8601(micros: s.endMicros),
                        "duration_seconds": Double(s.duration) / Double(ticksPerSecond), "frames": s.frameCount, "bytes": s.byteCount,
                        "codec": s.codec.rawValue, "state": s.state.rawValue, "held": s.held, "run": s.runID,
                        "sha256": s.sha256.map { hex($0) } ?? NSNull()
                    ]
                },
                "gaps": gaps.map { g -> [String: Any] in
                    [
                        "start": iso8601(micros: g.startMicros), "end": g.endMicros.map { iso8601(micros: $0) } ?? NSNull(),
                        "reason": g.reason
                    ]
                }
            ]
            let data = try JSONSerialization.data(withJSONObject: doc, options: [.prettyPrinted, .sortedKeys])
            say(String(decoding: data, as: UTF8.self))
            return
        }
        say("camera \(cam.name): \(segments.count) segments, \(gaps.count) gaps")
        var events: [(Int64, String)] = segments.map {
            (
                $0.startMicros,
                "segment \($0.id)  \(iso8601(micros: $0.startMicros)) – \(iso8601(micros: $0.endMicros))  "
                    + String(format: "%.3f s", Double($0.duration) / Double(ticksPerSecond))
                    + "  \($0.frameCount) frames  \($0.byteCount) bytes  \($0.codec.rawValue)"
                    + ($0.state == .open ? "  (open)" : "") + ($0.held ? "  HELD" : "")
            )
        }
        events += gaps.map {
            (
                $0.startMicros,
                "gap          \(iso8601(micros: $0.startMicros)) – \($0.endMicros.map { iso8601(micros: $0) } ?? "(ongoing)")  \($0.reason)"
            )
        }
        for (_, line) in events.sorted(by: { $0.0 < $1.0 }) { print(line) }
    }
}

struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write a camera's footage for [from, to) as an MP4 (no re-encoding).")

    @OptionGroup var dataOptions: DataOptions
    @Option(name: .long, help: "Camera name.") var camera: String
    @Option(name: .long, help: "Start (ISO 8601).") var from: String
    @Option(name: .long, help: "End (ISO 8601).") var to: String
    @Option(name: .long, help: "Output file.") var out: String
    @Flag(name: .long, help: "Hide the frames before --from with an edit list (the file still starts at a key frame).")
    var trim = false

    func run() async throws {
        let (catalog, store) = try await openCatalog(dataOptions)
        let cam = try await findCamera(catalog, camera)
        let start = try parseTime(from, option: "--from"), end = try parseTime(to, option: "--to")
        guard start < end else { throw ValidationError("--from must be before --to") }
        let plan = try await Exporter.plan(catalog: catalog, store: store, cameraID: cam.id, from: start, to: end, trimToStart: trim)
        await catalog.close()
        let mp4 = try plan.mp4(creationUnixSeconds: plan.firstFrameMicros / 1_000_000)
        try mp4.write(toFile: out)
        say(
            "wrote \(out): \(mp4.size) bytes, \(plan.frameCount) frames, "
                + String(format: "%.3f s", Double(plan.duration) / Double(ticksPerSecond))
                + " from \(iso8601(micros: plan.firstFrameMicros)) to \(iso8601(micros: plan.endMicros)), \(plan.runs.count) segments")
        for gap in plan.gaps {
            say(
                "gap in range: \(iso8601(micros: gap.startMicros)) – \(gap.endMicros.map { iso8601(micros: $0) } ?? "(ongoing)"): \(gap.reason)"
            )
        }
    }
}

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Verify every sample file against its catalog row, and each camera's hash chain and signed heads; exit 0 only when everything matches."
    )

    @OptionGroup var dataOptions: DataOptions

    func run() async throws {
        let (catalog, store) = try await openCatalog(dataOptions)
        var report = try await Checker.check(catalog: catalog, store: store)
        // Signed chain heads, checked with the site's published key when there is one.
        var heads = "no site key: chain heads not checked"
        if let verifier = try? SiteKeys.verifier(dataDirectory: dataOptions.data) {
            let (count, problems) = try await ChainHeads.verifyAll(catalog: catalog, verifier: verifier)
            report.problems += problems
            heads = "\(count) signed chain heads"
        }
        await catalog.close()
        for problem in report.problems { print("PROBLEM: \(problem)") }
        say(
            "checked \(report.segmentsChecked) segments, \(report.bytesChecked) bytes, \(report.chainLinksChecked) chain links, \(heads): "
                + (report.isClean ? "clean" : "\(report.problems.count) problems"))
        if report.quarantined.files > 0 {
            say(
                "note: \(report.quarantined.files) files (\(report.quarantined.bytes) bytes) that start-up recovery could not account for "
                    + "are in \(store.quarantineRoot): `vigil quarantine --data \(dataOptions.data)` lists them; they are footage, "
                    + "and the retention limit applies to them too")
        }
        if !report.isClean { throw ExitCode(1) }
    }
}
