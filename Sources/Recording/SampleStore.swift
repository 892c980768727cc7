import Catalog
import Crypto
import Foundation

/// The sample-file directory: `<root>/<camera id>/<file name>`. Each file is one segment's
/// frames back to back, exactly as received (length-prefixed NAL units). Files are only
/// ever appended to, truncated back to their last committed length by recovery, or
/// deleted whole by retention.
public struct SampleStore: Sendable {
    public let root: String

    public init(root: String) throws {
        self.root = root
        try Self.makeDirectory(root)
    }

    public func directory(cameraID: Int64) -> String { "\(root)/\(cameraID)" }

    public func path(cameraID: Int64, fileName: String) -> String { "\(directory(cameraID: cameraID))/\(fileName)" }

    /// Creates a new, empty sample file (never overwriting one) and makes its directory
    /// entry durable, so a committed row can never point at a name that a crash erased.
    public func create(cameraID: Int64, fileName: String) throws -> SampleFile {
        let dir = directory(cameraID: cameraID)
        try Self.makeDirectory(dir)
        let path = "\(dir)/\(fileName)"
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw RecordingError.io(operation: "create", path: path, errno: errno) }
        try Self.syncDirectory(dir)
        return SampleFile(path: path, fd: fd)
    }

    /// File names present for a camera directory (sample files only).
    public func fileNames(cameraID: Int64) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory(cameraID: cameraID)))?.filter { $0.hasSuffix(".sample") }.sorted() ?? []
    }

    /// Camera ids that have a directory.
    public func cameraDirectories() -> [Int64] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int64.init).sorted()
    }

    /// Sample files that no row describes: (camera id, file name), in directory order.
    public func orphans(describedBy rows: [SegmentRecord]) -> [(cameraID: Int64, fileName: String)] {
        var known: [Int64: Set<String>] = [:]
        for r in rows { known[r.cameraID, default: []].insert(r.fileName) }
        return cameraDirectories().flatMap { cameraID in
            fileNames(cameraID: cameraID).filter { !(known[cameraID]?.contains($0) ?? false) }.map { (cameraID, $0) }
        }
    }

    public func remove(cameraID: Int64, fileName: String) throws {
        let path = path(cameraID: cameraID, fileName: fileName)
        if unlink(path) != 0 && errno != ENOENT { throw RecordingError.io(operation: "unlink", path: path, errno: errno) }
        try Self.syncDirectory(directory(cameraID: cameraID))
    }

    public func size(cameraID: Int64, fileName: String) -> Int64? {
        var st = stat()
        guard stat(path(cameraID: cameraID, fileName: fileName), &st) == 0 else { return nil }
        return Int64(st.st_size)
    }

    /// Truncates a file to `length` bytes and makes that durable.
    public func truncate(cameraID: Int64, fileName: String, to length: Int64) throws {
        let path = path(cameraID: cameraID, fileName: fileName)
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RecordingError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(length)) == 0 else { throw RecordingError.io(operation: "truncate", path: path, errno: errno) }
        guard fsync(fd) == 0 else { throw RecordingError.io(operation: "fsync", path: path, errno: errno) }
    }

    /// SHA-256 of a whole file, read in 1 MiB blocks.
    public func sha256(cameraID: Int64, fileName: String) throws -> [UInt8] {
        try Self.sha256(path: path(cameraID: cameraID, fileName: fileName))
    }

    public static func sha256(path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RecordingError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw RecordingError.io(operation: "read", path: path, errno: errno) }
            if n == 0 { break }
            buffer.withUnsafeBytes { hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
        }
        return Array(hasher.finalize())
    }

    /// Free bytes available to unprivileged writers on the store's file system.
    public func freeBytes() -> Int64? {
        var s = statvfs()
        guard statvfs(root, &s) == 0 else { return nil }
        return Int64(s.f_bavail) * Int64(s.f_frsize)
    }

    static func makeDirectory(_ path: String) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        } catch {
            throw RecordingError.invalid("cannot create directory \(path): \(error)")
        }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw RecordingError.io(operation: "open directory", path: path, errno: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw RecordingError.io(operation: "fsync directory", path: path, errno: errno) }
    }
}

/// An open, append-only sample file. Not shared: one recorder owns it.
public struct SampleFile: Sendable {
    public let path: String
    let fd: Int32

    /// Appends all of `bytes` (retrying short writes); ENOSPC and friends are thrown.
    public func append(_ bytes: [UInt8]) throws {
        try append(contentsOf: [bytes])
    }

    /// Appends `chunks` back to back with `writev(2)` (retrying short writes).
    public func append(contentsOf chunks: [[UInt8]]) throws {
        var index = 0, offset = 0 // the first byte not yet written: chunks[index][offset]
        while true {
            while index < chunks.count && offset >= chunks[index].count {
                offset -= chunks[index].count
                index += 1
            }
            guard index < chunks.count else { return }
            // At most 64 frames a call (Linux allows 1024): the iovecs are collected by nesting.
            let batch = chunks[index..<min(chunks.count, index + 64)]
            let n = withIOVecs(batch, skipping: offset) { writev(fd, $0.baseAddress, Int32($0.count)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RecordingError.io(operation: "write", path: path, errno: errno) }
            offset += n
        }
    }

    /// Makes every byte appended so far durable (data and size).
    public func sync() throws {
        guard fdatasync(fd) == 0 else { throw RecordingError.io(operation: "fdatasync", path: path, errno: errno) }
    }

    public func truncate(to length: Int64) throws {
        guard ftruncate(fd, off_t(length)) == 0 else { throw RecordingError.io(operation: "truncate", path: path, errno: errno) }
        _ = lseek(fd, off_t(length), SEEK_SET)
    }

    public func close() {
        _ = Foundation.close(fd)
    }
}

/// Calls `body` with iovecs over `chunks`, the first one starting `skip` bytes in.
private func withIOVecs<R>(_ chunks: ArraySlice<[UInt8]>, skipping skip: Int, _ body: (UnsafeBufferPointer<iovec>) -> R) -> R {
    var vecs: [iovec] = []
    vecs.reserveCapacity(chunks.count)
    func collect(_ i: Int) -> R {
        guard i < chunks.endIndex else { return vecs.withUnsafeBufferPointer(body) }
        return chunks[i].withUnsafeBytes { raw in
            let start = i == chunks.startIndex ? skip : 0
            if let base = raw.baseAddress, raw.count > start {
                vecs.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: base + start), iov_len: raw.count - start))
            }
            return collect(i + 1)
        }
    }
    return collect(chunks.startIndex)
}
