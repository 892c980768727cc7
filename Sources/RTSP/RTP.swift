import NIOCore

/// An RTP packet (RFC 3550 §5.1), its payload a slice of the received buffer (no copy).
public struct RTPPacket: Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var payload: ByteBuffer

    /// Parses a packet, validating version, CSRC count, extension length and padding so
    /// that a lying header yields an error rather than a read past the end.
    public init(parsing buffer: ByteBuffer) throws {
        var b = buffer
        guard b.readableBytes >= 12,
            let first = b.readInteger(as: UInt8.self), let second = b.readInteger(as: UInt8.self),
            let seq = b.readInteger(as: UInt16.self), let ts = b.readInteger(as: UInt32.self),
            let ssrc = b.readInteger(as: UInt32.self)
        else {
            throw RTSPError(.rtp("packet of \(buffer.readableBytes) bytes is shorter than the 12-byte RTP header"))
        }
        guard first >> 6 == 2 else { throw RTSPError(.rtp("RTP version \(first >> 6), expected 2")) }
        let csrcBytes = Int(first & 0x0F) * 4
        guard b.readableBytes >= csrcBytes else { throw RTSPError(.rtp("CSRC list runs past the packet")) }
        b.moveReaderIndex(forwardBy: csrcBytes)
        if first & 0x10 != 0 {
            guard b.readableBytes >= 4, let words = b.getInteger(at: b.readerIndex + 2, as: UInt16.self),
                b.readableBytes >= 4 + Int(words) * 4
            else {
                throw RTSPError(.rtp("header extension runs past the packet"))
            }
            b.moveReaderIndex(forwardBy: 4 + Int(words) * 4)
        }
        if first & 0x20 != 0 {
            guard let padding = b.getInteger(at: b.writerIndex - 1, as: UInt8.self), padding > 0, Int(padding) <= b.readableBytes else {
                throw RTSPError(.rtp("bad padding length"))
            }
            b.moveWriterIndex(to: b.writerIndex - Int(padding))
        }
        marker = second & 0x80 != 0
        payloadType = second & 0x7F
        sequenceNumber = seq
        timestamp = ts
        self.ssrc = ssrc
        payload = b
    }
}

/// Extends 32-bit RTP timestamps to 64 bits across wrap-around (every 13.25 h at 90 kHz):
/// each new value is taken as the nearest 64-bit value to the previous one.
public struct TimestampExtender: Sendable {
    private var last: Int64?

    public init() {}

    public mutating func extend(_ rtp: UInt32) -> Int64 {
        guard let previous = last else {
            last = Int64(rtp)
            return Int64(rtp)
        }
        let delta = Int32(bitPattern: rtp &- UInt32(truncatingIfNeeded: previous))
        // Wrapping: only a stream of 2^31-tick jumps for days could reach the end of Int64,
        // and such a stream is cut long before by the recorder's segment bounds.
        let value = previous &+ Int64(delta)
        last = value
        return value
    }
}
