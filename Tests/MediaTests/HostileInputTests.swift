import Foundation
import Testing

@testable import Media

/// Parameter sets and boxes built to trap the parsers: each must be a typed error.
@Suite struct HostileMediaTests {
    /// Bits, most significant first, with Exp-Golomb codes (H.264 §9.1).
    struct Bits {
        var bits: [Bool] = []
        mutating func put(_ value: UInt64, _ count: Int) {
            for i in stride(from: count - 1, through: 0, by: -1) { bits.append(value >> UInt64(i) & 1 == 1) }
        }
        mutating func ue(_ v: UInt64) {
            let x = v + 1
            let n = 64 - x.leadingZeroBitCount
            bits += Array(repeating: false, count: n - 1)
            put(x, n)
        }
        mutating func se(_ v: Int64) { ue(v > 0 ? UInt64(2 * v - 1) : UInt64(-2 * v)) }
        var bytes: [UInt8] {
            var out = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
            for (i, b) in bits.enumerated() where b { out[i / 8] |= 0x80 >> UInt8(i % 8) }
            return out
        }
    }

    /// A High-profile SPS whose first scaling list starts with `delta`.
    static func sps(
        scalingDelta delta: Int64, profile: UInt64 = 100, chroma: UInt64 = 1, lumaDepthLess8: UInt64 = 0, chromaDepthLess8: UInt64 = 0,
        widthInMBsLess1: UInt64 = 119, cropRight: UInt64? = nil
    ) -> [UInt8] {
        var b = Bits()
        b.put(profile, 8)
        b.put(0, 8)
        b.put(40, 8) // profile, constraints, level
        b.ue(0)
        b.ue(chroma)
        if chroma == 3 { b.put(0, 1) } // separate_colour_plane_flag
        b.ue(lumaDepthLess8)
        b.ue(chromaDepthLess8) // id, chroma format (4:2:0 unless told), bit depths
        b.put(0, 1)
        b.put(1, 1)
        b.put(1, 1) // bypass, scaling matrix present, list 0 present
        b.se(delta)
        for _ in 0..<15 { b.se(0) }
        for _ in 0..<(chroma == 3 && profile != 144 ? 11 : 7) { b.put(0, 1) } // the other lists absent
        b.ue(0)
        b.ue(0)
        b.ue(0)
        b.ue(1)
        b.put(0, 1) // frame num, poc type 0, poc lsb, refs, gaps
        b.ue(widthInMBsLess1)
        b.ue(67)
        b.put(1, 1)
        b.put(1, 1) // 1920x1088 unless told, frame mbs only, direct 8x8
        if let cropRight {
            b.put(1, 1)
            b.ue(0)
            b.ue(cropRight)
            b.ue(0)
            b.ue(0)
        } else {
            b.put(0, 1)
        }
        b.put(0, 1) // no vui
        b.put(1, 1) // rbsp stop bit
        return [0x67] + b.bytes
    }

    @Test func aScalingListDeltaOutsideItsRangeIsAnErrorNotAnOverflow() throws {
        #expect(try H264.SPS(nal: Self.sps(scalingDelta: 5)).width == 1920)
        for delta in [Int64(Int32.max), Int64(Int32.min) + 1, 128, -129] {
            #expect(throws: MediaError.self, "delta_scale \(delta)") { try H264.SPS(nal: Self.sps(scalingDelta: delta)) }
        }
    }

