import Base
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

/// What a mail relay is told, and how.
public struct MailSettings: Sendable {
    public var host: String
    public var port: Int
    public var from: String
    public var username: String?
    public var password: String?
    /// Refuse to go on in clear when the relay does not offer STARTTLS.
    public var requireTLS: Bool
    /// Certificate authorities trusted besides the system's (a PEM file).
    public var caFile: String?
    /// The name Vigil gives itself in EHLO.
    public var heloName: String = "vigil.localdomain"

    public init(host: String, port: Int, from: String, username: String? = nil, password: String? = nil, requireTLS: Bool, caFile: String?)
    {
        self.host = host
        self.port = port
        self.from = from
        self.username = username
        self.password = password
        self.requireTLS = requireTLS
        self.caFile = caFile
    }
}

/// One e-mail: plain text, UTF-8, quoted-printable, and a Message-ID made of the
/// notification's idempotency key, so a repeat is recognisable.
public struct MailMessage: Sendable {
    public var to: String
    public var subject: String
    public var text: String
    public var idempotencyKey: String
    public var dateMicros: Int64

    public init(to: String, subject: String, text: String, idempotencyKey: String, dateMicros: Int64) {
        self.to = to
        self.subject = subject
        self.text = text
        self.idempotencyKey = idempotencyKey
        self.dateMicros = dateMicros
    }

    /// The message as it goes after DATA (RFC 5322), lines ending in CRLF, dot-stuffed,
    /// without the final ".".
    func wire(from: String) -> String {
        let domain = from.split(separator: "@").last.map(String.init) ?? "vigil.invalid"
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        let headers = [
            "Date: \(formatter.string(from: Date(timeIntervalSince1970: Double(dateMicros) / 1e6)))",
            "From: Vigil <\(from)>", "To: <\(to)>", "Subject: \(Self.encodedWords(subject))",
            "Message-ID: <\(idempotencyKey)@\(domain)>", "X-Vigil-Idempotency-Key: \(idempotencyKey)", "Auto-Submitted: auto-generated",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"
        ]
        let body = Self.quotedPrintable(text)
        return (headers + [""] + body).map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n") + "\r\n"
    }

    /// A header's text: as it is when it is printable ASCII, else RFC 2047 encoded words
    /// (base64, each under 75 characters, never splitting a character).
    static func encodedWords(_ text: String) -> String {
        let clean = text.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? " " : String($0) }.joined()
        if clean.unicodeScalars.allSatisfy({ $0.value < 0x7F }), clean.utf8.count <= 900 { return clean }
        var words: [String] = []
        var chunk: [UInt8] = []
        for ch in clean.prefix(300) {
            let bytes = Array(String(ch).utf8)
            // 39 bytes are 52 in base64: with "=?UTF-8?B?", "?=" and "Subject: " a line of
            // at most 73 characters (RFC 2047 §2: an encoded word in a line of at most 76).
            if chunk.count + bytes.count > 39 {
                words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=") }
        return words.joined(separator: "\r\n ")
    }

    /// Quoted-printable (RFC 2045 §6.7): lines of at most 76 characters, soft breaks, and
    /// every byte outside printable ASCII as =XX.
    static func quotedPrintable(_ text: String) -> [String] {
        var out: [String] = []
        let normalised = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        for line in normalised.split(separator: "\n", omittingEmptySubsequences: false) {
            let bytes = Array(line.utf8)
            var current = ""
            for (n, b) in bytes.enumerated() {
                let last = n == bytes.count - 1
                let literal = (b >= 33 && b <= 126 && b != UInt8(ascii: "=")) || ((b == 0x20 || b == 0x09) && !last)
                let piece = literal ? String(UnicodeScalar(b)) : String(format: "=%02X", b)
                if current.utf8.count + piece.utf8.count > 75 {
                    out.append(current + "=")
                    current = ""
                }
                current += piece
            }
            out.append(current)
        }
        return out
    }
}

/// Why a message was not handed over, in words.
public struct SMTPError: Error, CustomStringConvertible, Sendable {
    public var description: String
    /// 5xx: the relay refused for good (the address, the message); retrying will not help
    /// until something changes, but the outbox still retries, slowly.
    public var permanent: Bool

    init(_ description: String, permanent: Bool = false) {
        self.description = description
        self.permanent = permanent
    }
}

/// An SMTP reply: its code and its lines' texts.
struct SMTPReply: Sendable {
    var code: Int
    var lines: [String]
    var text: String { lines.joined(separator: " / ") }
}

/// Reads replies from the relay's bytes (RFC 5321 §4.2): lines of three digits and a space
/// or a hyphen; a hyphen continues the reply. Every value is checked: a line longer than
/// 2000 bytes, a reply of more than 100 lines, or a code that changes within a reply ends
/// the conversation.
struct SMTPReplyReader {
    private var buffer: [UInt8] = []
    private var pending: [String] = []
    private var pendingCode: Int?

