/// ONVIF Export File Format boxes (ONVIF Export File Format Specification, chapter 5):
/// a file-level `meta` box, placed after the media, holding `hdlr`, the
/// SurveillanceExportBox `suep` (version 1), the CorrectStartTimeBox `cstb`, and the
/// ItemProtectionBox `ipro` with one `sinf` per signing instance:
/// `sinf { schm('oeff', 1.0), schi { sibo(signature), cert(DER), sigC(algorithm)?, auib? } }`.
/// The signature is computed over the whole file with its own `sibo` payload zeroed and
/// later signing instances removed (sizes re-adjusted); this file builds and takes apart
/// the boxes, Evidence signs and verifies.
public enum OnvifExport {
    public struct Source: Sendable, Equatable {
        public var trackID: UInt16
        public var name: String
        public var url: String
        public init(trackID: UInt16, name: String, url: String) {
            self.trackID = trackID
            self.name = name
            self.url = url
        }
    }

    public struct ExportInfo: Sendable, Equatable {
        public var unitName: String
        public var unitURL: String
        /// Seconds since 1904-01-01 (ISO/IEC 14496-12 time).
        public var exportTime: UInt64
        public var operatorName: String
        public var sources: [Source]
        /// Wall-clock time of the media timeline's origin, per track: 100 ns units since 1601-01-01 UTC.
        public var startTimes: [(trackID: UInt32, startTime: UInt64)]

        public init(
            unitName: String, unitURL: String, exportTime: UInt64, operatorName: String, sources: [Source],
            startTimes: [(trackID: UInt32, startTime: UInt64)]
        ) {
            self.unitName = unitName
            self.unitURL = unitURL
            self.exportTime = exportTime
            self.operatorName = operatorName
            self.sources = sources
            self.startTimes = startTimes
        }

        public static func == (a: ExportInfo, b: ExportInfo) -> Bool {
            a.unitName == b.unitName && a.unitURL == b.unitURL && a.exportTime == b.exportTime && a.operatorName == b.operatorName
                && a.sources == b.sources && a.startTimes.map(\.trackID) == b.startTimes.map(\.trackID)
                && a.startTimes.map(\.startTime) == b.startTimes.map(\.startTime)
        }
    }

    /// One signing instance as stored: the signature, the signer's certificate, and the
    /// algorithm identifier when it is not the specification's default.
    public struct SigningInstance: Sendable, Equatable {
        public var signature: [UInt8]
        public var certificate: [UInt8]
        public var algorithm: [UInt8]?
        public var userInformation: String?
        public init(signature: [UInt8], certificate: [UInt8], algorithm: [UInt8]?, userInformation: String? = nil) {
            self.signature = signature
            self.certificate = certificate
            self.algorithm = algorithm
            self.userInformation = userInformation
        }
    }

    /// Seconds between 1904-01-01 and 1970-01-01.
    public static let mp4EpochOffset: Int64 = 2_082_844_800
    /// 100 ns intervals between 1601-01-01 and 1970-01-01.
    public static let fileTimeEpochOffset: UInt64 = 116_444_736_000_000_000

    public static func fileTime(unixMicros: Int64) -> UInt64 { UInt64(unixMicros) * 10 + fileTimeEpochOffset }
    public static func unixMicros(fileTime: UInt64) -> Int64 { Int64((fileTime - fileTimeEpochOffset) / 10) }

    /// The file-level `meta` box with one signing instance whose `sibo` holds
    /// `signatureLength` zero bytes (to be filled in after hashing).
    public static func metaBox(info: ExportInfo, instance: SigningInstance) -> [UInt8] {
        var w = BoxWriter()
        w.fullBox("meta", version: 0, flags: 0) { w in
            w.fullBox("hdlr", version: 0, flags: 0) { w in
                w.u32(0)
                w.fourCC("null")
                w.zeros(12)
                w.append(Array("ONVIF export".utf8) + [0])
            }
            w.fullBox("suep", version: 1, flags: 0) { w in
                w.cString(info.unitName)
                w.cString(info.unitURL)
                w.cString("") // ExportUnitMAC: not applicable to a server
                w.u64(info.exportTime)
                w.cString(info.operatorName)
                w.u32(UInt32(info.sources.count))
                for s in info.sources {
                    w.u16(s.trackID)
                    w.cString(s.name)
                    w.cString(s.url)
                    w.cString("") // SourceMAC unknown
                    w.cString("") // SourceLine: single-channel cameras
                }
            }
            w.box("cstb") { w in
                w.u32(UInt32(info.startTimes.count))
                for t in info.startTimes {
                    w.u32(t.trackID)
                    w.u64(t.startTime)
                }
            }
            w.fullBox("ipro", version: 0, flags: 0) { w in
                w.u16(1) // protection_count is 1 whatever the number of signing instances
                w.append(sinfBox(instance))
            }
        }
        return w.bytes
    }

