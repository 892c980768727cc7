import Base
import Foundation

/// Where the server keeps the bundles it exported, so that the register can list them and
/// authorised users can fetch them again: `ROOT/EXHIBIT/STAMP/FILE`, one directory per
/// export (STAMP is the UTC export time, `yyyyMMdd'T'HHmmss'Z'`, with `-2`, `-3`… when two
/// exports fall in one second). Names coming from a request are only ever matched
/// against what is listed here, never joined into a path unchecked. The shelf keeps copies
/// for download, not the evidence itself (the footage stays held in the recording), so
/// exports are removed once older than the site's keep period (`prune`): otherwise they
/// would pile up and the disk floor would delete recorded footage to make room for them.
public struct ExportShelf: Sendable {
    public let root: String

    public struct File: Sendable, Equatable {
        public var name: String
        public var bytes: Int64
        public init(name: String, bytes: Int64) {
            self.name = name
            self.bytes = bytes
        }
    }

    public struct Export: Sendable, Equatable {
        public var id: String
        public var files: [File]
        public var bytes: Int64 { files.reduce(0) { $0 + $1.bytes } }
        public init(id: String, files: [File]) {
            self.id = id
            self.files = files
        }
    }

    /// What `prune` removed: a published export (now gone from the listing) or a staging
    /// directory left by an export that never finished (a crash).
    public struct Removed: Sendable, Equatable {
        public var exhibit: String
        public var id: String
        public var bytes: Int64
        public var published: Bool
        public init(exhibit: String, id: String, bytes: Int64, published: Bool) {
            self.exhibit = exhibit
            self.id = id
            self.bytes = bytes
            self.published = published
        }
    }

    public init(root: String) {
        self.root = root
    }

    static func stampFormatter() -> DateFormatter {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter
    }

    /// A fresh, empty staging directory for an export of `exhibit` made at `micros`:
    /// `ROOT/EXHIBIT/.STAMP`, hidden from `exports` until `publish` renames it, so no one
    /// lists or downloads a bundle still being written.
    public func newDirectory(exhibit: String, atMicros micros: Int64) throws -> (id: String, path: String) {
        guard Self.isName(exhibit) else { throw VigilError(.invalid, "not an exhibit number: \(exhibit)") }
        let stamp = Self.stampFormatter().string(from: Date(timeIntervalSince1970: Double(micros) / 1e6))
        let parent = "\(root)/\(exhibit)"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        for n in 1...100 {
            let id = n == 1 ? stamp : "\(stamp)-\(n)"
            guard !FileManager.default.fileExists(atPath: "\(parent)/\(id)") else { continue }
            // mkdir fails when the directory exists: two exports never share one.
            if mkdir("\(parent)/.\(id)", 0o750) == 0 { return (id, "\(parent)/.\(id)") }
            guard errno == EEXIST else {
                throw VigilError(.invalid, "cannot create an export directory in \(parent): \(String(cString: strerror(errno)))")
            }
        }
        throw VigilError(.conflict, "too many exports of \(exhibit) in one second")
    }

    /// Makes a finished export visible under its id (rename never replaces a non-empty
    /// directory, so an export is never overwritten).
    public func publish(exhibit: String, id: String) throws {
        let parent = "\(root)/\(exhibit)"
        guard rename("\(parent)/.\(id)", "\(parent)/\(id)") == 0 else {
            throw VigilError(.conflict, "cannot publish export \(id) of \(exhibit): \(String(cString: strerror(errno)))")
        }
    }

    /// The exports of `exhibit`, oldest first, each with its files.
    public func exports(exhibit: String) -> [Export] {
        guard Self.isName(exhibit) else { return [] }
        let parent = "\(root)/\(exhibit)"
        return Self.names(in: parent).filter(Self.isName).map { Export(id: $0, files: Self.files(in: "\(parent)/\($0)")) }
    }

    /// The entries of `directory`, sorted; none if it cannot be read.
    static func names(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// The regular files of an export's directory whose names pass `isName`.
    static func files(in directory: String) -> [File] {
        names(in: directory).filter(isName).compactMap { name in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)"),
                attributes[.type] as? FileAttributeType == .typeRegular
            else { return nil }
            return File(name: name, bytes: (attributes[.size] as? NSNumber)?.int64Value ?? 0)
        }
    }

    /// The path of one exported file, if `exhibit`, `export` and `name` name one that exists.
    public func file(exhibit: String, export: String, name: String) -> String? {
        guard exports(exhibit: exhibit).first(where: { $0.id == export })?.files.contains(where: { $0.name == name }) == true else {
            return nil
        }
        return "\(root)/\(exhibit)/\(export)/\(name)"
    }

    /// Removes every published export made before `cutoffMicros` (by the time in its id)
    /// and every staging directory older than `stagingCutoffMicros` (an export runs for
    /// minutes at most, so an old one is what a crash left). A published export first
    /// leaves the listing by an atomic rename to a hidden name, so no download starts on a
    /// bundle being deleted; a hidden directory of any other shape (one such rename that a
    /// crash interrupted) is removed too. Returns what it removed; what it could not remove
    /// stays, to be tried again.
    public func prune(madeBefore cutoffMicros: Int64, stagingMadeBefore stagingCutoffMicros: Int64) -> [Removed] {
        let formatter = Self.stampFormatter()
        func madeMicros(_ id: String) -> Int64? {
            formatter.date(from: String(id.prefix(16))).map { Int64($0.timeIntervalSince1970 * 1e6) }
        }
        var removed: [Removed] = []
        for exhibit in Self.names(in: root).filter(Self.isName) {
            let parent = "\(root)/\(exhibit)"
            for export in exports(exhibit: exhibit) {
                guard let made = madeMicros(export.id), made < cutoffMicros else { continue }
                let doomed = "\(parent)/.expired-\(export.id)"
                guard rename("\(parent)/\(export.id)", doomed) == 0 else { continue }
                try? FileManager.default.removeItem(atPath: doomed)
                removed.append(Removed(exhibit: exhibit, id: export.id, bytes: export.bytes, published: true))
            }
            // Hidden: staging directories, and removals that a crash interrupted (reported
            // when they were renamed).
            for name in Self.names(in: parent) where name.hasPrefix(".") {
                let id = String(name.dropFirst())
                if let made = madeMicros(id), made >= stagingCutoffMicros { continue }
                let bytes = Self.files(in: "\(parent)/\(name)").reduce(0) { $0 + $1.bytes }
                guard (try? FileManager.default.removeItem(atPath: "\(parent)/\(name)")) != nil else { continue }
                if !id.hasPrefix("expired-") { removed.append(Removed(exhibit: exhibit, id: id, bytes: bytes, published: false)) }
            }
            rmdir(parent) // only if empty
        }
        return removed
    }

    /// Letters, digits, `-`, `_` and `.`, not starting with a dot: no separators, no `..`.
    static func isName(_ s: String) -> Bool {
        !s.isEmpty && s.count <= 200 && !s.hasPrefix(".")
            && s.unicodeScalars.allSatisfy {
                ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.".unicodeScalars.contains($0)
            }
    }
}
