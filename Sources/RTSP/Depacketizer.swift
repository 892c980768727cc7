import Media
import NIOCore

/// A complete access unit with the parameter sets in force for it.
public struct DepacketizedFrame: Sendable {
    public var frame: EncodedFrame
    public var parameters: VideoParameters

    public init(frame: EncodedFrame, parameters: VideoParameters) {
        self.frame = frame
        self.parameters = parameters
    }
}

/// Reassembles H.264 (RFC 6184) or H.265 (RFC 7798) access units from RTP packets.
///
/// H.264: single NAL unit packets, STAP-A (§5.7.1) and FU-A (§5.8) — packetization modes
/// 0 and 1. H.265: single NAL unit packets, aggregation packets (§4.4.2) and
/// fragmentation units (§4.4.3), without DONL (sprop-max-don-diff = 0).
/// An access unit ends at the marker bit, or when the timestamp changes (for cameras that
/// forget the marker). A sequence-number gap discards the unit in progress. Parameter sets
/// come from the SDP and are replaced by in-band ones when those differ; a frame is
/// emitted only when parameters are known.
public struct VideoDepacketizer: Sendable {
    public let codec: VideoCodec
    public private(set) var parameters: VideoParameters?
    /// Largest access unit accepted; a bigger one is an error, not an allocation.
    public var maxFrameBytes = 16 * 1024 * 1024

    // Statistics for metrics and tests.
    public private(set) var packetsLost: Int = 0
    public private(set) var framesDropped: Int = 0

    private var extender = TimestampExtender()
    private var lastSequence: UInt16?
    private var unit = AccessUnitPieces()
    private var unitTimestamp: Int64?
    private var unitIsKey = false
    private var unitBroken = false
    private var inBandVPS: [UInt8]?
    private var inBandSPS: [UInt8]?
    private var inBandPPS: [UInt8]?
    /// A parameter set arrived in-band since the last frame: only then are they compared.
    private var inBandArrived = false

    public init(codec: VideoCodec, parameters: VideoParameters?) {
        self.codec = codec
        self.parameters = parameters
    }

    /// Feeds one packet; calls `emit` for each access unit it completes (zero, one or two).
    public mutating func push(_ packet: RTPPacket, emit: (DepacketizedFrame) throws -> Void) throws {
        if let last = lastSequence, packet.sequenceNumber != last &+ 1 {
            let gap = Int(packet.sequenceNumber &- last &- 1)
            packetsLost += gap
            if unitTimestamp != nil { unitBroken = true }
            unit.abandonFragment()
        }
        lastSequence = packet.sequenceNumber
        let timestamp = extender.extend(packet.timestamp)
        if let current = unitTimestamp, current != timestamp {
            try finishUnit(emit: emit)
        }
        if unitTimestamp == nil {
            unitTimestamp = timestamp
        }
        do {
            switch codec {
            case .h264: try pushH264(packet.payload, sequence: packet.sequenceNumber)
            case .h265: try pushH265(packet.payload, sequence: packet.sequenceNumber)
            }
        } catch let error as RTSPError {
            unitBroken = true
            throw error
        }
        if unit.byteCount > maxFrameBytes {
            let size = unit.byteCount
            reset()
            throw RTSPError(.frameTooLarge(byteCount: size))
        }
        if packet.marker {
            try finishUnit(emit: emit)
        }
    }

    private mutating func reset() {
        unit.clear()
        unitTimestamp = nil
        unitIsKey = false
        unitBroken = false
    }

    private mutating func finishUnit(emit: (DepacketizedFrame) throws -> Void) throws {
        defer { reset() }
        guard let timestamp = unitTimestamp, !unit.isEmpty else { return }
        if unit.hasOpenFragment { unitBroken = true } // fragment never ended
        guard !unitBroken else {
            framesDropped += 1
            return
        }
        updateParametersFromInBand()
        guard let parameters else {
            framesDropped += 1
            return
        }
        // Exactly its size; the pieces are copied here, once (AccessUnitPieces says why).
        let data = unit.take()
        try emit(DepacketizedFrame(frame: EncodedFrame(timestamp: timestamp, isKey: unitIsKey, data: data), parameters: parameters))
    }

    private mutating func updateParametersFromInBand() {
        guard inBandArrived, let sps = inBandSPS, let pps = inBandPPS else { return }
        inBandArrived = false
        if let p = parameters, p.sps == sps, p.pps == pps, p.vps == inBandVPS { return }
        switch codec {
        case .h264:
            if let p = try? VideoParameters(h264SPS: sps, pps: pps) { parameters = p }
        case .h265:
            if let vps = inBandVPS, let p = try? VideoParameters(h265VPS: vps, sps: sps, pps: pps) { parameters = p }
        }
    }

    private mutating func appendNAL(_ nal: ByteBuffer) {
        unit.append(nal: nal)
        noteNAL(header: nal.getInteger(at: nal.readerIndex, as: UInt8.self)!, fullNAL: nal)
    }

    private mutating func noteNAL(header: UInt8, fullNAL: ByteBuffer?) {
        if NALUnits.isKeySlice(codec: codec, header: header) { unitIsKey = true }
        guard let nal = fullNAL, isParameterSet(header) else { return }
        inBandArrived = true
        switch codec {
        case .h264:
            switch H264.nalType(header) {
            case H264.NALType.sps: inBandSPS = Array(nal.readableBytesView)
            default: inBandPPS = Array(nal.readableBytesView)
            }
        case .h265:
            switch H265.nalType(header) {
            case H265.NALType.vps: inBandVPS = Array(nal.readableBytesView)
            case H265.NALType.sps: inBandSPS = Array(nal.readableBytesView)
            default: inBandPPS = Array(nal.readableBytesView)
            }
        }
    }