    public static func sinfBox(_ instance: SigningInstance) -> [UInt8] {
        var w = BoxWriter()
        w.box("sinf") { w in
            w.fullBox("schm", version: 0, flags: 0) { w in
                w.fourCC("oeff")
                w.u32(0x0001_0000)
            }
            w.box("schi") { w in
                w.box("sibo") { w in w.append(instance.signature) }
                w.box("cert") { w in w.append(instance.certificate) }
                if let algorithm = instance.algorithm { w.box("sigC") { w in w.append(algorithm) } }
                if let info = instance.userInformation { w.box("auib") { w in w.cString(info) } }
            }
        }
        return w.bytes
    }

    // MARK: Reading

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    /// A box header found in a byte array or file: where it starts, its size, its type.
    public struct BoxHeader: Sendable, Equatable {
        public var offset: Int64
        public var size: Int64
        public var headerSize: Int64
        public var type: String
        public var payloadOffset: Int64 { offset + headerSize }
        public var end: Int64 { offset + size }
    }

    /// The most boxes one level may hold: a file of nothing but 8-byte boxes would
    /// otherwise cost a header in memory for every 8 bytes.
    public static let maxBoxes = 100_000

    /// Walks boxes in `[start, end)`, reading headers with `read(offset, count)`.
    public static func boxes(from start: Int64, to end: Int64, read: (Int64, Int) throws -> [UInt8]) throws -> [BoxHeader] {
        var found: [BoxHeader] = []
        var at = start
        while at < end {
            guard end - at >= 8 else { throw Failure("\(end - at) stray bytes at offset \(at)") }
            let h = try read(at, 16 <= end - at ? 16 : 8)
            var size = Int64(h.readU32(0))
            let type = String(decoding: h[4..<8], as: UTF8.self)
            var headerSize: Int64 = 8
            if size == 1 {
                guard h.count >= 16 else { throw Failure("box \(type) at offset \(at) is truncated") }
                let large = h.readU64(8)
                // Compared before converting: a 64-bit size may exceed Int64, and at + size may overflow.
                guard large <= UInt64(end - at) else {
                    throw Failure("box \(type) at offset \(at) claims \(large) bytes; only \(end - at) remain")
                }
                size = Int64(large)
                headerSize = 16
            } else if size == 0 {
                size = end - at
            }
            guard size >= headerSize, size <= end - at else {
                throw Failure("box \(type) at offset \(at) claims \(size) bytes; only \(end - at) remain")
            }
            guard found.count < maxBoxes else { throw Failure("more than \(maxBoxes) boxes between offsets \(start) and \(end)") }
            found.append(BoxHeader(offset: at, size: size, headerSize: headerSize, type: type))
            at += size
        }
        return found
    }

    /// The parsed file-level `meta` box.
    public struct Meta: Sendable {
        public var info: ExportInfo
        /// Each signing instance, with where its `sinf` and `sibo` payload sit inside the meta bytes.
        public var instances: [(instance: SigningInstance, sinf: Range<Int>, signature: Range<Int>)]
        /// Offset of the `ipro` box within the meta bytes.
        public var ipro: Range<Int>
    }

