import Audit
import Crypto
import FuzzSupport

/// Signed checkpoints (C2SP tlog-checkpoint, signed-note) and Merkle proofs (RFC 9162
/// §2.1.3-2.1.4) as a verifier reads them: from a file or a server that may lie.
let signer = try! NoteSigner(name: "fuzz", key: Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 7, count: 32)))

func fuzzOne(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    _ = try? Checkpoint(text: text)
    _ = try? signer.verifier.verify(text)
    _ = try? NoteVerifier(encoded: text)
    let records = FuzzInput.records(bytes)
    guard records.count >= 3 else { return }
    func number(_ r: ArraySlice<UInt8>) -> Int { r.prefix(8).reduce(0) { $0 << 8 | Int($1) } }
    let hashes = records.dropFirst(3).map { Array($0.prefix(32)) }
    let a = number(records[0]), b = number(records[1])
    _ = try? MerkleTree.verifyInclusion(
        index: a, treeSize: b, leafHash: Array(records[2].prefix(32)), proof: hashes,
        root: hashes.last ?? [])
    _ = try? MerkleTree.verifyConsistency(
        oldSize: a, newSize: b, oldRoot: Array(records[2].prefix(32)), newRoot: hashes.first ?? [],
        proof: hashes)
}
#if FUZZING
    @_cdecl("FuzzCheckpoint_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
        FuzzInput.runLibFuzzer(argc, argv, fuzzOne)
    }
#endif
