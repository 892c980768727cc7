import Centre
import Foundation
import Prometheus
import Records

/// Prometheus metrics (swift-prometheus): per camera connected, fps, bitrate, last-frame
/// age and recorder lag; free disk; live viewers and the server-added live latency.
/// Camera figures are read from the fleet when scraped.
public final class VigilMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let latency: DurationHistogram

    public init() {
        latency = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "vigil_live_send_latency", unitName: "seconds",
                helpText: "Time from a frame's arrival from the camera to its WebSocket send"),
            buckets: [
                .microseconds(50), .microseconds(100), .microseconds(200), .microseconds(300), .microseconds(500),
                .microseconds(750), .milliseconds(1), .microseconds(1500), .milliseconds(2), .milliseconds(3),
                .milliseconds(4), .milliseconds(5), .microseconds(7500), .milliseconds(10), .milliseconds(25),
                .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1)
            ])
    }

    func liveLatency(nanos: UInt64) {
        latency.record(.nanoseconds(Int64(nanos)))
    }

    func viewers(camera: CameraRecord, delta: Double) {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(metricName: "vigil_live_viewers", unitName: "", helpText: "Open live views"),
            labels: [("camera", camera.name)]
        ).increment(by: delta)
    }

    /// Refreshes the gauges from the fleet and the disk, then renders the exposition text.
    func render(cameras: [CameraRecord], fleet: RecorderFleet, footage: Footage, now: Int64) -> [UInt8] {
        for c in cameras {
            let s = fleet.status(camera: c.id)
            let labels = [("camera", c.name)]
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "vigil_camera_connected", unitName: "", helpText: "1 when the camera's RTSP session is playing"),
                labels: labels
            ).set(Double(s.connected ? 1 : 0))
            registry.makeGauge(
                descriptor: MetricNameDescriptor(metricName: "vigil_camera_fps", unitName: "", helpText: "Frames per second received"),
                labels: labels
            ).set(s.framesPerSecond)
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "vigil_camera_bitrate_bps", unitName: "", helpText: "Bits per second received"), labels: labels
            ).set(s.bitsPerSecond)
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "vigil_camera_last_frame_age_seconds", unitName: "", helpText: "Seconds since the last frame"),
                labels: labels
            )
            .set(s.lastFrameMicros.map { Double(now - $0) / 1e6 } ?? -1)
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "vigil_recorder_lag_seconds", unitName: "", helpText: "Seconds between now and the end of durable footage"),
                labels: labels
            )
            .set(s.committedThroughMicros.map { Double(now - $0) / 1e6 } ?? -1)
        }
        if let free = footage.freeBytes() {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    metricName: "vigil_disk_free_bytes", unitName: "", helpText: "Free bytes on the recording volume")
            ).set(Double(free))
        }
        return registry.emitToBuffer()
    }
}
