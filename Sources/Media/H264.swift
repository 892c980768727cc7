/// H.264 (ITU-T H.264 / ISO/IEC 14496-10) syntax that Vigil needs: NAL unit types and the
/// fields of a sequence parameter set that size the picture and fill `avcC`.
public enum H264 {
    /// H.264 Table 7-1.
    public enum NALType {
        public static let nonIDRSlice: UInt8 = 1
        public static let idrSlice: UInt8 = 5
        public static let sei: UInt8 = 6
        public static let sps: UInt8 = 7
        public static let pps: UInt8 = 8
        public static let accessUnitDelimiter: UInt8 = 9
    }

    @inlinable public static func nalType(_ header: UInt8) -> UInt8 { header & 0x1F }

    /// The parts of a sequence parameter set (H.264 §7.3.2.1.1) that Vigil uses.
    public struct SPS: Sendable, Equatable {
        public var profileIDC: UInt8
        public var constraintFlags: UInt8
        public var levelIDC: UInt8
        public var chromaFormatIDC: UInt32
        public var bitDepthLumaMinus8: UInt32
        public var bitDepthChromaMinus8: UInt32
        public var width: Int
        public var height: Int

        /// Parses an SPS NAL unit (header byte included).
        public init(nal: [UInt8]) throws {
            guard nal.count >= 4, H264.nalType(nal[0]) == NALType.sps else {
                throw MediaError.invalid(what: "H.264 SPS", detail: "not an SPS NAL unit (\(nal.count) bytes)")
            }
            var r = BitReader(rbsp: unescapeRBSP(nal.dropFirst()), what: "H.264 SPS")
            profileIDC = UInt8(try r.bits(8))
            constraintFlags = UInt8(try r.bits(8))
            levelIDC = UInt8(try r.bits(8))
            _ = try r.ue() // seq_parameter_set_id
            chromaFormatIDC = 1
            bitDepthLumaMinus8 = 0
            bitDepthChromaMinus8 = 0
            var separateColourPlane = false
            // 144 is the High 4:4:4 profile of the 2005 edition (since withdrawn), which has
            // these fields too; the avcC record carries them for it.
            if [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135, 144].contains(profileIDC) {
                chromaFormatIDC = try r.ue()
                // §7.4.2.1.1: chroma_format_idc is 0...3 and each bit depth less 8 is 0...6;
                // the avcC record has two and three bits for them, so a larger value would
                // be written there cut down, a different stream from the one described.
                guard chromaFormatIDC <= 3 else {
                    throw MediaError.invalid(what: "H.264 SPS", detail: "chroma_format_idc \(chromaFormatIDC) outside 0...3")
                }
                if chromaFormatIDC == 3 { separateColourPlane = try r.bit() == 1 }
                bitDepthLumaMinus8 = try r.ue()
                bitDepthChromaMinus8 = try r.ue()
                guard bitDepthLumaMinus8 <= 6, bitDepthChromaMinus8 <= 6 else {
                    throw MediaError.invalid(
                        what: "H.264 SPS", detail: "bit depth (luma \(bitDepthLumaMinus8) + 8, chroma \(bitDepthChromaMinus8) + 8) over 14")
                }
                _ = try r.bit() // qpprime_y_zero_transform_bypass_flag
                if try r.bit() == 1 { // seq_scaling_matrix_present_flag
                    // Four more lists for 4:4:4 came in 2007 with profile 244; 144 has eight.
                    for i in 0..<(chromaFormatIDC != 3 || profileIDC == 144 ? 8 : 12) where try r.bit() == 1 {
                        try Self.skipScalingList(&r, size: i < 6 ? 16 : 64)
                    }
                }
            }
            _ = try r.ue() // log2_max_frame_num_minus4
            let picOrderCntType = try r.ue()
            if picOrderCntType == 0 {
                _ = try r.ue()
            } else if picOrderCntType == 1 {
                _ = try r.bit()
                _ = try r.se()
                _ = try r.se()
                let cycle = try r.ue()
                guard cycle <= 255 else {
                    throw MediaError.invalid(what: "H.264 SPS", detail: "num_ref_frames_in_pic_order_cnt_cycle \(cycle) > 255")
                }
                for _ in 0..<cycle { _ = try r.se() }
            }
            _ = try r.ue() // max_num_ref_frames
            _ = try r.bit() // gaps_in_frame_num_value_allowed_flag
            let widthInMBs = Int(try r.ue()) + 1
            let heightInMapUnits = Int(try r.ue()) + 1
            let frameMBsOnly = Int(try r.bit())
            // The coded picture, before cropping: cropping cannot make an enormous one
            // plausible (the cropped size is checked below).
            let codedWidth = widthInMBs * 16, codedHeight = (2 - frameMBsOnly) * heightInMapUnits * 16
            guard codedWidth <= 16384, codedHeight <= 16384 else {
                throw MediaError.invalid(what: "H.264 SPS", detail: "implausible coded picture size \(codedWidth)x\(codedHeight)")
            }
            if frameMBsOnly == 0 { _ = try r.bit() }
            _ = try r.bit() // direct_8x8_inference_flag
            var crop = (left: 0, right: 0, top: 0, bottom: 0)
            if try r.bit() == 1 {
                crop = (Int(try r.ue()), Int(try r.ue()), Int(try r.ue()), Int(try r.ue()))
            }
            let chroma = separateColourPlane ? 0 : chromaFormatIDC
            let subWidthC = chroma == 3 ? 1 : 2
            let subHeightC = chroma == 1 ? 2 : 1
            let cropUnitX = chroma == 0 ? 1 : subWidthC
            let cropUnitY = (chroma == 0 ? 1 : subHeightC) * (2 - frameMBsOnly)
            width = codedWidth - cropUnitX * (crop.left + crop.right)
            height = codedHeight - cropUnitY * (crop.top + crop.bottom)
            guard width > 0, height > 0, width <= 16384, height <= 16384 else {
                throw MediaError.invalid(what: "H.264 SPS", detail: "implausible picture size \(width)x\(height)")
            }
        }

        /// §7.3.2.1.1.1: delta_scale is -128...127; anything else is a broken SPS (summed
        /// unchecked, a hostile value overflowed Int32).
        private static func skipScalingList(_ r: inout BitReader, size: Int) throws {
            var last: Int32 = 8, next: Int32 = 8
            for _ in 0..<size where next != 0 {
                let delta = try r.se()
                guard (-128...127).contains(delta) else {
                    throw MediaError.invalid(what: "H.264 SPS", detail: "scaling list delta_scale \(delta) outside -128...127")
                }
                next = (last + delta + 256) % 256
                last = next == 0 ? last : next
            }
        }
    }

    /// AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1).
    static func decoderConfiguration(sps: [UInt8], pps: [UInt8], parsed: SPS) -> [UInt8] {
        var out: [UInt8] = [1, parsed.profileIDC, parsed.constraintFlags, parsed.levelIDC, 0xFF, 0xE1]
        out.appendBigEndian(UInt16(sps.count))
        out += sps
        out.append(1)
        out.appendBigEndian(UInt16(pps.count))
        out += pps
        if [100, 110, 122, 144].contains(parsed.profileIDC) {
            out.append(0xFC | UInt8(parsed.chromaFormatIDC & 3))
            out.append(0xF8 | UInt8(parsed.bitDepthLumaMinus8 & 7))
            out.append(0xF8 | UInt8(parsed.bitDepthChromaMinus8 & 7))
            out.append(0)
        }
        return out
    }
}
