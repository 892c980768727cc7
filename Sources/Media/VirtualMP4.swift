import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file that exists only as a list of parts: header bytes held in memory and byte
/// ranges of sample files on disk. Any byte range of it can be produced without building
/// the whole (HTTP range requests, time to first byte), and `write(to:)` streams it.
public struct VirtualMP4: Sendable {
    public enum Part: Sendable {
        case bytes([UInt8])
        case file(path: String, offset: Int64, length: Int64)

        var length: Int64 {
            switch self {
            case let .bytes(b): Int64(b.count)
            case let .file(_, _, length): length
            }
        }
    }

    public let parts: [Part]
    /// Start offset of each part in the virtual file.
    private let starts: [Int64]
    public let size: Int64

    public init(parts: [Part]) {
        self.parts = parts
        var starts: [Int64] = []
        var total: Int64 = 0
        for p in parts {
            starts.append(total)
            total += p.length
        }
        self.starts = starts
        self.size = total
    }

    /// The bytes of `range` (clamped to the file), read with `pread` from sample files.
    public func read(_ range: Range<Int64>) throws -> [UInt8] {
        let lower = max(0, range.lowerBound), upper = min(size, range.upperBound)
        guard lower < upper else { return [] }
        var out: [UInt8] = []
        out.reserveCapacity(Int(upper - lower))
        var i = partIndex(containing: lower)
        var position = lower
        while position < upper, i < parts.count {
            let partStart = starts[i]
            let within = position - partStart
            let take = min(parts[i].length - within, upper - position)
            switch parts[i] {
            case let .bytes(b):
                out.append(contentsOf: b[Int(within)..<Int(within + take)])
            case let .file(path, offset, _):
                try Self.pread(path: path, offset: offset + within, count: Int(take), into: &out)
            }
            position += take
            i += 1
        }
        return out
    }

    /// Streams the whole file to an open file descriptor in chunks of at most `chunk` bytes.
    public func write(toFileDescriptor fd: Int32, chunk: Int = 1 << 20) throws {
        var position: Int64 = 0
        while position < size {
            let bytes = try read(position..<min(size, position + Int64(chunk)))
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                guard n > 0 else { throw MediaError.io(path: "fd \(fd)", errno: errno) }
                written += n
            }
            position += Int64(bytes.count)
        }
    }

    /// Writes the whole file to `path` durably: to `path.partial`, `fsync`, then renamed,
    /// so `path` is either absent or complete.
    public func write(toFile path: String) throws {
        let temporary = path + ".partial"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw MediaError.io(path: temporary, errno: errno) }
        do {
            try write(toFileDescriptor: fd)
            guard fsync(fd) == 0 else { throw MediaError.io(path: temporary, errno: errno) }
            close(fd)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else { throw MediaError.io(path: path, errno: errno) }
    }

    private func partIndex(containing offset: Int64) -> Int {
        var lo = 0, hi = starts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if starts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        return lo
    }

    private static func pread(path: String, offset: Int64, count: Int, into out: inout [UInt8]) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw MediaError.io(path: path, errno: errno) }
        defer { close(fd) }
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: count))
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { buf in
                Glibc.pread(fd, buf.baseAddress! + start + done, count - done, off_t(offset) + off_t(done))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw n == 0 ? MediaError.truncated(what: path, offset: Int(offset) + done) : MediaError.io(path: path, errno: errno)
            }
            done += n
        }
    }
}

/// What an HTTP `Range` header asks of a file of `size` bytes (RFC 9110 §14): a single
/// `bytes=` range (first-last, first-, or -suffix). Several ranges, a malformed one, or an
/// `If-Range` that no longer matches get the whole file; a range starting past the end is
/// unsatisfiable. Every number comes from the client: none is added to before it is
/// clamped (a last byte of Int64.max once trapped the server).
public enum ByteRangeRequest: Equatable, Sendable {
    case whole, partial(Range<Int64>), unsatisfiable

    public init(header: String?, size: Int64, ifRange: String? = nil, etag: String = "") {
        guard let header, header.hasPrefix("bytes="), size >= 0 else {
            self = .whole
            return
        }
        if let ifRange, ifRange != etag {
            self = .whole
            return
        }
        let spec = header.dropFirst(6).trimmingCharacters(in: .whitespaces)
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else {
            self = .whole
            return
        }
        let first = spec[..<dash], last = spec[spec.index(after: dash)...]
        if first.isEmpty {
            guard let n = Int64(last), n > 0 else {
                self = .unsatisfiable
                return
            }
            self = size == 0 ? .unsatisfiable : .partial(max(0, size - n)..<size)
            return
        }
        guard let a = Int64(first), a >= 0 else {
            self = .whole
            return
        }
        guard a < size else {
            self = .unsatisfiable
            return
        }
        if last.isEmpty {
            self = .partial(a..<size)
            return
        }
        guard let b = Int64(last), b >= a else {
            self = .whole
            return
        }
        self = .partial(a..<(min(size - 1, b) + 1))
    }
}
