import FuzzSupport
import Media

/// The H.265 depacketiser (RFC 7798: single NAL, AP, FU) and VPS/SPS/PPS parsing.
func fuzzOne(_ bytes: [UInt8]) {
    DepacketizerFuzzing.run(codec: .h265, bytes)
}
#if FUZZING
    @_cdecl("FuzzH265_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
