import FuzzSupport
import Onvif

/// A device's reply to every ONVIF action Vigil reads: the XML tree with its limits, the
/// SOAP envelope and fault, and each reply's values; and a WS-Discovery datagram, read as
/// an answer to a probe and as a probe.
func fuzzOne(_ bytes: [UInt8]) {
    _ = try? XMLTree.parse(bytes, action: "fuzz")
    _ = try? DeviceTime.parse(bytes)
    _ = try? PTZReplies.nodes(bytes)
    _ = try? PTZReplies.status(bytes)
    _ = try? PTZReplies.presets(bytes)
    _ = try? MediaReplies.profiles(bytes)
    _ = try? MediaReplies.streamURI(bytes)
    _ = try? WSDiscovery.probeMatches(bytes, answering: "urn:uuid:8f7b3bd0-1c1e-4f43-9a57-2f1d4bbd6c01")
    _ = try? WSDiscovery.probeRequest(bytes)
}
#if FUZZING
    @_cdecl("FuzzOnvif_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
