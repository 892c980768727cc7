import Catalog
import Centre
import Foundation
import Synchronization
import Testing
import TestSupport

/// Sign-in under pressure: parallel guesses, an administrator's change in the middle of a
/// sign-in, a flood from one address, a flood wider than bcrypt's threads.
@Suite struct AccountsTests {
    static func policy() -> AccountPolicy {
        var p = AccountPolicy()
        p.bcryptCost = 6
        p.failuresBeforeLock = 5
        return p
    }

    @Test func parallelWrongPasswordsEachCountTowardTheLockout() async throws {
        try await TestSupport.withCatalog("accounts-parallel") { _, catalog in
            var policy = Self.policy()
            policy.attemptsPerAddress = 1000
            let accounts = Accounts(catalog: catalog, policy: policy, hasher: PasswordHasher(threads: 2, maxWaiting: 100))
            let user = try await accounts.addUser(name: "jan", role: .operator, password: "correct horse battery")
            await withTaskGroup(of: Void.self) { group in
                for i in 0..<4 {
                    group.addTask { _ = try? await accounts.signIn(name: "jan", password: "wrong \(i) xxxxxxxx", address: "10.0.0.\(i)", userAgent: "t") }
                }
            }
            #expect(try await catalog.user(id: user.id)?.failedSignIns == 4)
            // The fifth locks the account, whoever asks next.
            _ = try? await accounts.signIn(name: "jan", password: "wrong again xxxxx", address: "10.0.0.9", userAgent: "t")
            do {
                _ = try await accounts.signIn(name: "jan", password: "correct horse battery", address: "10.0.0.9", userAgent: "t")
                Issue.record("a locked account signed in")
            } catch let error as CentreError {
                guard case .locked = error.kind else { Issue.record("\(error)"); return }
            }
        }
    }

    @Test func aSignInNeverUndoesAnAdministratorsChange() async throws {
        try await TestSupport.withCatalog("accounts-stale") { _, catalog in
            var policy = Self.policy()
            policy.bcryptCost = 10 // long enough for the administrator to act during the check
            let accounts = Accounts(catalog: catalog, policy: policy)
            let user = try await accounts.addUser(name: "ewa", role: .operator, password: "correct horse battery")
            let failing = Task { try? await accounts.signIn(name: "ewa", password: "wrong password xx", address: "10.0.0.1", userAgent: "t") }
            let succeeding = Task { try? await accounts.signIn(name: "ewa", password: "correct horse battery", address: "10.0.0.2", userAgent: "t") }
            try await Task.sleep(for: .milliseconds(20))
            try await catalog.setUserDisabled(id: user.id, true)
            try await catalog.setUserRole(id: user.id, Role.investigator.rawValue)
            _ = await failing.value
            let session = await succeeding.value
            let after = try #require(try await catalog.user(id: user.id))
            #expect(after.disabled && after.role == Role.investigator.rawValue, "the sign-in wrote back a stale row")
            #expect(session == nil, "a session was issued to an account disabled during its sign-in")
        }
    }

    @Test func oneAddressIsRefusedAfterItsFailuresWhateverTheNames() async throws {
        try await TestSupport.withCatalog("accounts-address") { _, catalog in
            var policy = Self.policy()
            policy.attemptsPerAddress = 3
            let accounts = Accounts(catalog: catalog, policy: policy)
            _ = try await accounts.addUser(name: "ola", role: .operator, password: "correct horse battery")
            for name in ["nobody", "admin", "root"] {
                await #expect(throws: CentreError(.unauthenticated, "unknown user or wrong password")) {
                    try await accounts.signIn(name: name, password: "guess guess guess", address: "192.0.2.7", userAgent: "t")
                }
            }
            do {
                _ = try await accounts.signIn(name: "ola", password: "correct horse battery", address: "192.0.2.7", userAgent: "t")
                Issue.record("the address was not refused after its failures")
            } catch let error as CentreError {
                guard case let .locked(seconds) = error.kind else { Issue.record("\(error)"); return }
                #expect((1...60).contains(seconds))
            }
            // Another address is not affected.
            _ = try await accounts.signIn(name: "ola", password: "correct horse battery", address: "192.0.2.8", userAgent: "t")
        }
    }

    @Test func aFloodWiderThanBcryptsThreadsIsRefusedNotQueued() async throws {
        let hasher = PasswordHasher(threads: 1, maxWaiting: 2)
        let hash = try await hasher.hash("correct horse battery", cost: 10)
        let outcomes = await withTaskGroup(of: String.self) { group in
            for _ in 0..<12 {
                group.addTask {
                    do { return try await hasher.verify("correct horse battery", hash: hash) ? "checked" : "wrong" } catch let error as CentreError {
                        if case .busy = error.kind { return "busy" }
                        return "\(error)"
                    } catch { return "\(error)" }
                }
            }
            return await group.reduce(into: [String]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 == "busy" }.count >= 9 - 1, "\(outcomes)")
        #expect(outcomes.filter { $0 == "checked" }.count >= 1, "\(outcomes)")
        #expect(Set(outcomes).isSubset(of: ["busy", "checked"]), "\(outcomes)")
    }

    @Test func aPasswordWithANulIsRefusedNotCutShort() async throws {
        try await TestSupport.withCatalog("accounts-nul") { _, catalog in
            let accounts = Accounts(catalog: catalog, policy: Self.policy())
            await #expect(throws: CentreError.self) {
                try await accounts.addUser(name: "nul", role: .operator, password: "a\u{0}bcdefghijklmn")
            }
        }
    }
}