    /// Parses a file-level `meta` box (its whole bytes, header included).
    public static func parseMeta(_ meta: [UInt8]) throws -> Meta {
        let read: (Int64, Int) throws -> [UInt8] = { offset, count in Array(meta[Int(offset)..<min(meta.count, Int(offset) + count)]) }
        guard meta.count >= 12, String(decoding: meta[4..<8], as: UTF8.self) == "meta" else { throw Failure("not a meta box") }
        guard Int(meta.readU32(0)) == meta.count else {
            throw Failure("the meta box does not state its size (\(meta.count) bytes) in 32 bits")
        }
        var info: ExportInfo?
        var startTimes: [(trackID: UInt32, startTime: UInt64)] = []
        var instances: [(SigningInstance, Range<Int>, Range<Int>)] = []
        var ipro: Range<Int>?
        for child in try boxes(from: 12, to: Int64(meta.count), read: read) {
            let body = Array(meta[Int(child.payloadOffset)..<Int(child.end)])
            switch child.type {
            case "suep": info = try parseSuep(body)
            case "cstb":
                var r = ByteCursor(body)
                let n = try r.u32()
                for _ in 0..<n { startTimes.append((try r.u32(), try r.u64())) }
            case "ipro":
                // One ipro, with a plain 32-bit size: signingInput rewrites that field.
                guard ipro == nil else { throw Failure("the meta box has more than one ItemProtectionBox (ipro)") }
                guard child.headerSize == 8, Int64(meta.readU32(Int(child.offset))) == child.size else {
                    throw Failure("the ItemProtectionBox (ipro) at offset \(child.offset) does not state its size in 32 bits")
                }
                ipro = Int(child.offset)..<Int(child.end)
                // FullBox header (4) + protection_count (2), then the sinf boxes.
                for sinf in try boxes(from: child.payloadOffset + 6, to: child.end, read: read) where sinf.type == "sinf" {
                    instances.append(try parseSinf(meta, sinf))
                }
            default: break
            }
        }
        guard var i = info else { throw Failure("the meta box has no SurveillanceExportBox (suep)") }
        guard let iproRange = ipro else { throw Failure("the meta box has no ItemProtectionBox (ipro): the file is not signed") }
        i.startTimes = startTimes
        return Meta(info: i, instances: instances.map { (instance: $0.0, sinf: $0.1, signature: $0.2) }, ipro: iproRange)
    }

    static func parseSuep(_ body: [UInt8]) throws -> ExportInfo {
        var r = ByteCursor(body)
        let version = try r.u8()
        _ = try r.bytes(3)
        guard version == 1 else { throw Failure("suep version \(version) is not supported") }
        let name = try r.cString(), url = try r.cString()
        _ = try r.cString()
        let time = try r.u64()
        let op = try r.cString()
        let n = try r.u32()
        var sources: [Source] = []
        for _ in 0..<n {
            let track = try r.u16()
            let sourceName = try r.cString(), sourceURL = try r.cString()
            _ = try r.cString()
            _ = try r.cString()
            sources.append(Source(trackID: track, name: sourceName, url: sourceURL))
        }
        return ExportInfo(unitName: name, unitURL: url, exportTime: time, operatorName: op, sources: sources, startTimes: [])
    }

    static func parseSinf(_ meta: [UInt8], _ sinf: BoxHeader) throws -> (SigningInstance, Range<Int>, Range<Int>) {
        let read: (Int64, Int) throws -> [UInt8] = { offset, count in Array(meta[Int(offset)..<min(meta.count, Int(offset) + count)]) }
        var scheme: [UInt8]?
        var signature: Range<Int>?
        var certificate: [UInt8]?
        var algorithm: [UInt8]?
        var user: String?
        for b in try boxes(from: sinf.payloadOffset, to: sinf.end, read: read) {
            switch b.type {
            case "schm":
                guard b.size - b.headerSize >= 12 else { throw Failure("schm box at offset \(b.offset) is \(b.size) bytes, too short") }
                scheme = Array(meta[Int(b.payloadOffset) + 4..<Int(b.payloadOffset) + 12])
            case "schi":
                for s in try boxes(from: b.payloadOffset, to: b.end, read: read) {
                    let payload = Int(s.payloadOffset)..<Int(s.end)
                    switch s.type {
                    case "sibo": signature = payload
                    case "cert": certificate = Array(meta[payload])
                    case "sigC": algorithm = Array(meta[payload])
                    case "auib": user = String(decoding: meta[payload].prefix { $0 != 0 }, as: UTF8.self)
                    default: break
                    }
                }
            default: break
            }
        }
        guard scheme == Array("oeff".utf8) + [0, 1, 0, 0] else {
            throw Failure("a sinf box's scheme is not ONVIF Export File Format 1.0 ('oeff')")
        }
        guard let sig = signature, let cert = certificate else { throw Failure("a signing instance lacks its sibo or cert box") }
        return (
            SigningInstance(signature: Array(meta[sig]), certificate: cert, algorithm: algorithm, userInformation: user),
            Int(sinf.offset)..<Int(sinf.end), sig
        )
    }

