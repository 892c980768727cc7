import FuzzSupport
import NIOCore
import RTSP

/// The RTSP message decoder (RFC 2326 §4, §10.12): responses, requests from the camera and
/// interleaved frames, cut into reads where the input says. It must end in a message, a
/// typed error or a wait for more bytes, never hold more than one message's worth.
func fuzzOne(_ bytes: [UInt8]) {
    guard let first = bytes.first else { return }
    let step = Int(first) * 37 + 1
    var decoder = RTSPWireDecoder(policies: first & 1 == 0 ? QuirkPolicies() : .strict)
    var buffer = ByteBuffer()
    var offset = 1
    while offset < bytes.count {
        buffer.writeBytes(bytes[offset..<min(bytes.count, offset + step)])
        offset += step
        var messages = 0
        while true {
            do {
                guard try decoder.decode(&buffer) != nil else { break }
                messages += 1
                precondition(messages < 1_000_000, "the decoder keeps returning messages from the same bytes")
            } catch {
                return
            }
        }
        precondition(buffer.readableBytes <= decoder.maxHeaderBytes + decoder.maxBodyBytes + 70_000, "pending bytes grew past one message")
    }
}
#if FUZZING
    @_cdecl("FuzzRTSPMessages_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
