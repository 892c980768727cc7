import Base
import Catalog
import Foundation
import Records
import Synchronization
import TestSupport
import Testing

@testable import Access
@testable import Centre

/// Sign-in under pressure: parallel guesses, an administrator's change in the middle of a
/// sign-in, a flood from one address, a flood wider than bcrypt's threads.
@Suite struct AccountsTests {
    static func policy() -> AccountPolicy {
        var p = AccountPolicy()
        p.bcryptCost = 6
        p.failuresBeforeLock = 5
        return p
    }

    /// What one sign-in ended in, retrying while the server says it is busy.
    static func outcome(_ accounts: Accounts, name: String, password: String, address: String) async -> String {
        for _ in 0..<2000 {
            do {
                _ = try await accounts.signIn(name: name, password: password, address: address, userAgent: "t")
                return "signed in"
            } catch let error as VigilError {
                switch error.code {
                case .busy: try? await Task.sleep(for: .milliseconds(5))
                case .unauthenticated: return "checked"
                case .locked: return "locked"
                case .rateLimited: return "rate limited"
                default: return "\(error)"
                }
            } catch { return "\(error)" }
        }
        return "busy for ten seconds"
    }

    /// Guesses sent all at once, from as many addresses, get no more password checks than
    /// guesses sent one after another: the account is locked after exactly its allowance.
    @Test func parallelWrongPasswordsGetNoMoreChecksThanTheLockoutAllows() async throws {
        try await TestSupport.withCatalog("accounts-parallel") { _, catalog in
            var policy = Self.policy()
            policy.attemptsPerAddress = 1000
            // Time stands still: on a loaded machine the twenty guesses can take longer than
            // the first lock lasts, and a lock that has run out rightly lets a guess through.
            let accounts = Accounts(
                catalog: catalog, policy: policy, hasher: PasswordHasher(threads: 2, maxWaiting: 100),
                clock: .fixed(1_800_000_000_000_000))
            let user = try await accounts.addUser(name: "jan", role: .operator, password: "correct horse battery")
            let outcomes = await withTaskGroup(of: String.self) { group in
                for i in 0..<20 {
                    group.addTask { await Self.outcome(accounts, name: "jan", password: "wrong \(i) xxxxxxxx", address: "10.0.0.\(i)") }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "checked" }.count == policy.failuresBeforeLock, "\(outcomes.sorted())")
            #expect(outcomes.filter { $0 == "locked" }.count == 20 - policy.failuresBeforeLock, "\(outcomes.sorted())")
            #expect(try await catalog.user(id: user.id)?.failedSignIns == policy.failuresBeforeLock)
            #expect(await Self.outcome(accounts, name: "jan", password: "correct horse battery", address: "10.0.0.99") == "locked")
        }
    }

    /// Attempts on one name wait their turn, whether or not the name is an account's: a
    /// refusal or a wait that only accounts got would tell which names exist.
    @Test func parallelAttemptsOnANameSayNothingOfWhetherItExists() async throws {
        try await TestSupport.withCatalog("accounts-oracle") { _, catalog in
            var policy = Self.policy()
            policy.attemptsPerAddress = 1000
            let accounts = Accounts(catalog: catalog, policy: policy, hasher: PasswordHasher(threads: 2, maxWaiting: 100))
            _ = try await accounts.addUser(name: "jan", role: .operator, password: "correct horse battery")
            for name in ["jan", "nobody"] {
                let outcomes = await withTaskGroup(of: String.self) { group in
                    for i in 0..<3 {
                        group.addTask {
                            do {
                                _ = try await accounts.signIn(
                                    name: name, password: "wrong \(i) xxxxxxxx", address: "10.0.1.\(i)", userAgent: "t")
                                return "signed in"
                            } catch let error as VigilError { return "\(error.code)" } catch { return "\(error)" }
                        }
                    }
                    return await group.reduce(into: [String]()) { $0.append($1) }
                }
                #expect(outcomes == Array(repeating: "\(ErrorCode.unauthenticated)", count: 3), "\(name): \(outcomes)")
            }
        }
    }

