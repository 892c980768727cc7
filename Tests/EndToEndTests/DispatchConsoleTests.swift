import Foundation
import TestSupport
import Testing

/// The police duty officer's console in a real browser: a report filed by an operator (from
/// the command line, as another station would) reaches it within seconds as a sound and the
/// panel opened over the page; Enter on the focused Acknowledge records it, the incident
/// moves to acknowledged by Vigil dispatch, and nothing stays after signing out.
extension EndToEndTests {
    @Test func aDutyConsoleHearsTheReportAndAcknowledgesItByKeyboard() async throws {
        let dir = try TestSupport.temporaryDirectory("dispatch-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data", vigil = TestSupport.vigilBinary, webPort = TestSupport.freePort()
        let user = try await TestSupport.run(
            vigil, ["user", "add", "--data", data, "duty", "--role", "police-duty"], input: "a long passphrase 7\n")
        try #require(user.status == 0, "\(user.stderr)")
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)
        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try browser.setViewport(width: 1600, height: 900, session: page)
        try await browser.signIn("duty", password: "a long passphrase 7", session: page)
        try await browser.waitUntil("!$('notify-button').hidden && state.events !== null", session: page, seconds: 10)
        #expect(try browser.evaluate("notes.chimes", session: page) as? Int == 0)
        // A click on the page (the officer at work): the browser lets it play sound from now on.
        for type in ["mousePressed", "mouseReleased"] {
            _ = try browser.call(
                "Input.dispatchMouseEvent", ["type": type, "x": 600, "y": 400, "button": "left", "clickCount": 1], session: page)
        }
        try await browser.waitUntil("notes.audio !== null && notes.audio.state === 'running'", session: page, seconds: 5)

        let filed = try await TestSupport.run(
            vigil,
            ["incident", "create", "--data", data, "--category", "violence", "--priority", "1", "--description", "a fight at the tram stop"]
        )
        try #require(filed.status == 0, "\(filed.stderr)")
        // Heard: a sound, the panel open, the report's Acknowledge focused.
        try await browser.waitUntil(
            "notes.chimes === 1 && $('notify-panel').matches(':popover-open') && document.activeElement.textContent === 'Acknowledge'",
            session: page, seconds: 15, describe: "[notes.chimes, notes.list.length, document.activeElement.outerHTML]")
        // Sounded: the keys typed at sign-in let the page play (the browser's rule), and the
        // tones were played, not only asked for.
        let sound =
            try browser.evaluate(
                "JSON.stringify([notes.played, notes.audio && notes.audio.state, +$('notify-sound').hidden])", session: page) as? String
        #expect(sound == "[1,\"running\",1]", "\(sound ?? "")")
        let item = try browser.evaluate("$('notify-list').querySelector('li.due').textContent", session: page) as? String ?? ""
        #expect(item.contains("priority 1: Physical violence") && item.contains("City police duty station (duty console)"), "\(item)")
        #expect(try browser.evaluate("$('notify-count').textContent", session: page) as? String == "1")
        try await browser.screenshotPage("notification-duty-console", session: page)

        // Enter on the focused button, as a keyboard sends it (the key and its text).
        _ = try browser.call(
            "Input.dispatchKeyEvent", ["type": "keyDown", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "text": "\r"],
            session: page)
        _ = try browser.call(
            "Input.dispatchKeyEvent", ["type": "keyUp", "key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13], session: page)
        try await browser.waitUntil(
            "$('notify-list').textContent.includes('by duty (console)') && $('notify-count').textContent === ''", session: page,
            seconds: 10, describe: "[$('notify-list').textContent, $('notify-error').textContent]")
        let shown = try await TestSupport.run(vigil, ["incident", "show", "--data", data, "1"])
        #expect(shown.stdout.contains("Vigil dispatch  status: acknowledged by the service"), "\(shown.stdout)")
        #expect(shown.stdout.contains("acknowledged for City police duty station by duty (console)"))
        #expect(try browser.evaluate("notes.chimes", session: page) as? Int == 1, "acknowledged: no second sound")

        _ = try browser.evaluate("$('sign-out').click(); true", session: page)
        try await browser.waitUntil("!document.getElementById('sign-in').hidden", session: page, seconds: 10)
        let left =
            try browser.evaluate(
                "[$('notify-list').children.length, notes.list.length, +$('notify-button').hidden, +$('notify-panel').matches(':popover-open')]",
                session: page) as? [Any]
        #expect(left?.map { "\($0)" } == ["0", "0", "1", "0"], "\(String(describing: left))")
    }
}
