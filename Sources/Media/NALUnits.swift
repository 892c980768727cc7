/// Conversions between the two ways NAL units are framed: Annex B byte streams (start
/// codes, H.264 Annex B / H.265 Annex B — what encoders write to `.h264`/`.h265` files)
/// and length-prefixed units (ISO/IEC 14496-15 — what MP4 samples and Vigil's sample
/// files hold).
public enum NALUnits {
    /// Splits an Annex B byte stream at its start codes (0x000001 or 0x00000001).
    /// Trailing zero bytes of a unit belong to the next start code (`trailing_zero_8bits`).
    public static func splitAnnexB(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var units: [ArraySlice<UInt8>] = []
        var start: Int? = nil
        var i = 0
        let n = bytes.count
        while i + 2 < n {
            if bytes[i] == 0 && bytes[i + 1] == 0 && bytes[i + 2] == 1 {
                if let s = start {
                    var end = i
                    while end > s && bytes[end - 1] == 0 { end -= 1 }
                    if end > s { units.append(bytes[s..<end]) }
                }
                i += 3
                start = i
            } else {
                i += 1
            }
        }
        if let s = start, s < n {
            var end = n
            while end > s && bytes[end - 1] == 0 { end -= 1 }
            if end > s { units.append(bytes[s..<end]) }
        }
        return units
    }

    /// Frames NAL units with 4-byte big-endian lengths.
    public static func lengthPrefixed<S: Sequence>(_ units: S) -> [UInt8] where S.Element: Collection<UInt8> {
        var out: [UInt8] = []
        for unit in units {
            out.appendBigEndian(UInt32(unit.count))
            out.append(contentsOf: unit)
        }
        return out
    }

    /// Splits a length-prefixed sample into its NAL units, rejecting a length that runs
    /// past the end or an empty unit: a sample file's frames must parse exactly.
    public static func splitLengthPrefixed(_ sample: ArraySlice<UInt8>) throws -> [ArraySlice<UInt8>] {
        var units: [ArraySlice<UInt8>] = []
        var i = sample.startIndex
        while i < sample.endIndex {
            guard let length = sample.bigEndian(UInt32.self, at: i) else {
                throw MediaError.truncated(what: "length-prefixed sample", offset: i - sample.startIndex)
            }
            let start = i + 4
            guard length > 0, Int(length) <= sample.endIndex - start else {
                throw MediaError.invalid(
                    what: "length-prefixed sample",
                    detail: "NAL length \(length) at byte \(i - sample.startIndex) exceeds the sample")
            }
            units.append(sample[start..<(start + Int(length))])
            i = start + Int(length)
        }
        return units
    }

    /// Groups an Annex B stream's NAL units into access units (pictures), H.264 §7.4.1.2.3
    /// and H.265 §7.4.2.4.4: a new access unit begins at a delimiter, a parameter set,
    /// a prefix SEI, or a slice that is the first of its picture.
    public static func accessUnits(codec: VideoCodec, annexB bytes: [UInt8]) -> [[ArraySlice<UInt8>]] {
        var result: [[ArraySlice<UInt8>]] = []
        var current: [ArraySlice<UInt8>] = []
        var currentHasSlice = false
        for unit in splitAnnexB(bytes) {
            guard let header = unit.first else { continue }
            let startsNew: Bool
            let isSlice: Bool
            switch codec {
            case .h264:
                let type = H264.nalType(header)
                isSlice = type >= 1 && type <= 5
                if isSlice {
                    // first_mb_in_slice == 0 is coded as a single '1' bit.
                    startsNew = unit.count > 1 && (unit[unit.startIndex + 1] & 0x80) != 0
                } else {
                    startsNew = [H264.NALType.accessUnitDelimiter, H264.NALType.sps, H264.NALType.pps, H264.NALType.sei].contains(type)
                }
            case .h265:
                let type = H265.nalType(header)
                isSlice = type <= 31
                if isSlice {
                    // first_slice_segment_in_pic_flag is the first bit after the 2-byte header.
                    startsNew = unit.count > 2 && (unit[unit.startIndex + 2] & 0x80) != 0
                } else {
                    startsNew = (32...35).contains(type) || type == H265.NALType.prefixSEI
                }
            }
            if startsNew && currentHasSlice {
                result.append(current)
                current = []
                currentHasSlice = false
            }
            current.append(unit)
            if isSlice { currentHasSlice = true }
        }
        if currentHasSlice { result.append(current) }
        return result
    }

    /// An Annex B stream's access units as Vigil stores frames: length-prefixed, with key flags.
    public static func storedFrames(codec: VideoCodec, annexB bytes: [UInt8]) -> [(data: [UInt8], isKey: Bool)] {
        accessUnits(codec: codec, annexB: bytes).map { unit in
            (lengthPrefixed(unit), unit.contains { isKeySlice(codec: codec, header: $0.first!) })
        }
    }

    /// Whether a NAL unit (header first) is a random-access picture's slice.
    @inlinable public static func isKeySlice(codec: VideoCodec, header: UInt8) -> Bool {
        switch codec {
        case .h264: H264.nalType(header) == H264.NALType.idrSlice
        case .h265: H265.isIRAP(H265.nalType(header))
        }
    }
}
