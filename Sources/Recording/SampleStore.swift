import Catalog
import Crypto
import Foundation
import Records
import Synchronization

/// The sample-file directory: `<root>/<camera id>/<file name>`. Each file is one segment's
/// frames back to back, exactly as received (length-prefixed NAL units). Files are only
/// ever appended to, truncated back to their last committed length by recovery, or
/// deleted whole by retention.
public struct SampleStore: Sendable {
    public let root: String
    /// Whether new files are written with direct I/O where the file system allows it
    /// (`SampleFile`); false writes the same blocks through the page cache.
    public let directIO: Bool

    public init(root: String, directIO: Bool = true) throws {
        self.root = root
        self.directIO = directIO
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
        let file = SampleFile(path: path, fd: fd, direct: directIO && SampleFile.enableDirectIO(fd))
        do { try Self.syncDirectory(dir) } catch {
            file.close()
            throw error
        }
        return file
    }

    /// File names present for a camera directory (sample files only).
    public func fileNames(cameraID: Int64) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory(cameraID: cameraID)))?.filter { $0.hasSuffix(".sample") }.sorted()
            ?? []
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

    // MARK: Which catalog the files belong to

    /// The file naming the catalog whose rows describe these sample files.
    public var catalogMarkerPath: String { "\(root)/catalog-identity" }

    /// The identity of the catalog these files were recorded under, if one was noted.
    public func catalogMarker() -> String? {
        guard let data = FileManager.default.contents(atPath: catalogMarkerPath) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    /// Notes (durably) that these files belong to the catalog named `identity`.
    public func writeCatalogMarker(_ identity: String) throws {
        let temporary = catalogMarkerPath + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw RecordingError.io(operation: "create", path: temporary, errno: errno) }
        let bytes = Array((identity + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd) == 0
        close(fd)
        guard written == bytes.count, synced else { throw RecordingError.io(operation: "write", path: temporary, errno: errno) }
        guard rename(temporary, catalogMarkerPath) == 0 else { throw RecordingError.io(operation: "rename", path: temporary, errno: errno) }
        try Self.syncDirectory(root)
    }

    /// Every sample file under a camera directory, and their bytes in total.
    public func census() -> (files: Int, bytes: Int64) {
        var files = 0, bytes: Int64 = 0
        for cameraID in cameraDirectories() {
            for name in fileNames(cameraID: cameraID) {
                files += 1
                bytes += size(cameraID: cameraID, fileName: name) ?? 0
            }
        }
        return (files, bytes)
    }

    // MARK: Quarantine

    /// Where start-up recovery moves what it cannot account for, instead of deleting it:
    /// `<root>/quarantine/<camera id>/`. Inside the store's root, so normally on its file
    /// system (a move is a hard link and an unlink). Only `vigil quarantine --purge`
    /// deletes from here.
    public var quarantineRoot: String { "\(root)/quarantine" }

    /// Moves a sample file into the quarantine; returns its new path. Never replaces a file
    /// already there: a name taken gets a numbered suffix.
    @discardableResult
    public func quarantine(cameraID: Int64, fileName: String) throws -> String {
        let target = try quarantineTarget(cameraID: cameraID, name: fileName)
        let source = path(cameraID: cameraID, fileName: fileName)
        // A hard link and then an unlink: the file is in one place or both, never neither.
        // Where a camera directory is its own mount (EXDEV) or links are not allowed, a copy.
        if link(source, target) == 0 {
            try Self.syncDirectory((target as NSString).deletingLastPathComponent)
        } else if [EXDEV, EPERM, ENOTSUP, EMLINK].contains(errno) {
            let copy = try quarantineTail(cameraID: cameraID, fileName: fileName, from: 0)
            guard rename(copy, target) == 0 else { throw RecordingError.io(operation: "rename into quarantine", path: copy, errno: errno) }
            try Self.syncDirectory((target as NSString).deletingLastPathComponent)
        } else {
            throw RecordingError.io(operation: "link into quarantine", path: source, errno: errno)
        }
        try remove(cameraID: cameraID, fileName: fileName)
        return target
    }

    /// Copies the bytes of a sample file from `offset` to its end into the quarantine (as
    /// `<file>.from-<offset>`) before recovery cuts them off; returns the copy's path.
    @discardableResult
    public func quarantineTail(cameraID: Int64, fileName: String, from offset: Int64) throws -> String {
        let source = path(cameraID: cameraID, fileName: fileName)
        let target = try quarantineTarget(cameraID: cameraID, name: "\(fileName).from-\(offset)")
        let output = open(target, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard output >= 0 else { throw RecordingError.io(operation: "create", path: target, errno: errno) }
        defer { close(output) }
        try Self.readChunks(path: source, from: offset) { chunk in
            var done = 0
            while done < chunk.count {
                let w = write(output, chunk.baseAddress! + done, chunk.count - done)
                if w < 0 && errno == EINTR { continue }
                guard w > 0 else { throw RecordingError.io(operation: "write", path: target, errno: errno) }
                done += w
            }
            return true
        }
        guard fsync(output) == 0 else { throw RecordingError.io(operation: "fsync", path: target, errno: errno) }
        try Self.syncDirectory((target as NSString).deletingLastPathComponent)
        return target
    }

    /// Whether every byte of a sample file from `offset` on is zero (only padding).
    public func isZero(cameraID: Int64, fileName: String, from offset: Int64) throws -> Bool {
        var zero = true
        try Self.readChunks(path: path(cameraID: cameraID, fileName: fileName), from: offset) { chunk in
            zero = !chunk.contains { $0 != 0 }
            return zero
        }
        return zero
    }

    /// Everything in the quarantine: paths and sizes.
    public func quarantined() -> [(path: String, bytes: Int64)] {
        let fm = FileManager.default
        var found: [(String, Int64)] = []
        for directory in ((try? fm.contentsOfDirectory(atPath: quarantineRoot)) ?? []).sorted() {
            let dir = "\(quarantineRoot)/\(directory)"
            for name in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() {
                var st = stat()
                guard stat("\(dir)/\(name)", &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                found.append(("\(dir)/\(name)", Int64(st.st_size)))
            }
        }
        return found
    }

    /// Deletes everything in the quarantine; returns what was deleted.
    public func purgeQuarantine() throws -> [(path: String, bytes: Int64)] {
        let files = quarantined()
        for file in files where unlink(file.path) != 0 && errno != ENOENT {
            throw RecordingError.io(operation: "unlink", path: file.path, errno: errno)
        }
        for directory in Set(files.map { ($0.path as NSString).deletingLastPathComponent }) { try Self.syncDirectory(directory) }
        return files
    }

    private func quarantineTarget(cameraID: Int64, name: String) throws -> String {
        let dir = "\(quarantineRoot)/\(cameraID)"
        try Self.makeDirectory(dir)
        var candidate = "\(dir)/\(name)", n = 1
        while access(candidate, F_OK) == 0 {
            n += 1
            candidate = "\(dir)/\(name).\(n)"
        }
        return candidate
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
        var hasher = SHA256()
        try readChunks(path: path, from: 0) { chunk in
            hasher.update(bufferPointer: chunk)
            return true
        }
        return Array(hasher.finalize())
    }

    /// Reads a file from `offset` to its end in 1 MiB chunks, handing each to `body` until
    /// it returns false: the one read loop of the store (hashing, copying, checking).
    static func readChunks(path: String, from offset: Int64, _ body: (UnsafeRawBufferPointer) throws -> Bool) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw RecordingError.io(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var at = offset
        while true {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(at)) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw RecordingError.io(operation: "read", path: path, errno: errno) }
            if n == 0 { return }
            guard try buffer.withUnsafeBytes({ try body(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else { return }
            at += Int64(n)
        }
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

/// An open, append-only sample file, owned by one recorder.
///
/// Bytes are staged in a block-aligned buffer and written a block-aligned run at a time
/// with `pwrite(2)`, with direct I/O (`O_DIRECT`) where the file system allows it: the
/// device reads them from the buffer, so they are not copied into the page cache — with
/// dozens of cameras that copy was the biggest single cost of recording
/// (BENCHMARKS.md). Direct I/O needs whole blocks, so each write covers whole blocks: the
/// last one is padded with zeros, and the next write starts at that block again and
/// rewrites its bytes (unchanged) with new ones after them. Until `complete()` the file
/// may therefore be up to a block longer than `length`; readers go by the catalog's byte
/// count, and recovery cuts an unfinished file back to its row. Where the file system
/// refuses direct I/O the same writes go through the page cache.
///
/// `length` and `digest()` cover exactly the bytes written: a write that fails counts
/// for nothing, and its staged bytes stay staged until `discardStaged()`.
public final class SampleFile: Sendable {
    public let path: String
    private let fd: Int32
    private let state: Mutex<Staging>
    /// Writes start and end on multiples of this (and the buffer is aligned to it): a
    /// multiple of every logical block size in use (512 B and 4 KiB).
    static let blockSize = 4096

    init(path: String, fd: Int32, direct: Bool) {
        self.path = path
        self.fd = fd
        self.state = Mutex(Staging(direct: direct))
    }

    /// Bytes written (staged bytes not included).
    public var length: Int64 { state.withLock { $0.base + Int64($0.written) } }
    /// Bytes staged and not yet written.
    public var stagedByteCount: Int { state.withLock { $0.count - $0.written } }
    /// Whether writes bypass the page cache.
    public var isDirect: Bool { state.withLock { $0.direct } }

    /// SHA-256 of the `length` bytes written.
    public func digest() -> [UInt8] {
        state.withLock { Array($0.hasher.finalize()) }
    }

    /// Copies `bytes` into the staging buffer (no system call); returns the bytes now staged.
    @discardableResult
    public func stage(_ bytes: [UInt8]) -> Int {
        state.withLock { s in
            s.reserve(s.count + bytes.count + Self.blockSize)
            bytes.withUnsafeBytes { (s.buffer.baseAddress! + s.count).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            s.count += bytes.count
            return s.count - s.written
        }
    }

    /// Writes what is staged (blocking: call it off the event loops). On success the
    /// bytes count (`length`, `digest()`); on failure nothing changes but the file's
    /// bytes past `length`, which `complete()` or recovery cuts off.
    public func writeStaged() throws {
        try state.withLock { s in
            guard s.count > s.written else { return }
            let end = (s.count + Self.blockSize - 1) / Self.blockSize * Self.blockSize
            (s.buffer.baseAddress! + s.count).initializeMemory(as: UInt8.self, repeating: 0, count: end - s.count)
            var done = 0
            while done < end {
                let n = pwrite(fd, s.buffer.baseAddress! + done, end - done, off_t(s.base) + off_t(done))
                if n < 0 && errno == EINTR { continue }
                if n < 0 && errno == EINVAL && s.direct {
                    // The device wants a larger alignment than ours: go through the page cache.
                    guard Self.disableDirectIO(fd) else { throw RecordingError.io(operation: "write", path: path, errno: EINVAL) }
                    s.direct = false
                    continue
                }
                guard n > 0 else { throw RecordingError.io(operation: "write", path: path, errno: n < 0 ? errno : ENOSPC) }
                done += n
            }
            s.hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: s.buffer[s.written..<s.count]))
            s.padded = end > s.count
            // Keep the last, partial block: the next write starts with it.
            let whole = s.count / Self.blockSize * Self.blockSize
            s.buffer.baseAddress!.copyMemory(from: s.buffer.baseAddress! + whole, byteCount: s.count - whole)
            s.base += Int64(whole)
            s.count -= whole
            s.written = s.count
        }
    }

    /// Stages and writes `bytes`.
    public func append(_ bytes: [UInt8]) throws {
        stage(bytes)
        try writeStaged()
    }

    /// Forgets the staged bytes (after a failed write).
    public func discardStaged() {
        state.withLock { $0.count = $0.written }
    }

    /// Writes what is staged and makes it durable: what a flush does to the file.
    public func writeStagedAndSync() throws {
        try writeStaged()
        try sync()
    }

    /// Makes every byte written durable (data and size).
    public func sync() throws {
        guard fdatasync(fd) == 0 else { throw RecordingError.io(operation: "fdatasync", path: path, errno: errno) }
    }

    /// Cuts the file to exactly `length` bytes (dropping padding and anything a failed
    /// write left) and syncs it: what a closed segment's file must be.
    public func complete() throws {
        let length = self.length
        guard ftruncate(fd, off_t(length)) == 0 else { throw RecordingError.io(operation: "truncate", path: path, errno: errno) }
        state.withLock { $0.padded = false }
        try sync()
    }

    /// Closes the descriptor; a padded file is first cut to `length`.
    public func close() {
        if state.withLock({ $0.padded }) { _ = ftruncate(fd, off_t(length)) }
        _ = Foundation.close(fd)
    }

    /// Turns on direct I/O for `fd`; false where the file system does not offer it.
    static func enableDirectIO(_ fd: Int32) -> Bool {
        guard oDirect != 0 else { return false }
        let flags = fcntl(fd, F_GETFL)
        return flags >= 0 && fcntl(fd, F_SETFL, flags | oDirect) == 0
    }

    static func disableDirectIO(_ fd: Int32) -> Bool {
        let flags = fcntl(fd, F_GETFL)
        return flags >= 0 && fcntl(fd, F_SETFL, flags & ~oDirect) == 0
    }
}

/// The staging buffer of a sample file: `buffer[0..<count]` are the file's bytes from
/// offset `base` (a multiple of the block size) on; the first `written` of them are in
/// the file already (the last, partial block of the previous write).
private struct Staging: ~Copyable {
    var buffer: UnsafeMutableRawBufferPointer
    var base: Int64 = 0
    var count = 0
    var written = 0
    var hasher = SHA256()
    var direct: Bool
    /// The file extends past `length` with the zeros of a padded block.
    var padded = false

    init(direct: Bool) {
        self.direct = direct
        buffer = .allocate(byteCount: 64 << 10, alignment: SampleFile.blockSize)
    }

    mutating func reserve(_ capacity: Int) {
        guard capacity > buffer.count else { return }
        let grown = UnsafeMutableRawBufferPointer.allocate(byteCount: max(capacity, buffer.count * 2), alignment: SampleFile.blockSize)
        grown.baseAddress!.copyMemory(from: buffer.baseAddress!, byteCount: count)
        buffer.deallocate()
        buffer = grown
    }

    deinit { buffer.deallocate() }
}

/// `O_DIRECT`, which Glibc's module map does not export (it needs `_GNU_SOURCE`); its
/// value differs by architecture (asm-generic/fcntl.h, arch/*/include/uapi/asm/fcntl.h).
#if arch(x86_64) || arch(i386)
    private let oDirect: Int32 = 0o40000
#elseif arch(arm64)
    private let oDirect: Int32 = 0o200000
#else
    private let oDirect: Int32 = 0 // unknown here: buffered writes of the same blocks
#endif