/// An account change and the audit entry that records it are one transaction.
@Suite struct AuditedChangeTests {
    static func trail(_ dir: String, _ catalog: Catalog) async throws -> AuditTrail {
        let keys = try SiteKeys.loadOrCreate(directory: dir + "/keys", siteName: "test")
        return try await AuditTrail(catalog: catalog, signer: keys.signer, origin: "test/audit")
    }

    @Test func aChangeThatFailsLeavesNoEntryAndAnEntryThatFailsLeavesNoChange() async throws {
        try await TestSupport.withCatalog("audited-change") { dir, catalog in
            let trail = try await Self.trail(dir, catalog)
            let accounts = Accounts(catalog: catalog, policy: AccountsTests.policy())
            let user = try await accounts.addUser(name: "ola", role: .operator, password: "correct horse battery")
            let entry = AuditEntry(action: "grant.add", result: "ok", user: "admin", detail: "user ola: live")

            // The change fails (here: the name was taken in between): no entry.
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                _ = try await trail.append(entry, with: { () async throws -> Int in throw Refused() })
            }
            #expect(await trail.size == 0)

            // The entry cannot go where it was meant to (another process appended first):
            // the change is rolled back with it, then made once more with the entry after the
            // other one. A change made twice would leave two grant rows.
            let other = AuditEntry(action: "other.process", result: "ok", detail: "written beside the server")
            var stored = other
            stored.seq = 0
            try await catalog.appendAudit([AuditRow(seq: 0, body: try stored.encoded())])
            let (position, _) = try await trail.append(entry, with: {
                try await catalog.addGrant(GrantRecord(userID: user.id, permission: "live", cameraID: nil))
                return 0
            })
            #expect(position == 1)
            #expect(try await catalog.grants(userID: user.id).count == 1)
            #expect(try await catalog.auditEntries().count == 2)
        }
    }
}

/// Refusals an anonymous client can repeat at will are counted, not each logged.
@Suite struct RepeatedRefusalTests {
    static func refusal(_ name: String, from address: String) -> AuditEntry {
        AuditEntry(action: "session.sign-in", result: "denied", user: name, address: address, detail: "too many failed sign-ins")
    }

    static func key(_ address: String) -> AuditTrail.RepeatKey {
        AuditTrail.RepeatKey(action: "session.sign-in", reason: "too many failures from this address", subject: "address \(address)")
    }

    static func details(_ catalog: Catalog) async throws -> [String] {
        try await catalog.auditEntries().map { try AuditEntry.decode($0.body).detail ?? "" }
    }

    @Test func aWindowThatEndsIsSummarisedAndTheNextRefusalOpensANewOne() async throws {
        try await TestSupport.withCatalog("repeat-window") { dir, catalog in
            let trail = try await AuditedChangeTests.trail(dir, catalog)
            let now = Mutex<Int64>(1_800_000_000_000_000)
            await trail.setRepeatClock { now.withLock { $0 } }
            for i in 0..<5 {
                try await trail.appendRepeatable(Self.refusal("u\(i)", from: "10.0.0.1"), key: Self.key("10.0.0.1"))
                now.withLock { $0 += 10_000_000 } // 10 s apart: all within the first minute
            }
            #expect(await trail.size == 1)
            now.withLock { $0 += AuditTrail.repeatWindowMicros }
            try await trail.appendRepeatable(Self.refusal("late", from: "10.0.0.1"), key: Self.key("10.0.0.1"))
            let details = try await Self.details(catalog)
            #expect(details.count == 3, "\(details)")
            #expect(details[1].hasPrefix("4 more refused the same way as entry 0") && details[1].contains("5 user names tried: u0, u1, u2, u3, u4"),
                    "\(details[1])")
            #expect(details[2] == "too many failed sign-ins", "a new window starts with a full entry")
            // The checkpoint writes nothing for a window without repeats.
            _ = try await trail.checkpoint()
            #expect(await trail.size == 3)
        }
    }

    @Test func manyAddressesAtOnceFallIntoOneCatchAll() async throws {
        try await TestSupport.withCatalog("repeat-cap") { dir, catalog in
            let trail = try await AuditedChangeTests.trail(dir, catalog)
            // Twice as many addresses as kinds counted at once, each refused three times.
            for round in 0..<3 {
                for a in 0..<512 {
                    let address = "10.0.\(a / 256).\(a % 256)"
                    try await trail.appendRepeatable(Self.refusal("r\(round)", from: address), key: Self.key(address))
                }
            }
            // 256 addresses opened windows, one catch-all took the rest.
            #expect(await trail.size == 257)
            _ = try await trail.checkpoint()
            let details = try await Self.details(catalog)
            #expect(details.count == 257 + 257)
            let catchAll = try #require(details.first { $0.contains("any (more than 256 kinds at once)") })
            #expect(catchAll.hasPrefix("\(3 * 256 - 1) more"), "\(catchAll)")
        }
    }
}

