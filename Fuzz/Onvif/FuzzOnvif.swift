import FuzzSupport
import Onvif

/// A device's reply to every ONVIF action Vigil reads: the XML tree with its limits, the
/// SOAP envelope and fault, and each reply's values.
func fuzzOne(_ bytes: [UInt8]) {
    _ = try? XMLTree.parse(bytes, action: "fuzz")
    _ = try? DeviceTime.parse(bytes)
    _ = try? PTZReplies.nodes(bytes)
    _ = try? PTZReplies.status(bytes)
    _ = try? PTZReplies.presets(bytes)
    _ = try? MediaReplies.profiles(bytes)
    _ = try? MediaReplies.streamURI(bytes)
}
#if FUZZING
    @_cdecl("FuzzOnvif_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
