// Dispatching — telling the services of what operators report, and never losing a
// notification (docs/design/dispatch.md): the recipients as the city has them and which
// categories go to whom (`DispatchDesk`), the outbox written in the incident's own
// transaction, the `Dispatcher` that delivers it at least once with an idempotency key
// (back-off, escalation, the incident's status moved by "Vigil dispatch"), and the
// channels: the duty officers' consoles, e-mail (`SMTPClient`, STARTTLS) and a signed
// webhook (`Webhook`).
//
// What belongs here: dispatch's rules and services, and the two network clients that
// deliver. What does not: the register itself (Incidents), HTTP routes and the console's
// push (Server), SQL (Catalog's DispatchTables).

import Base

/// Dispatch's limits.
public enum DispatchRules {
    public static let channels = ["console", "email", "webhook"]
    /// Back-off after a failed attempt: 1 s, 2 s, 4 s … at most 5 minutes.
    public static func backOffMicros(afterAttempts attempts: Int) -> Int64 {
        let exponent = min(max(attempts - 1, 0), 9)
        return min(Int64(1) << exponent, 300) * 1_000_000
    }
    public static let escalateAfterRange = 30...86_400
    /// Notifications delivered at once in one round, and how long one may take.
    public static let batch = 32
    public static let concurrentDeliveries = 8
    public static let deliveryTimeoutSeconds: Int64 = 20
    /// The name the dispatcher's own changes carry on an incident's timeline and in the log.
    public static let author = "Vigil dispatch"

    /// Checks an e-mail address: one `@`, a local part and a domain, printable ASCII with
    /// no spaces, quotes or angle brackets (it is written into a header and an SMTP command).
    public static func checkEmail(_ address: String) throws {
        let bytes = Array(address.utf8)
        guard (3...254).contains(bytes.count), bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && !"<>\"(),;:\\[]".utf8.contains($0) }),
            bytes.filter({ $0 == UInt8(ascii: "@") }).count == 1, let at = bytes.firstIndex(of: UInt8(ascii: "@")), at > 0,
            at < bytes.count - 1
        else {
            throw VigilError(.invalid, "an e-mail address is name@domain, printable, with no spaces, quotes or brackets")
        }
    }

    /// Checks a webhook's URL: https, or http to this machine only (a local relay, a test).
    public static func checkWebhookURL(_ text: String) throws {
        guard text.utf8.count <= 2000, let url = URLParts(text) else {
            throw VigilError(.invalid, "a webhook's address is an https:// URL")
        }
        let loopback = ["127.0.0.1", "::1", "[::1]", "localhost"].contains(url.host.lowercased())
        guard url.scheme == "https" || (url.scheme == "http" && loopback) else {
            throw VigilError(.invalid, "a webhook's address must be https:// (plain http only to this machine)")
        }
    }
}

/// The scheme and host of an absolute URL, checked: nothing else is needed of it here.
struct URLParts {
    var scheme: String
    var host: String

    init?(_ text: String) {
        guard let colon = text.range(of: "://") else { return nil }
        scheme = text[..<colon.lowerBound].lowercased()
        let rest = text[colon.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        guard !authority.contains("@"), !authority.isEmpty,
            text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else { return nil }
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = String(authority[...close])
        } else {
            host = String(authority.prefix { $0 != ":" })
        }
        guard !host.isEmpty else { return nil }
    }
}
