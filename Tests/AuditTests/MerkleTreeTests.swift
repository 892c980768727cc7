import Crypto
import Foundation
import Testing

@testable import Audit

func hexBytes(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex {
        let j = s.index(i, offsetBy: 2)
        out.append(UInt8(s[i..<j], radix: 16)!)
        i = j
    }
    return out
}

/// Leaves of the Certificate Transparency reference test vectors (RFC 6962 hashing, which
/// RFC 9162 keeps): roots for sizes 1…8.
let ctLeaves: [[UInt8]] = [
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f"
].map(hexBytes)
let ctRoots = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
].map(hexBytes)

/// An independent statement of RFC 9162 §2.1.1's definition, written as the RFC writes
/// it (bytes of entries, not leaf hashes), to check the production code's structure.
func referenceMTH(_ d: ArraySlice<[UInt8]>) -> [UInt8] {
    if d.isEmpty { return Array(SHA256.hash(data: [UInt8]())) }
    if d.count == 1 { return Array(SHA256.hash(data: [0x00] + d.first!)) }
    var k = 1
    while k * 2 < d.count { k *= 2 }
    return Array(SHA256.hash(data: [0x01] + referenceMTH(d.prefix(k)) + referenceMTH(d.dropFirst(k))))
}

@Suite("RFC 9162 Merkle tree")
struct MerkleTreeTests {
    @Test func rootsMatchTheReferenceVectors() {
        for n in 1...8 {
            #expect(MerkleTree.root(ctLeaves.prefix(n).map { MerkleTree.leafHash($0) }) == ctRoots[n - 1], "size \(n)")
        }
        #expect(MerkleTree.root([]) == hexBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    @Test func rootFollowsTheRFCsSplitForEverySize() {
        var g = SystemRandomNumberGenerator()
        let entries = (0..<300).map { i in (0..<(i % 7)).map { _ in UInt8.random(in: 0...255, using: &g) } }
        let leaves = entries.map { MerkleTree.leafHash($0) }
        for n in 0...300 {
            #expect(MerkleTree.root(leaves.prefix(n)) == referenceMTH(entries.prefix(n)), "size \(n)")
        }
    }

