/// Lower-case hex of bytes, as hashes are shown in proofs, manifests, reports and the
/// catalog.
public func hex(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.underestimatedCount * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// The bytes of hex text, either case (the inverse of `hex`); nil for an odd length or a
/// character that is not a hex digit.
public func bytes(hex: String) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(hex.count / 2)
    var it = hex.utf8.makeIterator()
    while let a = it.next() {
        guard let b = it.next(), let hi = nibble(a), let lo = nibble(b) else { return nil }
        out.append(hi << 4 | lo)
    }
    return out
}

private func nibble(_ c: UInt8) -> UInt8? {
    switch c {
    case 0x30...0x39: c - 0x30
    case 0x61...0x66: c - 0x57
    case 0x41...0x46: c - 0x37
    default: nil
    }
}
