// Recording — turning a camera's frames into durable, indexed segments, and back.
//
// What belongs here: the sample-file directory (one append-only file per segment), the
// per-camera recorder (cut at the first key frame after the segment length, flush every
// second, gaps when the camera drops), start-up recovery that reconciles files with
// catalog rows, retention (per-camera days, a free-disk floor, holds), the exporter that
// turns a time range into a `VirtualMP4`, and the checker behind `vigil check`.
// What does not: RTSP details (frames arrive as `IngestEvent`s), SQL (the `Catalog` actor
// owns it), MP4 box layout (Media).
// Invariants (docs/design/recording.md): bytes reach the disk before the row that
// describes them (write, fsync file, fsync directory on create, then commit); a row never
// claims more bytes than its file holds; held segments are never deleted.

import Foundation

public enum RecordingError: Error, CustomStringConvertible {
    case io(operation: String, path: String, errno: Int32)
    case invalid(String)
    /// Start-up found the data directory in a state where going on could destroy footage
    /// (a lost or foreign catalog, another process writing it): nothing was changed.
    case refusedToStart(String)

    public var description: String {
        switch self {
        case let .io(operation, path, errno): "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case let .invalid(what): what
        case let .refusedToStart(why): why
        }
    }
}

/// Wall-clock time source, injected so tests can move time.
public struct WallClock: Sendable {
    public var nowMicros: @Sendable () -> Int64

    public init(nowMicros: @escaping @Sendable () -> Int64) {
        self.nowMicros = nowMicros
    }

    public static let system = WallClock { Int64(Date().timeIntervalSince1970 * 1_000_000) }
}

/// Formats microseconds since the epoch as ISO 8601 UTC with milliseconds.
public func iso8601(micros: Int64) -> String {
    let formatter = ISO8601DateFormatter()
    formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    formatter.timeZone = TimeZone(identifier: "UTC")
    return formatter.string(from: Date(timeIntervalSince1970: Double(micros) / 1_000_000))
}

/// Parses ISO 8601 (with or without fractional seconds, any offset) to microseconds.
public func parseISO8601(_ text: String) -> Int64? {
    let formatter = ISO8601DateFormatter()
    for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime]] {
        formatter.formatOptions = options
        if let date = formatter.date(from: text) { return Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
    }
    return nil
}
