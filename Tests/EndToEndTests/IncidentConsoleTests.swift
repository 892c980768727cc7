import Foundation
import TestSupport
import Testing

/// The incident register in a real browser: an operator reports what a live tile shows in one
/// key (the camera and the frame's time filled in) and files it within 10 s of the key, the
/// incident is listed, followed up to "on scene" with a note on its timeline, marked on the
/// camera's playback lane, counted in the month's figures (SVG charts drawn by the page), and
/// nothing of it stays on the page after signing out.
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
        defer { withExtendedLifetime(server) {} } // its deinit would stop it: held to the end

        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try browser.setViewport(width: 1600, height: 900, session: page)
        try await browser.signIn("watcher", password: "a long passphrase 7", session: page)
        _ = try browser.evaluate("document.querySelector('nav [data-view=live]').click(); true", session: page)
        // The tile shows Vigil's time of its frame: what the report will say was seen.
        try await browser.waitUntil("wall.cells.length > 0 && wall.cells[0].frame > 0", session: page, seconds: 20)

        // I on the focused tile: the report opens over the wall, which plays on, with the
        // camera and the frame's time filled in and the category focused; a category, Tab, a
        // few words and Enter file it (the keys as a keyboard sends them).
        func key(_ name: String, code: Int) throws {
            for type in ["keyDown", "keyUp"] {
                _ = try browser.call(
                    "Input.dispatchKeyEvent", ["type": type, "key": name, "code": name, "windowsVirtualKeyCode": code], session: page)
            }
        }
        let pressed = Date()
        _ = try browser.evaluate("wall.cells[0].el.focus(); true", session: page)
        try key("i", code: 73)
        try await browser.waitUntil(
            "$('incident-dialog').open && $('incident-camera').value === '1' && document.activeElement === $('incident-category')",
            session: page, seconds: 5, describe: "[$('incident-dialog').open, $('incident-camera').value, document.activeElement.id]")
        #expect(try browser.evaluate("state.liveStreams", session: page) as? Int == 1, "the wall plays on under the report")
        // A picture is asked for by default, previewed from the tile's frame on screen (not blank).
        let preview = try #require(
            try browser.evaluate(
                """
                (() => { const c = $('incident-picture-preview'); if (c.hidden) return [false, 0];
                  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let lit = 0;
                  for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 60) lit++;
                  return [$('incident-picture').checked, lit / (d.length / 4)]; })()
                """, session: page) as? [Any])
        #expect(preview.first as? Bool == true && (preview.last as? Double ?? 0) > 0.2, "the preview: \(preview)")
        // The frame's time to the second (the field leaves out ":00").
        let seen = try #require(
            try browser.evaluate(
                "[$('incident-observed').value, Math.abs(new Date($('incident-observed').value) - wall.cells[0].frame)]", session: page)
                as? [Any])
        #expect((seen[1] as? Double ?? 1e9) < 5_000 && "\(seen[0])".count >= 16, "the tile's frame time: \(seen)")
        try await browser.screenshotPage("live-incident-report", session: page)
        _ = try browser.evaluate("$('incident-category').focus(); true", session: page)
        // No category is chosen for the operator: Enter without one is refused in words. (The
        // category is then picked by script; Tab, the typing and Enter are real key events.)
        try key("Tab", code: 9)
        try key("Enter", code: 13)
        #expect(try browser.evaluate("$('incident-error').textContent", session: page) as? String == "Choose the category.")
        _ = try browser.evaluate(
            "$('incident-category').value = [...$('incident-category').options].find((o) => o.text.startsWith('Person lying')).value; true",
            session: page)
        try key("Tab", code: 9)
        #expect(try browser.evaluate("document.activeElement.id", session: page) as? String == "incident-description")
        _ = try browser.call("Input.insertText", ["text": "a man lying on the bench, not moving"], session: page)
        try key("Enter", code: 13)
        try await browser.waitUntil(
            "!$('incident-dialog').open && $('report-said').textContent.startsWith('Incident ')", session: page, seconds: 10,
            describe: "[$('report-said').textContent, $('incident-error').textContent]")
        let filedIn = Date().timeIntervalSince(pressed)
        #expect(filedIn < 10, "from the key to the filed report took \(filedIn) s")
        let said = try #require(try browser.evaluate("$('report-said').textContent", session: page) as? String)
        #expect(said.contains("reported (Person lying, or needing help), open"), "\(said)")
        #expect(said.contains("Its picture is being made from the recording"), "\(said)")
        // The push says when it is made, after the report's own words.
        try await browser.waitUntil(
            "$('report-said').textContent.includes('The picture of square for incident ')", session: page, seconds: 20,
            describe: "$('report-said').textContent")
        #expect(try browser.evaluate("state.liveStreams", session: page) as? Int == 1)

        // Listed on the Incidents page.
        _ = try browser.evaluate("document.querySelector('nav [data-view=incidents]').click(); true", session: page)
        try await browser.waitUntil("$('incident-rows').rows.length === 1", session: page, seconds: 10)
        // Vigil dispatch tells the police and the guard duty consoles within a second or two,
        // and the incident says so (the list read again until it does).
        try await browser.waitUntil(
            "loadIncidents() && $('incident-rows').rows.length === 1 && $('incident-rows').rows[0].cells[6].textContent === 'services notified'",
            session: page, seconds: 10, describe: "$('incident-rows').innerText")
        let row = try #require(
            try browser.evaluate("[...$('incident-rows').rows[0].cells].map((c) => c.textContent)", session: page) as? [String])
        #expect(
            row.count == 8 && row[0].hasSuffix("/1") && row[4] == "Market Square" && row[5] == "square" && row[6] == "services notified",
            "\(row)")

        // Followed up: on scene with a note; the timeline says who and when.
        _ = try browser.evaluate("$('incident-rows').rows[0].click(); true", session: page)
        try await browser.waitUntil("!$('incident-detail').hidden && $('incident-next').options.length === 4", session: page, seconds: 5)
        _ = try browser.evaluate(
            "$('incident-next').value = 'on-scene'; $('incident-note').value = 'patrol 3 is there'; $('incident-update-form').requestSubmit(); true",
            session: page)
        try await browser.waitUntil(
            // The picture is made after the report's answer; the push says when, and the open
            // incident is read again.
            "$('incident-timeline').children.length === 5", session: page, seconds: 20,
            describe: "[$('incident-timeline').innerText, $('incident-detail-error').textContent]")
        let timeline = try #require(try browser.evaluate("$('incident-timeline').innerText", session: page) as? String)
        #expect(timeline.contains("watcher · reported as Person lying") && timeline.contains("service on scene"), "\(timeline)")
        #expect(timeline.contains("note: patrol 3 is there") && timeline.contains("Vigil dispatch · services notified"), "\(timeline)")
        #expect(timeline.contains("watcher · picture 1 of square at "), "\(timeline)")
        // The picture Vigil made from the recording at the tile's moment, shown whole.
        try await browser.waitUntil(
            "(() => { const i = $('incident-pictures').querySelector('img'); return i && i.complete && i.naturalWidth === 640; })()",
            session: page, seconds: 10, describe: "$('incident-pictures').innerHTML")
        let caption = try browser.evaluate("$('incident-pictures').querySelector('figcaption').textContent", session: page) as? String
        #expect(caption?.hasPrefix("square · ") == true && caption?.contains("640×360 · by watcher") == true, "\(caption ?? "")")
        #expect(try browser.evaluate("$('incident-pictures-none').hidden", session: page) as? Bool == true)
        _ = try browser.evaluate("$('incident-detail-title').scrollIntoView(); true", session: page)
        try await browser.screenshotPage("incident-picture", session: page)
        // Who was told: the two duty consoles, and the ambulance, not set up, still waiting.
        let told = try #require(try browser.evaluate("$('incident-notified').innerText", session: page) as? String)
        #expect(told.contains("City police duty station") && told.contains("Ambulance service") && told.contains("not set up"), "\(told)")
        #expect(try browser.evaluate("$('incident-rows').rows[0].cells[6].textContent", session: page) as? String == "service on scene")
        // Going back is not offered: the statuses after "on scene" only.
        let offered = try #require(
            try browser.evaluate("[...$('incident-next').options].map((o) => o.value)", session: page) as? [String])
        #expect(offered == ["", "closed"], "\(offered)")
        // The month's figures for the city, drawn by the page: the incident counted, no name.
        try await browser.waitUntil(
            "$('stats-summary').textContent.startsWith('1 incident(s)') && $('stats-charts').querySelectorAll('svg').length === 6",
            session: page, seconds: 10, describe: "[$('stats-summary').textContent, $('stats-error').textContent]")
        let bars = try #require(
            try browser.evaluate(
                "[...$('stats-charts').querySelectorAll('figure')[0].querySelectorAll('text')].map((t) => t.textContent)", session: page)
                as? [String])
        #expect(bars == ["Person lying, or needing help", "1"], "\(bars)")
        #expect(try browser.evaluate("$('stats-csv').getAttribute('href')", session: page) as? String != "#")
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
                """
                [$('incident-rows').children.length, $('incident-timeline').children.length, $('incident-said').textContent, inc.list.length,
                 $('incident-description').value, $('report-said').textContent, $('stats-charts').children.length, $('stats-summary').textContent,
                 $('incident-pictures').children.length, $('incident-picture-camera').options.length, $('incident-picture-preview').hidden]
                """,
                session: page) as? [Any]
        #expect(left?.map { "\($0)" } == ["0", "0", "", "0", "", "", "0", "", "0", "0", "1"], "\(String(describing: left))")
    }
}
