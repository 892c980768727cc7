import Access
import Audit
import Base
import Catalog
import Foundation
import NIOCore
import Recording
import Records
import TestSupport
import Testing

@testable import Centre
@testable import Server

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A plain TCP connection to the harness, for clients no HTTP library would be.
final class RawConnection: Sendable {
    let fd: Int32

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let fd = self.fd
        let connected = TestSupport.withLoopback(port: port) { connect(fd, $0, $1) }
        guard connected == 0 else {
            close(fd)
            throw POSIXError(.ECONNREFUSED)
        }
    }

    func send(_ text: String) { _ = Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }

    /// Sends a WebSocket handshake for `path` (RFC 6455 §4.1) as a browser would: `host`, an
    /// `origin` if any, and the session's cookie.
    func sendHandshake(_ path: String, host: String, origin: String?, cookie: String) {
        send(
            "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + (origin.map { "Origin: \($0)\r\n" } ?? "") + "Cookie: vigil_session=\(cookie)\r\n\r\n")
    }

    /// Seconds until the server closes the connection (reads until end of stream), or nil
    /// if it is still open after `limit` seconds.
    func secondsUntilClosed(limit: Double) -> Double? {
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let start = Date()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(start) < limit {
            let n = read(fd, &buffer, buffer.count)
            if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) { return Date().timeIntervalSince(start) }
        }
        return nil
    }

    /// `receiveBytes` on a thread of its own, so that the wait holds none of the few threads
    /// the server under test and the other tests share.
    func received(limit: Double, until enough: @escaping @Sendable ([UInt8]) -> Bool = { _ in false }) async -> [UInt8] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.receiveBytes(limit: limit, until: enough)) }
        }
    }

    /// Bytes from the server until `enough` says so, the server closes, or `limit` seconds pass.
    func receiveBytes(limit: Double, until enough: ([UInt8]) -> Bool = { _ in false }) -> [UInt8] {
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let start = Date()
        var received: [UInt8] = [], buffer = [UInt8](repeating: 0, count: 4096)
        while Date().timeIntervalSince(start) < limit, !enough(received) {
            let n = read(fd, &buffer, buffer.count)
            if n > 0 { received += buffer[..<n] } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { break }
        }
        return received
    }

    deinit { close(fd) }
}

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
            for query in [
                "inclusion?index=0&size=-1", "inclusion?index=0&size=0", "inclusion?index=-1&size=1",
                "inclusion?index=5&size=2", "inclusion?index=0&size=9223372036854775807",
                "consistency?from=-2&to=-1", "consistency?from=0&to=0", "consistency?from=-1&to=1",
                "consistency?from=1&to=9223372036854775807"
            ] {
                let reply = try await h.request("GET", "/api/audit/proof/\(query)", session: admin)
                #expect(reply.status == 400, "\(query) answered \(reply.status)")
                #expect(reply.json?["error"] is String, "\(query) gave no reason")
            }
            #expect(try await h.request("GET", "/api/audit/proof/inclusion?index=0&size=1", session: admin).status == 200)
        }
    }

    @Test func silentAndHalfSentConnectionsAreClosedAndOneAddressIsCapped() async throws {
        try await ServerHarness.with(.socket, limits: ConnectionLimits(idleTimeout: .seconds(4), headTimeout: .seconds(1), perAddress: 4)) {
            h in
            let port = try #require(Int(h.base.split(separator: ":").last!))
            let silent = try RawConnection(port: port)
            let halfSent = try RawConnection(port: port)
            halfSent.send("GET /api/cameras HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            let held = [try RawConnection(port: port), try RawConnection(port: port)]
            // The fifth from the same address is closed before it can ask anything.
            let fifth = try RawConnection(port: port)
            let refusedAfter = try #require(fifth.secondsUntilClosed(limit: 5), "a fifth connection from one address stayed open")
            #expect(refusedAfter < 0.9)
            for (name, c) in [("silent", silent), ("half-sent", halfSent)] {
                let closedAfter = c.secondsUntilClosed(limit: 10)
                #expect(closedAfter != nil, "the \(name) connection was held open")
            }
            _ = held
            // A head sent a byte at a time, each well within the idle limit, is cut at the head limit.
            let trickle = try RawConnection(port: port)
            let started = Date()
            var closed = false
            for byte in "GET /api/cameras HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: aaaaaaaaaaaaaaaaaaaaaaaa".map(String.init) {
                trickle.send(byte)
                if trickle.secondsUntilClosed(limit: 0.3) != nil {
                    closed = true
                    break
                }
            }
            #expect(
                closed && Date().timeIntervalSince(started) < 3,
                "a trickled head kept its connection \(Date().timeIntervalSince(started)) s")
            // With those gone, a client is served as before.
            let reply = try await h.request("GET", "/api/openapi.json", session: try await h.signIn(.operator))
            #expect(reply.status == 200)
        }
    }

    /// A head that promises a body which never comes all the way is closed at the body
    /// limit, before anyone has signed in; a body that does come is answered, and so is a
    /// request whose body comes in pieces within the limit.
    @Test func aBodyThatStopsShortIsClosedAtTheBodyLimit() async throws {
        try await ServerHarness.with(.socket, limits: ConnectionLimits(idleTimeout: .seconds(30), bodyTimeout: .seconds(3))) { h in
            let port = try #require(Int(h.base.split(separator: ":").last!))
            let short = try RawConnection(port: port)
            short.send("POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            let closedAfter = short.secondsUntilClosed(limit: 10)
            #expect(closedAfter != nil, "a sign-in whose body stopped short was held open")
            // The same behind a head longer than the guard keeps: its length is past the cut.
            let padded = try RawConnection(port: port)
            padded.send(
                "POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: \(String(repeating: "a", count: 20_000))\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
            #expect(padded.secondsUntilClosed(limit: 10) != nil, "a long head's short body was held open")
            // In pieces, within the limit: answered (401: no such user), not cut.
            let body = #"{"username":"nobody","password":"wrong"}"#
            let pieces = try RawConnection(port: port)
            pieces.send(
                "POST /api/session HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            )
            try await Task.sleep(for: .milliseconds(300))
            pieces.send(String(body.prefix(10)))
            try await Task.sleep(for: .milliseconds(300))
            pieces.send(String(body.dropFirst(10)))
            let reply = String(decoding: await pieces.received(limit: 5) { $0.count >= 12 }, as: UTF8.self)
            #expect(reply.hasPrefix("HTTP/1.1 401"), "\(reply.prefix(80))")
        }
    }

    @Test func anIPv6ClientCountsAloneAndWithItsSlash64() throws {
        func v6(_ text: String) throws -> SocketAddress { try SocketAddress(ipAddress: text, port: 1) }
        func keys(_ address: SocketAddress) -> [String] { ConnectionCounter.clients(address, perAddress: 2).map(\.key) }
        #expect(try keys(v6("2001:db8:1:2::1")) == ["2001:db8:1:2::1", "2001:db8:1:2::/64"])
        #expect(try keys(v6("2001:db8:1:2::1")).last == keys(v6("2001:db8:1:2:ffff::9")).last)
        #expect(try keys(v6("2001:db8:1:2::1")).last != keys(v6("2001:db8:1:3::1")).last)
        #expect(try keys(v6("::ffff:10.0.0.7")) == ["10.0.0.7"])
        #expect(try keys(SocketAddress(ipAddress: "10.0.0.7", port: 1)) == ["10.0.0.7"])
        // Two per address, twenty per /64 (a quarter of the total at most), 80 in all.
        let counter = ConnectionCounter(perAddress: 2, total: 80)
        let a = try v6("2001:db8::1")
        #expect(counter.admit(a) && counter.admit(a) && !counter.admit(a), "one address past its two")
        for host in 2...10 {
            let neighbour = try v6("2001:db8::\(host)")
            #expect(counter.admit(neighbour) && counter.admit(neighbour), "a neighbour on the /64 refused before the /64's twenty")
        }
        #expect(!counter.admit(try v6("2001:db8::99")), "the /64 past its twenty")
        for net in 0..<3 {
            for host in 1...10 {
                let address = try v6("2001:db9:\(net)::\(host)")
                #expect(counter.admit(address) && counter.admit(address))
            }
        }
        #expect(!counter.admit(try v6("2001:dba::1")), "past the total")
        counter.release(a)
        #expect(counter.admit(try v6("2001:dba::1")))
        // A /64's share is a quarter of the total at most.
        let small = ConnectionCounter(perAddress: 4, total: 20)
        for host in 1...5 { #expect(small.admit(try v6("2001:db8::\(host)"))) }
        #expect(!small.admit(try v6("2001:db8::6")), "one /64 past a quarter of the total")
        // A proxy listed by its IPv4 address is exempt when it connects over a dual-stack socket.
        let proxied = ConnectionCounter(perAddress: 1, total: 10, exempt: ["10.0.0.9"])
        let mapped = try v6("::ffff:10.0.0.9")
        #expect(proxied.admit(mapped) && proxied.admit(mapped))
    }

    /// A cross-site HTML form can post urlencoded, multipart or text/plain, never JSON:
    /// sign-in takes JSON only, so no foreign page can sign a browser in.
    /// Times that do not exist, names with control characters, over-long fields: each a
    /// 400 with a reason, never a stored record.
    @Test func stricterInputsAreRefusedWithAReason() async throws {
        try await ServerHarness.with { h in
            let supervisor = try await h.signIn(.supervisor), admin = try await h.signIn(.admin)
            for query in [
                "from=2026-02-30T10:00:00Z&to=2026-03-01T10:00:00Z", "from=2026-11-30T10:00:00+99:99&to=2026-11-30T11:00:00Z",
                "from=2026-11-30T10:00:00&to=2026-11-30T11:00:00Z", "from=2026-11-30T24:00:00Z&to=2026-12-01T01:00:00Z"
            ] {
                let r = try await h.request("GET", "/api/cameras/\(h.cameraID)/recordings?\(query)", session: supervisor)
                #expect(r.status == 400 && (r.json?["error"] as? String)?.contains("ISO 8601") == true, "\(query): \(r.status)")
            }
            for body in [
                ["name": "gate\u{1b}[2J", "url": "rtsp://10.0.0.9/a"],
                ["name": String(repeating: "g", count: 65), "url": "rtsp://10.0.0.9/a"],
                ["name": "gate-2", "url": "rtsp://10.0.0.9/a", "location": "Rynek\u{202E}"]
            ] {
                let r = try await h.request("POST", "/api/cameras", session: admin, json: body)
                #expect(r.status == 400 && r.json?["error"] != nil, "\(body): \(r.status)")
            }
            #expect(try await h.catalog.cameras().count == 1)
            let investigator = try #require(try await h.catalog.user(named: "u-investigator")).id
            try await h.env.accounts.setGrant(
                GrantRecord(userID: investigator, permission: "register-evidence", cameraID: nil), granted: true, by: nil)
            let session = try await h.signIn(.investigator)
            let now = Date()
            let range =
                [
                    "camera": h.cameraID, "from": ISO8601DateFormatter().string(from: now.addingTimeInterval(-120)),
                    "to": ISO8601DateFormatter().string(from: now.addingTimeInterval(-60))
                ] as [String: Any]
            for (field, value) in [
                ("caseReference", String(repeating: "7", count: 101)), ("purpose", "theft\u{0}"), ("legalBasis", "art.\u{7}")
            ] {
                var body: [String: Any] = ["ranges": [range], "requestingBody": "police", "caseReference": "C-1", "purpose": "p"]
                body[field] = value
                let r = try await h.request("POST", "/api/evidence", session: session, json: body)
                #expect(r.status == 400 && r.json?["error"] != nil, "\(field): \(r.status)")
            }
            #expect(try await h.catalog.evidenceItems().isEmpty)
        }
    }

    /// A range of days is refused with the limit in words before its indexes are read;
    /// a range within the limit plays.
    @Test func aPlaybackRangeOverTheFrameLimitIsRefusedWithTheLimit() async throws {
        try await ServerHarness.with(configure: { $0.maximumServedFrames = 100 }) { h in
            let camera = try #require(try await h.catalog.camera(id: h.cameraID))
            try await TestSupport.recordFootage(camera: camera, catalog: h.catalog, store: h.store)
            let segments = try await h.catalog.allSegments()
            let supervisor = try await h.signIn(.supervisor)
            let all = "from=\(iso8601(micros: segments.first!.startMicros))&to=\(iso8601(micros: segments.last!.endMicros))"
            for route in ["view.mp4", "export.mp4"] {
                let before = await h.env.audit.size
                let r = try await h.request("GET", "/api/cameras/\(h.cameraID)/\(route)?\(all)&purpose=test", session: supervisor)
                let message = r.json?["error"] as? String ?? ""
                #expect(
                    r.status == 400 && message.contains("150 frames") && message.contains("at most 100"), "\(route): \(r.status) \(message)"
                )
                #expect(await h.env.audit.size == before + 1)
            }
            let one = "from=\(iso8601(micros: segments[0].startMicros))&to=\(iso8601(micros: segments[0].startMicros + 1_000_000))"
            #expect(try await h.request("GET", "/api/cameras/\(h.cameraID)/view.mp4?\(one)", session: supervisor).status == 200)
        }
    }

    @Test func serverSideExportsHaveAPerUserQuota() async throws {
        try await ServerHarness.with(configure: { $0.exportsPerUserPerDay = 2 }) { h in
            let camera = try #require(try await h.catalog.camera(id: h.cameraID))
            try await TestSupport.recordFootage(camera: camera, catalog: h.catalog, store: h.store)
            let segment = try #require(try await h.catalog.allSegments().first)
            let investigator = try #require(try await h.catalog.user(named: "u-investigator")).id
            try await h.env.accounts.setGrant(
                GrantRecord(userID: investigator, permission: "register-evidence", cameraID: nil), granted: true, by: nil)
            let session = try await h.signIn(.investigator)
            let created = try await h.request(
                "POST", "/api/evidence", session: session,
                json: [
                    "ranges": [
                        ["camera": h.cameraID, "from": iso8601(micros: segment.startMicros), "to": iso8601(micros: segment.endMicros)]
                    ],
                    "requestingBody": "police", "caseReference": "Q-1", "purpose": "quota"
                ])
            let exhibit = try #require(created.json?["exhibit"] as? String)
            for n in 1...2 {
                let r = try await h.request("POST", "/api/evidence/\(exhibit)/exports", session: session, json: [:])
                #expect(r.status == 201, "export \(n): \(r.status)")
                // Bundles are named to the second: the next must not land in the same one.
                try await Task.sleep(for: .milliseconds(1100))
            }
            let refused = try await h.request("POST", "/api/evidence/\(exhibit)/exports", session: session, json: [:])
            #expect(
                refused.status == 429 && (refused.json?["error"] as? String)?.contains("24 hours") == true,
                "\(refused.status) \(String(decoding: refused.body, as: UTF8.self))")
            #expect(h.env.exports.exports(exhibit: exhibit).count == 2)
        }
    }

    /// Behind a trusted proxy the station is the forwarded address; from anyone else the
    /// header is a lie and is ignored.
    @Test func forwardedForIsBelievedFromTrustedProxiesOnly() async throws {
        // (trusted proxies, X-Forwarded-For sent, the address the audit log must name)
        let cases: [(Set<String>, String, String)] = [
            (["127.0.0.1"], "203.0.113.7", "203.0.113.7"),
            // A client's own claim sits to the left; the proxy appends what it saw.
            (["127.0.0.1"], "10.9.9.9, 203.0.113.8", "203.0.113.8"),
            (["127.0.0.1"], "203.0.113.9, 127.0.0.1", "203.0.113.9"),
            (["127.0.0.1"], "not-an-address", "127.0.0.1"),
            ([], "203.0.113.7", "127.0.0.1")
        ]
        for (trusted, forwarded, expected) in cases {
            try await ServerHarness.with(.socket, configure: { $0.trustedProxies = trusted }) { h in
                _ = try await h.request(
                    "POST", "/api/session", json: ["username": "nobody", "password": "wrong password 1"],
                    headers: ["X-Forwarded-For": forwarded])
                let last = try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first)
                let address = try AuditEntry.decode(last.body).address
                #expect(address == expected, "trusting \(trusted), X-Forwarded-For \(forwarded) gave \(address ?? "nil")")
            }
        }
    }

    /// A method a path does not take is 405 with Allow; a path that does not exist stays 404.
    @Test func anUndeclaredMethodAnswers405WithAllow() async throws {
        try await ServerHarness.with { h in
            let supervisor = try await h.signIn(.supervisor)
            let put = try await h.request("PUT", "/api/cameras", session: supervisor, json: [:])
            #expect(put.status == 405 && put.headers["allow"] == "GET, POST", "\(put.status) \(put.headers["allow"] ?? "no Allow")")
            let put2 = try await h.request("PUT", "/api/cameras/\(h.cameraID)", session: supervisor, json: [:])
            #expect(put2.status == 405 && put2.headers["allow"] == "DELETE, GET, PATCH", "\(put2.headers["allow"] ?? "no Allow")")
            // A literal path beside a parameter's (`discover` beside `{id}`) is its own: PATCH,
            // which `{id}` takes, is not offered on it.
            let patch = try await h.request("PATCH", "/api/cameras/discover", session: supervisor, json: [:])
            #expect(patch.status == 405 && patch.headers["allow"] == "POST", "\(patch.status) \(patch.headers["allow"] ?? "no Allow")")
            #expect(try await h.request("GET", "/api/no-such-thing", session: supervisor).status == 404)
            #expect(try await h.request("GET", "/api/cameras", session: supervisor).status == 200)
        }
    }

    /// Sign-ins refused before any password is checked (the address over its limit, the
    /// account locked) cost an anonymous client one request each. Each used to be an audit
    /// entry, so a client could grow the log, the catalog's disk and the server's memory
    /// (every entry's hash stays in memory) as fast as it could send. Now the first refusal
    /// of a kind is an entry and the repeats are counted into one summary entry, written
    /// when its minute ends or at the next checkpoint, whichever comes first.
    @Test func repeatedRefusalsAreSummarisedNotEachLogged() async throws {
        try await ServerHarness.with(.socket) { h in // the summary names the peer's address
            // One instant for the whole test, so a slow machine cannot end the minute early.
            let instant = WallClock.system.nowMicros()
            await h.env.audit.setRepeatClock { instant }
            let before = try await h.catalog.auditCount()
            // Ten wrong passwords use up the address's failures (each checked, each logged).
            for i in 0..<10 {
                let r = try await h.request("POST", "/api/session", json: ["username": "nobody-\(i)", "password": "wrong password!"])
                #expect(r.status == 401)
            }
            // Then 150 more, refused without a check.
            for i in 0..<150 {
                let r = try await h.request("POST", "/api/session", json: ["username": "guess-\(i % 30)", "password": "wrong password!"])
                #expect(r.status == 429)
            }
            let duringTheMinute = try await h.catalog.auditCount() - before
            #expect(duringTheMinute == 11, "\(duringTheMinute) entries for 10 checked and 150 refused sign-ins")
            _ = try await h.env.audit.checkpoint()
            let entries = try await h.catalog.latestAuditEntries(limit: 20, before: nil).map { try AuditEntry.decode($0.body) }
                .filter { $0.action == "session.sign-in" }
            #expect(entries.count == 12)
            let summary = try #require(entries.first)
            #expect(summary.result == "denied" && summary.address == "127.0.0.1")
            let detail = summary.detail ?? ""
            #expect(detail.contains("149 more") && detail.contains("user names in them: 30: guess-1, guess-2"), "\(detail)")
            // Nothing pending after the checkpoint: a second one adds no entry.
            let count = try await h.catalog.auditCount()
            _ = try await h.env.audit.checkpoint()
            #expect(try await h.catalog.auditCount() == count)
        }
    }

    @Test func signInTakesJSONOnly() async throws {
        try await ServerHarness.with(.socket) { h in
            let form = "username=u-operator&password=\(ServerHarness.password.replacingOccurrences(of: " ", with: "+"))"
            for type in ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"] {
                var r = URLRequest(url: URL(string: h.base + "/api/session")!)
                r.httpMethod = "POST"
                r.httpBody = Data(form.utf8)
                r.setValue(type, forHTTPHeaderField: "Content-Type")
                let (_, response) = try await ServerHarness.http.data(for: r)
                #expect((response as? HTTPURLResponse)?.statusCode == 415, "\(type)")
            }
            _ = try await h.signIn(.operator)
        }
    }
}
