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
    /// For tests: runs on the hashing thread before each hash or check, so a test can act
    /// while one is under way without guessing how long bcrypt takes.
    private let beforeEach = Mutex<(@Sendable () -> Void)?>(nil)
    func setBeforeEach(_ hook: (@Sendable () -> Void)?) { beforeEach.withLock { $0 = hook } }

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
        let hook = beforeEach.withLock { $0 }
        return try await pool.runIfActive {
            hook?()
            return work()
        }
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

    /// Addresses tracked at once. Past this, addresses not yet tracked share one slot, so a
    /// flood from more addresses than that is refused together rather than let through.
    static let maxTracked = 10_000
    static let overflowSlot = "(addresses beyond the tracked ones)"

    /// What `address` is counted as: an IPv4 address itself, an IPv6 address by its /64
    /// (one host holds a whole /64 and can use any address in it).
    public static func slot(for address: String) -> String {
        guard address.contains(":") else { return address }
        var bytes = [UInt8](repeating: 0, count: 16)
        let text = address.split(separator: "%", maxSplits: 1).first.map(String.init) ?? address
        guard inet_pton(AF_INET6, text, &bytes) == 1 else { return address }
        // An IPv4 address carried in IPv6 (::ffff:a.b.c.d) is that IPv4 address.
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return bytes[12..<16].map(String.init).joined(separator: ".")
        }
        return stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
    }

    private func key(for address: String, in table: [String: [Int64]]) -> String {
        let slot = Self.slot(for: address)
        return table[slot] != nil || table.count < Self.maxTracked ? slot : Self.overflowSlot
    }

    /// Throws `CentreError.rateLimited` with the seconds until the oldest failure in the
    /// window expires, when `address` has used up its failures.
    public func admit(_ address: String, now: Int64) throws {
        let retry: Int64? = failures.withLock { table in
            let key = key(for: address, in: table)
            let recent = table[key, default: []].filter { now - $0 < windowMicros }
            table[key] = recent.isEmpty ? nil : recent
            guard recent.count >= limit else { return nil }
            return (recent[0] + windowMicros - now + 999_999) / 1_000_000
        }
        if let retry {
            throw CentreError(.rateLimited(retryAfterSeconds: Int(max(1, retry))),
                              "too many failed sign-ins from this address; try again in \(max(1, retry)) s")
        }
    }

    /// Counts a failed attempt from `address`.
    public func fail(_ address: String, now: Int64) {
        failures.withLock { table in
            // Bounded: addresses whose failures have all expired are dropped first.
            if table.count >= Self.maxTracked { table = table.filter { $0.value.last.map { now - $0 < windowMicros } ?? false } }
            let key = key(for: address, in: table)
            table[key, default: []].append(now)
            if table[key]!.count > limit { table[key]!.removeFirst() }
        }
    }
}
