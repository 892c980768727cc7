import Base
import Foundation
import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// Runs bcrypt away from everything else: on its own threads (never the shared
/// `NIOThreadPool.singleton`, where the recorders' writes and syncs and SQLite run), with
/// a bounded number of hashes waiting. A sign-in flood therefore costs sign-ins, never a
/// second of recording: beyond `maxWaiting`, a request is refused at once
/// (`VigilError.busy`) instead of queueing work. Before this, 200 sign-ins for unknown
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

    static let busyMessage = "too many sign-ins are being checked at once; try again in a moment"

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
        guard admitted else { throw VigilError(.busy(retryAfterSeconds: 1), Self.busyMessage) }
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
/// not locked out by their own colleagues. An IPv6 address is counted twice: on its own
/// at `limit`, and with its /64 at ten times that (a client can hop across its /64, and a
/// site's stations share one, so the network's limit is the higher one).
public final class AttemptLimiter: Sendable {
    public let limit: Int
    public let windowMicros: Int64
    private let failures = Mutex<[String: [Int64]]>([:])

    public init(limit: Int = 10, windowSeconds: Int64 = 60) {
        self.limit = limit
        self.windowMicros = windowSeconds * 1_000_000
    }

    /// Slots tracked at once. Past this, slots not yet tracked share one, with the
    /// network's limit: a flood from more addresses than that (more than the default
    /// single bcrypt thread can even check in a window) is refused together, not let through.
    static let maxTracked = 10_000
    static let overflowSlot = "addresses beyond the tracked ones"

    /// What `address` is counted as: itself, and for IPv6 also its /64. An IPv4 address
    /// carried in IPv6 (::ffff:a.b.c.d) is that IPv4 address.
    public static func slots(for address: String) -> [(slot: String, network: Bool)] {
        guard address.contains(":") else { return [(address, false)] }
        var bytes = [UInt8](repeating: 0, count: 16)
        let text = address.split(separator: "%", maxSplits: 1).first.map(String.init) ?? address
        guard inet_pton(AF_INET6, text, &bytes) == 1 else { return [(address, false)] }
        if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
            return [(bytes[12..<16].map(String.init).joined(separator: "."), false)]
        }
        let network =
            stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":") + "::/64"
        return [(text.lowercased(), false), (network, true)]
    }

    /// The slots `address` counts in now, each with its limit.
    private func keys(for address: String, in table: [String: [Int64]]) -> [(key: String, limit: Int)] {
        var keys: [(key: String, limit: Int)] = []
        for (slot, network) in Self.slots(for: address) {
            let key =
                table[slot] != nil || table.count < Self.maxTracked
                ? (slot, network ? limit * 10 : limit) : (Self.overflowSlot, limit * 10)
            if !keys.contains(where: { $0.key == key.0 }) { keys.append(key) }
        }
        return keys
    }

    /// Admits an attempt from `address`, or throws `VigilError.rateLimited` with the
    /// seconds until the oldest failure in the window expires when a slot of `address` has
    /// used up its failures. An admitted attempt is counted as a failure at once, before its
    /// password is checked: attempts in flight together use up the limit as surely as
    /// failed ones, so parallel guesses cannot slip past it while bcrypt runs. A sign-in
    /// that spends no guess takes its count back with `takeBack`.
    @discardableResult
    public func admit(_ address: String, now: Int64) throws -> Admission {
        let (refused, admission): ((slot: String, retry: Int64)?, Admission) = failures.withLock { table in
            let keys = keys(for: address, in: table)
            for (key, limit) in keys {
                let recent = table[key, default: []].filter { now - $0 < windowMicros }
                table[key] = recent.isEmpty ? nil : recent
                if recent.count >= limit {
                    return ((key, (recent[recent.count - limit] + windowMicros - now + 999_999) / 1_000_000), Admission(keys: [], at: now))
                }
            }
            count(now, in: &table, keys: keys)
            return (nil, Admission(keys: keys.map(\.key), at: now))
        }
        guard let refused else { return admission }
        let seconds = Int(max(1, refused.retry))
        let source =
            refused.slot == Self.overflowSlot
            ? "from addresses beyond those the server tracks"
            : refused.slot.hasSuffix("/64") ? "from this network (\(refused.slot))" : "from this address"
        throw VigilError(
            .rateLimited(retryAfterSeconds: seconds, slot: refused.slot),
            "too many failed sign-ins \(source); try again in \(seconds) s")
    }

    /// An admitted attempt: the slots it was counted in, and when.
    public struct Admission: Sendable {
        let keys: [String]
        let at: Int64
    }

    /// Takes back the count of an admitted attempt that did not spend a guess: its password
    /// was right (whether or not its session could then be stored), or it was refused
    /// before its password was checked (a busy server, a locked account).
    public func takeBack(_ admission: Admission) {
        failures.withLock { table in
            for key in admission.keys {
                guard var times = table[key], let i = times.lastIndex(of: admission.at) else { continue }
                times.remove(at: i)
                table[key] = times.isEmpty ? nil : times
            }
        }
    }

    /// Counts a failed attempt from `address` that was not admitted through `admit`.
    public func fail(_ address: String, now: Int64) {
        failures.withLock { table in count(now, in: &table, keys: keys(for: address, in: table)) }
    }

    private func count(_ now: Int64, in table: inout [String: [Int64]], keys: [(key: String, limit: Int)]) {
        // Bounded: slots whose failures have all expired are dropped first.
        if table.count >= Self.maxTracked { table = table.filter { $0.value.last.map { now - $0 < windowMicros } ?? false } }
        for (key, limit) in keys {
            table[key, default: []].append(now)
            if table[key]!.count > limit { table[key]!.removeFirst() }
        }
    }
}
