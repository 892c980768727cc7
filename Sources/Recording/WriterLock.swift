import Base
import Foundation

/// The one process that records into a data directory (`vigil serve`, `record`, `demo`):
/// an exclusive `flock(2)` on `<data>/writer.lock`, held until the process exits (the
/// kernel releases it on any exit, `kill -9` included, so a stale lock cannot outlive its
/// holder). Two writers would reconcile, cut and quarantine each other's open files.
/// Administration commands (`camera add`, `user`, `evidence`) do not take it: they write
/// only catalog rows, which SQLite's own locking serialises.
public final class WriterLock: Sendable {
    public let path: String
    private let fd: Int32

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// Takes the lock or throws `RecordingError.refusedToStart` naming the holder.
    public static func acquire(dataDirectory: String, command: String) throws -> WriterLock {
        let path = "\(dataDirectory)/writer.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw RecordingError.io(operation: "open", path: path, errno: errno) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            var holder = [UInt8](repeating: 0, count: 512)
            let n = holder.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
            guard error == EWOULDBLOCK else { throw RecordingError.io(operation: "lock", path: path, errno: error) }
            let who =
                n > 0 ? String(decoding: holder[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "another process"
            throw RecordingError.refusedToStart(
                """
                \(dataDirectory) is already being recorded into by \(who). One process records into a data \
                directory at a time: stop that one first, or give this one another --data directory.
                """)
        }
        let note = Array(
            "pid \(getpid()) (vigil \(command), since \(iso8601(micros: Int64(Date().timeIntervalSince1970 * 1_000_000))))\n".utf8)
        _ = ftruncate(fd, 0)
        _ = note.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return WriterLock(path: path, fd: fd)
    }

    /// Gives the lock up. Otherwise it lasts until the process exits: it is deliberately
    /// not tied to this object's lifetime, which Swift may end at its last use.
    public func release() {
        close(fd)
    }
}
