import Foundation
@testable import Server
import Testing

/// Requests built to trap the server: each must get a 4xx and leave the server answering.
@Suite(.serialized) struct HostileRequestTests {
    @Test func rangeEndingAtInt64MaxIsClampedToTheFile() {
        #expect(PlaybackRoutes.parseRange("bytes=0-9223372036854775807", size: 1000) == .partial(0..<1000))
        #expect(PlaybackRoutes.parseRange("bytes=999-9223372036854775807", size: 1000) == .partial(999..<1000))
        #expect(PlaybackRoutes.parseRange("bytes=-9223372036854775807", size: 1000) == .partial(0..<1000))
        #expect(PlaybackRoutes.parseRange("bytes=1000-9223372036854775807", size: 1000) == .unsatisfiable)
        #expect(PlaybackRoutes.parseRange("bytes=0-99999999999999999999", size: 1000) == .whole)
    }

    @Test func auditProofsWithImpossibleSizesAnswer400AndTheServerLivesOn() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin)
            for query in ["inclusion?index=0&size=-1", "inclusion?index=0&size=0", "inclusion?index=-1&size=1",
                          "inclusion?index=5&size=2", "inclusion?index=0&size=9223372036854775807",
                          "consistency?from=-2&to=-1", "consistency?from=0&to=0", "consistency?from=-1&to=1",
                          "consistency?from=1&to=9223372036854775807"] {
                let reply = try await h.request("GET", "/api/audit/proof/\(query)", session: admin)
                #expect(reply.status == 400, "\(query) answered \(reply.status)")
                #expect(reply.json?["error"] is String, "\(query) gave no reason")
            }
            #expect(try await h.request("GET", "/api/audit/proof/inclusion?index=0&size=1", session: admin).status == 200)
        }
    }
}
