import FuzzSupport
import RTSP

/// SDP (RFC 8866) and the video track the recorder takes from it, with its
/// out-of-band parameter sets (RFC 6184 §8.1, RFC 7798 §7.1).
func fuzzOne(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    guard let sdp = try? SessionDescription(parsing: text) else { return }
    _ = try? VideoTrack.first(in: sdp, policies: QuirkPolicies())
    _ = try? VideoTrack.first(in: sdp, policies: .strict)
}
#if FUZZING
    @_cdecl("FuzzSDP_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