    private mutating func endFragment() {
        guard let header = unit.openFragmentHeader else { return }
        // Parameter sets are kept, so their bytes are wanted; of slices only the key flag matters.
        let nal = unit.endFragmentedNAL(wantBytes: isParameterSet(header))
        noteNAL(header: header, fullNAL: nal.map { ByteBuffer(bytes: $0) })
    }

    private func isParameterSet(_ header: UInt8) -> Bool {
        switch codec {
        case .h264: [H264.NALType.sps, H264.NALType.pps].contains(H264.nalType(header))
        case .h265: (H265.NALType.vps...H265.NALType.pps).contains(H265.nalType(header))
        }
    }

    private func error(_ text: String, _ sequence: UInt16) -> RTSPError {
        RTSPError(.depacketization("\(text) (RTP seq \(sequence))"))
    }

    // RFC 6184 §5.2: the payload's first byte is a NAL unit header whose type picks the structure.
    private mutating func pushH264(_ payload: ByteBuffer, sequence: UInt16) throws {
        var p = payload
        guard let header = p.getInteger(at: p.readerIndex, as: UInt8.self) else { throw error("empty payload", sequence) }
        guard header & 0x80 == 0 else { throw error("forbidden_zero_bit set", sequence) }
        let type = header & 0x1F
        switch type {
        case 1...23:
            if unit.hasOpenFragment {
                unitBroken = true
                unit.abandonFragment()
            }
            appendNAL(p)
        case 24: // STAP-A
            p.moveReaderIndex(forwardBy: 1)
            try readAggregated(&p, sequence: sequence)
        case 28: // FU-A
            guard p.readableBytes >= 3, let fu = p.getInteger(at: p.readerIndex + 1, as: UInt8.self) else {
                throw error("FU-A shorter than 3 bytes", sequence)
            }
            let start = fu & 0x80 != 0, end = fu & 0x40 != 0
            guard !(start && end) else { throw error("FU-A with both start and end bits", sequence) }
            p.moveReaderIndex(forwardBy: 2)
            if start {
                if unit.hasOpenFragment { unitBroken = true }
                unit.beginFragmentedNAL(header: (header & 0xE0) | (fu & 0x1F))
            } else if !unit.hasOpenFragment {
                unitBroken = true // continuation without a start: its start was lost
                return
            }
            unit.append(payload: p)
            if end { endFragment() }
        case 0, 30, 31:
            return // reserved/unspecified: ignored (RFC 6184 §5.4)
        default:
            throw error("H.264 packet type \(type) (STAP-B/MTAP/FU-B, interleaved mode) unsupported", sequence)
        }
    }

    // RFC 7798 §4.4: two-byte payload header; type 48 = AP, 49 = FU, 50 = PACI.
    private mutating func pushH265(_ payload: ByteBuffer, sequence: UInt16) throws {
        var p = payload
        guard p.readableBytes >= 3, let b0 = p.getInteger(at: p.readerIndex, as: UInt8.self),
            let b1 = p.getInteger(at: p.readerIndex + 1, as: UInt8.self)
        else {
            throw error("H.265 payload shorter than 3 bytes", sequence)
        }
        guard b0 & 0x80 == 0 else { throw error("forbidden_zero_bit set", sequence) }
        let type = H265.nalType(b0)
        switch type {
        case 0...47:
            if unit.hasOpenFragment {
                unitBroken = true
                unit.abandonFragment()
            }
            appendNAL(p)
        case 48:
            p.moveReaderIndex(forwardBy: 2)
            try readAggregated(&p, sequence: sequence)
        case 49:
            guard let fu = p.getInteger(at: p.readerIndex + 2, as: UInt8.self) else { throw error("short FU", sequence) }
            let start = fu & 0x80 != 0, end = fu & 0x40 != 0
            guard !(start && end) else { throw error("FU with both start and end bits", sequence) }
            p.moveReaderIndex(forwardBy: 3)
            if start {
                if unit.hasOpenFragment { unitBroken = true }
                unit.beginFragmentedNAL(header: (b0 & 0x81) | ((fu & 0x3F) << 1), b1)
            } else if !unit.hasOpenFragment {
                unitBroken = true
                return
            }
            unit.append(payload: p)
            if end { endFragment() }
        default:
            throw error("H.265 packet type \(type) (PACI or reserved) unsupported", sequence)
        }
    }

    /// STAP-A / AP body: 16-bit size then NAL unit, repeated. Like a single NAL unit, it
    /// cannot come inside a fragmented one: the fragment's end was lost, and the unit with it.
    private mutating func readAggregated(_ p: inout ByteBuffer, sequence: UInt16) throws {
        if unit.hasOpenFragment {
            unitBroken = true
            unit.abandonFragment()
        }
        var count = 0
        while p.readableBytes > 0 {
            guard let size = p.readInteger(as: UInt16.self), size > 0, Int(size) <= p.readableBytes,
                let nal = p.readSlice(length: Int(size))
            else {
                throw error("aggregation packet unit \(count) has a bad size", sequence)
            }
            appendNAL(nal)
            count += 1
        }
        guard count > 0 else { throw error("empty aggregation packet", sequence) }
    }
}
