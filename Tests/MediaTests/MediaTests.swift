import Foundation
import TestSupport
import Testing

@testable import Media

struct SizeCase: Sendable, CustomTestStringConvertible {
    var codec: VideoCodec
    var width: Int
    var height: Int
    var testDescription: String { "\(codec.rawValue) \(width)x\(height)" }
}

/// Writes frames to a sample file the way the recorder does; returns runs over it.
func writeSampleFile(_ frames: [(data: [UInt8], isKey: Bool)], parameters: VideoParameters, dir: String, splitAt: [Int] = []) throws
    -> [SampleRun]
{
    let path = dir + "/frames.sample"
    var blob: [UInt8] = []
    for f in frames { blob += f.data }
    try Data(blob).write(to: URL(fileURLWithPath: path))
    var runs: [SampleRun] = []
    var offset: Int64 = 0
    let cuts = [0] + splitAt + [frames.count]
    for (a, b) in zip(cuts, cuts.dropFirst()) {
        let samples = frames[a..<b].map { SampleEntry(duration: 3600, byteCount: UInt32($0.data.count), isKey: $0.isKey) }
        runs.append(SampleRun(parameters: parameters, path: path, fileOffset: offset, samples: samples))
        offset += samples.reduce(Int64(0)) { $0 + Int64($1.byteCount) }
    }
    return runs
}

@Suite("Media: parameter sets, sample index, MP4")
struct MediaTests {
    /// Sizes are chosen to need cropping (1080 is not a multiple of 16, 360 of 64).
    @Test(arguments: [
        SizeCase(codec: .h264, width: 1920, height: 1080), SizeCase(codec: .h264, width: 640, height: 360),
        SizeCase(codec: .h264, width: 352, height: 288), SizeCase(codec: .h265, width: 1920, height: 1080),
        SizeCase(codec: .h265, width: 1280, height: 720)
    ])
    func spsGivesTheEncodedPictureSize(_ c: SizeCase) async throws {
        let clip = try await TestSupport.clip(codec: c.codec, width: c.width, height: c.height, seconds: 1)
        let p = try TestSupport.parameters(of: clip, codec: c.codec)
        #expect(p.width == c.width && p.height == c.height)
        #expect(p.rfc6381Codec.hasPrefix(c.codec == .h264 ? "avc1." : "hvc1."))
    }

