import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// Runs bcrypt away from everything else: on its own threads (never the shared
/// `NIOThreadPool.singleton`, where the recorders' writes and syncs and SQLite run), with
/// a bounded number of hashes waiting. A sign-in flood therefore costs sign-ins, never a
/// second of recording: beyond `maxWaiting`, a request is refused at once
/// (`CentreError.busy`) instead of queueing work. Before this, 200 sign-ins for unknown
/// users, 50 at a time, cost every camera a 27-29 s recording gap (issue 13).
public final class PasswordHasher: Sendable {
    private let pool: NIOThreadPool
    private let inFlight = Mutex(0)
    public let maxWaiting: Int

    /// `threads` hash at once; at most `maxWaiting` more wait for a thread.
    public init(threads: Int = 1, maxWaiting: Int = 16) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
        self.maxWaiting = threads + maxWaiting
    }

    public func hash(_ password: String, cost: UInt8) async throws -> String {
        try await run { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await run { Bcrypt.verify(password, hash: hash) }
    }

    private func run<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
        let admitted = inFlight.withLock { n -> Bool in
            guard n < maxWaiting else { return false }
            n += 1
            return true
        }
        guard admitted else {
            throw CentreError(.busy(retryAfterSeconds: 1), "too many sign-ins are being checked at once; try again in a moment")
        }
        defer { inFlight.withLock { $0 -= 1 } }
        return try await pool.runIfActive(work)
    }
}

/// Failed sign-ins per address in a sliding window: an address with `limit` failures in
/// the last `window` is refused before any bcrypt runs, whichever user names it tries.
/// Successful sign-ins do not count, so a control room's stations behind one address are
/// not locked out by their own colleagues.
public final class AttemptLimiter: Sendable {
    public let limit: Int
    public let windowMicros: Int64
    private let failures = Mutex<[String: [Int64]]>([:])

    public init(limit: Int = 10, windowSeconds: Int64 = 60) {
        self.limit = limit
        self.windowMicros = windowSeconds * 1_000_000
    }

    static let refusal = "too many failed sign-ins from this address"

    /// Throws `CentreError.locked` with the seconds until the oldest failure in the
    /// window expires, when `address` has used up its failures.
    public func admit(_ address: String, now: Int64) throws {
        let retry: Int64? = failures.withLock { table in
            let recent = table[address, default: []].filter { now - $0 < windowMicros }
            table[address] = recent.isEmpty ? nil : recent
            guard recent.count >= limit else { return nil }
            return (recent[0] + windowMicros - now + 999_999) / 1_000_000
        }
        if let retry {
            throw CentreError(.locked(retryAfterSeconds: Int(max(1, retry))),
                              "\(Self.refusal); try again in \(max(1, retry)) s")
        }
    }

    /// Counts a failed attempt from `address`.
    public func fail(_ address: String, now: Int64) {
        failures.withLock { table in
            // Bounded: addresses whose failures have all expired are dropped first.
            if table.count >= 10_000 { table = table.filter { $0.value.last.map { now - $0 < windowMicros } ?? false } }
            guard table.count < 10_000 || table[address] != nil else { return }
            table[address, default: []].append(now)
            if table[address]!.count > limit { table[address]!.removeFirst() }
        }
    }
}
