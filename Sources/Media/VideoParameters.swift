/// Everything a decoder needs before the first frame of a stream: the codec and its
/// parameter sets. A change of any of these starts a new recording segment, because an
/// MP4 sample entry (and so a segment's catalog row) describes exactly one set.
public struct VideoParameters: Sendable, Equatable, Hashable {
    public let codec: VideoCodec
    /// H.265 only: the video parameter set NAL unit.
    public let vps: [UInt8]?
    public let sps: [UInt8]
    public let pps: [UInt8]
    public let width: Int
    public let height: Int
    /// RFC 6381 `codecs` value, as a browser's `MediaSource.isTypeSupported` wants it.
    public let rfc6381Codec: String
    /// The `avcC` or `hvcC` record body.
    public let decoderConfiguration: [UInt8]

    /// The largest parameter set accepted. Real ones are tens to hundreds of bytes; the
    /// `avcC`/`hvcC` records give each a 16-bit length, and a camera's claim of more is a
    /// fault, not something to truncate.
    public static let maxParameterSetBytes = 16 * 1024

    static func checkSizes(_ sets: [(String, [UInt8])]) throws {
        for (name, nal) in sets where nal.count > maxParameterSetBytes {
            throw MediaError.invalid(what: name, detail: "\(nal.count) bytes, over the \(maxParameterSetBytes) a parameter set may have")
        }
    }

    public init(h264SPS sps: [UInt8], pps: [UInt8]) throws {
        try Self.checkSizes([("H.264 SPS", sps), ("H.264 PPS", pps)])
        let parsed = try H264.SPS(nal: sps)
        guard let first = pps.first, H264.nalType(first) == H264.NALType.pps else {
            throw MediaError.invalid(what: "H.264 PPS", detail: "not a PPS NAL unit")
        }
        codec = .h264
        vps = nil
        self.sps = sps
        self.pps = pps
        width = parsed.width
        height = parsed.height
        rfc6381Codec = "avc1." + [parsed.profileIDC, parsed.constraintFlags, parsed.levelIDC].map(hex2).joined()
        decoderConfiguration = H264.decoderConfiguration(sps: sps, pps: pps, parsed: parsed)
    }

    public init(h265VPS vps: [UInt8], sps: [UInt8], pps: [UInt8]) throws {
        try Self.checkSizes([("H.265 VPS", vps), ("H.265 SPS", sps), ("H.265 PPS", pps)])
        let parsed = try H265.SPS(nal: sps)
        guard let v = vps.first, H265.nalType(v) == H265.NALType.vps else {
            throw MediaError.invalid(what: "H.265 VPS", detail: "not a VPS NAL unit")
        }
        guard let p = pps.first, H265.nalType(p) == H265.NALType.pps else {
            throw MediaError.invalid(what: "H.265 PPS", detail: "not a PPS NAL unit")
        }
        codec = .h265
        self.vps = vps
        self.sps = sps
        self.pps = pps
        width = parsed.width
        height = parsed.height
        // RFC 6381 §3.3 / ISO/IEC 14496-15 Annex E: hvc1.<space><profile>.<compat reversed>.<tier><level>.<constraints>
        let space = ["", "A", "B", "C"][Int(parsed.profileSpace & 3)]
        var reversed: UInt32 = 0
        for bit in 0..<32 where parsed.profileCompatibility & (1 << UInt32(bit)) != 0 { reversed |= 1 << UInt32(31 - bit) }
        var constraintBytes: [UInt8] = (0..<6).map { UInt8(truncatingIfNeeded: parsed.constraintIndicator >> UInt64(40 - 8 * $0)) }
        while constraintBytes.last == 0 { constraintBytes.removeLast() }
        let tier = parsed.tierFlag == 1 ? "H" : "L"
        rfc6381Codec =
            ([
                "hvc1", "\(space)\(parsed.profileIDC)", String(reversed, radix: 16, uppercase: true),
                "\(tier)\(parsed.levelIDC)"
            ] + constraintBytes.map(hex2)).joined(separator: ".")
        decoderConfiguration = H265.decoderConfiguration(vps: vps, sps: sps, pps: pps, parsed: parsed)
    }

    /// Rebuilds parameters from their stored NAL units (catalog rows keep only these).
    public init(codec: VideoCodec, parameterSets: [[UInt8]]) throws {
        switch (codec, parameterSets.count) {
        case (.h264, 2): try self.init(h264SPS: parameterSets[0], pps: parameterSets[1])
        case (.h265, 3): try self.init(h265VPS: parameterSets[0], sps: parameterSets[1], pps: parameterSets[2])
        default:
            throw MediaError.invalid(what: "parameter sets", detail: "\(parameterSets.count) sets for \(codec.rawValue)")
        }
    }

    /// The first parameter sets of an Annex B stream (an encoder's `.h264`/`.h265` output,
    /// which carries them ahead of the first key frame).
    public init(firstParameterSetsIn annexB: [UInt8], codec: VideoCodec) throws {
        let nals = NALUnits.splitAnnexB(annexB).prefix(16)
        func first(_ matches: (UInt8) -> Bool) throws -> [UInt8] {
            guard let nal = nals.first(where: { matches($0.first!) }) else {
                throw MediaError.invalid(what: "Annex B stream", detail: "no \(codec.rawValue) parameter set in its first NAL units")
            }
            return Array(nal)
        }
        switch codec {
        case .h264:
            try self.init(
                h264SPS: try first { H264.nalType($0) == H264.NALType.sps }, pps: try first { H264.nalType($0) == H264.NALType.pps })
        case .h265:
            try self.init(
                h265VPS: try first { H265.nalType($0) == H265.NALType.vps }, sps: try first { H265.nalType($0) == H265.NALType.sps },
                pps: try first { H265.nalType($0) == H265.NALType.pps })
        }
    }

    /// The NAL units in storage order: (VPS,) SPS, PPS.
    public var parameterSets: [[UInt8]] { (vps.map { [$0] } ?? []) + [sps, pps] }
}

/// Upper-case hex of one byte, as RFC 6381 codec strings (`avc1.640033`) write it; hashes
/// are lower-case (`Base.hex`).
func hex2(_ byte: UInt8) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 15)]])
}

extension Array where Element == UInt8 {
    @inlinable public mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.bigEndian
        Swift.withUnsafeBytes(of: &v) { self.append(contentsOf: $0) }
    }
}

extension Collection where Element == UInt8 {
    /// Reads a big-endian integer at `offset`, or nil if the bytes run out.
    @inlinable public func bigEndian<T: FixedWidthInteger>(_: T.Type, at offset: Index) -> T? {
        var value: T = 0
        var i = offset
        for _ in 0..<MemoryLayout<T>.size {
            guard i < endIndex else { return nil }
            value = (value << 8) | T(self[i])
            i = index(after: i)
        }
        return value
    }
}
