import Foundation
import TestSupport
import Testing

/// The evidence register in a real browser, against `vigil serve` recording a simulated
/// camera: an investigator secures footage through the page and exports it, the page's
/// download links deliver exactly the files the server signed, `vigil verify` accepts the
/// bundle against the published certificate, and a supervisor releases the hold. Every
/// step is a custody event and an audit entry naming the browser's station.
extension EndToEndTests {
    @Test func evidenceRegisterThroughTheConsole() async throws {
        let dir = try TestSupport.temporaryDirectory("evidence-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let cameraPort = TestSupport.freePort(), webPort = TestSupport.freePort()

        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let sim = try Peer(vigil, ["simulate", "--cameras", "1", "--port", "\(cameraPort)", "--file", clip], log: dir + "/sim.log")
        try await sim.waitFor("/cam1", seconds: 10)
        let added = try await TestSupport.run(
            vigil, ["camera", "add", "--data", data, "gate", "rtsp://127.0.0.1:\(cameraPort)/cam1", "--segment-seconds", "2"])
        try #require(added.status == 0, "\(added.stderr)")
        for (name, role) in [("kowalska", "investigator"), ("nowak", "supervisor"), ("sad-rejonowy", "court")] {
            let user = try await TestSupport.run(
                vigil, ["user", "add", "--data", data, name, "--role", role], input: "a long passphrase 7\n")
            try #require(user.status == 0, "\(user.stderr)")
        }
        // An investigator registers exhibits over the cameras granted for the case.
        let granted = try await TestSupport.run(
            vigil, ["user", "grant", "--data", data, "kowalska", "--permission", "register-evidence", "--camera", "gate"])
        try #require(granted.status == 0, "\(granted.stderr)")
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)
        let started = Date()
        // Some closed segments to secure.
        try await Task.sleep(for: .seconds(8))

        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        func signIn(_ name: String) async throws {
            try await browser.signIn(name, password: "a long passphrase 7", session: page)
            _ = try browser.evaluate("document.querySelector('nav [data-view=evidence]').click(); true", session: page)
            try await browser.waitUntil("!document.getElementById('evidence').hidden", session: page, seconds: 10)
        }
        let text = { (id: String) in "document.getElementById('\(id)').textContent" }

        // The investigator registers an exhibit over the first seconds recorded.
        try await signIn("kowalska")
        try await browser.waitUntil(
            "!document.getElementById('evidence-new').hidden && document.getElementById('evidence-cameras').options.length === 1",
            session: page, seconds: 10)
        let from = started.addingTimeInterval(1), to = started.addingTimeInterval(5)
        _ = try browser.evaluate(
            """
            document.getElementById('evidence-cameras').options[0].selected = true;
            document.getElementById('evidence-from').value = localInput(new Date(\(Int(from.timeIntervalSince1970 * 1000))));
            document.getElementById('evidence-to').value = localInput(new Date(\(Int(to.timeIntervalSince1970 * 1000))));
            document.getElementById('evidence-body').value = 'police';
            document.getElementById('evidence-case').value = 'RSD-404/26';
            document.getElementById('evidence-basis').value = 'art. 20 ustawy o Policji';
            document.getElementById('evidence-purpose').value = 'hit and run at the gate';
            document.getElementById('evidence-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "!document.getElementById('exhibit').hidden", session: page, seconds: 15,
            describe: text("evidence-error"))
        let title = try #require(try browser.evaluate(text("exhibit-title"), session: page) as? String)
        let exhibit = String(title.prefix { $0 != " " })
        #expect(exhibit.wholeMatch(of: /EV-\d{4}-\d{6}/) != nil && title.contains("footage held"), "\(title)")
        #expect(try browser.evaluate("document.querySelectorAll('#evidence-rows tr').length", session: page) as? Int == 1)
        let facts = try #require(try browser.evaluate(text("exhibit-facts"), session: page) as? String)
        #expect(facts.contains("RSD-404/26") && facts.contains("gate") && facts.contains("held"), "\(facts)")
        #expect(try !browser.isDrawn("release-form", session: page), "an investigator may not release a hold")
        #expect(try browser.shownDespiteHidden(session: page) == [])

        // Export: the page lists the bundle's files as download links.
        _ = try browser.evaluate("document.getElementById('exhibit-export').click(); true", session: page)
        try await browser.waitUntil(
            "document.querySelectorAll('#exhibit-exports a').length >= 4", session: page, seconds: 30,
            describe: text("exhibit-error"))
        let links = try #require(
            try browser.evaluate(
                "[...document.querySelectorAll('#exhibit-exports a')].map(a => a.getAttribute('href'))",
                session: page) as? [String])
        // Each link, fetched by the page with its session, yields the file the server wrote.
        let digests = try #require(
            try browser.evaluate(
                """
                Promise.all([...document.querySelectorAll('#exhibit-exports a')].map(async (a) => {
                  const response = await fetch(a.href, { credentials: 'same-origin' });
                  const digest = await crypto.subtle.digest('SHA-256', await response.arrayBuffer());
                  return [a.textContent, response.status, [...new Uint8Array(digest)].map(b => b.toString(16).padStart(2, '0')).join('')];
                }))
                """, session: page, timeout: 30) as? [[Any]])
        let exportDirectory = try #require(
            links.first.map { link -> String in
                let parts = link.split(separator: "/")
                return "\(data)/exports/\(exhibit)/\(parts[parts.count - 2])"
            })
        for d in digests {
            let name = try #require(d[0] as? String)
            #expect(d[1] as? Int == 200, "\(name)")
            let onDisk = try await TestSupport.run("/usr/bin/sha256sum", ["\(exportDirectory)/\(name)"]).stdout.prefix(64)
            #expect(d[2] as? String == String(onDisk), "\(name): the download differs from the signed file")
        }
        #expect(digests.contains { ($0[0] as? String)?.hasSuffix(".mp4") == true })

        // Hand-over, recorded through the page.
        _ = try browser.evaluate(
            """
            document.getElementById('handover-to').value = 'asp. sztab. Wiśniewski, KMP';
            document.getElementById('handover-purpose').value = 'investigation';
            document.getElementById('handover-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.getElementById('custody-rows').textContent.includes('handed-over')", session: page, seconds: 10,
            describe: text("exhibit-error"))

        // Shared with the court through the page; the court then sees it in its register.
        _ = try browser.evaluate(
            """
            document.getElementById('share-user').value = 'sad-rejonowy';
            document.getElementById('share-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.getElementById('exhibit-shares').textContent.includes('sad-rejonowy')", session: page, seconds: 10,
            describe: text("exhibit-error"))
        try browser.screenshot("evidence-exhibit-shared", session: page)
        try await browser.screenshotPage("evidence", session: page)

        // A supervisor releases the hold, with a reason.
        _ = try browser.evaluate("document.getElementById('sign-out').click(); true", session: page)
        // Nothing the investigator saw stays in the page for the next user at the station.
        try await browser.waitUntil(
            """
            !document.getElementById('sign-in').hidden && document.getElementById('exhibit').hidden &&
            document.querySelectorAll('#evidence-rows tr, #custody-rows tr, #exhibit-exports a').length === 0 &&
            !document.body.innerHTML.includes('RSD-404/26')
            """, session: page, seconds: 10, describe: "document.body.innerHTML.length")
        try await signIn("nowak")
        try await browser.waitUntil("document.querySelectorAll('#evidence-rows tr').length === 1", session: page, seconds: 10)
        _ = try browser.evaluate("document.querySelector('#evidence-rows tr').click(); true", session: page)
        try await browser.waitUntil(
            "!document.getElementById('exhibit').hidden && !document.getElementById('release-form').hidden",
            session: page, seconds: 10)
        #expect(try !browser.isDrawn("handover-form", session: page), "a supervisor records no hand-over")
        #expect(try browser.shownDespiteHidden(session: page) == [])
        _ = try browser.evaluate(
            """
            document.getElementById('release-reason').value = 'proceedings discontinued';
            document.getElementById('release-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.getElementById('exhibit-title').textContent.includes('hold released')", session: page, seconds: 10,
            describe: text("exhibit-error"))
        let custody = try #require(
            try browser.evaluate(
                "[...document.querySelectorAll('#custody-rows tr')].map(r => r.children[1].textContent)",
                session: page) as? [String])
        #expect(
            custody == ["created", "exported"] + Array(repeating: "downloaded", count: digests.count) + [
                "handed-over", "shared", "hold-released"
            ],
            "\(custody)")

        browser.close()
        #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        _ = sim.interrupt()

        // The bundle verifies offline against the published certificate.
        let certificate = try await TestSupport.run(vigil, ["site-certificate", "--data", data])
        try certificate.stdout.write(toFile: dir + "/site.pem", atomically: true, encoding: .utf8)
        let verified = try await TestSupport.run(vigil, ["verify", exportDirectory, "--trust", dir + "/site.pem"])
        #expect(verified.status == 0, "\(verified.stdout)\(verified.stderr)")

        // Each step is in the audit log, attributed to its user and the browser's station.
        let listed = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        let entries = listed.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        for (action, user) in [
            ("evidence.created", "kowalska"), ("evidence.exported", "kowalska"), ("evidence.downloaded", "kowalska"),
            ("evidence.handed-over", "kowalska"), ("evidence.shared", "kowalska"), ("evidence.hold-released", "nowak")
        ] {
            let matching = entries.filter { $0["action"] as? String == action && $0["user"] as? String == user }
            #expect(!matching.isEmpty, "no \(action) by \(user)")
            #expect(
                matching.allSatisfy {
                    ($0["userAgent"] as? String)?.contains("Chrome") == true && $0["caseReference"] as? String == "RSD-404/26"
                },
                "\(matching)")
        }
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data]).status == 0)
    }
}
