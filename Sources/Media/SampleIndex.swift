/// One frame as the catalog indexes it: how long it is shown, how many bytes it takes in
/// the sample file, and whether decoding can start there.
public struct SampleEntry: Sendable, Equatable {
    public var duration: UInt32
    public var byteCount: UInt32
    public var isKey: Bool

    public init(duration: UInt32, byteCount: UInt32, isKey: Bool) {
        self.duration = duration
        self.byteCount = byteCount
        self.isKey = isKey
    }
}

/// The compact per-frame index stored in each segment's catalog row: for every frame,
/// LEB128 varints of its duration (90 kHz ticks) and of `byteCount << 1 | isKey`.
/// A 60 s, 25 fps segment indexes in about 300 bytes.
public enum SampleIndex {
    public static func encode(_ entries: [SampleEntry]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(entries.count * 4)
        for e in entries {
            appendVarint(UInt64(e.duration), to: &out)
            appendVarint(UInt64(e.byteCount) << 1 | (e.isKey ? 1 : 0), to: &out)
        }
        return out
    }

    public static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
    }

    public static func decode(_ bytes: [UInt8]) throws -> [SampleEntry] {
        var entries: [SampleEntry] = []
        var i = 0
        func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard i < bytes.count else { throw MediaError.truncated(what: "sample index", offset: i) }
                let b = bytes[i]
                i += 1
                guard shift < 63 else { throw MediaError.invalid(what: "sample index", detail: "varint too long at byte \(i)") }
                value |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return value }
                shift += 7
            }
        }
        while i < bytes.count {
            let duration = try varint()
            let sizeAndKey = try varint()
            guard duration <= UInt64(UInt32.max), sizeAndKey >> 1 <= UInt64(UInt32.max) else {
                throw MediaError.invalid(what: "sample index", detail: "entry \(entries.count) out of range")
            }
            entries.append(SampleEntry(duration: UInt32(duration), byteCount: UInt32(sizeAndKey >> 1), isKey: sizeAndKey & 1 == 1))
        }
        return entries
    }
}
