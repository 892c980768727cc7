import Records
import Testing

@testable import Centre

/// Which camera edits restart a camera's recorder: only those that change what it records
/// from; a place, an area, the retention or the PTZ settings keep it recording.
struct FleetTests {
    @Test func onlyAChangeToTheStreamRestartsARecorder() {
        var running = CameraRecord(id: 1, name: "gate", url: "rtsp://192.0.2.1/a", retentionDays: 30)
        running.username = "viewer"
        let same = RecorderFleet.recordsTheSame(running)
        var edited = running
        edited.location = "North gate"
        edited.area = "Old Town"
        edited.retentionDays = 7
        edited.ptzProfile = "main"
        #expect(same(edited), "a change the recorder does not use")
        for change: (inout CameraRecord) -> Void in [
            { $0.url = "rtsp://192.0.2.1/b" }, { $0.username = nil }, { $0.sealedPassword = [1] }, { $0.segmentSeconds = 10 },
            { $0.name = "north-gate" }, { $0.enabled = false }
        ] {
            var other = running
            change(&other)
            #expect(!same(other), "\(other)")
        }
    }
}
