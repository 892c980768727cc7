import NIOCore

/// RTSP headers: ordered, names compared case-insensitively (RFC 2326 §4.2; cameras send
/// `Cseq`, `CSeq` and `CSEQ`), values trimmed of surrounding whitespace.
public struct RTSPHeaders: Sendable, Equatable {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(String, String)] = []) {
        for (n, v) in fields { add(n, v) }
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    public subscript(_ name: String) -> String? {
        let lower = name.lowercased()
        return fields.first { $0.name.lowercased() == lower }?.value
    }

    public func all(_ name: String) -> [String] {
        let lower = name.lowercased()
        return fields.filter { $0.name.lowercased() == lower }.map(\.value)
    }

    public static func == (a: RTSPHeaders, b: RTSPHeaders) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// A response from the camera (RFC 2326 §7).
public struct RTSPResponse: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var headers: RTSPHeaders
    public var body: [UInt8]

    public var cseq: Int? { headers["CSeq"].flatMap { Int($0.trimmingWhitespace()) } }

    static func parseHead(_ head: ArraySlice<UInt8>, offset: Int64) throws -> RTSPResponse {
        let text = String(decoding: head, as: UTF8.self)
        var lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0.isNewline })
            .map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }
        guard !lines.isEmpty else { throw RTSPError(.malformedMessage("empty message"), offset: offset) }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard parts.count >= 2, parts[0].hasPrefix("RTSP/"), let status = Int(parts[1]), (100...599).contains(status) else {
            throw RTSPError(.malformedMessage("bad status line \"\(statusLine.prefix(80))\""), offset: offset)
        }
        var headers = RTSPHeaders()
        for line in lines where !line.isEmpty {
            if line.first == " " || line.first == "\t", let last = headers.fields.last {
                // Obsolete line folding (RFC 2326 §4.2 via RFC 2616 §2.2).
                var fields = headers.fields
                fields[fields.count - 1] = (last.name, last.value + " " + line.trimmingWhitespace())
                headers = RTSPHeaders(fields.map { ($0.name, $0.value) })
                continue
            }
            guard let colon = line.firstIndex(of: ":") else { continue } // unknown junk line: ignored
            headers.add(String(line[..<colon]).trimmingWhitespace(), String(line[line.index(after: colon)...]).trimmingWhitespace())
        }
        return RTSPResponse(status: status, reason: parts.count > 2 ? String(parts[2]) : "", headers: headers, body: [])
    }
}

/// What arrives on an RTSP connection once interleaving is on (RFC 2326 §10.12).
public enum RTSPInbound: Sendable {
    case response(RTSPResponse)
    /// A `$`-framed packet on an interleaved channel.
    case interleaved(channel: UInt8, payload: ByteBuffer)
    /// A request from the server (ANNOUNCE, GET_PARAMETER...): its method, for logging.
    case serverRequest(method: String)
}

/// Splits the inbound byte stream into responses and interleaved packets. Pure: the NIO
/// handler and the tests drive the same code. Bounded: a header block over
/// `maxHeaderBytes` or a body over `maxBodyBytes` is an error, not a buffer that grows.
public struct RTSPWireDecoder: Sendable {
    public var policies: QuirkPolicies
    public var maxHeaderBytes = 16 * 1024
    public var maxBodyBytes = 256 * 1024
    /// Bytes consumed so far: the offset errors report.
    public private(set) var consumed: Int64 = 0
    /// Junk bytes skipped under `JunkPolicy.skip`, in total.
    public private(set) var junkSkipped: Int64 = 0
    /// Bytes of message heads examined so far, counting each re-examination: what a test
    /// compares with the bytes received to see that slow input is not re-read.
    private(set) var headBytesExamined: Int64 = 0

    public init(policies: QuirkPolicies = QuirkPolicies()) {
        self.policies = policies
    }

