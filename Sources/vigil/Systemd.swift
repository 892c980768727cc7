import Catalog
import CommandSupport
import Foundation
import Logging
import Records
import ServiceLifecycle

/// The systemd notification protocol (sd_notify(3)), for `Type=notify` units
/// (docs/ops/vigil.service): `READY=1` once the server listens, `WATCHDOG=1` every half
/// `WatchdogSec` for as long as the process is healthy, `STOPPING=1` on the way out.
/// Without `NOTIFY_SOCKET` (not under systemd) every call does nothing.
struct SystemdNotifier: Sendable {
    let socketPath: String?

    init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        watchdogInterval = environment["WATCHDOG_USEC"].flatMap(UInt64.init).flatMap { usec in
            usec > 0 ? Duration.microseconds(Int64(clamping: usec / 2)) : nil
        }
    }

    /// Half the watchdog timeout systemd gave, when it gave one.
    let watchdogInterval: Duration?

    /// Sends one datagram to the notification socket: a path, or `@name` in the abstract namespace.
    func notify(_ state: String) {
        guard let socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let message = Array(state.utf8)
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
            }
        }
    }
}

/// Pings systemd's watchdog while the catalog answers: a process whose catalog actor or
/// database is stuck (a deadlock, a disk that no longer completes writes) stops pinging
/// and is restarted by systemd within `WatchdogSec`.
struct WatchdogService: Service {
    let notifier: SystemdNotifier
    let catalog: Catalog
    let logger: Logger

    func run() async throws {
        // Not under a watchdog: wait for shutdown like the others. A service that returns
        // early ends the whole ServiceGroup, server and recorders with it.
        guard let interval = notifier.watchdogInterval else {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    _ = try await catalog.identity()
                    notifier.notify("WATCHDOG=1")
                } catch {
                    logger.error("watchdog: the catalog does not answer: \(error)")
                }
                try? await Task.sleep(for: interval)
            }
        }
    }
}
