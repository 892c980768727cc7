import Audit
import Base
import CameraSim
import Catalog
import Crypto
import Foundation
import Logging
import Media
import RTSP
import Recording
import Records
import TestSupport
import Testing

/// The one camera pipeline both `vigil serve` and `vigil record` run: a simulated camera
/// recorded through it has its chain head signed while it records and again when it stops,
/// covering the last link, and the signed heads verify against the chain.
@Suite struct CameraPipelineTests {
    @Test func aPipelineRecordsSignsItsHeadWhileRecordingAndAtTheEnd() async throws {
        let clip = try SimulatedClip.load(path: try await TestSupport.clip(codec: .h264, seconds: 2, gop: 25))
        var configuration = SimulatorConfiguration()
        configuration.port = 0
        let simulator = try await CameraSimulator.start(clip: clip, configuration: configuration)
        defer { Task { await simulator.close() } }
        try await TestSupport.withCatalog("pipeline") { dir, catalog in
            let store = try SampleStore(root: dir + "/samples")
            let url = try RTSPURL("rtsp://127.0.0.1:\(simulator.port)/cam1")
            let camera = try await catalog.upsertCamera(name: "cam1", url: url.requestURL, retentionDays: 30)
            let signer = try NoteSigner(name: "test-site", key: Curve25519.Signing.PrivateKey())
            var recording = RecorderConfiguration()
            recording.segmentLength = ticksPerSecond // a segment, and a chain link, a second
            let pipeline = CameraPipeline(
                camera: camera, endpoint: CameraEndpoint(name: "cam1", url: url), catalog: catalog,
                store: store, runIDs: try await RunIDAllocator(catalog: catalog),
                configuration: recording, policy: RetentionPolicy(),
                committer: ProgressCommitter(catalog: catalog), signer: signer,
                signEvery: .milliseconds(300), logger: Logger(label: "test.pipeline"))
            try await pipeline.start()
            let running = Task { try await pipeline.run() }
            // Signed while it records: a head appears before the pipeline is stopped.
            var headWhileRecording: ChainHeadRecord?
            for _ in 0..<150 where headWhileRecording == nil {
                try await Task.sleep(for: .milliseconds(100))
                headWhileRecording = try await catalog.latestChainHead(cameraID: camera.id)
            }
            #expect(headWhileRecording != nil, "no chain head signed while recording")
            // A link closed after that head, so the stop has something new to sign (on a
            // loaded machine the first head can already cover every link written so far).
            var linkAfterHead = false
            for _ in 0..<150 where !linkAfterHead {
                let position = try await catalog.lastChainLink(cameraID: camera.id)?.position
                linkAfterHead = (position ?? .min) > (headWhileRecording?.position ?? .max)
                if !linkAfterHead { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(linkAfterHead, "no segment closed after the head signed while recording")
            running.cancel()
            try await running.value
            // Signed at the end: the latest head covers the last link, which the stop wrote.
            let last = try #require(try await catalog.lastChainLink(cameraID: camera.id))
            let head = try #require(try await catalog.latestChainHead(cameraID: camera.id))
            #expect(head.position == last.position)
            #expect(head.position >= (headWhileRecording?.position ?? .max))
            let (count, problems) = try await ChainHeads.verifyAll(catalog: catalog, verifier: signer.verifier)
            #expect(count >= 2 && problems.isEmpty, "\(problems)")
        }
    }
}
