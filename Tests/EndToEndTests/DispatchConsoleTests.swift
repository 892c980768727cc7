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
        // Held to the end (an object unused after its last reference may be released early,
        // and a Peer's deinit kills its process): stopped cleanly at the end of the test.
        defer { #expect(server.interrupt() == 0, "vigil serve stops cleanly") }
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

extension EndToEndTests {
    /// An administrator sets dispatch up in the console: the ambulance's address (a wrong one
    /// refused in words), a webhook's secret written and never shown, a category's routes
    /// by their boxes; the command line sees the same.
    @Test func anAdministratorSetsUpWhoIsToldInTheConsole() async throws {
        let dir = try TestSupport.temporaryDirectory("dispatch-setup")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data", vigil = TestSupport.vigilBinary, webPort = TestSupport.freePort()
        let user = try await TestSupport.run(
            vigil, ["user", "add", "--data", data, "keeper", "--role", "admin"], input: "a long passphrase 7\n")
        try #require(user.status == 0, "\(user.stderr)")
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)
        // Held to the end (an object unused after its last reference may be released early,
        // and a Peer's deinit kills its process): stopped cleanly at the end of the test.
        defer { #expect(server.interrupt() == 0, "vigil serve stops cleanly") }
        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try browser.setViewport(width: 1600, height: 900, session: page)
        try await browser.signIn("keeper", password: "a long passphrase 7", session: page)
        try await browser.waitUntil("!document.querySelector('nav [data-view=incidents]').hidden", session: page, seconds: 10)
        _ = try browser.evaluate("document.querySelector('nav [data-view=incidents]').click(); true", session: page)
        try await browser.waitUntil(
            "$('dispatch-rows').rows.length === 9 && $('route-rows').rows.length === 10", session: page, seconds: 10,
            describe: "$('dispatch-said').textContent")
        #expect(try browser.evaluate("+$('incident-register').hidden", session: page) as? Int == 1, "the register is the operators'")
        func row(_ name: String) throws -> String {
            try browser.evaluate(
                "[...$('dispatch-rows').rows].find((r) => r.cells[0].textContent === '\(name)').innerText", session: page) as? String ?? ""
        }
        #expect(try row("Ambulance service").contains("NOT SET UP"))
        _ = try browser.evaluate(
            "[...$('dispatch-rows').rows].find((r) => r.cells[0].textContent === 'Ambulance service').querySelector('button').click(); true",
            session: page)
        try await browser.waitUntil(
            "!$('dispatch-edit').hidden && document.activeElement === $('dispatch-address')", session: page, seconds: 5)
        _ = try browser.evaluate("$('dispatch-address').value = 'not an address'; $('dispatch-edit').requestSubmit(); true", session: page)
        try await browser.waitUntil(
            "$('dispatch-error').textContent.includes('e-mail address')", session: page, seconds: 5,
            describe: "$('dispatch-error').textContent")
        _ = try browser.evaluate(
            "$('dispatch-address').value = 'dyspozytor@ambulans.example'; $('dispatch-edit').requestSubmit(); true", session: page)
        try await browser.waitUntil("$('dispatch-said').textContent === 'Ambulance service: saved.'", session: page, seconds: 5)
        #expect(try row("Ambulance service").contains("dyspozytor@ambulans.example") && row("Ambulance service").contains("ready"))
        // The police to a webhook with a secret: the secret is written, never shown again.
        _ = try browser.evaluate(
            """
            [...$('dispatch-rows').rows].find((r) => r.cells[0].textContent === 'City police duty station').querySelector('button').click();
            $('dispatch-channel').value = 'webhook'; $('dispatch-address').value = 'https://police.city.example/vigil';
            $('dispatch-secret').value = 'a secret of the police system'; $('dispatch-edit').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "$('dispatch-said').textContent === 'City police duty station: saved.'", session: page, seconds: 5,
            describe: "$('dispatch-error').textContent")
        #expect(try browser.evaluate("document.body.innerHTML.includes('a secret of the police system')", session: page) as? Bool == false)
        // Littering no longer goes to cleaning: its box unticked.
        _ = try browser.evaluate(
            """
            const box = [...$('route-rows').rows].find((r) => r.cells[0].textContent.startsWith('Littering')).querySelector('input[data-key=cleaning]');
            box.click(); true
            """, session: page)
        try await browser.waitUntil(
            "$('dispatch-said').textContent.startsWith('Littering or polluting a public place goes to guard')", session: page,
            seconds: 5, describe: "$('dispatch-said').textContent")
        try await browser.screenshotPage("dispatch-setup", session: page)
        let listed = try await TestSupport.run(vigil, ["dispatch", "recipients", "--data", data])
        #expect(listed.stdout.contains("ambulance\temail\tdyspozytor@ambulans.example"), "\(listed.stdout)")
        #expect(listed.stdout.contains("police\twebhook\thttps://police.city.example/vigil"))
        #expect(listed.stdout.split(separator: "\n").first { $0.hasPrefix("cleaning\t") }?.contains("littering") == false)
        let log = try await TestSupport.run(vigil, ["audit", "list", "--data", data]).stdout
        #expect(log.components(separatedBy: "\"dispatch.change\"").count == 4 && !log.contains("a secret of the police system"))
    }
}
