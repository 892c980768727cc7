import Testing

@testable import CameraSim

/// The live dome's encoder output, cut into access units at their delimiters however its
/// bytes arrive: one at a time, in odd chunks, a start code split across two reads.
@Suite("Simulated dome: access units from the encoder's stream")
struct AccessUnitSplitterTests {
    /// Five access units, each a delimiter (four- or three-byte start code) and a slice
    /// whose bytes hold no start code.
    static func units() -> [[UInt8]] {
        (0..<5).map { n in
            let code: [UInt8] = n.isMultiple(of: 2) ? [0, 0, 0, 1] : [0, 0, 1]
            let slice: [UInt8] = [0, 0, 1, n == 0 ? 0x65 : 0x41] + (0..<(37 * (n + 1))).map { UInt8(1 + ($0 * 7 + n) % 250) }
            return code + [0x09, 0xF0] + slice
        }
    }

    @Test func everyUnitButTheLastIsCutWhateverTheChunks() {
        let units = Self.units()
        let stream = units.flatMap { $0 }
        for size in [1, 2, 3, 4, 5, 7, 64, stream.count] {
            var splitter = AccessUnitSplitter()
            var cut: [[UInt8]] = []
            var i = 0
            while i < stream.count {
                cut += splitter.take(Array(stream[i..<min(stream.count, i + size)]))
                i += size
            }
            // The last is whole only when the next one's delimiter arrives.
            #expect(cut == Array(units.dropLast()), "chunks of \(size)")
        }
    }
}
