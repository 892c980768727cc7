/// Builds ISO BMFF boxes (ISO/IEC 14496-12 §4.2) into a byte array; sizes are patched
/// when a box closes, so callers write bodies in order and never count bytes by hand.
struct BoxWriter {
    var bytes: [UInt8] = []

    mutating func box(_ type: StaticString, _ body: (inout BoxWriter) -> Void) {
        let start = bytes.count
        u32(0)
        fourCC(type)
        body(&self)
        let size = UInt32(bytes.count - start)
        bytes[start] = UInt8(size >> 24)
        bytes[start + 1] = UInt8((size >> 16) & 0xFF)
        bytes[start + 2] = UInt8((size >> 8) & 0xFF)
        bytes[start + 3] = UInt8(size & 0xFF)
    }

    /// A FullBox: version and 24-bit flags follow the header (§4.2.2).
    mutating func fullBox(_ type: StaticString, version: UInt8, flags: UInt32, _ body: (inout BoxWriter) -> Void) {
        box(type) { w in
            w.u8(version)
            w.u8(UInt8((flags >> 16) & 0xFF))
            w.u16(UInt16(flags & 0xFFFF))
            body(&w)
        }
    }

    mutating func fourCC(_ code: StaticString) {
        precondition(code.utf8CodeUnitCount == 4)
        code.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes.appendBigEndian(v) }
    mutating func u32(_ v: UInt32) { bytes.appendBigEndian(v) }
    mutating func u64(_ v: UInt64) { bytes.appendBigEndian(v) }
    mutating func i32(_ v: Int32) { bytes.appendBigEndian(v) }
    mutating func zeros(_ n: Int) { bytes.append(contentsOf: repeatElement(0, count: n)) }
    mutating func append(_ raw: [UInt8]) { bytes.append(contentsOf: raw) }

    /// The unity transformation matrix (§8.2.2.3).
    mutating func unityMatrix() {
        for v: UInt32 in [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000] { u32(v) }
    }
}