    @Test func sampleIndexRoundTripsRandomEntries() throws {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let entries = (0..<Int.random(in: 0...400, using: &g)).map { _ in
                SampleEntry(
                    duration: UInt32.random(in: 0...UInt32.max, using: &g) >> UInt32.random(in: 0...31, using: &g),
                    byteCount: UInt32.random(in: 0...UInt32.max, using: &g) >> UInt32.random(in: 0...31, using: &g),
                    isKey: Bool.random(using: &g))
            }
            #expect(try SampleIndex.decode(SampleIndex.encode(entries)) == entries)
        }
        #expect(throws: MediaError.self) { try SampleIndex.decode([0x80]) }
        #expect(throws: MediaError.self) { try SampleIndex.decode([0x05]) } // duration without size
    }

    @Test func expGolombDecodesWhatWasEncoded() throws {
        var g = SystemRandomNumberGenerator()
        let values = (0..<500).map { _ in UInt32.random(in: 0...UInt32(1 << 20), using: &g) } + [0, 1, 2, UInt32.max - 1]
        var bits: [Bool] = []
        for v in values {
            let x = UInt64(v) + 1
            let n = 64 - x.leadingZeroBitCount
            bits += Array(repeating: false, count: n - 1)
            for i in stride(from: n - 1, through: 0, by: -1) { bits.append(x >> UInt64(i) & 1 == 1) }
        }
        var bytes = [UInt8](repeating: 0, count: (bits.count + 7) / 8)
        for (i, b) in bits.enumerated() where b { bytes[i / 8] |= 0x80 >> UInt8(i % 8) }
        var r = BitReader(rbsp: bytes, what: "test")
        for v in values { #expect(try r.ue() == v) }
    }

    @Test func emulationPreventionBytesAreRemoved() {
        #expect(unescapeRBSP([0, 0, 3, 1, 0, 0, 3, 0, 0, 3]) == [0, 0, 1, 0, 0, 0, 0])
    }

    @Test(arguments: [VideoCodec.h264, .h265])
    func progressiveMP4DecodesStrictlyWithEveryFrame(codec: VideoCodec) async throws {
        let clip = try await TestSupport.clip(codec: codec, seconds: 4)
        let frames = try TestSupport.frames(of: clip, codec: codec)
        let parameters = try TestSupport.parameters(of: clip, codec: codec)
        let dir = try TestSupport.temporaryDirectory("mp4")
        // Two chunks, the second starting at a key frame, as two segments would.
        let runs = try writeSampleFile(frames, parameters: parameters, dir: dir, splitAt: [50])
        let mp4 = try MP4.progressive(runs: runs, creationUnixSeconds: 1_700_000_000)
        let out = dir + "/out.mp4"
        let fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        try mp4.write(toFileDescriptor: fd, chunk: 4096)
        close(fd)
        let decode = try await TestSupport.strictDecode(out)
        #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
        let probe = try await TestSupport.probe(out)
        #expect(probe.frames == frames.count)
        #expect(abs(probe.duration - Double(frames.count) / 25) < 0.001)
        // moov precedes mdat (progressive download).
        let head = try mp4.read(0..<Int64(min(mp4.size, 1 << 20)))
        let moov = head.firstRange(of: Array("moov".utf8))!.lowerBound, mdat = head.firstRange(of: Array("mdat".utf8))!.lowerBound
        #expect(moov < mdat)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func editListTrimsPlaybackToTheRequestedStart() async throws {
        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let frames = try TestSupport.frames(of: clip, codec: .h264)
        let dir = try TestSupport.temporaryDirectory("trim")
        let runs = try writeSampleFile(frames, parameters: try TestSupport.parameters(of: clip, codec: .h264), dir: dir)
        let mp4 = try MP4.progressive(runs: runs, trimStart: 45_000, creationUnixSeconds: 0) // hide 0.5 s
        let out = dir + "/trim.mp4"
        try Data(try mp4.read(0..<mp4.size)).write(to: URL(fileURLWithPath: out))
        let decode = try await TestSupport.strictDecode(out)
        #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
        #expect(abs(try await TestSupport.probe(out).duration - 3.5) < 0.001)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test func anyByteRangeEqualsTheSameSliceOfTheWholeFile() async throws {
        let clip = try await TestSupport.clip(codec: .h264, seconds: 2)
        let frames = try TestSupport.frames(of: clip, codec: .h264)
        let dir = try TestSupport.temporaryDirectory("ranges")
        let runs = try writeSampleFile(frames, parameters: try TestSupport.parameters(of: clip, codec: .h264), dir: dir, splitAt: [25])
        let mp4 = try MP4.progressive(runs: runs, creationUnixSeconds: 0)
        let whole = try mp4.read(0..<mp4.size)
        #expect(Int64(whole.count) == mp4.size)
        var g = SystemRandomNumberGenerator()
        for _ in 0..<300 {
            await Task.yield() // a long CPU-bound loop shares the cooperative pool (see TestSupport)
            let a = Int64.random(in: 0...mp4.size, using: &g), b = Int64.random(in: 0...mp4.size, using: &g)
            let range = min(a, b)..<max(a, b)
            #expect(try mp4.read(range) == Array(whole[Int(range.lowerBound)..<Int(range.upperBound)]))
        }
        #expect(try mp4.read(mp4.size..<(mp4.size + 10)).isEmpty)
        // Same input, same bytes: the output is a function of the index (format version \(MP4.formatVersion)).
        #expect(try MP4.progressive(runs: runs, creationUnixSeconds: 0).read(0..<mp4.size) == whole)
        try? FileManager.default.removeItem(atPath: dir)
    }

    @Test(arguments: [VideoCodec.h264, .h265])
    func fragmentedMP4FromTheSameCodeDecodes(codec: VideoCodec) async throws {
        let clip = try await TestSupport.clip(codec: codec, seconds: 3)
        let frames = try TestSupport.frames(of: clip, codec: codec)
        let parameters = try TestSupport.parameters(of: clip, codec: codec)
        var file = MP4.initSegment(parameters: parameters)
        var decodeTime: Ticks90k = 0
        for (n, start) in stride(from: 0, to: frames.count, by: 25).enumerated() {
            let gop = frames[start..<min(frames.count, start + 25)]
            // Each fragment led by its producer reference time, as live view sends them.
            file += MP4.mediaSegment(
                sequenceNumber: UInt32(n + 1), baseDecodeTime: decodeTime,
                frames: gop.map { (SampleEntry(duration: 3600, byteCount: UInt32($0.data.count), isKey: $0.isKey), $0.data) },
                producerTimeMicros: 1_764_000_000_000_000 + Int64(n) * 1_000_000)
            decodeTime += Ticks90k(gop.count * 3600)
        }
        let dir = try TestSupport.temporaryDirectory("fmp4")
        let out = dir + "/live.mp4"
        try Data(file).write(to: URL(fileURLWithPath: out))
        let decode = try await TestSupport.strictDecode(out)
        #expect(decode.status == 0 && decode.stderr.isEmpty, "\(decode.stderr)")
        #expect(try await TestSupport.probe(out).frames == frames.count)
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// `prft` (ISO/IEC 14496-12 §8.16.5) byte for byte: version 1, flags 8, track 1, the
    /// UTC time as NTP seconds and a 32-bit fraction, the 64-bit media time.
    @Test func theProducerReferenceTimeBoxCarriesTheUTCTimeInNTPForm() {
        let frame: [(entry: SampleEntry, data: [UInt8])] = [(SampleEntry(duration: 3600, byteCount: 3, isKey: true), [0, 0, 0])]
        func prft(_ micros: Int64, _ mediaTime: Ticks90k) -> [UInt8] {
            Array(MP4.mediaSegment(sequenceNumber: 1, baseDecodeTime: mediaTime, frames: frame, producerTimeMicros: micros).prefix(32))
        }
        // 2025-11-24T16:00:00.5Z at media time 3 s.
        let box = prft(1_764_000_000_500_000, 270_000)
        let ntpSeconds: UInt32 = 1_764_000_000 + 2_208_988_800
        var expected: [UInt8] = [0, 0, 0, 32] + Array("prft".utf8) + [1, 0, 0, 8] + [0, 0, 0, 1]
        expected += withUnsafeBytes(of: ntpSeconds.bigEndian, Array.init) + [0x80, 0, 0, 0]
        expected += withUnsafeBytes(of: UInt64(270_000).bigEndian, Array.init)
        #expect(box == expected)
        // NTP era 0 ends at 2036-02-07T06:28:16Z: the seconds wrap to 0, as NTP's do.
        let wrapped = prft(2_085_978_496_250_000, 0)
        #expect(Array(wrapped[16..<24]) == [0, 0, 0, 0, 0x40, 0, 0, 0])
        // A time before 1970 is written as 1970.
        let early = prft(-5, 0)
        #expect(Array(early[16..<20]) == withUnsafeBytes(of: UInt32(2_208_988_800).bigEndian, Array.init))
    }

    @Test func mdatOver4GiBUsesTheLargeSizeHeader() async throws {
        let p = try TestSupport.parameters(of: try await TestSupport.clip(codec: .h264, seconds: 1), codec: .h264)
        let run = SampleRun(
            parameters: p, path: "/nonexistent", fileOffset: 0,
            samples: [
                SampleEntry(duration: 3600, byteCount: 3_000_000_000, isKey: true),
                SampleEntry(duration: 3600, byteCount: 3_000_000_000, isKey: false)
            ])
        let mp4 = try MP4.progressive(runs: [run], creationUnixSeconds: 0)
        #expect(mp4.size > 6_000_000_000)
        guard case let .bytes(header) = mp4.parts[0] else {
            Issue.record("header part missing")
            return
        }
        let tail = Array(header.suffix(16))
        #expect(tail[0..<4] == [0, 0, 0, 1] && tail[4..<8] == Array("mdat".utf8)[...])
        #expect(tail[8..<16].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == 6_000_000_016)
        // No such file: an error, not a trap.
        #expect(throws: MediaError.self) { try mp4.read(Int64(header.count)..<Int64(header.count + 10)) }
    }

    @Test func refusesRangesThatCannotPlay() async throws {
        let p = try TestSupport.parameters(of: try await TestSupport.clip(codec: .h264, seconds: 1), codec: .h264)
        #expect(throws: MediaError.self) { try MP4.progressive(runs: [], creationUnixSeconds: 0) }
        let nonKey = SampleRun(parameters: p, path: "/x", fileOffset: 0, samples: [SampleEntry(duration: 1, byteCount: 1, isKey: false)])
        #expect(throws: MediaError.self) { try MP4.progressive(runs: [nonKey], creationUnixSeconds: 0) }
        #expect(throws: MediaError.self) { try H264.SPS(nal: [0x67, 0x42]) }
        #expect(throws: MediaError.self) { try NALUnits.splitLengthPrefixed([0, 0, 0, 9, 1][...]) }
    }
}
