import FuzzSupport
import Media

/// The HTTP Range header parser behind playback (RFC 9110 §14). Whatever it answers
/// must lie inside the file.
func fuzzOne(_ bytes: [UInt8]) {
    guard bytes.count >= 8 else { return }
    let size = Int64(bitPattern: bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }) & Int64.max >> Int64(bytes[0] & 63)
    let header = String(decoding: bytes[8...], as: UTF8.self)
    switch ByteRangeRequest(header: header, size: size) {
    case let .partial(range):
        precondition(range.lowerBound >= 0 && range.upperBound <= size && !range.isEmpty, "range \(range) outside a file of \(size)")
    case .whole, .unsatisfiable:
        break
    }
}
#if FUZZING
    @_cdecl("FuzzRange_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