    /// The same from one address, naming users who do not exist: the address's allowance
    /// is used up by the attempts in flight, not only by those already failed.
    @Test func parallelGuessesFromOneAddressGetNoMoreChecksThanItsAllowance() async throws {
        try await TestSupport.withCatalog("accounts-parallel-address") { _, catalog in
            var policy = Self.policy()
            policy.attemptsPerAddress = 3
            let accounts = Accounts(catalog: catalog, policy: policy, hasher: PasswordHasher(threads: 2, maxWaiting: 100))
            let outcomes = await withTaskGroup(of: String.self) { group in
                for i in 0..<12 {
                    group.addTask { await Self.outcome(accounts, name: "nobody\(i)", password: "guess guess guess", address: "192.0.2.7") }
                }
                return await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == "checked" }.count == 3, "\(outcomes.sorted())")
            #expect(outcomes.filter { $0 == "rate limited" }.count == 9, "\(outcomes.sorted())")
            // A success takes its count back: colleagues at one address do not use it up.
            _ = try await accounts.addUser(name: "ola", role: .operator, password: "correct horse battery")
            for _ in 0..<5 {
                #expect(await Self.outcome(accounts, name: "ola", password: "correct horse battery", address: "192.0.2.8") == "signed in")
            }
        }
    }

    @Test func aSignInNeverUndoesAnAdministratorsChange() async throws {
        try await TestSupport.withCatalog("accounts-stale") { _, catalog in
            let hasher = PasswordHasher()
            let accounts = Accounts(catalog: catalog, policy: Self.policy(), hasher: hasher)
            let user = try await accounts.addUser(name: "ewa", role: .operator, password: "correct horse battery")
            // The administrator acts while a password check is under way: the check waits
            // on the hashing thread until the change is made. One sign-in at a time, so
            // each has read the row before the change.
            func duringCheck(_ password: String, address: String, change: () async throws -> Void) async throws -> IssuedSession? {
                let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
                hasher.setBeforeEach {
                    entered.signal()
                    release.wait()
                    release.signal()
                }
                defer { hasher.setBeforeEach(nil) }
                let attempt = Task { try? await accounts.signIn(name: "ewa", password: password, address: address, userAgent: "t") }
                await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                    DispatchQueue.global().async {
                        entered.wait()
                        done.resume()
                    }
                }
                try await change()
                release.signal()
                return await attempt.value
            }
            // A correct password, while the account is disabled and its role changed.
            let session = try await duringCheck("correct horse battery", address: "10.0.0.2") {
                try await catalog.setUserDisabled(id: user.id, true)
                try await catalog.setUserRole(id: user.id, Role.investigator.rawValue)
            }
            var after = try #require(try await catalog.user(id: user.id))
            #expect(after.disabled && after.role == Role.investigator.rawValue, "the sign-in wrote back a stale row")
            #expect(session == nil, "a session was issued to an account disabled during its sign-in")
            // A wrong password, while the account is enabled again with another role.
            _ = try await duringCheck("wrong password xx", address: "10.0.0.1") {
                try await catalog.setUserDisabled(id: user.id, false)
                try await catalog.setUserRole(id: user.id, Role.supervisor.rawValue)
            }
            after = try #require(try await catalog.user(id: user.id))
            #expect(!after.disabled && after.role == Role.supervisor.rawValue, "the failed sign-in wrote back a stale row")
            #expect(after.failedSignIns == 1)
        }
    }

    @Test func oneAddressIsRefusedAfterItsFailuresWhateverTheNames() async throws {
        try await TestSupport.withCatalog("accounts-address") { _, catalog in
            var policy = Self.policy()
            policy.attemptsPerAddress = 3
            let accounts = Accounts(catalog: catalog, policy: policy)
            _ = try await accounts.addUser(name: "ola", role: .operator, password: "correct horse battery")
            for name in ["nobody", "admin", "root"] {
                await #expect(throws: VigilError(.unauthenticated, "unknown user or wrong password")) {
                    try await accounts.signIn(name: name, password: "guess guess guess", address: "192.0.2.7", userAgent: "t")
                }
            }
            do {
                _ = try await accounts.signIn(name: "ola", password: "correct horse battery", address: "192.0.2.7", userAgent: "t")
                Issue.record("the address was not refused after its failures")
            } catch let error as VigilError {
                guard case let .rateLimited(seconds, _) = error.code else {
                    Issue.record("\(error)")
                    return
                }
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
                    do { return try await hasher.verify("correct horse battery", hash: hash) ? "checked" : "wrong" } catch let error
                        as VigilError
                    {
                        if case .busy = error.code { return "busy" }
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

    /// An IPv6 address is counted on its own and with its /64 (at ten times the limit):
    /// one station's failures do not lock out its neighbours, a client hopping across its
    /// /64 is still stopped. Past the slots tracked at once, new ones share one count,
    /// refused together rather than let through.
    @Test func anIPv6AddressCountsAloneAndWithItsSixtyFour() throws {
        #expect(AttemptLimiter.slots(for: "2001:DB8:1:2:aaaa::1").map(\.slot) == ["2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"])
        #expect(AttemptLimiter.slots(for: "::ffff:192.0.2.9").map(\.slot) == ["192.0.2.9"])
        #expect(AttemptLimiter.slots(for: "192.0.2.9").map(\.slot) == ["192.0.2.9"])
        let now: Int64 = 1_000_000_000
        let limiter = AttemptLimiter(limit: 3)
        for _ in 1...3 { limiter.fail("2001:db8:1:2::1", now: now) }
        #expect(throws: VigilError.self) { try limiter.admit("2001:db8:1:2::1", now: now) }
        try limiter.admit("2001:db8:1:2::2", now: now) // a neighbour on the same /64
        for host in 3...29 { limiter.fail("2001:db8:1:2::\(host)", now: now) } // 30 failures on the /64
        #expect(throws: VigilError.self) { try limiter.admit("2001:db8:1:2::99", now: now) }
        try limiter.admit("2001:db8:1:3::1", now: now)

        let full = AttemptLimiter(limit: 3)
        for n in 0..<10_000 { full.fail("10.\(n >> 16).\((n >> 8) & 0xFF).\(n & 0xFF)", now: now) }
        for n in 0..<30 { full.fail("172.16.0.\(n)", now: now) } // not tracked: the shared slot counts them
        do {
            try full.admit("172.16.9.9", now: now)
            Issue.record("an untracked address was let through")
        } catch let error as VigilError {
            #expect(error.code == .rateLimited(retryAfterSeconds: 60, slot: "addresses beyond the tracked ones"), "\(error)")
        }
        try full.admit("10.0.0.1", now: now) // a tracked address keeps its own count
    }

    @Test func aPasswordWithANulIsRefusedNotCutShort() async throws {
        try await TestSupport.withCatalog("accounts-nul") { _, catalog in
            let accounts = Accounts(catalog: catalog, policy: Self.policy())
            await #expect(throws: VigilError.self) {
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
            let entry = AuditEntry(action: .grantAdd, result: .ok, user: "admin", detail: "user ola: live")

            // The change fails (here: the name was taken in between): no entry.
            struct Refused: Error {}
            await #expect(throws: Refused.self) {
                _ = try await trail.append(entry, with: { () async throws -> Int in throw Refused() })
            }
            #expect(await trail.size == 0)

            // The entry cannot go where it was meant to (another process appended first):
            // the change is rolled back with it, then made once more with the entry after the
            // other one. A change made twice would leave two grant rows.
            let other = AuditEntry(action: .serverStart, result: .ok, detail: "written beside the server")
            var stored = other
            stored.seq = 0
            try await catalog.appendAudit([AuditRow(seq: 0, body: try stored.encoded())])
            let (position, _) = try await trail.append(
                entry,
                with: {
                    try await catalog.addGrant(GrantRecord(userID: user.id, permission: "live", cameraID: nil))
                    return 0
                })
            #expect(position == 1)
            #expect(try await catalog.grants(userID: user.id).count == 1)
            #expect(try await catalog.auditEntries().count == 2)
        }
    }
}

extension AuditedChangeTests {
    /// An entry built from its change's result names what the change made, also when the
    /// first try lost its position to another writer and the change was made once more.
    @Test func anEntryBuiltFromItsChangeNamesWhatTheStoredChangeMade() async throws {
        try await TestSupport.withCatalog("audited-change-entry") { dir, catalog in
            let trail = try await Self.trail(dir, catalog)
            var other = AuditEntry(action: .serverStart, result: .ok, detail: "written beside the server")
            other.seq = 0
            try await catalog.appendAudit([AuditRow(seq: 0, body: try other.encoded())])
            // Each run of the change names itself: the entry must name the run that was kept.
            let runs = Mutex(0)
            let (position, made) = try await trail.append(
                with: { () async throws -> (camera: CameraRecord, run: Int) in
                    let run = runs.withLock { count in
                        count += 1
                        return count
                    }
                    let camera = try await catalog.addCamera(
                        CameraRecord(id: 0, name: "gate-\(run)", url: "rtsp://192.0.2.1/", retentionDays: 30))
                    return (camera, run)
                },
                entry: {
                    AuditEntry(action: .cameraAdd, result: .ok, camera: $0.camera.id, cameraName: $0.camera.name, detail: "run \($0.run)")
                })
            #expect(position == 1)
            #expect(runs.withLock { $0 } == 2, "the first run lost its position and was rolled back")
            #expect(try await catalog.cameras().map(\.name) == ["gate-2"], "the change was made twice or not kept")
            let stored = try AuditEntry.decode(try #require(try await catalog.auditEntries(from: 1).first).body)
            #expect(stored.camera == made.camera.id && stored.cameraName == "gate-2" && stored.detail == "run 2" && stored.seq == 1)
        }
    }
}

/// Refusals an anonymous client can repeat at will are counted, not each logged.
@Suite struct RepeatedRefusalTests {
    static func refusal(_ name: String, from address: String) -> AuditEntry {
        AuditEntry(action: .signIn, result: .denied, user: name, address: address, detail: "too many failed sign-ins")
    }

    static func key(_ address: String) -> AuditTrail.RepeatKey {
        AuditTrail.RepeatKey(action: .signIn, reason: "too many failures from this address", subject: "address \(address)")
    }

    static func details(_ catalog: Catalog) async throws -> [String] {
        try await catalog.auditEntries().map { try AuditEntry.decode($0.body).detail ?? "" }
    }

    /// Refusals the log accounts for: each full entry, and each summary's count.
    static func accountedFor(_ details: [String]) -> Int {
        details.reduce(0) { total, detail in
            guard detail.contains(" refused") else { return total + 1 }
            return total + (Int(detail.prefix { $0.isNumber }) ?? 0)
        }
    }

    /// A window clock the test moves; starts at an arbitrary instant.
    final class TestClock: Sendable {
        private let micros = Mutex<Int64>(5_000_000_000)
        var now: Int64 { micros.withLock { $0 } }
        func advance(_ by: Int64) { micros.withLock { $0 += by } }
    }

    static func frozenClock(_ trail: AuditTrail) async -> TestClock {
        let clock = TestClock()
        await trail.setRepeatClock { clock.now }
        return clock
    }

    @Test func aWindowThatEndsIsSummarisedAndTheNextRefusalOpensANewOne() async throws {
        try await TestSupport.withCatalog("repeat-window") { dir, catalog in
            let trail = try await AuditedChangeTests.trail(dir, catalog)
            let now = await Self.frozenClock(trail)
            for i in 0..<5 {
                try await trail.appendRepeatable(Self.refusal("u\(i)", from: "10.0.0.1"), key: Self.key("10.0.0.1"))
                now.advance(10_000_000) // 10 s apart: all within the first minute
            }
            #expect(await trail.size == 1)
            now.advance(AuditTrail.repeatWindowMicros)
            try await trail.appendRepeatable(Self.refusal("late", from: "10.0.0.1"), key: Self.key("10.0.0.1"))
            let details = try await Self.details(catalog)
            #expect(details.count == 3, "\(details)")
            #expect(
                details[1].hasPrefix("4 more refused the same way as entry 0 (too many failures from this address; address 10.0.0.1)"),
                "\(details[1])")
            #expect(details[1].contains("user names in them: 4: u1, u2, u3, u4"), "\(details[1])")
            let summary = try AuditEntry.decode(try await catalog.auditEntries()[1].body)
            #expect(summary.address == "10.0.0.1" && summary.user == nil, "four names were tried: the summary names none")
            #expect(details[2] == "too many failed sign-ins", "a new window starts with a full entry")
            // The checkpoint writes nothing for a window without repeats.
            _ = try await trail.checkpoint()
            #expect(await trail.size == 3)
        }
    }

    @Test func aCheckpointWritesTheCountsAndKeepsTheWindowOpen() async throws {
        try await TestSupport.withCatalog("repeat-checkpoint") { dir, catalog in
            let trail = try await AuditedChangeTests.trail(dir, catalog)
            _ = await Self.frozenClock(trail)
            for _ in 0..<3 { try await trail.appendRepeatable(Self.refusal("a", from: "10.0.0.2"), key: Self.key("10.0.0.2")) }
            _ = try await trail.checkpoint()
            for _ in 0..<2 { try await trail.appendRepeatable(Self.refusal("a", from: "10.0.0.2"), key: Self.key("10.0.0.2")) }
            _ = try await trail.checkpoint()
            let details = try await Self.details(catalog)
            // One full entry for the window, then one summary per checkpoint.
            #expect(details.count == 3, "\(details)")
            #expect(details[1].hasPrefix("2 more") && details[2].hasPrefix("2 more"), "\(details)")
            let second = try AuditEntry.decode(try await catalog.auditEntries()[2].body)
            #expect(second.user == "a", "one name was tried: the summary names it")
        }
    }

    @Test func concurrentRefusalsAsAWindowEndsAreEachAccountedForOnce() async throws {
        try await TestSupport.withCatalog("repeat-concurrent") { dir, catalog in
            let trail = try await AuditedChangeTests.trail(dir, catalog)
            let now = await Self.frozenClock(trail)
            try await trail.appendRepeatable(Self.refusal("first", from: "10.0.0.3"), key: Self.key("10.0.0.3"))
            for _ in 0..<9 { try await trail.appendRepeatable(Self.refusal("early", from: "10.0.0.3"), key: Self.key("10.0.0.3")) }
            now.advance(AuditTrail.repeatWindowMicros)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<50 {
                    group.addTask {
                        try await trail.appendRepeatable(Self.refusal("late-\(i)", from: "10.0.0.3"), key: Self.key("10.0.0.3"))
                    }
                }
                try await group.waitForAll()
            }
            _ = try await trail.checkpoint()
            let details = try await Self.details(catalog)
            #expect(Self.accountedFor(details) == 60, "\(details)")
            #expect(details.count == 4, "first entry, its summary, the new window's entry, its summary: \(details)")
        }
    }

    @Test func manyAddressesAtOnceFallIntoOneCatchAll() async throws {
        try await TestSupport.withCatalog("repeat-cap") { dir, catalog in
            let trail = try await AuditedChangeTests.trail(dir, catalog)
            _ = await Self.frozenClock(trail)
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
            #expect(Self.accountedFor(details) == 3 * 512)
            let catchAll = try #require(details.first { $0.contains("any (more than 256 kinds at once)") })
            #expect(catchAll.hasPrefix("\(3 * 256 - 1) more") && catchAll.contains("from 100+ addresses"), "\(catchAll)")
        }
    }
}

/// A user's own password change is made only while the password proven is still theirs.
@Suite struct OwnPasswordChangeTests {
    @Test func aResetBetweenTheCheckAndTheChangeWins() async throws {
        try await TestSupport.withCatalog("own-password") { _, catalog in
            let accounts = Accounts(catalog: catalog, policy: AccountsTests.policy())
            let user = try await accounts.addUser(name: "ewa", role: .operator, password: "correct horse battery")
            let change = try await accounts.preparePasswordChange(
                userID: user.id, current: "correct horse battery", new: "her own new secret")
            // An administrator resets the password before the change is applied.
            try await accounts.prepareEdit(userID: user.id, password: "administrator's one", oneTime: true, by: nil).apply(to: catalog)
            await #expect(throws: VigilError.self) { try await change.apply(to: catalog) }
            #expect(try await catalog.user(id: user.id)?.mustChangePassword == true, "the reset stands")

            let again = try await accounts.preparePasswordChange(userID: user.id, current: "administrator's one", new: "her own new secret")
            try await accounts.setDisabled(userID: user.id, true)
            await #expect(throws: VigilError.self) { try await again.apply(to: catalog) }
        }
    }
}
