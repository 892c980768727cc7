import Audit
import Base
import Foundation

/// A place outside the data directory that keeps the newest signed audit checkpoint:
/// storage the site mounts from another machine (NFS, a second server's disk). Whoever
/// can rewrite the catalog can delete the log's tail together with the checkpoints that
/// cover it; a witness catches that as long as they cannot also rewrite the copy there
/// (the witness machine should keep the files append-only or snapshot them: this host's
/// root can write to a read-write mount). `vigil audit verify --witness-dir` and the
/// server's start-up compare the log with it (RFC 9162 §8.1.2's monitor role, kept simple:
/// a file per log, replaced only by a checkpoint of a tree at least as large).
public struct AuditWitness: Sendable {
    public let directory: String
    /// `<origin with '/' as '_'>.checkpoint`: one directory may witness several sites.
    public let path: String

    public init(directory: String, origin: String) {
        self.directory = directory
        let name = origin.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." ? $0 : "_" }
        self.path = "\(directory)/\(String(name)).checkpoint"
    }

    /// The witnessed checkpoint (a signed note), nil when none was written here yet.
    /// Throws when the directory itself is missing: an unmounted witness must not pass
    /// for an empty one.
    public func read() throws -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VigilError(.notFound, "witness directory \(directory) does not exist (not mounted?)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard data.count <= 64 * 1024 else { throw VigilError(.invalid, "witness file \(path) is \(data.count) bytes, not a checkpoint") }
        return String(decoding: data, as: UTF8.self)
    }

    /// Replaces the witnessed checkpoint with `note` (atomically, durably), unless the one
    /// there covers a larger tree: a witness never goes backwards. With `force` (an
    /// administrator accepted a log that disagrees with it) what it held is kept beside it
    /// as `<file>.superseded-<time>`, the evidence of what was overruled.
    public func write(note: String, treeSize: Int, verifier: NoteVerifier, force: Bool = false) throws {
        if let old = try read(), old != note {
            let witnessed = try? Checkpoint(text: verifier.verify(old))
            if force {
                let stamp = Int64(Date().timeIntervalSince1970)
                guard rename(path, "\(path).superseded-\(stamp)") == 0 else {
                    throw VigilError(.failure, "cannot keep \(path) aside: errno \(errno)")
                }
            } else if let witnessed, witnessed.treeSize > treeSize {
                throw VigilError(.conflict, "witness \(path) holds a checkpoint of \(witnessed.treeSize) entries; the log has \(treeSize)")
            }
        }
        let temporary = "\(path).new-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(note.utf8), attributes: [.posixPermissions: 0o644]) else {
            throw VigilError(.failure, "cannot write \(temporary)")
        }
        let fd = open(temporary, O_RDONLY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            close(fd)
        }
        guard rename(temporary, path) == 0 else { throw VigilError(.invalid, "cannot rename \(temporary) to \(path): errno \(errno)") }
        let dir = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            _ = fsync(dir)
            close(dir)
        }
    }
}
