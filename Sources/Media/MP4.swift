/// A run of consecutive frames that lie back to back in one sample file and share one
/// set of codec parameters — in practice all or part of one recorded segment. MP4s are
/// assembled from runs; each run becomes one chunk (ISO/IEC 14496-12 §8.7.4).
public struct SampleRun: Sendable {
    public var parameters: VideoParameters
    /// Path of the sample file that holds the frames.
    public var path: String
    /// Byte offset of the run's first frame in that file.
    public var fileOffset: Int64
    public var samples: [SampleEntry]

    public init(parameters: VideoParameters, path: String, fileOffset: Int64, samples: [SampleEntry]) {
        self.parameters = parameters
        self.path = path
        self.fileOffset = fileOffset
        self.samples = samples
    }

    public var byteCount: Int64 { samples.reduce(0) { $0 + Int64($1.byteCount) } }
    public var duration: Ticks90k { samples.reduce(0) { $0 + Ticks90k($1.duration) } }
}

/// Builds MP4 files. Everything is at a 90 kHz timescale, the RTP clock of video, so
/// sample durations are stored exactly as received.
public enum MP4 {
    /// Bump when the bytes this writer produces for the same input change; HTTP ETags
    /// and golden tests include it, so a change of output is always deliberate.
    public static let formatVersion = 1

    static let timescale: UInt32 = 90_000
    /// Seconds from 1904-01-01 (ISO BMFF epoch) to 1970-01-01.
    static let epochOffset: UInt64 = 2_082_844_800

    /// A progressive MP4 (`ftyp`, `moov` before `mdat`, 64-bit chunk offsets) over the
    /// given runs. `trimStart` ticks at the start of the first run are hidden by an edit
    /// list (§8.6.6), so a file may begin at a key frame yet play from the asked-for
    /// moment. Nothing is read from disk: the result names byte ranges of sample files.
    public static func progressive(runs allRuns: [SampleRun], trimStart: Ticks90k = 0, creationUnixSeconds: Int64) throws -> VirtualMP4 {
        let runs = allRuns.filter { !$0.samples.isEmpty }
        guard let first = runs.first, !first.samples.isEmpty else {
            throw MediaError.invalid(what: "MP4", detail: "no frames in the requested range")
        }
        guard first.samples[0].isKey else {
            throw MediaError.invalid(what: "MP4", detail: "first frame is not a key frame")
        }
        let totalDuration = runs.reduce(Ticks90k(0)) { $0 + $1.duration }
        guard trimStart >= 0, trimStart < totalDuration else {
            throw MediaError.invalid(what: "MP4", detail: "trim \(trimStart) outside duration \(totalDuration)")
        }
        let mdatBodySize = runs.reduce(Int64(0)) { $0 + $1.byteCount }
        let largeMdat = mdatBodySize + 8 > Int64(UInt32.max)
        let mdatHeaderSize: Int64 = largeMdat ? 16 : 8
        let ftyp = fileType(brand: first.parameters.codec)
        let created = UInt64(max(0, creationUnixSeconds)) + epochOffset

        // The moov's size does not depend on the offsets it holds, so build it once to
        // learn where mdat's body starts, then again with the real chunk offsets.
        func buildMoov(mdatBodyStart: Int64) -> [UInt8] {
            var w = BoxWriter()
            writeMoov(&w, runs: runs, duration: totalDuration, trimStart: trimStart, created: created, mdatBodyStart: mdatBodyStart)
            return w.bytes
        }
        let provisional = buildMoov(mdatBodyStart: 0)
        let bodyStart = Int64(ftyp.count + provisional.count) + mdatHeaderSize
        let moov = buildMoov(mdatBodyStart: bodyStart)

        var header = ftyp + moov
        if largeMdat {
            header.appendBigEndian(UInt32(1))
            header += Array("mdat".utf8)
            header.appendBigEndian(UInt64(mdatBodySize + 16))
        } else {
            header.appendBigEndian(UInt32(mdatBodySize + 8))
            header += Array("mdat".utf8)
        }
        var parts: [VirtualMP4.Part] = [.bytes(header)]
        for run in runs where run.byteCount > 0 {
            parts.append(.file(path: run.path, offset: run.fileOffset, length: run.byteCount))
        }
        return VirtualMP4(parts: parts)
    }