    /// Bytes read but not yet part of a reply.
    var leftover: Int { buffer.count }

    mutating func feed(_ bytes: ByteBuffer) throws {
        buffer += bytes.readableBytesView
        guard buffer.count <= 64 * 1024 else { throw SMTPError("the relay sent more than 64 KiB without completing a reply") }
    }

    /// The next complete reply, or nil if more bytes are needed.
    mutating func next() throws -> SMTPReply? {
        while let lf = buffer.firstIndex(of: 0x0A) {
            var line = Array(buffer[..<lf])
            buffer.removeSubrange(...lf)
            if line.last == 0x0D { line.removeLast() }
            guard line.count <= 2000 else { throw SMTPError("the relay sent a reply line longer than 2000 bytes") }
            guard line.count >= 3, line[0..<3].allSatisfy({ (0x30...0x39).contains($0) }),
                line.count == 3 || line[3] == 0x20 || line[3] == 0x2D
            else {
                throw SMTPError("the relay sent something that is not an SMTP reply: \(String(decoding: line.prefix(80), as: UTF8.self))")
            }
            let code = Int(String(decoding: line[0..<3], as: UTF8.self))!
            guard pendingCode == nil || pendingCode == code else { throw SMTPError("the relay changed its reply code within a reply") }
            pendingCode = code
            pending.append(String(decoding: line.dropFirst(4), as: UTF8.self))
            guard pending.count <= 100 else { throw SMTPError("the relay sent a reply of more than 100 lines") }
            if line.count == 3 || line[3] == 0x20 {
                defer {
                    pending = []
                    pendingCode = nil
                }
                return SMTPReply(code: code, lines: pending)
            }
        }
        guard buffer.count <= 2002 else { throw SMTPError("the relay sent a reply line longer than 2000 bytes") }
        return nil
    }
}

/// Hands messages to the site's mail relay over SMTP (RFC 5321): EHLO, STARTTLS whenever the
/// relay offers it (RFC 3207; refused to go on in clear when TLS is required), AUTH PLAIN
/// over TLS only (RFC 4954), MAIL FROM, RCPT TO, DATA, QUIT. One connection per message:
/// notifications are few, and a fresh connection has no state to go stale.
public struct SMTPClient: Sendable {
    public init() {}

    public func send(_ message: MailMessage, via settings: MailSettings, timeout: TimeAmount = .seconds(20)) async throws {
        try DispatchRules.checkEmail(message.to)
        try DispatchRules.checkEmail(settings.from)
        // One deadline for the whole exchange, the connection included.
        let deadline = NIODeadline.now() + timeout
        let channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(min(timeout, .seconds(10)))
                .connect(host: settings.host, port: settings.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SMTPError("cannot connect to the relay \(settings.host):\(settings.port): \(String(describing: error).prefix(200))")
        }
        let underlying = channel.channel
        // The deadline closes the connection, which ends any read or write waiting on it.
        let timer = underlying.eventLoop.scheduleTask(deadline: deadline) { underlying.close(promise: nil) }
        defer { timer.cancel() }
        do {
            try await channel.executeThenClose { inbound, outbound in
                var conversation = Conversation(inbound: inbound.makeAsyncIterator(), outbound: outbound, channel: underlying)
                try await conversation.run(message, settings)
            }
        } catch let error as SMTPError {
            throw error
        } catch {
            if NIODeadline.now() >= deadline { throw SMTPError("the relay did not finish within \(timeout.nanoseconds / 1_000_000_000) s") }
            let words = String(describing: error)
            if words.contains("CERTIFICATE_VERIFY_FAILED") {
                throw SMTPError("the relay's TLS certificate is not trusted here (vigil dispatch mail --ca-file names a site's own CA)")
            }
            if error is NIOSSLError { throw SMTPError("TLS with the relay failed: \(words.prefix(300))") }
            throw SMTPError("the connection to the relay failed: \(words.prefix(300))")
        }
    }

    struct Conversation {
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        let channel: any Channel
        var reader = SMTPReplyReader()

        mutating func reply() async throws -> SMTPReply {
            while true {
                if let r = try reader.next() { return r }
                guard let bytes = try await inbound.next() else { throw SMTPError("the relay closed the connection") }
                try reader.feed(bytes)
            }
        }