    /// Decodes one message from the front of `buffer`, or returns nil when more bytes are
    /// needed.
    public mutating func decode(_ buffer: inout ByteBuffer) throws -> RTSPInbound? {
        while true {
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { return nil }
            if first == UInt8(ascii: "$") {
                guard buffer.readableBytes >= 4,
                    let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self)
                else { return nil }
                guard buffer.readableBytes >= 4 + Int(length) else { return nil }
                let channel = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self)!
                buffer.moveReaderIndex(forwardBy: 4)
                let payload = buffer.readSlice(length: Int(length))!
                consumed += 4 + Int64(length)
                return .interleaved(channel: channel, payload: payload)
            }
            let prefix = buffer.getBytes(at: buffer.readerIndex, length: min(5, buffer.readableBytes)) ?? []
            if Self.isMessageStart(prefix) {
                do {
                    return try decodeMessage(&buffer)
                } catch {
                    progress = .head(scanned: 0) // nothing of a refused message is kept
                    throw error
                }
            }
            if prefix.count < 5, Self.couldBeMessageStart(prefix) { return nil }
            try skipJunk(&buffer)
        }
    }

    static let rtspPrefix = Array("RTSP/".utf8)

    static func isMessageStart(_ prefix: [UInt8]) -> Bool {
        prefix.count == 5 && (prefix == rtspPrefix || isRequestStart(prefix))
    }

    static func couldBeMessageStart(_ prefix: [UInt8]) -> Bool {
        Array(rtspPrefix.prefix(prefix.count)) == prefix
            || prefix.allSatisfy { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") || $0 == UInt8(ascii: "_") }
    }

    static func isRequestStart(_ prefix: [UInt8]) -> Bool {
        // Server-to-client requests start with an upper-case method name.
        prefix.allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: " ") }
            && prefix.first != UInt8(ascii: " ")
    }

    private mutating func skipJunk(_ buffer: inout ByteBuffer) throws {
        let start = consumed
        switch policies.junk {
        case .reject:
            throw RTSPError(.junkBeforeFrame(byteCount: 1), offset: start)
        case let .skip(maxBytes):
            // Drop bytes up to the next '$' or 'R' that could start a frame.
            var skipped = 0
            repeat {
                buffer.moveReaderIndex(forwardBy: 1)
                skipped += 1
                guard let b = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { break }
                if b == UInt8(ascii: "$") || b == UInt8(ascii: "R") { break }
            } while skipped < maxBytes
            consumed += Int64(skipped)
            junkSkipped += Int64(skipped)
            if skipped >= maxBytes {
                throw RTSPError(.junkBeforeFrame(byteCount: skipped), offset: start)
            }
        }
    }

    /// Where the message at the front of the buffer stands between calls. A camera may send
    /// a message a few bytes per read; the decoder keeps how far it has looked for the end
    /// of the head, and the head once parsed, so each byte is examined once however the
    /// reads cut it. Offsets count from the buffer's reader index, which does not move
    /// until the message is taken: the caller passes the same bytes back with more after
    /// them (`discardReadBytes` keeps that true).
    private enum Progress: Sendable {
        /// The head's end is not among its first `scanned` bytes.
        case head(scanned: Int)
        /// The head is parsed; the message is complete once `bodyStart + length` bytes are here.
        case body(bodyStart: Int, length: Int, message: PendingMessage)
    }

    private enum PendingMessage: Sendable {
        case response(RTSPResponse)
        case serverRequest(method: String)
    }

    private var progress = Progress.head(scanned: 0)

    private mutating func decodeMessage(_ buffer: inout ByteBuffer) throws -> RTSPInbound? {
        let available = buffer.readableBytes
        let bodyStart: Int, length: Int, message: PendingMessage
        switch progress {
        case let .body(start, bodyLength, pending):
            (bodyStart, length, message) = (start, bodyLength, pending)
        case let .head(scanned):
            // A terminator is up to three bytes (LF CR LF), so one cut by the last read is
            // looked at again from its first byte.
            let from = max(0, scanned - 2)
            let limit = min(available, maxHeaderBytes + 4)
            guard let (headEnd, start) = Self.findHeadEnd(buffer, from: from, limit: limit) else {
                headBytesExamined += Int64(max(0, limit - from))
                if available > maxHeaderBytes {
                    throw RTSPError(.messageTooLarge(limit: maxHeaderBytes), offset: consumed)
                }
                progress = .head(scanned: limit)
                return nil
            }
            headBytesExamined += Int64(start - from)
            let head = buffer.getBytes(at: buffer.readerIndex, length: headEnd)![...]
            headBytesExamined += Int64(head.count)
            if head.starts(with: Self.rtspPrefix) {
                let response = try RTSPResponse.parseHead(head, offset: consumed)
                length = try bodyLength(response.headers["Content-Length"])
                message = .response(response)
            } else {
                // A request from the server: skipped whole, body included.
                let line = String(decoding: head.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
                length = try bodyLength(contentLength(of: head))
                message = .serverRequest(method: String(line.prefix { $0 != " " }))
            }
            bodyStart = start
            progress = .body(bodyStart: bodyStart, length: length, message: message)
        }
        guard available >= bodyStart + length else { return nil }
        progress = .head(scanned: 0)
        consumed += Int64(bodyStart + length)
        switch message {
        case var .response(response):
            buffer.moveReaderIndex(forwardBy: bodyStart)
            response.body = buffer.readBytes(length: length) ?? []
            return .response(response)
        case let .serverRequest(method):
            buffer.moveReaderIndex(forwardBy: bodyStart + length)
            return .serverRequest(method: method)
        }
    }

    /// The end of the head among the readable bytes `from..<limit`: CRLFCRLF, or LFLF from
    /// sloppy firmware. Returns the head's
    /// length and where the body starts, both from the reader index.
    static func findHeadEnd(_ buffer: ByteBuffer, from: Int, limit: Int) -> (headEnd: Int, bodyStart: Int)? {
        let view = buffer.readableBytesView
        let base = view.startIndex
        var i = from
        while i < limit {
            if view[base + i] == 10 {
                if i + 1 < limit && view[base + i + 1] == 10 { return (i, i + 2) }
                if i + 2 < limit && view[base + i + 1] == 13 && view[base + i + 2] == 10 { return (i, i + 3) }
            }
            i += 1
        }
        return nil
    }

    private func contentLength(of head: ArraySlice<UInt8>) -> String? {
        for line in String(decoding: head, as: UTF8.self).split(whereSeparator: { $0.isNewline }) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingWhitespace().lowercased() == "content-length" { return parts[1].trimmingWhitespace() }
        }
        return nil
    }

    /// A body's length from its `Content-Length` value (RFC 2326 §12.14: 1*DIGIT), at most
    /// `maxBodyBytes`. A sign, a blank, or anything but digits is an error: `Int("-5")`
    /// would otherwise move the reader backwards and decode the same bytes forever.
    private func bodyLength(_ value: String?) throws -> Int {
        guard let value else { return 0 }
        guard !value.isEmpty, value.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            throw RTSPError(.malformedMessage("bad Content-Length \"\(value.prefix(40))\""), offset: consumed)
        }
        // Digits only: a value too long for Int is also over the limit.
        guard let length = Int(value), length <= maxBodyBytes else {
            throw RTSPError(.messageTooLarge(limit: maxBodyBytes), offset: consumed)
        }
        return length
    }
}

/// A request to send (RFC 2326 §6).
public struct RTSPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: RTSPHeaders

    public init(method: String, url: String, headers: RTSPHeaders = RTSPHeaders()) {
        self.method = method
        self.url = url
        self.headers = headers
    }

    public func encoded(cseq: Int) -> [UInt8] {
        var text = "\(method) \(url) RTSP/1.0\r\nCSeq: \(cseq)\r\nUser-Agent: Vigil\r\n"
        for (n, v) in headers.fields { text += "\(n): \(v)\r\n" }
        text += "\r\n"
        return Array(text.utf8)
    }

    /// "METHOD url" without credentials: for errors and logs.
    public var summary: String { "\(method) \(RTSPURL.redact(url))" }
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s.removeLast() }
        return String(s)
    }
}