    /// The meta box as it was when signing instance `index` was made: later `sinf` boxes
    /// removed (the `ipro` and `meta` sizes adjusted) and instance `index`'s signature zeroed.
    public static func signingInput(meta: [UInt8], parsed: Meta, instance index: Int) -> [UInt8] {
        var bytes = meta
        for (_, _, signature) in [parsed.instances[index]] { for i in signature { bytes[i] = 0 } }
        guard index + 1 < parsed.instances.count else { return bytes }
        let cut = parsed.instances[index + 1].sinf.lowerBound..<parsed.instances.last!.sinf.upperBound
        bytes.removeSubrange(cut)
        let removed = cut.count
        bytes.writeU32(at: parsed.ipro.lowerBound, UInt32(Int(meta.readU32(parsed.ipro.lowerBound)) - removed))
        bytes.writeU32(at: 0, UInt32(Int(meta.readU32(0)) - removed))
        return bytes
    }

    /// The meta box with one more signing instance appended to `ipro` (sizes adjusted).
    public static func appending(_ instance: SigningInstance, to meta: [UInt8], parsed: Meta) -> [UInt8] {
        let sinf = sinfBox(instance)
        var bytes = meta
        bytes.insert(contentsOf: sinf, at: parsed.ipro.upperBound)
        bytes.writeU32(at: parsed.ipro.lowerBound, UInt32(Int(meta.readU32(parsed.ipro.lowerBound)) + sinf.count))
        bytes.writeU32(at: 0, UInt32(Int(meta.readU32(0)) + sinf.count))
        return bytes
    }
}

extension BoxWriter {
    mutating func cString(_ s: String) { append(Array(s.utf8) + [0]) }
}

/// Reads big-endian fields from a byte array, failing cleanly at its end.
struct ByteCursor {
    let bytes: [UInt8]
    var at = 0
    init(_ b: [UInt8]) { bytes = b }
    mutating func bytes(_ n: Int) throws -> [UInt8] {
        guard at + n <= bytes.count else { throw OnvifExport.Failure("box ends early (needs \(n) bytes at \(at) of \(bytes.count))") }
        defer { at += n }
        return Array(bytes[at..<at + n])
    }
    mutating func u8() throws -> UInt8 { try bytes(1)[0] }
    mutating func u16() throws -> UInt16 { try bytes(2).reduce(0) { $0 << 8 | UInt16($1) } }
    mutating func u32() throws -> UInt32 { try bytes(4).reduce(0) { $0 << 8 | UInt32($1) } }
    mutating func u64() throws -> UInt64 { try bytes(8).reduce(0) { $0 << 8 | UInt64($1) } }
    mutating func cString() throws -> String {
        guard let end = bytes[at...].firstIndex(of: 0) else { throw OnvifExport.Failure("string without its terminating NUL at \(at)") }
        defer { at = end + 1 }
        return String(decoding: bytes[at..<end], as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    func readU32(_ i: Int) -> UInt32 { UInt32(self[i]) << 24 | UInt32(self[i + 1]) << 16 | UInt32(self[i + 2]) << 8 | UInt32(self[i + 3]) }
    func readU64(_ i: Int) -> UInt64 { UInt64(readU32(i)) << 32 | UInt64(readU32(i + 4)) }
    mutating func writeU32(at i: Int, _ v: UInt32) {
        self[i] = UInt8(v >> 24)
        self[i + 1] = UInt8((v >> 16) & 0xFF)
        self[i + 2] = UInt8((v >> 8) & 0xFF)
        self[i + 3] = UInt8(v & 0xFF)
    }
}
