import FuzzSupport
import Media

/// The H.264 depacketiser (RFC 6184: single NAL, STAP-A, FU-A) and SPS/PPS parsing.
func fuzzOne(_ bytes: [UInt8]) {
    DepacketizerFuzzing.run(codec: .h264, bytes)
}
#if FUZZING
    @_cdecl("FuzzH264_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