        mutating func command(_ line: String, expect codes: Set<Int>, during step: String) async throws -> SMTPReply {
            try await outbound.write(ByteBuffer(string: line + "\r\n"))
            return try await expect(codes, during: step)
        }

        mutating func expect(_ codes: Set<Int>, during step: String) async throws -> SMTPReply {
            let r = try await reply()
            guard codes.contains(r.code) else {
                throw SMTPError("the relay answered \(step) with \(r.code) \(r.text.prefix(200))", permanent: r.code >= 500)
            }
            return r
        }

        mutating func run(_ message: MailMessage, _ s: MailSettings) async throws {
            _ = try await expect([220], during: "the greeting")
            var capabilities = try await ehlo(s)
            var secure = false
            if capabilities.contains("STARTTLS") {
                _ = try await command("STARTTLS", expect: [220], during: "STARTTLS")
                // Nothing may follow the reply before TLS starts: bytes that did were sent
                // in clear by someone, perhaps to be taken for the relay's (CVE-2011-0411).
                guard reader.leftover == 0 else { throw SMTPError("the relay sent data after its STARTTLS reply: refused") }
                try await startTLS(s)
                secure = true
                capabilities = try await ehlo(s)
            } else if s.requireTLS {
                throw SMTPError("the relay does not offer STARTTLS and TLS is required: not sending in clear", permanent: true)
            }
            if let user = s.username, let password = s.password {
                guard secure else { throw SMTPError("the relay offers no TLS: its password is not sent in clear", permanent: true) }
                guard capabilities.contains(where: { $0.hasPrefix("AUTH") && $0.split(separator: " ").contains("PLAIN") }) else {
                    throw SMTPError("the relay does not offer AUTH PLAIN", permanent: true)
                }
                let token = Data(([0] + Array(user.utf8) + [0] + Array(password.utf8))).base64EncodedString()
                _ = try await command("AUTH PLAIN \(token)", expect: [235], during: "AUTH")
            }
            _ = try await command("MAIL FROM:<\(s.from)>", expect: [250], during: "MAIL FROM")
            _ = try await command("RCPT TO:<\(message.to)>", expect: [250, 251], during: "RCPT TO <\(message.to)>")
            _ = try await command("DATA", expect: [354], during: "DATA")
            try await outbound.write(ByteBuffer(string: message.wire(from: s.from) + ".\r\n"))
            _ = try await expect([250], during: "the end of the message")
            // Handed over: a failed QUIT changes nothing.
            _ = try? await command("QUIT", expect: [221], during: "QUIT")
        }

        /// EHLO, or HELO from an old relay: the extensions it offers, upper-cased.
        mutating func ehlo(_ s: MailSettings) async throws -> [String] {
            try await outbound.write(ByteBuffer(string: "EHLO \(s.heloName)\r\n"))
            let r = try await reply()
            if r.code == 250 { return r.lines.dropFirst().map { $0.uppercased() } }
            _ = try await command("HELO \(s.heloName)", expect: [250], during: "HELO")
            return []
        }

        func startTLS(_ s: MailSettings) async throws {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.minimumTLSVersion = .tlsv12
            if let ca = s.caFile { tls.additionalTrustRoots = [.file(ca)] }
            let context = try NIOSSLContext(configuration: tls)
            let isAddress = (try? SocketAddress(ipAddress: s.host, port: 0)) != nil
            let hostname = isAddress ? nil : s.host, channel = self.channel
            // Nothing is written until the handshake is done: its failure (an untrusted
            // certificate) is then the error reported, not a write on the closed channel.
            let handshake = channel.eventLoop.makePromise(of: Void.self)
            do {
                try await channel.eventLoop.submit {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: hostname)
                    try channel.pipeline.syncOperations.addHandler(handler, position: .first)
                    try channel.pipeline.syncOperations.addHandler(HandshakeWaiter(promise: handshake), position: .after(handler))
                }.get()
            } catch {
                handshake.fail(error) // never left pending
                throw error
            }
            try await handshake.futureResult.get()
        }
    }
}

/// Completes its promise when the TLS handshake is done, or fails it with the error that
/// ended it; passes everything on.
final class HandshakeWaiter: ChannelInboundHandler {
    typealias InboundIn = NIOAny
    let promise: EventLoopPromise<Void>

    init(promise: EventLoopPromise<Void>) {
        self.promise = promise
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent { promise.succeed(()) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(SMTPError("the relay closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        promise.fail(SMTPError("the TLS handshake was abandoned"))
    }
}