    /// The initialisation segment of a fragmented MP4 (ISO/IEC 23009-1 / MSE byte-stream
    /// format): `ftyp` + `moov` with an empty sample table and `mvex`.
    public static func initSegment(parameters: VideoParameters) -> [UInt8] {
        var w = BoxWriter()
        w.append(fileType(brand: parameters.codec))
        w.box("moov") { w in
            movieHeader(&w, duration: 0, created: 0)
            w.box("trak") { w in
                trackHeader(&w, parameters: parameters, duration: 0, created: 0)
                w.box("mdia") { w in
                    mediaHeaderAndHandler(&w, duration: 0, created: 0)
                    w.box("minf") { w in
                        mediaInformationHeaders(&w)
                        w.box("stbl") { w in
                            sampleDescriptions(&w, [parameters])
                            w.fullBox("stts", version: 0, flags: 0) { $0.u32(0) }
                            w.fullBox("stsc", version: 0, flags: 0) { $0.u32(0) }
                            w.fullBox("stsz", version: 0, flags: 0) {
                                $0.u32(0)
                                $0.u32(0)
                            }
                            w.fullBox("stco", version: 0, flags: 0) { $0.u32(0) }
                        }
                    }
                }
            }
            w.box("mvex") { w in
                w.fullBox("trex", version: 0, flags: 0) { w in
                    w.u32(1) // track_ID
                    w.u32(1) // default_sample_description_index
                    w.u32(0)
                    w.u32(0)
                    w.u32(0)
                }
            }
        }
        return w.bytes
    }

    /// Seconds from the NTP era's start (1900-01-01) to the Unix epoch (RFC 5905 §6).
    static let ntpUnixOffset: UInt64 = 2_208_988_800

    /// A producer reference time box (`prft`, ISO/IEC 14496-12 §8.16.5), written before
    /// the `moof` it describes: the frame of track `trackID` at `mediaTime` (the track's
    /// 90 kHz timescale) has the UTC time `utcMicros`. For Vigil that is when the frame
    /// reached it from the camera, later than the camera's encoder gave it out by the
    /// network's delay, so the flags say 8 (a time in a consistent relation to the media
    /// time), not 1 (the encoder's output): a reader must not take it for the capture.
    /// Version 1: a 64-bit media time. The seconds wrap
    /// at the end of NTP era 0 (2036) as NTP's do (RFC 5905 §6): a reader takes the era
    /// nearest its own clock. A time before 1970 is written as 1970.
    static func writeProducerReferenceTime(_ w: inout BoxWriter, trackID: UInt32 = 1, utcMicros: Int64, mediaTime: Ticks90k) {
        let micros = UInt64(max(0, utcMicros))
        let seconds = (micros / 1_000_000 + ntpUnixOffset) & 0xFFFF_FFFF
        let fraction = ((micros % 1_000_000) << 32) / 1_000_000
        w.fullBox("prft", version: 1, flags: 8) { w in
            w.u32(trackID)
            w.u64(seconds << 32 | fraction)
            w.u64(UInt64(max(0, mediaTime)))
        }
    }

    /// One media segment (`moof` + `mdat`, §8.8) carrying `frames`, whose first sample is
    /// decoded at `baseDecodeTime`. `durations[i]` is how long frame i is shown. With
    /// `producerTimeMicros`, a `prft` giving the first frame's UTC time leads the segment,
    /// written in the same buffer (live view: no second copy of a frame per viewer).
    public static func mediaSegment(
        sequenceNumber: UInt32, baseDecodeTime: Ticks90k,
        frames: [(entry: SampleEntry, data: [UInt8])], producerTimeMicros: Int64? = nil
    ) -> [UInt8] {
        var w = BoxWriter()
        w.bytes.reserveCapacity(frames.reduce(256) { $0 + $1.data.count })
        if let producerTimeMicros {
            writeProducerReferenceTime(&w, utcMicros: producerTimeMicros, mediaTime: baseDecodeTime)
        }
        let moofStart = w.bytes.count
        var dataOffsetPosition = 0
        w.box("moof") { w in
            w.fullBox("mfhd", version: 0, flags: 0) { $0.u32(sequenceNumber) }
            w.box("traf") { w in
                w.fullBox("tfhd", version: 0, flags: 0x02_0000) { $0.u32(1) } // default-base-is-moof
                w.fullBox("tfdt", version: 1, flags: 0) { $0.u64(UInt64(max(0, baseDecodeTime))) }
                // data-offset, sample-duration, sample-size, sample-flags present
                w.fullBox("trun", version: 0, flags: 0x000001 | 0x000100 | 0x000200 | 0x000400) { w in
                    w.u32(UInt32(frames.count))
                    dataOffsetPosition = w.bytes.count
                    w.i32(0)
                    for f in frames {
                        w.u32(f.entry.duration)
                        w.u32(f.entry.byteCount)
                        w.u32(f.entry.isKey ? 0x0200_0000 : 0x0101_0000)
                    }
                }
            }
        }
        let moofSize = w.bytes.count - moofStart
        let dataOffset = UInt32(moofSize + 8)
        for (i, shift) in [24, 16, 8, 0].enumerated() {
            w.bytes[dataOffsetPosition + i] = UInt8((dataOffset >> UInt32(shift)) & 0xFF)
        }
        let body = frames.reduce(0) { $0 + $1.data.count }
        w.u32(UInt32(body + 8))
        w.fourCC("mdat")
        for f in frames { w.append(f.data) }
        return w.bytes
    }

