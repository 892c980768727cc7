import Foundation
import TestSupport
import Testing

/// Footage asked for from an incident, in a real browser: the operator asks on the
/// incident's page, the investigator finds the request on the Evidence page, registers the
/// exhibit from it (the form filled with its camera and times) and the incident shows it.
extension EndToEndTests {
    @Test func anOperatorAsksToSecureFootageAndAnInvestigatorRegistersIt() async throws {
        let dir = try TestSupport.temporaryDirectory("exhibit-request-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data", vigil = TestSupport.vigilBinary, webPort = TestSupport.freePort()
        func run(_ arguments: [String], input: String? = nil) async throws {
            let r = try await TestSupport.run(vigil, [arguments[0], arguments[1], "--data", data] + arguments.dropFirst(2), input: input)
            try #require(r.status == 0, "\(arguments): \(r.stderr)")
        }
        try await run(["camera", "add", "gate", "rtsp://127.0.0.1:9/a", "--disabled"])
        try await run(["user", "add", "desk", "--role", "operator"], input: "a long passphrase 7\n")
        try await run(["user", "add", "kowalska", "--role", "investigator"], input: "a long passphrase 7\n")
        try await run(["user", "grant", "kowalska", "--permission", "register-evidence", "--camera", "gate"])
        let iso = ISO8601DateFormatter(), now = Date()
        try await run([
            "incident", "create", "--category", "theft-or-damage", "--description", "a bike taken from the rack", "--camera", "gate",
            "--from", iso.string(from: now.addingTimeInterval(-300)), "--to", iso.string(from: now.addingTimeInterval(-60))
        ])
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)
        // Held to the end (an object unused after its last reference may be released early,
        // and a Peer's deinit kills its process): stopped cleanly at the end of the test.
        defer { #expect(server.interrupt() == 0, "vigil serve stops cleanly") }
        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try browser.setViewport(width: 1600, height: 900, session: page)

        try await browser.signIn("desk", password: "a long passphrase 7", session: page)
        _ = try browser.evaluate("document.querySelector('nav [data-view=incidents]').click(); true", session: page)
        try await browser.waitUntil("$('incident-rows').rows.length === 1", session: page, seconds: 10)
        _ = try browser.evaluate("$('incident-rows').rows[0].click(); true", session: page)
        try await browser.waitUntil("!$('incident-detail').hidden && !$('incident-request-form').hidden", session: page, seconds: 5)
        _ = try browser.evaluate(
            "$('incident-request-reason').value = 'the owner reported it to the police'; $('incident-request-form').requestSubmit(); true",
            session: page)
        try await browser.waitUntil(
            "$('incident-requests').textContent.includes('held, waiting for an investigator') && $('incident-request-form').hidden",
            session: page,
            seconds: 5, describe: "[$('incident-requests').textContent, $('incident-detail-error').textContent]")
        _ = try browser.evaluate("$('sign-out').click(); true", session: page)
        try await browser.waitUntil("!document.getElementById('sign-in').hidden", session: page, seconds: 10)

        try await browser.signIn("kowalska", password: "a long passphrase 7", session: page)
        _ = try browser.evaluate("document.querySelector('nav [data-view=evidence]').click(); true", session: page)
        try await browser.waitUntil(
            "!$('request-list').hidden && $('request-rows').rows.length === 1", session: page, seconds: 10,
            describe: "$('request-error').textContent")
        let row = try browser.evaluate("$('request-rows').rows[0].innerText", session: page) as? String ?? ""
        #expect(row.contains("Theft or destruction of property") && row.contains("gate") && row.contains("the owner reported it"), "\(row)")
        try await browser.screenshotPage("evidence-requests", session: page)
        _ = try browser.evaluate("$('request-rows').rows[0].querySelector('button').click(); true", session: page)
        try await browser.waitUntil(
            "$('evidence-new').open && [...$('evidence-cameras').selectedOptions].map((o) => o.text).join() === 'gate'", session: page,
            seconds: 5)
        _ = try browser.evaluate(
            "$('evidence-case').value = 'RSD-112/26'; $('evidence-purpose').value = 'a stolen bike'; $('evidence-form').requestSubmit(); true",
            session: page)
        try await browser.waitUntil(
            "$('request-rows').rows.length === 0 && $('request-list').hidden", session: page, seconds: 10,
            describe: "[$('evidence-error').textContent, $('request-error').textContent]")
        let shown = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        #expect(shown.stdout.contains("registered as exhibit"), "\(shown.stdout.suffix(1500))")
    }
}
