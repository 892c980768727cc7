import Base
import Testing

@testable import Centre

@Suite struct TextFieldTests {
    @Test func textIsBoundedAndFreeOfControlAndReorderingCharacters() throws {
        try TextField.check("RSD-404/26 (Wiśniewski, KMP)", "a case", maximum: 100)
        try TextField.check("", "a note", maximum: 10, required: false)
        try TextField.check("line one\nline two", "a note", maximum: 100, required: false, multiline: true)
        for (text, required, multiline) in [
            ("", true, false), ("   ", true, false), (String(repeating: "x", count: 101), true, false),
            ("a\u{0}b", true, false), ("a\u{7}b", true, false), ("a\nb", true, false), ("a\u{1b}[2Jb", true, false),
            ("abc\u{202E}fdp.exe", true, false), ("x\u{2066}y", true, false), ("x\u{2028}y", true, true),
            ("a\u{0}b", false, true), ("x\u{200B}y", true, false), ("\u{200B}", true, false),
            ("a\u{200E}b", true, false), ("tag\u{E0041}", true, false), ("x\u{FEFF}", true, false), ("join\u{200D}ed", true, false),
            ("e" + String(repeating: "\u{301}", count: 500), true, false)
        ] {
            #expect(throws: VigilError.self, "\(text.debugDescription)") {
                try TextField.check(text, "a field", maximum: 100, required: required, multiline: multiline)
            }
        }
    }
}
