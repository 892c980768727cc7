/// The right edge of an RFC 9162 tree: the roots of its perfect subtrees, largest first.
/// Appending is amortised O(1) and the root is O(log n), so a log never re-hashes its
/// history to sign a checkpoint. MTH(D[n]) = node(p₁, node(p₂, … pₖ)) where p₁…pₖ are the
/// perfect subtrees given by n's binary digits, because RFC 9162 always splits at the
/// largest power of two below n.
public struct MerkleFrontier: Sendable, Equatable {
    /// (height, hash) of each perfect subtree, left to right.
    private var subtrees: [(height: Int, hash: MerkleTree.Hash)] = []
    public private(set) var size = 0

    public init() {}

    public mutating func append(leafHash: MerkleTree.Hash) {
        subtrees.append((0, leafHash))
        size += 1
        while subtrees.count >= 2, subtrees[subtrees.count - 1].height == subtrees[subtrees.count - 2].height {
            let right = subtrees.removeLast(), left = subtrees.removeLast()
            subtrees.append((left.height + 1, MerkleTree.nodeHash(left.hash, right.hash)))
        }
    }

    public var root: MerkleTree.Hash {
        guard var acc = subtrees.last?.hash else { return MerkleTree.emptyRoot }
        for s in subtrees.dropLast().reversed() { acc = MerkleTree.nodeHash(s.hash, acc) }
        return acc
    }

    public static func == (a: MerkleFrontier, b: MerkleFrontier) -> Bool {
        a.size == b.size && a.subtrees.elementsEqual(b.subtrees) { $0.height == $1.height && $0.hash == $1.hash }
    }
}