    // MARK: - Boxes

    static func fileType(brand codec: VideoCodec) -> [UInt8] {
        var w = BoxWriter()
        w.box("ftyp") { w in
            w.fourCC("isom")
            w.u32(0x200)
            w.fourCC("isom")
            w.fourCC("iso2")
            w.fourCC("iso6")
            w.fourCC("mp41")
            if codec == .h264 { w.fourCC("avc1") } else { w.fourCC("hvc1") }
        }
        return w.bytes
    }

    static func writeMoov(
        _ w: inout BoxWriter, runs: [SampleRun], duration: Ticks90k, trimStart: Ticks90k,
        created: UInt64, mdatBodyStart: Int64
    ) {
        // Distinct parameter sets become distinct sample entries (§8.5.2), in first-use order.
        var descriptions: [VideoParameters] = []
        var descriptionIndex: [Int] = []
        for run in runs {
            if let i = descriptions.firstIndex(of: run.parameters) {
                descriptionIndex.append(i + 1)
            } else {
                descriptions.append(run.parameters)
                descriptionIndex.append(descriptions.count)
            }
        }
        let presented = duration - trimStart
        w.box("moov") { w in
            movieHeader(&w, duration: UInt64(presented), created: created)
            w.box("trak") { w in
                trackHeader(&w, parameters: descriptions[0], duration: UInt64(presented), created: created)
                if trimStart > 0 {
                    w.box("edts") { w in
                        w.fullBox("elst", version: 1, flags: 0) { w in
                            w.u32(1)
                            w.u64(UInt64(presented)) // segment_duration, movie timescale
                            w.u64(UInt64(trimStart)) // media_time, media timescale
                            w.u16(1)
                            w.u16(0) // media_rate 1.0
                        }
                    }
                }
                w.box("mdia") { w in
                    mediaHeaderAndHandler(&w, duration: UInt64(duration), created: created)
                    w.box("minf") { w in
                        mediaInformationHeaders(&w)
                        w.box("stbl") { w in
                            sampleDescriptions(&w, descriptions)
                            sampleTables(&w, runs: runs, descriptionIndex: descriptionIndex, mdatBodyStart: mdatBodyStart)
                        }
                    }
                }
            }
        }
    }

    static func movieHeader(_ w: inout BoxWriter, duration: UInt64, created: UInt64) {
        w.fullBox("mvhd", version: 1, flags: 0) { w in
            w.u64(created)
            w.u64(created)
            w.u32(timescale)
            w.u64(duration)
            w.u32(0x0001_0000) // rate 1.0
            w.u16(0x0100) // volume 1.0
            w.zeros(10)
            w.unityMatrix()
            w.zeros(24)
            w.u32(2) // next_track_ID
        }
    }

    static func trackHeader(_ w: inout BoxWriter, parameters: VideoParameters, duration: UInt64, created: UInt64) {
        w.fullBox("tkhd", version: 1, flags: 0x3) { w in // enabled, in movie
            w.u64(created)
            w.u64(created)
            w.u32(1) // track_ID
            w.u32(0)
            w.u64(duration)
            w.zeros(8)
            w.u16(0)
            w.u16(0)
            w.u16(0)
            w.u16(0) // layer, alternate_group, volume, reserved
            w.unityMatrix()
            w.u32(UInt32(parameters.width) << 16)
            w.u32(UInt32(parameters.height) << 16)
        }
    }

