import FuzzSupport
import Media

/// The ISO BMFF box walker and the ONVIF export `meta` box parser that `vigil verify`
/// runs on files it is handed (ISO/IEC 14496-12 §4.2, ONVIF Export File Format).
func fuzzOne(_ bytes: [UInt8]) {
    let read: (Int64, Int) throws -> [UInt8] = { offset, count in
        Array(bytes[Int(offset)..<min(bytes.count, Int(offset) + count)])
    }
    if let top = try? OnvifExport.boxes(from: 0, to: Int64(bytes.count), read: read) {
        for box in top where box.type == "meta" && box.size < 1 << 24 {
            if let meta = try? OnvifExport.parseMeta(Array(bytes[Int(box.offset)..<Int(box.end)])), !meta.instances.isEmpty {
                for i in meta.instances.indices {
                    _ = OnvifExport.signingInput(meta: Array(bytes[Int(box.offset)..<Int(box.end)]), parsed: meta, instance: i)
                }
            }
        }
    }
    _ = try? OnvifExport.parseMeta(bytes)
    _ = try? SampleIndex.decode(bytes)
}
#if FUZZING
    @_cdecl("FuzzBoxes_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
