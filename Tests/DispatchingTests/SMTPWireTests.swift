import Foundation
import NIOCore
import Testing

@testable import Dispatching

/// The SMTP client's own parsing and encoding, against the RFCs' rules: replies (RFC 5321
/// §4.2), quoted-printable (RFC 2045 §6.7), encoded words (RFC 2047), dot-stuffing.
@Suite struct SMTPWireTests {
    func replies(_ text: String) throws -> [SMTPReply] {
        var reader = SMTPReplyReader()
        try reader.feed(ByteBuffer(string: text))
        var out: [SMTPReply] = []
        while let r = try reader.next() { out.append(r) }
        return out
    }

    @Test func repliesAreReadWholeAcrossLinesAndCheckedLineByLine() throws {
        let r = try replies("250-relay.city.example\r\n250-STARTTLS\r\n250 AUTH PLAIN LOGIN\r\n220 ready\r\n")
        #expect(r.map(\.code) == [250, 220] && r[0].lines == ["relay.city.example", "STARTTLS", "AUTH PLAIN LOGIN"])
        // A reply cut in two reads is completed by the second.
        var reader = SMTPReplyReader()
        try reader.feed(ByteBuffer(string: "250-one\r\n25"))
        #expect(try reader.next() == nil)
        try reader.feed(ByteBuffer(string: "0 two\r\n"))
        #expect(try reader.next()?.lines == ["one", "two"])
        #expect(reader.leftover == 0)
        for bad in ["250-a\r\n354 b\r\n", "hello\r\n", "25\r\n", "2500 x\r\n", String(repeating: "2", count: 2100) + "\r\n"] {
            #expect(throws: SMTPError.self, "\(bad.prefix(20))") { _ = try replies(bad) }
        }
        #expect(throws: SMTPError.self) { _ = try replies(String(repeating: "250-x\r\n", count: 101) + "250 y\r\n") }
    }

    @Test func theBodyIsQuotedPrintableInShortLinesAndTheSubjectInEncodedWords() {
        let lines = MailMessage.quotedPrintable("Osoba leżąca = zgłoszenie \nline ends with space \n" + String(repeating: "x", count: 200))
        #expect(lines[0] == "Osoba le=C5=BC=C4=85ca =3D zg=C5=82oszenie=20")
        #expect(lines[1] == "line ends with space=20")
        #expect(lines.allSatisfy { $0.utf8.count <= 76 } && lines.dropFirst(2).dropLast().allSatisfy { $0.hasSuffix("=") })
        #expect(MailMessage.encodedWords("Incident 2026/7") == "Incident 2026/7")
        let words = MailMessage.encodedWords("Zgłoszenie 2026/7: osoba leżąca na przystanku przy ulicy Długiej, nie reaguje")
        let parts = words.components(separatedBy: "\r\n ")
        #expect(parts.count > 1 && parts.allSatisfy { $0.hasPrefix("=?UTF-8?B?") && $0.hasSuffix("?=") && $0.count + 9 <= 76 })
        let decoded = parts.map { part -> String in
            let b64 = part.dropFirst(10).dropLast(2)
            return String(decoding: Data(base64Encoded: String(b64))!, as: UTF8.self)
        }.joined()
        #expect(decoded == "Zgłoszenie 2026/7: osoba leżąca na przystanku przy ulicy Długiej, nie reaguje")
        // A header never carries a line break from the text.
        #expect(!MailMessage.encodedWords("a\r\nBcc: x@evil.example").contains("\n"))
    }

    @Test func aLineStartingWithADotIsStuffed() {
        let wire = MailMessage(to: "a@b.example", subject: "s", text: ".\n..two", idempotencyKey: "k", dateMicros: 0).wire(
            from: "v@c.example")
        #expect(wire.contains("\r\n..\r\n...two\r\n") && !wire.contains("\n.\r\n"))
        #expect(wire.hasSuffix("\r\n") && !wire.contains("\r\r") && wire.contains("Message-ID: <k@c.example>\r\n"))
    }
}
