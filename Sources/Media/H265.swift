/// H.265 (ITU-T H.265 / ISO/IEC 23008-2) syntax that Vigil needs: NAL unit types and the
/// fields of a sequence parameter set that size the picture and fill `hvcC`.
public enum H265 {
    /// H.265 Table 7-1.
    public enum NALType {
        public static let bla_w_lp: UInt8 = 16
        public static let rsvIRAP23: UInt8 = 23
        public static let vps: UInt8 = 32
        public static let sps: UInt8 = 33
        public static let pps: UInt8 = 34
        public static let accessUnitDelimiter: UInt8 = 35
        public static let prefixSEI: UInt8 = 39
    }

    @inlinable public static func nalType(_ firstHeaderByte: UInt8) -> UInt8 { (firstHeaderByte >> 1) & 0x3F }

    /// IRAP pictures (BLA, IDR, CRA: types 16...23) are random-access points.
    @inlinable public static func isIRAP(_ type: UInt8) -> Bool { type >= NALType.bla_w_lp && type <= NALType.rsvIRAP23 }

    /// The parts of a sequence parameter set (H.265 §7.3.2.2) that Vigil uses, with the
    /// general profile_tier_level (§7.3.3) copied verbatim into `hvcC`.
    public struct SPS: Sendable, Equatable {
        public var maxSubLayersMinus1: UInt32
        public var temporalIDNesting: Bool
        public var profileSpace: UInt8
        public var tierFlag: UInt8
        public var profileIDC: UInt8
        public var profileCompatibility: UInt32
        public var constraintIndicator: UInt64
        public var levelIDC: UInt8
        public var chromaFormatIDC: UInt32
        public var bitDepthLumaMinus8: UInt32
        public var bitDepthChromaMinus8: UInt32
        public var width: Int
        public var height: Int

        public init(nal: [UInt8]) throws {
            guard nal.count >= 4, H265.nalType(nal[0]) == NALType.sps else {
                throw MediaError.invalid(what: "H.265 SPS", detail: "not an SPS NAL unit (\(nal.count) bytes)")
            }
            var r = BitReader(rbsp: unescapeRBSP(nal.dropFirst(2)), what: "H.265 SPS")
            _ = try r.bits(4) // sps_video_parameter_set_id
            maxSubLayersMinus1 = try r.bits(3)
            temporalIDNesting = try r.bit() == 1
            profileSpace = UInt8(try r.bits(2))
            tierFlag = UInt8(try r.bit())
            profileIDC = UInt8(try r.bits(5))
            profileCompatibility = try r.bits(32)
            constraintIndicator = try r.bits64(48)
            levelIDC = UInt8(try r.bits(8))
            var subLayerProfilePresent: [Bool] = []
            var subLayerLevelPresent: [Bool] = []
            for _ in 0..<maxSubLayersMinus1 {
                subLayerProfilePresent.append(try r.bit() == 1)
                subLayerLevelPresent.append(try r.bit() == 1)
            }
            if maxSubLayersMinus1 > 0 {
                for _ in maxSubLayersMinus1..<8 { try r.skip(2) }
            }
            for i in 0..<Int(maxSubLayersMinus1) {
                if subLayerProfilePresent[i] { try r.skip(88) }
                if subLayerLevelPresent[i] { try r.skip(8) }
            }
            _ = try r.ue() // sps_seq_parameter_set_id
            chromaFormatIDC = try r.ue()
            guard chromaFormatIDC <= 3 else {
                throw MediaError.invalid(what: "H.265 SPS", detail: "chroma_format_idc \(chromaFormatIDC)")
            }
            var separateColourPlane = false
            if chromaFormatIDC == 3 { separateColourPlane = try r.bit() == 1 }
            let lumaWidth = Int(try r.ue())
            let lumaHeight = Int(try r.ue())
            var window = (left: 0, right: 0, top: 0, bottom: 0)
            if try r.bit() == 1 {
                window = (Int(try r.ue()), Int(try r.ue()), Int(try r.ue()), Int(try r.ue()))
            }
            bitDepthLumaMinus8 = try r.ue()
            bitDepthChromaMinus8 = try r.ue()
            let chroma = separateColourPlane ? 0 : chromaFormatIDC
            let subWidthC = (chroma == 1 || chroma == 2) ? 2 : 1
            let subHeightC = chroma == 1 ? 2 : 1
            width = lumaWidth - subWidthC * (window.left + window.right)
            height = lumaHeight - subHeightC * (window.top + window.bottom)
            guard width > 0, height > 0, width <= 16888, height <= 16888 else {
                throw MediaError.invalid(what: "H.265 SPS", detail: "implausible picture size \(width)x\(height)")
            }
        }
    }

    /// HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 §8.3.3.1).
    static func decoderConfiguration(vps: [UInt8], sps: [UInt8], pps: [UInt8], parsed: SPS) -> [UInt8] {
        var out: [UInt8] = [1, (parsed.profileSpace << 6) | (parsed.tierFlag << 5) | parsed.profileIDC]
        out.appendBigEndian(parsed.profileCompatibility)
        for shift in stride(from: 40, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: parsed.constraintIndicator >> UInt64(shift)))
        }
        out.append(parsed.levelIDC)
        out.appendBigEndian(UInt16(0xF000)) // min_spatial_segmentation_idc = 0
        out.append(0xFC) // parallelismType = 0 (unknown)
        out.append(0xFC | UInt8(parsed.chromaFormatIDC & 3))
        out.append(0xF8 | UInt8(parsed.bitDepthLumaMinus8 & 7))
        out.append(0xF8 | UInt8(parsed.bitDepthChromaMinus8 & 7))
        out.appendBigEndian(UInt16(0)) // avgFrameRate unknown
        let layers = UInt8(parsed.maxSubLayersMinus1 + 1) & 7
        out.append((layers << 3) | ((parsed.temporalIDNesting ? 1 : 0) << 2) | 3)
        out.append(3)
        for (type, nal) in [(NALType.vps, vps), (NALType.sps, sps), (NALType.pps, pps)] {
            out.append(0x80 | type) // array_completeness = 1
            out.appendBigEndian(UInt16(1))
            out.appendBigEndian(UInt16(nal.count))
            out += nal
        }
        return out
    }
}
