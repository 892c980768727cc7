import Access
import Base
import Foundation
import Synchronization
import Testing

@testable import PTZ

final class ManualClock: Sendable {
    let elapsed = Mutex<Duration>(.zero)
    func read() -> Duration { elapsed.withLock { $0 } }
    func advance(_ by: Duration) { elapsed.withLock { $0 += by } }
}

func arbiter(_ clock: ManualClock) -> ControlArbiter {
    ControlArbiter(
        monotonic: { clock.read() }, wall: { Date(timeIntervalSince1970: 1_800_000_000) + Double(clock.read().components.seconds) })
}

let anna = Controller.user(id: 1, name: "Anna", role: .operator)!
let bartek = Controller.user(id: 2, name: "Bartek", role: .operator)!
let guardOfficer = Controller.user(id: 3, name: "Celina", role: .guardDuty)!
let police = Controller.user(id: 4, name: "Dariusz", role: .policeDuty)!

@Suite("PTZ: control leases and priorities")
struct ArbiterTests {
    @Test func theCityOrderIsPoliceThenGuardThenSupervisorThenOperatorThenTour() {
        let order = [Role.policeDuty, .guardDuty, .supervisor, .operator].compactMap(ControlPriority.init(role:)) + [.tour]
        #expect(order == order.sorted(by: >) && Set(order).count == 5)
        #expect(ControlPriority(role: .admin) == nil && ControlPriority(role: .court) == nil)
    }

    @Test func anEqualPriorityIsRefusedWithWhoHoldsItAndUntilWhen() async throws {
        let clock = ManualClock(), arbiter = arbiter(clock)
        let lease = try await arbiter.acquire(camera: 7, for: anna)
        #expect(lease.until == Date(timeIntervalSince1970: 1_800_000_030))
        let error = try await #require(throws: VigilError.self) { try await arbiter.acquire(camera: 7, for: bartek) }
        #expect(error.code == .conflict)
        #expect(error.message.contains("Anna (operator)") && error.message.contains("until"))
        // Another camera is free.
        _ = try await arbiter.acquire(camera: 8, for: bartek)
    }

    @Test func eachCommandRenewsTheLeaseAndIdlenessReleasesIt() async throws {
        let clock = ManualClock(), arbiter = arbiter(clock)
        _ = try await arbiter.acquire(camera: 7, for: anna)
        clock.advance(.seconds(20))
        _ = try await arbiter.acquire(camera: 7, for: anna)
        clock.advance(.seconds(20))
        #expect(await arbiter.lease(of: 7)?.holder == anna) // 40 s after the first, 20 after the renewal
        clock.advance(.seconds(10))
        #expect(await arbiter.lease(of: 7) == nil)
        _ = try await arbiter.acquire(camera: 7, for: bartek)
    }

    @Test func aHigherPriorityTakesOverAndTheLoserIsToldOnce() async throws {
        let clock = ManualClock(), arbiter = arbiter(clock)
        let events = await arbiter.events()
        _ = try await arbiter.acquire(camera: 7, for: anna)
        _ = try await arbiter.acquire(camera: 7, for: police)
        let told = try await #require(throws: VigilError.self) { try await arbiter.acquire(camera: 7, for: anna) }
        #expect(told.message.contains("Dariusz (police duty officer) took over"))
        // The guard officer, lower than police, is refused too.
        await #expect(throws: VigilError.self) { try await arbiter.acquire(camera: 7, for: guardOfficer) }
        var iterator = events.makeAsyncIterator()
        #expect(await iterator.next() == .taken(camera: 7, holder: anna, from: nil))
        #expect(await iterator.next() == .taken(camera: 7, holder: police, from: anna))
        // Once the police officer lets go, Anna may take it again.
        #expect(await arbiter.release(camera: 7, by: police.identity))
        #expect(await iterator.next() == .released(camera: 7, by: police))
        _ = try await arbiter.acquire(camera: 7, for: anna)
    }

    @Test func aTourGivesWayToAnyoneAndTakesNothingFromThem() async throws {
        let clock = ManualClock(), arbiter = arbiter(clock)
        let tour = Controller.tour(id: 3)
        _ = try await arbiter.acquire(camera: 7, for: tour)
        _ = try await arbiter.acquire(camera: 7, for: anna)
        let refused = try await #require(throws: VigilError.self) { try await arbiter.acquire(camera: 7, for: tour) }
        #expect(refused.message.contains("Anna"))
        // An operator is told only that a tour held it, never which.
        #expect(tour.shown == "the automatic tour")
    }

    @Test func releaseAllGivesBackEveryCameraOfThatUserAndOnlyThose() async throws {
        let clock = ManualClock(), arbiter = arbiter(clock)
        _ = try await arbiter.acquire(camera: 1, for: anna)
        _ = try await arbiter.acquire(camera: 2, for: anna)
        _ = try await arbiter.acquire(camera: 3, for: bartek)
        #expect(await arbiter.release(camera: 3, by: anna.identity) == false)
        await arbiter.releaseAll(by: anna.identity)
        #expect(await arbiter.lease(of: 1) == nil)
        #expect(await arbiter.lease(of: 2) == nil)
        #expect(await arbiter.lease(of: 3)?.holder == bartek)
    }
}
