import Audit
import Base
import Catalog
import Foundation
import Integrity
import Records

/// Signed heads of the cameras' segment chains: a C2SP signed note in the checkpoint
/// form (origin `<site>/chain/<camera id>`, size = links, hash = the last link), signed
/// with the site's Ed25519 key like the audit log's checkpoints. A head pins the chain up
/// to its position: whoever rewrites the chain below it, or cuts it short, cannot sign a
/// matching head without the site key.
public enum ChainHeads {
    public static func origin(site: String, cameraID: Int64) -> String { ChainHead.origin(site: site, cameraID: cameraID) }

    /// Signs the camera's current chain head unless it is signed already.
    @discardableResult
    public static func sign(
        catalog: Catalog, signer: NoteSigner, site: String, cameraID: Int64,
        clock: WallClock = .system
    ) async throws -> ChainHeadRecord? {
        guard let last = try await catalog.lastChainLink(cameraID: cameraID) else { return nil }
        if let head = try await catalog.latestChainHead(cameraID: cameraID), head.position >= last.position { return nil }
        let text = ChainHead.text(site: site, cameraID: cameraID, position: last.position, link: last.link)
        let head = ChainHeadRecord(
            cameraID: cameraID, position: last.position, note: try signer.sign(text), signedMicros: clock.nowMicros())
        try await catalog.addChainHead(head)
        return head
    }

    /// Signs every camera's head that moved; returns how many were signed.
    @discardableResult
    public static func signAll(catalog: Catalog, signer: NoteSigner, site: String, clock: WallClock = .system) async throws -> Int {
        var signed = 0
        for camera in try await catalog.cameras()
        where try await sign(catalog: catalog, signer: signer, site: site, cameraID: camera.id, clock: clock) != nil {
            signed += 1
        }
        return signed
    }

    /// Checks a signed head against a camera's chain: the signature, the origin, and that
    /// the link at the head's position is the one signed (`Integrity.ChainHead.problem`).
    public static func verify(
        head note: String, cameraID: Int64, links: [ChainLinkRecord], verifier: NoteVerifier,
        cameraName: String
    ) -> String? {
        let byPosition = Dictionary(links.map { ($0.position, $0.link) }, uniquingKeysWith: { first, _ in first })
        return ChainHead.problem(note: note, cameraID: cameraID, verifier: verifier, chainEnd: links.last?.position) {
            byPosition[$0]
        }.map { "camera \(cameraName): \($0)" }
    }

    /// Every stored head of every camera, checked against the chain.
    public static func verifyAll(catalog: Catalog, verifier: NoteVerifier) async throws -> (heads: Int, problems: [String]) {
        var count = 0
        var problems: [String] = []
        for camera in try await catalog.cameras() {
            let links = try await catalog.chainLinks(cameraID: camera.id)
            for head in try await catalog.chainHeads(cameraID: camera.id) {
                count += 1
                if let problem = verify(head: head.note, cameraID: camera.id, links: links, verifier: verifier, cameraName: camera.name) {
                    problems.append(problem)
                }
            }
        }
        return (count, problems)
    }
}
