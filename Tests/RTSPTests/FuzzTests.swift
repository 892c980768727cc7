import Foundation
import Media
import NIOCore
import Testing

@testable import RTSP

/// Random and mutated input must produce values or typed errors — never a crash, never a
/// buffer that grows past the decoder's limits. Seeds are fixed, so a failure replays.
@Suite("Fuzzing the parsers")
struct FuzzTests {
    static let corpus: [[UInt8]] = {
        let names = [
            "anjvision_describe.txt", "bunny_describe.txt", "dahua_describe_h264_aac_onvif.txt", "dahua_setup.txt",
            "dahua_play.txt", "gw_main_describe.txt", "h264dvr_describe.txt", "longse_unauthorized.txt",
            "reolink_play.txt", "vstarcam_describe.txt", "missing_content_type_describe.txt"
        ]
        return names.compactMap { try? fixture($0) }
    }()

    static func mutate(_ input: [UInt8], using g: inout SeededGenerator) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...8, using: &g) {
            switch Int.random(in: 0..<6, using: &g) {
            case 0 where !bytes.isEmpty: bytes[Int.random(in: 0..<bytes.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
            case 1 where !bytes.isEmpty: bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &g)...)
            case 2:
                bytes.insert(
                    contentsOf: (0..<Int.random(in: 1...40, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) },
                    at: Int.random(in: 0...bytes.count, using: &g))
            case 3: bytes = Array("Content-Length: \(Int.random(in: -5...9_999_999, using: &g))\r\n".utf8) + bytes
            case 4: bytes.insert(contentsOf: [UInt8(ascii: "$"), 0, 0xFF, 0xFF], at: Int.random(in: 0...bytes.count, using: &g))
            default: bytes += input
            }
        }
        return bytes
    }

    @Test func wireDecoderNeverCrashesOrGrowsUnbounded() {
        var g = SeededGenerator(seed: 42)
        var messages = 0, errors = 0
        for i in 0..<3000 {
            let base = Self.corpus[i % Self.corpus.count]
            let input =
                i % 5 == 0
                ? (0..<Int.random(in: 0...3000, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
                : Self.mutate(base, using: &g)
            var decoder = RTSPWireDecoder(policies: QuirkPolicies())
            var buffer = ByteBuffer()
            var offset = 0
            decoding: while offset < input.count {
                let n = Int.random(in: 1...512, using: &g)
                buffer.writeBytes(input[offset..<min(input.count, offset + n)])
                offset += n
                while true {
                    do {
                        guard try decoder.decode(&buffer) != nil else { break }
                        messages += 1
                    } catch {
                        errors += 1
                        break decoding
                    }
                }
                // Pending bytes stay within one maximal message: headers + body, or one interleaved frame.
                #expect(buffer.readableBytes <= decoder.maxHeaderBytes + decoder.maxBodyBytes + 70_000)
            }
        }
        #expect(messages > 1000 && errors > 0, "messages \(messages), errors \(errors)") // both paths exercised
    }

    @Test func sdpAndTrackParsingSurviveMutation() {
        var g = SeededGenerator(seed: 7)
        var parsed = 0
        for i in 0..<3000 {
            let text = String(decoding: Self.mutate(Self.corpus[i % Self.corpus.count], using: &g), as: UTF8.self)
            if let sdp = try? SessionDescription(parsing: text), (try? VideoTrack.first(in: sdp, policies: QuirkPolicies())) != nil {
                parsed += 1
            }
        }
        #expect(parsed > 100)
    }

    @Test func rtpAndDepacketizerSurviveRandomPackets() async {
        var g = SeededGenerator(seed: 99)
        for codec in [VideoCodec.h264, .h265] {
            var d = VideoDepacketizer(codec: codec, parameters: codec == .h264 ? DepacketizerTests.parameters264 : nil)
            d.maxFrameBytes = 200_000
            for i in 0..<20_000 {
                if i % 500 == 0 { await Task.yield() } // shares the cooperative pool (see TestSupport)
                var bytes = (0..<Int.random(in: 0...1500, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
                if bytes.count > 1 && Bool.random(using: &g) { bytes[0] = 0x80 | (bytes[0] & 0x3F) } // mostly version 2
                guard let packet = try? RTPPacket(parsing: ByteBuffer(bytes: bytes)) else { continue }
                #expect(packet.payload.readableBytes <= bytes.count - 12)
                try? d.push(packet) { frame in
                    #expect(frame.frame.data.count <= 200_000 + 1500)
                    #expect((try? NALUnits.splitLengthPrefixed(frame.frame.data[...])) != nil)
                }
            }
        }
    }
}

/// Crashes and hangs that hostile input once caused, each kept as a test named for what it broke.
@Suite("Hostile RTSP messages")
struct HostileMessageTests {
    /// Decodes `text` whole; returns the messages decoded before the first error, and that
    /// error. Stops after 100 messages: a decoder that re-reads the same bytes would loop.
    func decodeAll(_ text: String) -> (messages: Int, error: RTSPError?) {
        var decoder = RTSPWireDecoder(policies: QuirkPolicies())
        var buffer = ByteBuffer(string: text)
        var messages = 0
        do {
            while messages < 100, try decoder.decode(&buffer) != nil { messages += 1 }
        } catch let error as RTSPError {
            return (messages, error)
        } catch {
            Issue.record("untyped error \(error)")
        }
        return (messages, nil)
    }

    @Test func negativeContentLengthIsAnError() {
        // A server request after PLAY whose negative length moved the reader backwards: the
        // same bytes decoded forever, with memory growing ~10 MB/s.
        let request = decodeAll("GET_PARAMETER * RTSP/1.0\r\nCSeq: 7\r\nContent-Length: -20\r\n\r\n")
        #expect(request.messages == 0)
        #expect(request.error.map { "\($0)" }?.contains("Content-Length") == true)
        let response = decodeAll("RTSP/1.0 200 OK\r\nCSeq: 7\r\nContent-Length: -1\r\n\r\n")
        #expect(response.messages == 0)
        #expect(response.error.map { "\($0)" }?.contains("Content-Length") == true)
    }

    @Test(arguments: ["+5", " ", "5 5", "0x10", "99999999999999999999999", "١٢"])
    func contentLengthIsDigitsOnly(_ value: String) {
        let result = decodeAll("ANNOUNCE * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: \(value)\r\n\r\nhello")
        #expect(result.messages == 0 && result.error != nil, "Content-Length \(value) was accepted")
    }

    @Test func contentLengthOverTheLimitIsAnErrorNotAWait() {
        let result = decodeAll("GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 9223372036854775807\r\n\r\n")
        #expect(result.error?.kind == .messageTooLarge(limit: RTSPWireDecoder().maxBodyBytes))
    }

    /// A camera that sends its head and body a byte at a time (a hostile one, or a link at
    /// a few bytes a second) must cost the decoder each byte once, not once per read: a
    /// decoder that re-scanned the unfinished head on every read did ~130 MB of work for
    /// one 16 KiB head, and re-parsed the head for every byte of the body.
    @Test func slowInputIsExaminedOnce() throws {
        let head =
            "RTSP/1.0 200 OK\r\nCSeq: 3\r\n" + String(repeating: "X-Padding: 0123456789abcdef0123456789abcdef\r\n", count: 350)
            + "Content-Length: 65536\r\n\r\n"
        let input = Array(head.utf8) + [UInt8](repeating: 0x41, count: 65_536)
        #expect(head.utf8.count > 15_000 && head.utf8.count < RTSPWireDecoder().maxHeaderBytes)
        for request in [false, true] {
            var bytes = input
            if request { bytes.replaceSubrange(0..<15, with: Array("ANNOUNCE * RTSP/1.0".utf8)) }
            var decoder = RTSPWireDecoder(policies: QuirkPolicies())
            var buffer = ByteBuffer()
            var decoded: [RTSPInbound] = []
            for byte in bytes {
                buffer.writeInteger(byte)
                if let message = try decoder.decode(&buffer) { decoded.append(message) }
            }
            #expect(decoded.count == 1 && buffer.readableBytes == 0)
            if case let .response(response)? = decoded.first {
                #expect(!request && response.body.count == 65_536 && response.cseq == 3)
            } else if case let .serverRequest(method)? = decoded.first {
                #expect(request && method == "ANNOUNCE")
            }
            // Linear: each read looks again at the two bytes a cut terminator may span (three
            // bytes a read here), and the head is parsed once.
            #expect(
                decoder.headBytesExamined <= 5 * Int64(head.utf8.count),
                "examined \(decoder.headBytesExamined) bytes of head for a \(head.utf8.count)-byte head")
        }
    }

    /// However the reads cut a stream (a terminator split between them, two messages in one
    /// read with the second finished later), it decodes to the same messages as in one read.
    @Test func messagesCutIntoReadsDecodeAsWhole() throws {
        func decodeAll(_ bytes: [UInt8], reads: Int) throws -> [String] {
            var decoder = RTSPWireDecoder(policies: QuirkPolicies())
            var buffer = ByteBuffer()
            var out: [String] = []
            var offset = 0
            while offset < bytes.count {
                buffer.writeBytes(bytes[offset..<min(bytes.count, offset + reads)])
                offset += reads
                while let message = try decoder.decode(&buffer) {
                    switch message {
                    case let .response(r):
                        out.append("\(r.status) \(r.reason) \(r.headers.fields.map { "\($0.name)=\($0.value)" }) \(r.body)")
                    case let .serverRequest(method): out.append("request \(method)")
                    case let .interleaved(channel, payload): out.append("$\(channel) \(Array(payload.readableBytesView))")
                    }
                }
                buffer.discardReadBytes() // the cut message starts the buffer, as in SessionDecoder's copy
            }
            return out
        }
        let lfOnly = Array("RTSP/1.0 200 OK\nCSeq: 2\nContent-Length: 3\n\nabc".utf8)
        let request = Array("GET_PARAMETER * RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 2\r\n\r\nhi".utf8)
        let frame: [UInt8] = [UInt8(ascii: "$"), 0, 0, 4, 1, 2, 3, 4]
        var streams = FuzzTests.corpus.map { $0 + frame + lfOnly + request }
        streams.append(lfOnly + frame + request + lfOnly)
        for stream in streams {
            let whole = try decodeAll(stream, reads: stream.count)
            #expect(whole.count >= 4, "\(whole)")
            for reads in [1, 2, 3, 5, 17, 64] {
                #expect(try decodeAll(stream, reads: reads) == whole, "cut into reads of \(reads) bytes")
            }
        }
    }
}