    @Test func aChromaFormatOrBitDepthOutsideTheStandardsRangeIsAnError() throws {
        let fine = try H264.SPS(nal: Self.sps(scalingDelta: 0, chroma: 3, lumaDepthLess8: 6, chromaDepthLess8: 6))
        #expect(fine.chromaFormatIDC == 3 && fine.bitDepthLumaMinus8 == 6)
        for (chroma, luma, chromaDepth) in [(4, 0, 0), (UInt64(UInt32.max) - 1, 0, 0), (1, 7, 0), (1, 0, 7), (1, 1 << 20, 0)]
            as [(UInt64, UInt64, UInt64)]
        {
            #expect(throws: MediaError.self, "chroma \(chroma), depths \(luma), \(chromaDepth)") {
                try H264.SPS(nal: Self.sps(scalingDelta: 0, chroma: chroma, lumaDepthLess8: luma, chromaDepthLess8: chromaDepth))
            }
        }
    }

    @Test func anEnormousCodedPictureCroppedToAPlausibleSizeIsAnError() throws {
        // 100 001 macroblocks wide, cropped back to 1920 (the crop unit is 2 in 4:2:0).
        let cropped = try H264.SPS(nal: Self.sps(scalingDelta: 0, widthInMBsLess1: 119, cropRight: 0))
        #expect(cropped.width == 1920)
        let coded = 100_001 * 16
        #expect(throws: MediaError.self) {
            try H264.SPS(nal: Self.sps(scalingDelta: 0, widthInMBsLess1: 100_000, cropRight: UInt64((coded - 1920) / 2)))
        }
    }

    @Test func theWithdrawnHigh444ProfileIsReadWithItsChromaFields() throws {
        let sps = try H264.SPS(nal: Self.sps(scalingDelta: 0, profile: 144, chroma: 3, lumaDepthLess8: 2, chromaDepthLess8: 2))
        #expect(sps.chromaFormatIDC == 3 && sps.bitDepthLumaMinus8 == 2 && sps.width == 1920)
    }

    @Test func aParameterSetOver64KiBIsAnErrorNotATruncatedLength() throws {
        let sps = Self.sps(scalingDelta: 0)
        let pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]
        _ = try VideoParameters(h264SPS: sps, pps: pps)
        #expect(throws: MediaError.self) { try VideoParameters(h264SPS: sps, pps: pps + [UInt8](repeating: 0xFF, count: 70_000)) }
        #expect(throws: MediaError.self) { try VideoParameters(h264SPS: sps + [UInt8](repeating: 0xFF, count: 70_000), pps: pps) }
    }

    static func walk(_ bytes: [UInt8]) throws -> [OnvifExport.BoxHeader] {
        try OnvifExport.boxes(from: 0, to: Int64(bytes.count)) { offset, count in
            Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
        }
    }

    @Test(arguments: [UInt64.max, UInt64(Int64.max), UInt64(Int64.max) - 8, 1 << 40])
    func aLargeSizeBeyondTheFileIsAnErrorNotATrap(_ large: UInt64) {
        // An 8-byte box first, so the second starts above offset 0 (where at + size overflowed).
        var bytes: [UInt8] = [0, 0, 0, 8] + Array("free".utf8) + [0, 0, 0, 1] + Array("mdat".utf8)
        for i in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: large >> UInt64(i))) }
        bytes += [UInt8](repeating: 0, count: 32)
        #expect(throws: OnvifExport.Failure.self) { try Self.walk(bytes) }
    }

    @Test func aFileOfTinyBoxesIsRefusedPastTheBoxLimit() {
        let box: [UInt8] = [0, 0, 0, 8] + Array("free".utf8)
        let bytes = Array([[UInt8]](repeating: box, count: OnvifExport.maxBoxes + 1).joined())
        #expect(throws: OnvifExport.Failure.self) { try Self.walk(bytes) }
    }

    @Test func aShortSchmOrASecondIproIsAnError() {
        func box(_ type: String, _ body: [UInt8]) -> [UInt8] {
            let size = UInt32(8 + body.count)
            return [UInt8(size >> 24), UInt8(size >> 16 & 0xFF), UInt8(size >> 8 & 0xFF), UInt8(size & 0xFF)] + Array(type.utf8) + body
        }
        let sinf = box("sinf", box("schm", []))
        let ipro = box("ipro", [0, 0, 0, 0, 0, 1] + sinf)
        let meta = box("meta", [0, 0, 0, 0] + ipro)
        #expect(throws: OnvifExport.Failure.self) { try OnvifExport.parseMeta(meta) }
        let twice = box("meta", [0, 0, 0, 0] + box("ipro", [0, 0, 0, 0, 0, 0]) + box("ipro", [0, 0, 0, 0, 0, 0]))
        #expect(throws: OnvifExport.Failure.self) { try OnvifExport.parseMeta(twice) }
    }
}
