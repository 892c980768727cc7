import Access
import Base
import Catalog
import Centre
import Foundation
import Records
import SQLKit
import TestSupport
import Testing

/// A change and the audit entry that records it are stored together or not at all, also
/// where the entry names what the change made (a camera's id, an exhibit's number, a
/// token's id, a session). The audit store is made to refuse every entry (a trigger), and
/// the change must then not have happened.
@Suite struct AtomicWriteTests {
    static func refuseAuditEntries(_ catalog: Catalog) async throws {
        try await catalog.database.raw(
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_entries BEGIN SELECT RAISE(ABORT, 'injected: the log refuses'); END"
        ).run()
    }

    static func acceptAuditEntries(_ catalog: Catalog) async throws {
        try await catalog.database.raw("DROP TRIGGER refuse_audit").run()
    }

    static func count(_ table: String, _ catalog: Catalog) async throws -> Int {
        let rows = try await catalog.database.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").all()
        return try rows[0].decode(column: "n", as: Int.self)
    }

    static func lastEntry(_ catalog: Catalog) async throws -> AuditEntry {
        try AuditEntry.decode(try #require(try await catalog.latestAuditEntries(limit: 1, before: nil).first).body)
    }

    @Test func aCameraIsAddedOnlyWithItsEntry() async throws {
        try await ServerHarness.with { h in
            let admin = try await h.signIn(.admin)
            let before = try await h.catalog.cameras().count
            try await Self.refuseAuditEntries(h.catalog)
            let camera: [String: Any] = ["name": "north", "url": "rtsp://192.0.2.7/stream"]
            let refused = try await h.request("POST", "/api/cameras", session: admin, json: camera)
            #expect(refused.status == 500)
            #expect(try await h.catalog.cameras().count == before, "a camera was added without its camera.add entry")
            try await Self.acceptAuditEntries(h.catalog)
            let added = try await h.request("POST", "/api/cameras", session: admin, json: camera)
            #expect(added.status == 201)
            let id = try #require(added.json?["id"] as? Int)
            let entry = try await Self.lastEntry(h.catalog)
            #expect(entry.action == AuditAction.cameraAdd.rawValue && entry.camera == Int64(id) && entry.cameraName == "north")
        }
    }

    @Test func aSessionIsOpenedOnlyWithItsEntry() async throws {
        try await ServerHarness.with { h in
            try await Self.refuseAuditEntries(h.catalog)
            let reply = try await h.request(
                "POST", "/api/session", json: ["username": "u-operator", "password": ServerHarness.password])
            #expect(reply.status == 500)
            #expect(reply.headers["set-cookie"] == nil)
            #expect(try await Self.count("sessions", h.catalog) == 0, "a session was opened without its sign-in entry")
            try await Self.acceptAuditEntries(h.catalog)
            _ = try await h.signIn(.operator)
            #expect(try await Self.count("sessions", h.catalog) == 1)
            #expect(try await Self.lastEntry(h.catalog).action == AuditAction.signIn.rawValue)
        }
    }

    @Test func aTokenIsIssuedOnlyWithItsEntryAndRevokedEvenWithout() async throws {
        try await ServerHarness.with { h in
            let session = try await h.signIn(.operator)
            let user = try #require(try await h.catalog.user(named: "u-operator"))
            try await Self.refuseAuditEntries(h.catalog)
            let refused = try await h.request("POST", "/api/tokens", session: session, json: ["name": "wall"])
            #expect(refused.status == 500)
            #expect(try await h.catalog.apiTokens(userID: user.id).isEmpty, "a token was stored without its token.issue entry")
            try await Self.acceptAuditEntries(h.catalog)
            let issued = try await h.request("POST", "/api/tokens", session: session, json: ["name": "wall"])
            #expect(issued.status == 201)
            let id = try #require((issued.json?["id"] as? String).flatMap { Int64($0) })
            #expect(try await Self.lastEntry(h.catalog).detail?.hasPrefix("token \(id) ") == true)

            // Taking access away does not wait for the log: a leaked token is revoked even
            // while the log refuses (the failure goes to the server's log).
            let entries = try await Self.count("audit_entries", h.catalog)
            #expect(try await h.request("DELETE", "/api/tokens/\(id + 1)", session: session).status == 404)
            #expect(try await Self.count("audit_entries", h.catalog) == entries, "an entry for revoking a token that is not theirs")
            try await Self.refuseAuditEntries(h.catalog)
            #expect(try await h.request("DELETE", "/api/tokens/\(id)", session: session).status == 204)
            #expect(try await h.catalog.apiTokens(userID: user.id).first?.revoked == true)
            try await Self.acceptAuditEntries(h.catalog)

            // An administrator's revocation: one transaction with its entry, which names the token.
            let second = try await h.request("POST", "/api/tokens", session: session, json: ["name": "spare"])
            let spare = try #require((second.json?["id"] as? String).flatMap { Int64($0) })
            let admin = try await h.signIn(.admin)
            #expect(try await h.request("DELETE", "/api/users/\(user.id)/tokens/\(spare + 1)", session: admin).status == 404)
            #expect(try await h.request("DELETE", "/api/users/\(user.id)/tokens/\(spare)", session: admin).status == 204)
            #expect(try await h.catalog.apiTokens(userID: user.id).allSatisfy(\.revoked))
            #expect(try await Self.lastEntry(h.catalog).detail == "token \(spare) of user u-operator")
            let third = try await h.request("POST", "/api/tokens", session: session, json: ["name": "third"])
            let last = try #require((third.json?["id"] as? String).flatMap { Int64($0) })
            try await Self.refuseAuditEntries(h.catalog)
            #expect(try await h.request("DELETE", "/api/users/\(user.id)/tokens/\(last)", session: admin).status == 204)
            #expect(try await h.catalog.apiTokens(userID: user.id).allSatisfy(\.revoked), "kept because the log refused")
        }
    }

    @Test func aSignOutEndsTheSessionEvenWhenTheLogRefuses() async throws {
        try await ServerHarness.with { h in
            let first = try await h.signIn(.operator)
            #expect(try await h.request("DELETE", "/api/session", session: first).status == 204)
            #expect(try await Self.count("sessions", h.catalog) == 0)
            #expect(try await Self.lastEntry(h.catalog).action == AuditAction.signOut.rawValue)
            let second = try await h.signIn(.operator)
            try await Self.refuseAuditEntries(h.catalog)
            let reply = try await h.request("DELETE", "/api/session", session: second)
            #expect(reply.status == 204 && reply.headers["set-cookie"]?.contains("Max-Age=0") == true)
            #expect(try await Self.count("sessions", h.catalog) == 0, "a session outlived its sign-out because the log refused")
        }
    }

    @Test func aPasswordChangesFreshSessionIsSignedInWithItsEntry() async throws {
        try await ServerHarness.with { h in
            let session = try await h.signIn(.operator)
            let reply = try await h.request(
                "POST", "/api/session/password", session: session,
                json: ["current": ServerHarness.password, "new": "a new passphrase for the shift"])
            #expect(reply.status == 200)
            #expect(try await Self.count("sessions", h.catalog) == 1)
            let entry = try await Self.lastEntry(h.catalog)
            #expect(entry.action == AuditAction.signIn.rawValue && entry.detail == "a fresh session after the password change")
        }
    }

    @Test func anExhibitIsRegisteredOnlyWithItsCreatedEventAndEntry() async throws {
        try await ServerHarness.with { h in
            let investigator = try await h.signIn(.investigator)
            let investigatorID = try #require(try await h.catalog.user(named: "u-investigator")).id
            try await h.env.accounts.setGrant(
                GrantRecord(userID: investigatorID, permission: "register-evidence", cameraID: h.cameraID), granted: true, by: nil)
            let now = Date()
            let body: [String: Any] = [
                "requestingBody": "police", "caseReference": "RSD-1/26", "purpose": "assault at the gate",
                "ranges": [
                    [
                        "camera": h.cameraID, "from": ISO8601DateFormatter().string(from: now.addingTimeInterval(-600)),
                        "to": ISO8601DateFormatter().string(from: now.addingTimeInterval(-60))
                    ]
                ]
            ]
            try await Self.refuseAuditEntries(h.catalog)
            let refused = try await h.request("POST", "/api/evidence", session: investigator, json: body)
            #expect(refused.status == 500)
            #expect(try await h.catalog.evidenceItems().isEmpty, "an exhibit was registered without its created event and entry")
            #expect(try await Self.count("custody_events", h.catalog) == 0)
            try await Self.acceptAuditEntries(h.catalog)
            let created = try await h.request("POST", "/api/evidence", session: investigator, json: body)
            #expect(created.status == 201, "\(String(decoding: created.body, as: UTF8.self))")
            let item = try #require(try await h.catalog.evidenceItems().first)
            #expect(try await h.catalog.custody(evidenceID: item.id).map(\.kind) == [CustodyKind.created.rawValue])
            #expect(try await Self.lastEntry(h.catalog).detail?.hasPrefix("exhibit \(item.exhibit):") == true)
        }
    }

    /// A right password whose session cannot be stored spends no guess; a wrong one the
    /// catalog cannot record keeps its count, so the address is still limited.
    @Test func onlyAGuessKnownToBeRightIsGivenBack() async throws {
        try await ServerHarness.with { h in
            let limit = AccountPolicy().attemptsPerAddress
            try await Self.refuseAuditEntries(h.catalog)
            for _ in 0..<(limit + 2) {
                let reply = try await h.request(
                    "POST", "/api/session", json: ["username": "u-operator", "password": ServerHarness.password])
                #expect(reply.status == 500, "a right password while the log refuses: \(reply.status)")
            }
            try await Self.acceptAuditEntries(h.catalog)
            _ = try await h.signIn(.operator)

            // Wrong guesses whose failure count cannot be written (the count's column refuses).
            try await h.catalog.database.raw(
                """
                CREATE TRIGGER refuse_count BEFORE UPDATE OF failed_sign_ins ON users
                BEGIN SELECT RAISE(ABORT, 'injected: no count'); END
                """
            ).run()
            var statuses: [Int] = []
            for _ in 0..<(limit + 1) {
                statuses.append(
                    try await h.request("POST", "/api/session", json: ["username": "u-guard-duty", "password": "wrong guess"]).status)
            }
            #expect(statuses.prefix(limit).allSatisfy { $0 == 500 } && statuses.last == 429, "\(statuses)")
        }
    }

    @Test func aFailedSignInIsCountedOnlyWithTheLockItEarns() async throws {
        try await ServerHarness.with { h in
            let user = try #require(try await h.catalog.user(named: "u-operator"))
            let threshold = AccountPolicy().failuresBeforeLock
            for _ in 1..<threshold {
                let reply = try await h.request("POST", "/api/session", json: ["username": "u-operator", "password": "wrong guess"])
                #expect(reply.status == 401)
            }
            #expect(try await h.catalog.user(id: user.id)?.failedSignIns == threshold - 1)
            // The failure that must lock the account cannot set the lock: it is not counted either.
            try await h.catalog.database.raw(
                """
                CREATE TRIGGER refuse_lock BEFORE UPDATE OF locked_until_micros ON users
                BEGIN SELECT RAISE(ABORT, 'injected: no lock'); END
                """
            ).run()
            let reply = try await h.request("POST", "/api/session", json: ["username": "u-operator", "password": "wrong guess"])
            #expect(reply.status == 500)
            let after = try #require(try await h.catalog.user(id: user.id))
            #expect(after.failedSignIns == threshold - 1, "counted past the threshold with the account unlocked")
            try await h.catalog.database.raw("DROP TRIGGER refuse_lock").run()
            _ = try await h.request("POST", "/api/session", json: ["username": "u-operator", "password": "wrong guess"])
            let locked = try #require(try await h.catalog.user(id: user.id))
            #expect(locked.failedSignIns == threshold && locked.lockedUntilMicros > 0)
        }
    }
}
