// Recording — turning a camera's frames into durable, indexed segments, and back.
//
// What belongs here: the camera pipeline that `vigil serve` and `vigil record` both run
// (`CameraPipeline`: connect, record, sign the chain head, stop), the sample-file directory
// (one append-only file per segment), the segment chain and its signed heads
// (`SegmentChain`, `ChainHeads`), the per-camera recorder (cut at the first key frame after the segment length, flush every
// second, gaps when the camera drops), start-up recovery that reconciles files with
// catalog rows, retention (per-camera days, a free-disk floor, holds), the exporter that
// turns a time range into a `VirtualMP4`, and the checker behind `vigil check`.
// What does not: RTSP details (frames arrive as `IngestEvent`s), SQL (the `Catalog` actor
// owns it), MP4 box layout (Media).
// Invariants (docs/design/recording.md): bytes reach the disk before the row that
// describes them (write, fsync file, fsync directory on create, then commit); a row never
// claims more bytes than its file holds; held segments are never deleted.

import Base
import Foundation

public enum RecordingError: CodedError {
    case io(operation: String, path: String, errno: Int32)
    case invalid(String)
    /// Start-up found the data directory in a state where going on could destroy footage
    /// (a lost or foreign catalog, another process writing it): nothing was changed.
    case refusedToStart(String)
    /// A request asked for more than one answer may hold (a playback range of too many
    /// frames): refused before anything large was read.
    case tooLarge(String)
    /// Nothing was recorded where the request looked (a camera's range with no footage).
    case notFound(String)

    public var code: ErrorCode {
        switch self {
        case .io, .refusedToStart: .failure
        case .invalid, .tooLarge: .invalid
        case .notFound: .notFound
        }
    }

    public var description: String {
        switch self {
        case let .io(operation, path, errno): "\(operation) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
        case let .invalid(what): what
        case let .refusedToStart(why): why
        case let .tooLarge(why): why
        case let .notFound(what): what
        }
    }
}