    /// Property: every entry of every tree up to 300 has a proof that verifies, and the
    /// proof fails for any other index, leaf, root, or a flipped proof hash.
    @Test func inclusionProofsVerifyAndDetectTampering() async throws {
        let leaves = (0..<300).map { MerkleTree.leafHash(Array("entry \($0)".utf8)) }
        for n in 1...300 {
            await Task.yield() // shares the cooperative pool (see TestSupport)
            let tree = Array(leaves.prefix(n))
            let root = MerkleTree.root(tree)
            let indices = n <= 64 ? Array(0..<n) : [0, 1, n / 3, n / 2, n - 2, n - 1]
            for m in indices {
                let proof = try MerkleTree.inclusionProof(index: m, leaves: tree)
                try MerkleTree.verifyInclusion(index: m, treeSize: n, leafHash: tree[m], proof: proof, root: root)
                #expect(throws: AuditError.self) {
                    try MerkleTree.verifyInclusion(index: m, treeSize: n, leafHash: leaves[(m + 1) % 300], proof: proof, root: root)
                }
                if n > 1 {
                    #expect(throws: AuditError.self) {
                        try MerkleTree.verifyInclusion(index: (m + 1) % n, treeSize: n, leafHash: tree[m], proof: proof, root: root)
                    }
                    var bent = proof
                    bent[bent.count / 2][0] ^= 1
                    #expect(throws: AuditError.self) {
                        try MerkleTree.verifyInclusion(index: m, treeSize: n, leafHash: tree[m], proof: bent, root: root)
                    }
                    #expect(throws: AuditError.self) {
                        try MerkleTree.verifyInclusion(index: m, treeSize: n, leafHash: tree[m], proof: Array(proof.dropLast()), root: root)
                    }
                }
            }
        }
    }

    /// Property: for sizes up to 300, the tree of m entries is provably a prefix of the
    /// tree of n; a proof fails against a changed old entry, a wrong old root, or sizes
    /// it was not made for.
    @Test func consistencyProofsVerifyAndDetectRewrites() async throws {
        let leaves = (0..<300).map { MerkleTree.leafHash(Array("entry \($0)".utf8)) }
        var roots = [MerkleTree.emptyRoot]
        for n in 1...300 { roots.append(MerkleTree.root(leaves.prefix(n))) }
        var checked = 0
        for n in 1...300 {
            await Task.yield() // shares the cooperative pool (see TestSupport)
            let tree = Array(leaves.prefix(n))
            let olds = n <= 48 ? Array(0...n) : [1, 2, 3, n / 2, n - 1, n]
            for m in olds {
                let proof = try MerkleTree.consistencyProof(oldSize: m, leaves: tree)
                try MerkleTree.verifyConsistency(oldSize: m, newSize: n, oldRoot: roots[m], newRoot: roots[n], proof: proof)
                checked += 1
                guard m > 0, m < n else { continue }
                // A log that rewrote an old entry has a different old root.
                var rewritten = Array(leaves.prefix(m))
                rewritten[m / 2] = MerkleTree.leafHash(Array("forged".utf8))
                #expect(throws: AuditError.self) {
                    try MerkleTree.verifyConsistency(
                        oldSize: m, newSize: n, oldRoot: MerkleTree.root(rewritten), newRoot: roots[n], proof: proof)
                }
                #expect(throws: AuditError.self) {
                    try MerkleTree.verifyConsistency(oldSize: m, newSize: n, oldRoot: roots[m], newRoot: roots[n - 1], proof: proof)
                }
                if m + 1 < n {
                    #expect(throws: AuditError.self) {
                        try MerkleTree.verifyConsistency(oldSize: m + 1, newSize: n, oldRoot: roots[m + 1], newRoot: roots[n], proof: proof)
                    }
                }
            }
        }
        #expect(checked > 1000)
    }
}

@Suite("Signed checkpoints (C2SP)")
struct CheckpointTests {
    let signer = try! NoteSigner(name: "vigil.example/audit", key: Curve25519.Signing.PrivateKey())

    @Test func checkpointRoundTripsThroughASignedNote() throws {
        let cp = Checkpoint(origin: "vigil.example/audit", treeSize: 42, rootHash: ctRoots[7], extensions: ["time 2026-11-24T12:00:00Z"])
        let note = try signer.sign(cp.text)
        #expect(note.hasPrefix("vigil.example/audit\n42\n"))
        #expect(note.contains("\n\n— vigil.example/audit "))
        let text = try signer.verifier.verify(note)
        #expect(try Checkpoint(text: text) == cp)
        // The published key parses back to the same verifier.
        #expect(try signer.verifier.verify(note) == (try NoteVerifier(encoded: signer.verifier.encoded).verify(note)))
    }

    @Test func alteredNoteOrForeignKeyIsRejected() throws {
        let note = try signer.sign(Checkpoint(origin: "o", treeSize: 7, rootHash: ctRoots[6]).text)
        let altered = note.replacingOccurrences(of: "\n7\n", with: "\n8\n")
        #expect(throws: AuditError.signature("signature by vigil.example/audit does not verify: the note was altered")) {
            try signer.verifier.verify(altered)
        }
        let stranger = try NoteSigner(name: "vigil.example/audit", key: Curve25519.Signing.PrivateKey())
        #expect(throws: AuditError.self) { try stranger.verifier.verify(note) }
        #expect(throws: AuditError.self) { try Checkpoint(text: "o\nseven\nAAAA\n") }
        #expect(throws: AuditError.self) { try Checkpoint(text: "o\n7\n\(Data(ctRoots[0]).base64EncodedString())") }
    }
}
