/// Reads bits MSB-first from an RBSP (emulation-prevention bytes already removed), with
/// Exp-Golomb codes (H.264 §9.1, H.265 §9.2). Running off the end is an error value.
struct BitReader {
    private let bytes: [UInt8]
    private var bitPosition = 0
    let what: String

    init(rbsp: [UInt8], what: String) {
        self.bytes = rbsp
        self.what = what
    }

    var bitsLeft: Int { bytes.count * 8 - bitPosition }

    mutating func bit() throws -> UInt32 {
        guard bitPosition < bytes.count * 8 else {
            throw MediaError.truncated(what: what, offset: bytes.count)
        }
        let byte = bytes[bitPosition >> 3]
        let value = (byte >> (7 - UInt8(bitPosition & 7))) & 1
        bitPosition += 1
        return UInt32(value)
    }

    mutating func bits(_ count: Int) throws -> UInt32 {
        precondition(count <= 32)
        var value: UInt32 = 0
        for _ in 0..<count { value = (value << 1) | (try bit()) }
        return value
    }

    mutating func bits64(_ count: Int) throws -> UInt64 {
        precondition(count <= 64)
        var value: UInt64 = 0
        for _ in 0..<count { value = (value << 1) | UInt64(try bit()) }
        return value
    }

    mutating func skip(_ count: Int) throws {
        guard bitsLeft >= count else { throw MediaError.truncated(what: what, offset: bytes.count) }
        bitPosition += count
    }

    /// ue(v): unsigned Exp-Golomb. More than 31 leading zeros is invalid in both specs.
    mutating func ue() throws -> UInt32 {
        var leadingZeros = 0
        while try bit() == 0 {
            leadingZeros += 1
            if leadingZeros > 31 {
                throw MediaError.invalid(what: what, detail: "Exp-Golomb code longer than 32 bits at bit \(bitPosition)")
            }
        }
        if leadingZeros == 0 { return 0 }
        let suffix = UInt64(try bits(leadingZeros))
        let value = (UInt64(1) << leadingZeros) - 1 + suffix
        guard value <= UInt64(UInt32.max) else {
            throw MediaError.invalid(what: what, detail: "Exp-Golomb value out of range at bit \(bitPosition)")
        }
        return UInt32(value)
    }

    /// se(v): signed Exp-Golomb.
    mutating func se() throws -> Int32 {
        let k = try ue()
        let magnitude = Int64(k / 2) + Int64(k % 2)
        return Int32(clamping: k % 2 == 1 ? magnitude : -magnitude)
    }
}

/// Removes emulation-prevention bytes (0x000003 → 0x0000), H.264 §7.4.1 / H.265 §7.4.2.
func unescapeRBSP<C: Collection<UInt8>>(_ nal: C) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(nal.count)
    var zeros = 0
    for byte in nal {
        if zeros >= 2 && byte == 3 {
            zeros = 0
            continue
        }
        out.append(byte)
        zeros = byte == 0 ? zeros + 1 : 0
    }
    return out
}
