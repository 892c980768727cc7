import Crypto

/// RFC 9162 §2.1 Merkle tree hashing and proofs over a list of leaf hashes.
///
/// Proof generation here recomputes subtree hashes from the leaf hashes (O(n) per proof);
/// that suits verification tools and logs of moderate size. A log store that serves
/// proofs for millions of entries keeps the interior hashes instead; the verification
/// functions are the same.
public enum MerkleTree {
    public typealias Hash = [UInt8]

    /// RFC 9162 §2.1.1: MTH({d(0)}) = SHA-256(0x00 ‖ d(0)).
    public static func leafHash(_ entry: some Sequence<UInt8>) -> Hash {
        var h = SHA256()
        h.update(data: [0x00])
        h.update(data: Array(entry))
        return Array(h.finalize())
    }

    /// RFC 9162 §2.1.1: SHA-256(0x01 ‖ left ‖ right).
    public static func nodeHash(_ left: Hash, _ right: Hash) -> Hash {
        var h = SHA256()
        h.update(data: [0x01])
        h.update(data: left)
        h.update(data: right)
        return Array(h.finalize())
    }

    /// MTH of the empty list: SHA-256 of nothing.
    public static let emptyRoot: Hash = Array(SHA256.hash(data: [UInt8]()))

    /// The largest power of two strictly less than `n` (n ≥ 2): where RFC 9162 splits.
    static func split(_ n: Int) -> Int {
        precondition(n >= 2)
        var k = 1
        while k << 1 < n { k <<= 1 }
        return k
    }

    /// MTH(D[n]) from leaf hashes.
    public static func root(_ leaves: ArraySlice<Hash>) -> Hash {
        switch leaves.count {
        case 0: return emptyRoot
        case 1: return leaves.first!
        default:
            let k = split(leaves.count)
            return nodeHash(root(leaves.prefix(k)), root(leaves.dropFirst(k)))
        }
    }

    public static func root(_ leaves: [Hash]) -> Hash { root(leaves[...]) }

    /// PATH(m, D[n]), RFC 9162 §2.1.3.1.
    public static func inclusionProof(index m: Int, leaves: [Hash]) throws -> [Hash] {
        guard m >= 0, m < leaves.count else { throw AuditError.invalidProof("index \(m) outside a tree of \(leaves.count)") }
        return path(m, leaves[...])
    }

    static func path(_ m: Int, _ d: ArraySlice<Hash>) -> [Hash] {
        guard d.count > 1 else { return [] }
        let k = split(d.count)
        if m < k { return path(m, d.prefix(k)) + [root(d.dropFirst(k))] }
        return path(m - k, d.dropFirst(k)) + [root(d.prefix(k))]
    }

    /// PROOF(m, D[n]), RFC 9162 §2.1.4.1.
    public static func consistencyProof(oldSize m: Int, leaves: [Hash]) throws -> [Hash] {
        guard m >= 0, m <= leaves.count else { throw AuditError.invalidProof("old size \(m) exceeds new size \(leaves.count)") }
        guard m > 0, m < leaves.count else { return [] }
        return subproof(m, leaves[...], true)
    }

    static func subproof(_ m: Int, _ d: ArraySlice<Hash>, _ b: Bool) -> [Hash] {
        if m == d.count { return b ? [] : [root(d)] }
        let k = split(d.count)
        if m <= k { return subproof(m, d.prefix(k), b) + [root(d.dropFirst(k))] }
        return subproof(m - k, d.dropFirst(k), false) + [root(d.prefix(k))]
    }

    /// RFC 9162 §2.1.3.2: verifies that `leafHash` is entry `index` of the tree of
    /// `treeSize` entries whose root is `root`.
    public static func verifyInclusion(index: Int, treeSize: Int, leafHash: Hash, proof: [Hash], root: Hash) throws {
        guard index >= 0, index < treeSize else { throw AuditError.invalidProof("index \(index) outside a tree of \(treeSize)") }
        var fn = index, sn = treeSize - 1
        var r = leafHash
        for p in proof {
            guard sn != 0 else { throw AuditError.invalidProof("inclusion proof is longer than the tree is deep") }
            if fn & 1 == 1 || fn == sn {
                r = nodeHash(p, r)
                if fn & 1 == 0 {
                    repeat {
                        fn >>= 1
                        sn >>= 1
                    } while fn & 1 == 0 && fn != 0
                }
            } else {
                r = nodeHash(r, p)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw AuditError.invalidProof("inclusion proof is shorter than the tree is deep") }
        guard r == root else { throw AuditError.rootMismatch(expected: root, computed: r) }
    }

    /// RFC 9162 §2.1.4.2: verifies that the tree of `oldSize` entries with root `oldRoot`
    /// is a prefix of the tree of `newSize` entries with root `newRoot`.
    public static func verifyConsistency(oldSize: Int, newSize: Int, oldRoot: Hash, newRoot: Hash, proof: [Hash]) throws {
        guard oldSize >= 0, oldSize <= newSize else { throw AuditError.invalidProof("old size \(oldSize) exceeds new size \(newSize)") }
        if oldSize == newSize {
            guard proof.isEmpty else { throw AuditError.invalidProof("proof between equal sizes must be empty") }
            guard oldRoot == newRoot else { throw AuditError.rootMismatch(expected: newRoot, computed: oldRoot) }
            return
        }
        if oldSize == 0 {
            guard proof.isEmpty else { throw AuditError.invalidProof("proof from the empty tree must be empty") }
            return
        }
        guard !proof.isEmpty else { throw AuditError.invalidProof("empty consistency proof") }
        var path = proof
        if oldSize & (oldSize - 1) == 0 { path.insert(oldRoot, at: 0) }
        var fn = oldSize - 1, sn = newSize - 1
        while fn & 1 == 1 {
            fn >>= 1
            sn >>= 1
        }
        var fr = path[0], sr = path[0]
        for c in path.dropFirst() {
            guard sn != 0 else { throw AuditError.invalidProof("consistency proof is too long") }
            if fn & 1 == 1 || fn == sn {
                fr = nodeHash(c, fr)
                sr = nodeHash(c, sr)
                if fn & 1 == 0 {
                    repeat {
                        fn >>= 1
                        sn >>= 1
                    } while fn & 1 == 0 && fn != 0
                }
            } else {
                sr = nodeHash(sr, c)
            }
            fn >>= 1
            sn >>= 1
        }
        guard sn == 0 else { throw AuditError.invalidProof("consistency proof is too short") }
        guard fr == oldRoot else { throw AuditError.rootMismatch(expected: oldRoot, computed: fr) }
        guard sr == newRoot else { throw AuditError.rootMismatch(expected: newRoot, computed: sr) }
    }
}
