import Audit
import Crypto
import Foundation
import Testing

@Suite struct LogVerifierTests {
    let signer = try! NoteSigner(name: "test-site", key: Curve25519.Signing.PrivateKey())

    func entry(_ seq: Int, _ text: String = "") -> [UInt8] {
        Array("{\"action\":\"live.start\(text)\",\"seq\":\(seq)}".utf8)
    }

    /// A log of `n` entries with checkpoints signed at `sizes`.
    func log(_ n: Int, checkpointsAt sizes: [Int]) throws -> ([LogVerifier.StoredEntry], [String]) {
        let bodies = (0..<n).map { entry($0) }
        let leaves = bodies.map { MerkleTree.leafHash($0) }
        let notes = try sizes.map {
            try signer.sign(Checkpoint(origin: "test-site/audit", treeSize: $0, rootHash: MerkleTree.root(Array(leaves.prefix($0)))).text)
        }
        return (bodies.enumerated().map { LogVerifier.StoredEntry(position: Int64($0.offset), body: $0.element) }, notes)
    }

    @Test func frontierRootMatchesTheRecursiveDefinitionForEverySize() {
        var frontier = MerkleFrontier()
        var leaves: [MerkleTree.Hash] = []
        #expect(frontier.root == MerkleTree.emptyRoot)
        for i in 0..<300 {
            let leaf = MerkleTree.leafHash(Array("leaf \(i)".utf8))
            leaves.append(leaf)
            frontier.append(leafHash: leaf)
            #expect(frontier.root == MerkleTree.root(leaves), "size \(leaves.count)")
        }
    }

    @Test func anIntactLogPasses() throws {
        let (entries, notes) = try log(40, checkpointsAt: [10, 25, 40])
        let report = LogVerifier.verify(entries: entries, checkpoints: notes, verifier: signer.verifier)
        #expect(report.passed, "\(report.problems)")
        #expect(report.checkpointsVerified == 3 && report.verifiedSize == 40 && report.uncoveredEntries == 0)
    }

    @Test func eachKindOfTamperingFailsWithItsOwnMessage() throws {
        let (entries, notes) = try log(40, checkpointsAt: [10, 25, 40])
        func problems(_ e: [LogVerifier.StoredEntry], external: String? = nil) -> String {
            let r = LogVerifier.verify(entries: e, checkpoints: notes, external: external, verifier: signer.verifier)
            #expect(!r.passed)
            return r.problems.joined(separator: "\n")
        }
        var modified = entries
        modified[17].body = entry(17, "x")
        let m = problems(modified)
        #expect(m.contains("entry modified") && m.contains("entries 10…24"), "\(m)")

        var deleted = entries
        deleted.remove(at: 17)
        #expect(problems(deleted).contains("entry 17 is missing: it was deleted"))

        var reordered = entries
        (reordered[5].body, reordered[6].body) = (reordered[6].body, reordered[5].body)
        let r = problems(reordered)
        #expect(r.contains("entries were reordered") && r.contains("entry 5 holds the entry written as 6"), "\(r)")

        let truncated = Array(entries.prefix(30))
        #expect(problems(truncated).contains("log truncated"))

        // An earlier checkpoint kept elsewhere catches a log rewritten together with its stored checkpoints.
        let (rewritten, rewrittenNotes) = try log(12, checkpointsAt: [12])
        var forged = rewritten
        forged[3].body = entry(3, "forged")
        let forgedNotes = try [
            signer.sign(
                Checkpoint(
                    origin: "test-site/audit", treeSize: 12,
                    rootHash: MerkleTree.root(forged.map { MerkleTree.leafHash($0.body) })
                ).text)
        ]
        let kept = rewrittenNotes[0]
        let report = LogVerifier.verify(entries: forged, checkpoints: forgedNotes, external: kept, verifier: signer.verifier)
        #expect(report.problems.contains { $0.contains("entry modified") && $0.contains("the given checkpoint") })

        // A checkpoint signed by another key is reported, not trusted.
        let other = try NoteSigner(name: "test-site", key: Curve25519.Signing.PrivateKey())
        let foreign = try other.sign(Checkpoint(origin: "test-site/audit", treeSize: 40, rootHash: MerkleTree.emptyRoot).text)
        #expect(problems(entries, external: foreign).contains("the given checkpoint fails verification"))
    }
}
