import Foundation
import TestSupport
import Testing

/// The incident register in a real browser: an operator reports what a live tile shows in one
/// key (the camera and the frame's time filled in) and files it within 10 s of the key, the
/// incident is listed, followed up to "on scene" with a note on its timeline, marked on the
/// camera's playback lane, and nothing of it stays on the page after signing out.
extension EndToEndTests {
    @Test func anOperatorReportsAnIncidentFromALiveTileAndFollowsItUp() async throws {
        let dir = try TestSupport.temporaryDirectory("incident-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let cameraPort = TestSupport.freePort(), webPort = TestSupport.freePort()
        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let sim = try Peer(vigil, ["simulate", "--cameras", "1", "--port", "\(cameraPort)", "--file", clip], log: dir + "/sim.log")
        try await sim.waitFor("/cam1", seconds: 10)
        let added = try await TestSupport.run(
            vigil, ["camera", "add", "--data", data, "square", "rtsp://127.0.0.1:\(cameraPort)/cam1", "--location", "Market Square"])
        try #require(added.status == 0, "\(added.stderr)")
        let user = try await TestSupport.run(
            vigil, ["user", "add", "--data", data, "watcher", "--role", "operator"], input: "a long passphrase 7\n")
        try #require(user.status == 0, "\(user.stderr)")
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)

        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try browser.setViewport(width: 1600, height: 900, session: page)
        try await browser.signIn("watcher", password: "a long passphrase 7", session: page)
        _ = try browser.evaluate("document.querySelector('nav [data-view=live]').click(); true", session: page)
        // The tile shows Vigil's time of its frame: what the report will say was seen.
        try await browser.waitUntil("wall.cells.length > 0 && wall.cells[0].frame > 0", session: page, seconds: 20)

        // I on the focused tile: the form opens with the camera and the frame's time, the
        // category focused; a category, a few words and Enter file it.
        let pressed = Date()
        _ = try browser.evaluate(
            """
            wall.cells[0].el.focus();
            wall.cells[0].el.dispatchEvent(new KeyboardEvent('keydown', { key: 'i', bubbles: true, cancelable: true })); true
            """, session: page)
        try await browser.waitUntil(
            "!$('incident-form').hidden && $('incident-camera').value === '1' && document.activeElement === $('incident-category')",
            session: page, seconds: 5, describe: "[$('incident-form').hidden, $('incident-camera').value, document.activeElement.id]")
        let seen = try #require(try browser.evaluate("$('incident-observed').value", session: page) as? String)
        #expect(seen.count == 19, "the frame's time to the second: \(seen)")
        _ = try browser.evaluate(
            """
            $('incident-category').value = [...$('incident-category').options].find((o) => o.text.startsWith('Person lying')).value;
            $('incident-description').focus(); true
            """, session: page)
        _ = try browser.call("Input.insertText", ["text": "a man lying on the bench, not moving"], session: page)
        _ = try browser.evaluate(
            "$('incident-description').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true })); true",
            session: page)
        try await browser.waitUntil(
            "$('incident-said').textContent.startsWith('Incident ')", session: page, seconds: 10,
            describe: "[$('incident-said').textContent, $('incident-error').textContent]")
        let filedIn = Date().timeIntervalSince(pressed)
        #expect(filedIn < 10, "from the key to the filed report took \(filedIn) s")
        let said = try #require(try browser.evaluate("$('incident-said').textContent", session: page) as? String)
        #expect(said.contains("reported (Person lying, or needing help), open"), "\(said)")
        let row = try #require(
            try browser.evaluate("[...$('incident-rows').rows[0].cells].map((c) => c.textContent)", session: page) as? [String])
        #expect(row.count == 8 && row[0].hasSuffix("/1") && row[4] == "Market Square" && row[5] == "square" && row[6] == "open", "\(row)")

        // Followed up: on scene with a note; the timeline says who and when.
        _ = try browser.evaluate("$('incident-rows').rows[0].click(); true", session: page)
        try await browser.waitUntil("!$('incident-detail').hidden && $('incident-next').options.length === 5", session: page, seconds: 5)
        _ = try browser.evaluate(
            "$('incident-next').value = 'on-scene'; $('incident-note').value = 'patrol 3 is there'; $('incident-update-form').requestSubmit(); true",
            session: page)
        try await browser.waitUntil(
            "$('incident-timeline').children.length === 3", session: page, seconds: 5,
            describe: "[$('incident-timeline').innerText, $('incident-detail-error').textContent]")
        let timeline = try #require(try browser.evaluate("$('incident-timeline').innerText", session: page) as? String)
        #expect(timeline.contains("watcher · reported as Person lying") && timeline.contains("service on scene"), "\(timeline)")
        #expect(timeline.contains("note: patrol 3 is there"), "\(timeline)")
        #expect(try browser.evaluate("$('incident-rows').rows[0].cells[6].textContent", session: page) as? String == "service on scene")
        // Going back is not offered: the statuses after "on scene" only.
        let offered = try #require(
            try browser.evaluate("[...$('incident-next').options].map((o) => o.value)", session: page) as? [String])
        #expect(offered == ["", "closed"], "\(offered)")
        try await browser.screenshotPage("incidents", session: page)

        // The camera's playback lane marks the incident.
        _ = try browser.evaluate("document.querySelector('nav [data-view=playback]').click(); true", session: page)
        try await browser.waitUntil("document.getElementById('playback-camera').options.length === 1", session: page, seconds: 10)
        _ = try browser.evaluate(
            """
            $('playback-camera').value = '1';
            $('playback-from').value = localInput(new Date(Date.now() - 300 * 1000));
            $('playback-to').value = localInput(new Date(Date.now() + 1000));
            $('playback-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.querySelectorAll('#coverage .lane .incident').length === 1", session: page, seconds: 20,
            describe: "[$('coverage-text').textContent, $('playback-error').textContent]")
        let mark = try browser.evaluate("document.querySelector('#coverage .lane .incident').title", session: page) as? String
        #expect(mark?.contains("Person lying, or needing help (on-scene)") == true, "\(mark ?? "")")

        // Nothing of the register stays on a signed-out page.
        _ = try browser.evaluate("$('sign-out').click(); true", session: page)
        try await browser.waitUntil("!document.getElementById('sign-in').hidden", session: page, seconds: 10)
        let left =
            try browser.evaluate(
                "[$('incident-rows').children.length, $('incident-timeline').children.length, $('incident-said').textContent, inc.list.length]",
                session: page) as? [Any]
        #expect(left?.map { "\($0)" } == ["0", "0", "", "0"], "\(String(describing: left))")
    }
}
