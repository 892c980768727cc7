import Audit
import Base
import Crypto
import Integrity
import Testing

@Suite struct IntegrityTests {
    static func content(_ seed: UInt8) -> ChainLinkContent {
        ChainLinkContent(
            cameraID: 7, position: 3, startMicros: 1_764_590_000_000_000, duration90k: 5_400_000, frameCount: 1500,
            byteCount: 15_000_000, sha256: [UInt8](repeating: seed, count: 32),
            metaSHA256: [UInt8](repeating: seed &+ 1, count: 32), previousLink: [UInt8](repeating: seed &+ 2, count: 32))
    }

    /// A link commits to every field: changing any one of them, by one unit or one bit,
    /// changes the link.
    @Test func aLinkChangesWithEveryFieldItCommitsTo() {
        let base = Self.content(9)
        var variants: [ChainLinkContent] = []
        for change in 0..<9 {
            var c = base
            switch change {
            case 0: c.cameraID += 1
            case 1: c.position += 1
            case 2: c.startMicros += 1
            case 3: c.duration90k += 1
            case 4: c.frameCount += 1
            case 5: c.byteCount += 1
            case 6: c.sha256[31] ^= 1
            case 7: c.metaSHA256[0] ^= 0x80
            default: c.previousLink[16] ^= 4
            }
            variants.append(c)
        }
        let links = Set(([base] + variants).map { hex($0.link) })
        #expect(links.count == 10)
        #expect(base.link.count == 32 && base.link == Self.content(9).link)
        // The meta hash separates the codec from the parameter sets it is followed by.
        #expect(
            ChainLinkContent.metaHash(codec: "H264", parameterSets: [[1]], sampleIndex: [])
                != ChainLinkContent.metaHash(codec: "H264\u{1}", parameterSets: [[]], sampleIndex: []))
    }

    /// A signed head verifies only with the site's key, for its own camera, against the
    /// link it signed, where the chain still reaches.
    @Test func aSignedHeadIsCheckedForKeyCameraPositionAndLink() throws {
        let signer = try NoteSigner(name: "site", key: Curve25519.Signing.PrivateKey())
        let other = try NoteSigner(name: "site", key: Curve25519.Signing.PrivateKey())
        let links: [Int64: [UInt8]] = [0: Self.content(1).link, 1: Self.content(2).link]
        let note = try signer.sign(ChainHead.text(site: "site", cameraID: 7, position: 1, link: links[1]!))
        func problem(_ note: String, camera: Int64 = 7, _ chain: [Int64: [UInt8]] = links) -> String? {
            ChainHead.problem(note: note, cameraID: camera, verifier: signer.verifier, chainEnd: chain.keys.max()) { chain[$0] }
        }
        #expect(problem(note) == nil)
        #expect(
            problem(try other.sign(ChainHead.text(site: "site", cameraID: 7, position: 1, link: links[1]!)))?
                .contains("fails verification") == true)
        #expect(problem(note, camera: 8)?.contains("names another chain") == true)
        #expect(problem(note, [0: links[0]!])?.contains("truncated") == true)
        #expect(problem(note, [0: links[0]!, 1: links[0]!])?.contains("rewritten") == true)
    }
}