    static func mediaHeaderAndHandler(_ w: inout BoxWriter, duration: UInt64, created: UInt64) {
        w.fullBox("mdhd", version: 1, flags: 0) { w in
            w.u64(created)
            w.u64(created)
            w.u32(timescale)
            w.u64(duration)
            w.u16(0x55C4) // language "und"
            w.u16(0)
        }
        w.fullBox("hdlr", version: 0, flags: 0) { w in
            w.u32(0)
            w.fourCC("vide")
            w.zeros(12)
            w.append(Array("Vigil video\0".utf8))
        }
    }

    static func mediaInformationHeaders(_ w: inout BoxWriter) {
        w.fullBox("vmhd", version: 0, flags: 1) { $0.zeros(8) }
        w.box("dinf") { w in
            w.fullBox("dref", version: 0, flags: 0) { w in
                w.u32(1)
                w.fullBox("url ", version: 0, flags: 1) { _ in } // media in this file
            }
        }
    }

    static func sampleDescriptions(_ w: inout BoxWriter, _ descriptions: [VideoParameters]) {
        w.fullBox("stsd", version: 0, flags: 0) { w in
            w.u32(UInt32(descriptions.count))
            for p in descriptions {
                let body: (inout BoxWriter) -> Void = { w in
                    w.zeros(6)
                    w.u16(1) // data_reference_index
                    w.zeros(16) // pre_defined, reserved
                    w.u16(UInt16(p.width))
                    w.u16(UInt16(p.height))
                    w.u32(0x0048_0000)
                    w.u32(0x0048_0000) // 72 dpi
                    w.u32(0)
                    w.u16(1) // frame_count
                    w.zeros(32) // compressorname
                    w.u16(0x0018) // depth
                    w.u16(0xFFFF) // pre_defined = -1
                    if p.codec == .h264 {
                        w.box("avcC") { $0.append(p.decoderConfiguration) }
                    } else {
                        w.box("hvcC") { $0.append(p.decoderConfiguration) }
                    }
                }
                if p.codec == .h264 { w.box("avc1", body) } else { w.box("hvc1", body) }
            }
        }
    }

    static func sampleTables(_ w: inout BoxWriter, runs: [SampleRun], descriptionIndex: [Int], mdatBodyStart: Int64) {
        let sampleCount = runs.reduce(0) { $0 + $1.samples.count }
        // stts: run-length coded durations (§8.6.1.2).
        var timeToSample: [(count: UInt32, delta: UInt32)] = []
        var syncSamples: [UInt32] = []
        var number: UInt32 = 0
        for run in runs {
            for s in run.samples {
                number += 1
                if s.isKey { syncSamples.append(number) }
                if let last = timeToSample.last, last.delta == s.duration {
                    timeToSample[timeToSample.count - 1].count += 1
                } else {
                    timeToSample.append((1, s.duration))
                }
            }
        }
        w.fullBox("stts", version: 0, flags: 0) { w in
            w.u32(UInt32(timeToSample.count))
            for e in timeToSample {
                w.u32(e.count)
                w.u32(e.delta)
            }
        }
        if syncSamples.count < sampleCount {
            w.fullBox("stss", version: 0, flags: 0) { w in
                w.u32(UInt32(syncSamples.count))
                for s in syncSamples { w.u32(s) }
            }
        }
        w.fullBox("stsz", version: 0, flags: 0) { w in
            w.u32(0)
            w.u32(UInt32(sampleCount))
            for run in runs { for s in run.samples { w.u32(s.byteCount) } }
        }
        // One chunk per run; stsc lists only changes (§8.7.4).
        w.fullBox("stsc", version: 0, flags: 0) { w in
            var entries: [(first: UInt32, perChunk: UInt32, description: UInt32)] = []
            for (i, run) in runs.enumerated() {
                let entry = (UInt32(i + 1), UInt32(run.samples.count), UInt32(descriptionIndex[i]))
                if let last = entries.last, last.perChunk == entry.1, last.description == entry.2 { continue }
                entries.append(entry)
            }
            w.u32(UInt32(entries.count))
            for e in entries {
                w.u32(e.first)
                w.u32(e.perChunk)
                w.u32(e.description)
            }
        }
        w.fullBox("co64", version: 0, flags: 0) { w in
            w.u32(UInt32(runs.count))
            var offset = mdatBodyStart
            for run in runs {
                w.u64(UInt64(offset))
                offset += run.byteCount
            }
        }
    }
}
