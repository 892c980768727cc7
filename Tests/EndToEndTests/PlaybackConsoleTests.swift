import Foundation
import TestSupport
import Testing

/// The playback page's timeline in a real browser, driven with the mouse and the keyboard:
/// two cameras play in sync on one clock, footage held as evidence is marked on its lane,
/// playback crosses from one loaded window of the range to the next without stopping, the
/// timeline zooms to a minute and back, a drag scrubs both players, and a Shift-drag selects
/// a stretch that goes to the evidence register's form, filled in.
extension EndToEndTests {
    @Test func theTimelinePlaysTwoCamerasInSyncZoomsScrubsAndSecuresASelection() async throws {
        let dir = try TestSupport.temporaryDirectory("playback-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let cameraPort = TestSupport.freePort(), webPort = TestSupport.freePort()
        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let sim = try Peer(vigil, ["simulate", "--cameras", "2", "--port", "\(cameraPort)", "--file", clip], log: dir + "/sim.log")
        try await sim.waitFor("/cam2", seconds: 10)
        for n in 1...2 {
            let added = try await TestSupport.run(
                vigil, ["camera", "add", "--data", data, "street-\(n)", "rtsp://127.0.0.1:\(cameraPort)/cam\(n)"])
            try #require(added.status == 0, "\(added.stderr)")
        }
        let user = try await TestSupport.run(
            vigil, ["user", "add", "--data", data, "chief", "--role", "supervisor"], input: "a long passphrase 7\n")
        try #require(user.status == 0, "\(user.stderr)")
        // Securing footage is the evidence register's: this supervisor is granted it.
        for permission in ["manage-evidence", "register-evidence"] {
            let granted = try await TestSupport.run(vigil, ["user", "grant", "--data", data, "chief", "--permission", permission])
            try #require(granted.status == 0, "\(granted.stderr)")
        }
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)

        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try await browser.signIn("chief", password: "a long passphrase 7", session: page)
        // Fifteen seconds recorded on both, then four of camera 1's held as an exhibit.
        let recorded = """
            Promise.all([1, 2].map((id) => api('GET', `/api/cameras/${id}/recordings?from=${new Date(Date.now() - 600000).toISOString()}&to=${new Date().toISOString()}`)))
              .then((all) => all.every((c) => c.recorded.reduce((n, r) => n + Date.parse(r.to) - Date.parse(r.from), 0) > 15000))
            """
        for _ in 0..<60 {
            if try browser.evaluate(recorded, session: page) as? Bool == true { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        try #require(try browser.evaluate(recorded, session: page) as? Bool == true, "15 s were not recorded in 30 s")
        let held =
            try browser.evaluate(
                """
                api('POST', '/api/evidence', { ranges: [{ camera: 1, from: new Date(Date.now() - 9000).toISOString(), to: new Date(Date.now() - 5000).toISOString() }],
                  requestingBody: 'police', caseReference: 'PB-1', purpose: 'the timeline marks held footage' }).then((e) => e.exhibit, (e) => 'failed: ' + e.message)
                """, session: page) as? String
        #expect(held?.hasPrefix("failed") == false, "\(held ?? "")")

        // Both cameras over the last ten minutes, in windows of 6 s (30 min in use) so that
        // playback crosses from one to the next.
        _ = try browser.evaluate("document.querySelector('nav [data-view=playback]').click(); true", session: page)
        try await browser.waitUntil("document.getElementById('playback-add').options.length === 3", session: page, seconds: 10)
        _ = try browser.evaluate(
            """
            pb.windowMs = 6000;
            $('playback-camera').value = '1';
            $('playback-add').value = '2'; $('playback-add').dispatchEvent(new Event('change'));
            $('playback-from').value = localInput(new Date(Date.now() - 600 * 1000));
            $('playback-to').value = localInput(new Date(Date.now() + 1000));
            $('playback-form').requestSubmit(); true
            """, session: page)
        let frames = "[...document.querySelectorAll('#playback-grid video')].map((v) => v.getVideoPlaybackQuality().totalVideoFrames)"
        try await browser.waitUntil(
            "\(frames).length === 2 && \(frames).every((n) => n > 10)", session: page, seconds: 30,
            describe: "[\(frames), $('playback-error').textContent, pb.tracks.map((t) => t.note.textContent)]")
        let lanes = try #require(
            try browser.evaluate(
                "[...document.querySelectorAll('#coverage .lane')].map((l) => [l.querySelector('.lane-name').textContent, l.querySelectorAll('.rec').length, l.querySelectorAll('.held').length])",
                session: page) as? [[Any]])
        #expect(lanes.count == 2 && lanes[0][0] as? String == "street-1" && lanes[1][0] as? String == "street-2", "\(lanes)")
        #expect(lanes.first?[2] as? Int == 1 && lanes.last?[2] as? Int == 0, "held footage is marked on its camera only: \(lanes)")
        #expect(
            (try browser.evaluate("$('coverage-text').textContent", session: page) as? String)?.contains("1 stretch(es) held as evidence")
                == true)

        // In sync: the two players show the same clock time, within 0.4 s, as they play on.
        let clocks = "pb.tracks.map(trackClock)"
        let start = try #require(try browser.evaluate("pb.at", session: page) as? Double)
        let firstSource = try browser.evaluate("$('playback-video').getAttribute('src')", session: page) as? String
        var compared = 0
        for _ in 0..<8 {
            try await Task.sleep(for: .milliseconds(500))
            let both = try #require(try browser.evaluate(clocks, session: page) as? [Any])
            // A player between two windows shows no time for a moment: compared when both do.
            if let a = both.first as? Double, let b = both.last as? Double {
                #expect(abs(a - b) < 400, "the players are \(abs(a - b)) ms apart")
                compared += 1
            }
        }
        #expect(compared >= 3, "both players showed a time only \(compared) times of 8")
        // Across windows: each player loaded the next one and the clock went on past the first.
        try await browser.waitUntil("pb.at - \(start) > 7000", session: page, seconds: 25, describe: "[pb.at - \(start), pb.playing]")
        #expect(try browser.evaluate("$('playback-video').getAttribute('src')", session: page) as? String != firstSource)

        // Zoom by keyboard on the timeline: three steps in reach one minute, labelled in seconds.
        _ = try browser.evaluate("$('coverage').focus(); true", session: page)
        func key(_ k: String) throws {
            _ = try browser.evaluate(
                "$('coverage').dispatchEvent(new KeyboardEvent('keydown', { key: '\(k)', bubbles: true, cancelable: true })); true",
                session: page)
        }
        for _ in 0..<3 { try key("+") }
        #expect(try browser.evaluate("pb.v1 - pb.v0", session: page) as? Double == 60000)
        let ticks = try #require(
            try browser.evaluate("[...document.querySelectorAll('#coverage .tick')].map((t) => t.textContent)", session: page) as? [String])
        #expect((6...16).contains(ticks.count) && ticks.allSatisfy { $0.contains(/^\d\d:\d\d:\d\d$/) }, "\(ticks)")
        #expect(
            (try browser.evaluate("$('timeline-scale').textContent", session: page) as? String)?.contains("1 min shown of 10 min") == true)
        try key("-")
        #expect(try browser.evaluate("pb.v1 - pb.v0", session: page) as? Double == 180000)
        for _ in 0..<2 { try key("+") }

        // Drag with the mouse: both players go where the pointer is.
        _ = try browser.evaluate("pausePlayback(); true", session: page)
        func x(_ clock: Double) throws -> Double {
            try #require(
                try browser.evaluate(
                    "{ const r = document.querySelector('#coverage .lanes').getBoundingClientRect(); r.left + (\(clock) - pb.v0) / (pb.v1 - pb.v0) * r.width }",
                    session: page) as? Double)
        }
        let laneY = try #require(
            try browser.evaluate(
                "{ const r = document.querySelector('#coverage .lane').getBoundingClientRect(); r.top + r.height / 2 }", session: page)
                as? Double)
        func mouse(_ type: String, _ px: Double, shift: Bool = false) throws {
            _ = try browser.call(
                "Input.dispatchMouseEvent",
                [
                    "type": type, "x": px, "y": laneY, "button": "left", "buttons": type == "mouseReleased" ? 0 : 1, "clickCount": 1,
                    "modifiers": shift ? 8 : 0
                ], session: page)
        }
        // Whole seconds of footage both cameras have, on the timeline as it is shown now.
        let shown = try #require(
            try browser.evaluate(
                "[Math.max(pb.v0, ...pb.tracks.map((t) => t.recorded[0].from)), Math.min(pb.v1, ...pb.tracks.map((t) => t.recorded.at(-1).to))]",
                session: page) as? [Double])
        let b = shown[1] - 500, seconds = ((b - shown[0] - 500) / 1000).rounded(.down), a = b - seconds * 1000
        try #require(seconds >= 3, "too little footage on the timeline: \(shown)")
        try mouse("mousePressed", try x(a))
        for step in 1...5 { try mouse("mouseMoved", try x(a + (b - a) * Double(step) / 5)) }
        try mouse("mouseReleased", try x(b))
        let at = try browser.evaluate("pb.at", session: page) as? Double ?? 0
        #expect(abs(at - b) < 1000, "the drag ended at \(b), the playhead is at \(at)")
        try await browser.waitUntil(
            "\(clocks).every((c) => c !== null && Math.abs(c - \(b)) < 1000)", session: page, seconds: 10, describe: clocks)

        // Shift-drag selects; the selection goes to the evidence form with both cameras.
        try mouse("mousePressed", try x(a), shift: true)
        try mouse("mouseMoved", try x(b), shift: true)
        try mouse("mouseReleased", try x(b), shift: true)
        let selection = try #require(try browser.evaluate("$('selection-text').textContent", session: page) as? String)
        #expect(selection.hasPrefix("Selected ") && selection.hasSuffix("(\(Int(seconds)) s)"), "\(selection)")
        #expect(try browser.evaluate("$('secure-selection').disabled", session: page) as? Bool == false)
        try await browser.screenshotPage("playback-timeline", session: page)
        _ = try browser.evaluate("$('secure-selection').click(); true", session: page)
        try await browser.waitUntil("$('evidence-filled').textContent !== ''", session: page, seconds: 10)
        let form = try #require(
            try browser.evaluate(
                """
                [[...$('evidence-cameras').selectedOptions].map((o) => o.value).join(','), $('evidence-from').value + ' = ' + localInput(new Date(Math.floor(pb.mark.from / 1000) * 1000)),
                 $('evidence-to').value + ' = ' + localInput(new Date(Math.ceil(pb.mark.to / 1000) * 1000)), document.activeElement.id, $('evidence-filled').textContent, $('evidence-new').open]
                """, session: page) as? [Any])
        #expect(form[0] as? String == "1,2", "the cameras: \(form)")
        for i in 1...2 {
            let pair = (form[i] as? String ?? "").components(separatedBy: " = ")
            #expect(pair.count == 2 && pair[0] == pair[1], "the form's time is not the selection's: \(form)")
        }
        #expect(form[3] as? String == "evidence-case" && form[5] as? Bool == true, "\(form)")
        #expect((form[4] as? String)?.hasPrefix("Filled in from playback: street-1, street-2") == true, "\(form)")
        #expect(try browser.shownDespiteHidden(session: page) == [])
        // Signing out leaves nothing of the footage: the sign-in form, empty lanes, no player.
        _ = try browser.evaluate("$('sign-out').click(); true", session: page)
        try await browser.waitUntil(
            "!$('sign-in').hidden && document.querySelectorAll('#coverage .lane, #coverage .tick, #playback-grid video, #playback-chosen button, #playback-add option').length === 0 && $('evidence-filled').textContent === ''",
            session: page, seconds: 10)

        browser.close()
        #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        _ = sim.interrupt()
    }
}
