import Foundation

/// Offline verification of a stored log against the checkpoints its site signed. Nothing
/// stored beside the entries is trusted: every leaf and root is recomputed from the entry
/// bytes, and every checkpoint's signature is checked against the site's verifier key.
///
/// Each entry's bytes carry their own position (`"seq"`), so what was done to the log can be
/// told apart: a hole in the positions is a deletion, an entry in another's place is a
/// reordering, fewer entries than a signed checkpoint covers is a truncation, and a root
/// that differs while all positions are in place is a modification.
public enum LogVerifier {
    public struct StoredEntry: Sendable {
        /// The position the store files the entry under.
        public var position: Int64
        public var body: [UInt8]

        public init(position: Int64, body: [UInt8]) {
            self.position = position
            self.body = body
        }
    }

    public struct Report: Sendable {
        public var entryCount = 0
        public var checkpointsVerified = 0
        /// The largest signed tree size that matched.
        public var verifiedSize = 0
        /// Entries after the newest checkpoint: consistent, but no signature covers them yet.
        public var uncoveredEntries = 0
        public var problems: [String] = []
        public var passed: Bool { problems.isEmpty }
    }

    /// `checkpoints` are signed notes as the site stored them; `external` is one obtained
    /// elsewhere earlier (published, handed to a court), checked the same way and for
    /// consistency with the log.
    public static func verify(
        entries: [StoredEntry], checkpoints: [String], external: String? = nil,
        witnessed: [(source: String, note: String)] = [], verifier: NoteVerifier
    ) -> Report {
        var report = Report()
        report.entryCount = entries.count
        var structural: [String] = []
        var frontier = MerkleFrontier()
        var roots: [Int: MerkleTree.Hash] = [0: MerkleTree.emptyRoot]
        var wanted = Set<Int>()

        var signed: [(source: String, checkpoint: Checkpoint)] = []
        let sourced = checkpoints.map { ("a stored checkpoint", $0) } + (external.map { [("the given checkpoint", $0)] } ?? []) + witnessed
        for (source, note) in sourced {
            do {
                let checkpoint = try Checkpoint(text: try verifier.verify(note))
                signed.append((source, checkpoint))
                wanted.insert(checkpoint.treeSize)
            } catch {
                report.problems.append("\(source) fails verification: \(error)")
            }
        }

        var expected: Int64 = 0
        for entry in entries {
            // Positions come from the store, which is not trusted: keep them where
            // arithmetic on them cannot overflow.
            guard entry.position >= 0, entry.position < Int64.max / 2 else {
                structural.append("an entry is stored at the impossible position \(entry.position)")
                continue
            }
            if entry.position > expected {
                structural.append(
                    entry.position - expected == 1
                        ? "entry \(expected) is missing: it was deleted from the log"
                        : "entries \(expected)…\(entry.position - 1) are missing: they were deleted from the log")
            } else if entry.position < expected {
                structural.append("entry \(entry.position) is stored twice")
            }
            expected = entry.position + 1
            switch declaredPosition(entry.body) {
            case nil:
                structural.append("entry \(entry.position) is not a well-formed log entry (no \"seq\")")
            case let declared? where declared != entry.position:
                structural.append("entry \(entry.position) holds the entry written as \(declared): entries were reordered")
            default:
                break
            }
            frontier.append(leafHash: MerkleTree.leafHash(entry.body))
            if wanted.contains(frontier.size) { roots[frontier.size] = frontier.root }
        }

        var covered = 0
        var lastGoodSize = 0
        for (source, checkpoint) in signed.sorted(by: { $0.checkpoint.treeSize < $1.checkpoint.treeSize }) {
            guard checkpoint.treeSize <= entries.count else {
                structural.append("log truncated: \(source) signs \(checkpoint.treeSize) entries but the log holds \(entries.count)")
                continue
            }
            report.checkpointsVerified += 1
            covered = max(covered, checkpoint.treeSize)
            if roots[checkpoint.treeSize] == checkpoint.rootHash {
                lastGoodSize = max(lastGoodSize, checkpoint.treeSize)
            } else if structural.isEmpty {
                report.problems.append(
                    """
                    entry modified: the first \(checkpoint.treeSize) entries do not hash to the root \(source) signs \
                    (the change lies in entries \(lastGoodSize)…\(checkpoint.treeSize - 1))
                    """)
            }
        }
        report.problems.insert(contentsOf: structural, at: 0)
        report.verifiedSize = report.problems.isEmpty ? covered : lastGoodSize
        report.uncoveredEntries = entries.count - covered
        return report
    }

    /// The `seq` an entry's JSON body declares.
    static func declaredPosition(_ body: [UInt8]) -> Int64? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else { return nil }
        return (object["seq"] as? NSNumber)?.int64Value
    }
}
