import Access
import Audit
import Catalog
import Centre
import Foundation
import Logging
import Records
import Server
import TestSupport
import Testing

/// Who may keep watching: a live stream lasts only while its viewer may watch, and a
/// refused WebSocket handshake is a 403 with a reason and an audit entry, like the plain
/// request.
@Suite(.serialized) struct LiveAccessTests {
    /// A viewer of the harness's camera with live granted on it alone (the role has none).
    static func viewer(_ h: ServerHarness, _ name: String) async throws -> (id: Int64, session: ServerHarness.Session) {
        let user = try await h.env.accounts.addUser(name: name, role: .mediaOfficer, password: ServerHarness.password)
        try await h.env.accounts.setGrant(GrantRecord(userID: user.id, permission: "live", cameraID: h.cameraID), granted: true, by: nil)
        let reply = try await h.request("POST", "/api/session", json: ["username": name, "password": ServerHarness.password])
        let cookie = try #require(reply.headers["set-cookie"]).split(separator: ";")[0].split(separator: "=")[1]
        return (user.id, ServerHarness.Session(cookie: String(cookie), csrf: try #require(reply.json?["csrfToken"] as? String)))
    }

    /// A WebSocket close frame as the server sent it (RFC 6455 §5.5.1).
    struct CloseFrame: Sendable {
        var code: Int
        var reason: String
    }

    /// Opens the camera's live stream as the console's page would (cookie, own Origin).
    static func openLive(_ h: ServerHarness, _ session: ServerHarness.Session) async throws -> RawConnection {
        let port = try #require(Int(h.base.split(separator: ":").last ?? ""))
        let connection = try RawConnection(port: port)
        connection.sendHandshake("/api/cameras/\(h.cameraID)/live", host: "127.0.0.1:\(port)", origin: h.base, cookie: session.cookie)
        let head = await connection.received(limit: 5) { $0.count >= 4 && $0.suffix(4) == [13, 10, 13, 10] }
        try #require(String(decoding: head, as: UTF8.self).hasPrefix("HTTP/1.1 101"), "\(String(decoding: head, as: UTF8.self))")
        return connection
    }

    /// Waits up to `limit` seconds for the server's close frame (nil if none came), on a
    /// thread of its own: a blocking read must not hold one of the few threads the server
    /// under test and the other tests share.
    static func closeFrame(_ connection: RawConnection, limit: Double) async -> CloseFrame? {
        // Frames from the server are unmasked; a close frame's payload is under 126 bytes.
        let complete: @Sendable ([UInt8]) -> Bool = { b in b.count >= 2 && b.count >= 2 + Int(b[1] & 0x7f) }
        let bytes = await connection.received(limit: limit, until: complete)
        guard complete(bytes), bytes[0] == 0x88, bytes[1] & 0x7f >= 2 else { return nil }
        let length = Int(bytes[1] & 0x7f)
        return CloseFrame(code: Int(bytes[2]) << 8 | Int(bytes[3]), reason: String(decoding: bytes[4..<(2 + length)], as: UTF8.self))
    }

    @Test func anOpenStreamEndsWithinFiveSecondsOfItsViewerLosingTheRight() async throws {
        try await ServerHarness.with(.socket) { h in
            let admin = try await h.signIn(.admin)
            // The camera's removal comes last: it ends every stream of the camera for good.
            for (n, cause) in ["sign-out", "disabled", "grant removed", "camera removed"].enumerated() {
                let (id, session) = try await Self.viewer(h, "viewer-\(n)")
                let connection = try await Self.openLive(h, session)
                try await Task.sleep(for: .milliseconds(300))
                let status =
                    switch cause {
                    case "sign-out": try await h.request("DELETE", "/api/session", session: session).status
                    case "disabled": try await h.request("PATCH", "/api/users/\(id)", session: admin, json: ["disabled": true]).status
                    case "camera removed": try await h.request("DELETE", "/api/cameras/\(h.cameraID)", session: admin).status
                    default:
                        try await h.request(
                            "DELETE", "/api/users/\(id)/grants", session: admin, json: ["permission": "live", "camera": h.cameraID]
                        ).status
                    }
                try #require([200, 204].contains(status), "\(cause) answered \(status)")
                let cut = Date()
                let frame = await Self.closeFrame(connection, limit: 8)
                let seconds = Date().timeIntervalSince(cut)
                #expect(seconds < 5, "\(cause): the stream lived on \(seconds) s")
                #expect(frame?.code == 1008, "\(cause): closed with \(String(describing: frame))")
                // live.stop is written as the handler ends, just after the close.
                var stop: AuditEntry?
                for _ in 0..<50 {
                    let entries = try await h.catalog.latestAuditEntries(limit: 10, before: nil).map { try AuditEntry.decode($0.body) }
                    stop = entries.first { $0.action == "live.stop" && $0.user == "viewer-\(n)" }
                    if stop != nil { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(stop?.detail?.contains("ended by the server") == true, "\(cause): \(String(describing: stop?.detail))")
            }
        }
    }

    /// A stream its viewer may still watch is left alone by the re-checks.
    @Test func aStreamItsViewerMayWatchStaysOpen() async throws {
        try await ServerHarness.with(.socket) { h in
            let (_, session) = try await Self.viewer(h, "steady")
            let connection = try await Self.openLive(h, session)
            // Three re-checks later, still open.
            let frame = await Self.closeFrame(connection, limit: 6.5)
            #expect(frame == nil, "the server closed a stream its viewer may watch: \(String(describing: frame))")
        }
    }

    @Test func aRefusedHandshakeAnswers403WithAReasonAndIsAudited() async throws {
        try await ServerHarness.with(.socket, configure: { $0.publicOrigins = ["https://vms.example"] }) { h in
            let (_, session) = try await Self.viewer(h, "handshake")
            let port = try #require(Int(h.base.split(separator: ":").last ?? ""))
            let host = "127.0.0.1:\(port)"
            for (origin, allowed) in [
                ("http://evil.example", false), ("https://\(host)", false), ("http://127.0.0.1:\(port + 1)", false),
                ("http://localhost:\(port)", false), (nil, false), ("null", false), ("https://vms.example.evil", false),
                ("http://\(host)", true), ("https://vms.example", true), ("HTTPS://VMS.EXAMPLE:443", true)
            ] as [(String?, Bool)] {
                let before = await h.env.audit.size
                let connection = try RawConnection(port: port)
                connection.sendHandshake("/api/cameras/\(h.cameraID)/live", host: host, origin: origin, cookie: session.cookie)
                let reply = String(decoding: await connection.received(limit: 1.5), as: UTF8.self)
                let status = reply.split(separator: "\r\n").first.map(String.init) ?? ""
                if allowed {
                    #expect(status.contains(" 101 "), "\(origin ?? "no origin"): \(status)")
                } else {
                    #expect(status.contains(" 403 ") && reply.contains("cross-origin"), "\(origin ?? "no origin"): \(reply.prefix(300))")
                    #expect(await h.env.audit.size == before + 1, "\(origin ?? "no origin"): the refusal was not audited once")
                    let entry = try AuditEntry.decode(
                        try #require(try await h.catalog.latestAuditEntries(limit: 1, before: nil).first).body)
                    #expect(entry.action == "live.start" && entry.result == "denied" && entry.user == "handshake")
                }
            }
        }
    }
}
