import NIOCore
import Testing

@testable import RTSP

/// The access unit's pieces against the plain way of building the same bytes.
struct AccessUnitTests {
    /// Payloads cut the ways a socket delivers them: several slices of one read buffer,
    /// buffers of their own, and huge read buffers holding a few bytes of the unit (which
    /// make the pieces compact).
    @Test(arguments: 0..<40)
    func piecesCopyOutAsTheBytesTheyStandFor(seed: UInt64) {
        var g = SeededGenerator(seed: seed)
        var unit = AccessUnitPieces()
        var model: [UInt8] = []
        var openAt: Int?
        var readBuffer = ByteBuffer()
        func filledReadBuffer() -> ByteBuffer {
            ByteBuffer(bytes: (0..<(64 << 10)).map { _ in UInt8.random(in: 0...255, using: &g) })
        }
        func payload(_ count: Int) -> ByteBuffer {
            switch Int.random(in: 0..<4, using: &g) {
            case 0: // the next slice of the current read buffer: pieces share its storage
                if readBuffer.readableBytes < count { readBuffer = filledReadBuffer() }
                return readBuffer.readSlice(length: count)!
            case 1: // a huge read buffer of which the unit keeps a few bytes
                let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) }
                var big = ByteBuffer()
                big.reserveCapacity(512 << 10)
                big.writeBytes(bytes)
                return big
            default:
                return ByteBuffer(bytes: (0..<count).map { _ in UInt8.random(in: 0...255, using: &g) })
            }
        }
        for _ in 0..<Int.random(in: 1...300, using: &g) {
            let size = Int.random(in: 0..<10, using: &g) == 0 ? Int.random(in: 1...3000, using: &g) : Int.random(in: 1...8, using: &g)
            switch (openAt, Int.random(in: 0..<6, using: &g)) {
            case (nil, 0...2):
                let nal = payload(size)
                unit.append(nal: nal)
                model += withUnsafeBytes(of: UInt32(size).bigEndian, Array.init) + Array(nal.readableBytesView)
            case (nil, _):
                openAt = model.count
                let two = Bool.random(using: &g)
                let header = UInt8.random(in: 0...255, using: &g)
                unit.beginFragmentedNAL(header: header, two ? 7 : nil)
                model += [0, 0, 0, 0, header] + (two ? [7] : [])
                #expect(unit.openFragmentHeader == header)
            case let (start?, 0):
                let wanted = Bool.random(using: &g)
                let bytes = unit.endFragmentedNAL(wantBytes: wanted)
                let length = UInt32(model.count - start - 4)
                model.replaceSubrange(start..<(start + 4), with: withUnsafeBytes(of: length.bigEndian, Array.init))
                #expect(bytes == (wanted ? Array(model[(start + 4)...]) : nil))
                openAt = nil
            case (_?, _):
                let p = payload(size)
                unit.append(payload: p)
                model += Array(p.readableBytesView)
            }
            #expect(unit.byteCount == model.count)
        }
        if let start = openAt {
            _ = unit.endFragmentedNAL(wantBytes: false)
            model.replaceSubrange(start..<(start + 4), with: withUnsafeBytes(of: UInt32(model.count - start - 4).bigEndian, Array.init))
        }
        #expect(unit.take() == model)
        #expect(unit.isEmpty && unit.byteCount == 0 && !unit.hasOpenFragment)
        #expect(unit.take() == [])
    }

    /// A camera sending one tiny packet per read, between other data, must not make a unit
    /// keep every read buffer alive: what the pieces pin stays within the slack plus twice
    /// the unit's bytes (plus the one buffer just added).
    @Test func tinyPacketsInBigReadsPinBoundedMemory() {
        var unit = AccessUnitPieces()
        unit.beginFragmentedNAL(header: 0x7C)
        var worst = 0
        for i in 0..<5_000 {
            var read = ByteBuffer()
            read.reserveCapacity(64 << 10)
            read.writeBytes([UInt8(truncatingIfNeeded: i)])
            unit.append(payload: read)
            worst = max(worst, unit.pinnedByteCount - 2 * unit.byteCount)
        }
        #expect(worst <= AccessUnitPieces.pinnedSlack + (64 << 10), "pinned \(worst) bytes beyond twice the unit's")
        #expect(unit.compactions > 0)
        let nal = unit.endFragmentedNAL(wantBytes: true)
        #expect(nal == [0x7C] + (0..<5_000).map { UInt8(truncatingIfNeeded: $0) })
        #expect(unit.take().count == 4 + 1 + 5_000)
    }

    /// Pieces that pin little (one-byte slices of one read buffer) still do not pile up
    /// without end: past `maxPieces` they are compacted, and the bytes stay right.
    @Test func manyTinySlicesOfOneBufferAreCompactedByCount() {
        var read = ByteBuffer(bytes: (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        var unit = AccessUnitPieces()
        var model: [UInt8] = []
        var most = 0
        for _ in 0..<5_000 {
            let slice = read.readSlice(length: 1)!
            unit.append(nal: slice)
            model += [0, 0, 0, 1] + Array(slice.readableBytesView)
            most = max(most, unit.pieceCount)
        }
        #expect(unit.pinnedByteCount < AccessUnitPieces.pinnedSlack) // the bound on bytes never fired
        #expect(unit.compactions >= 2)
        #expect(most <= AccessUnitPieces.maxPieces + 1)
        #expect(unit.take() == model)
    }
}
