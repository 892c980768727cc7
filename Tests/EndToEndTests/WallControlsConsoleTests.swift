import Foundation
import TestSupport
import Testing

/// The wall's other controls in a real browser: a camera dragged from the tree is dropped on a
/// tile (the drop dispatched by Chromium's own drag machinery), a timed sequence steps through
/// the pages by itself, Full screen gives the tiles the whole screen and Escape returns, and
/// the console's push ends the moment the account is disabled, the page saying so.
extension EndToEndTests {
    @Test func theWallTakesADropPagesInSequenceFillsTheScreenAndEndsWithTheAccount() async throws {
        let dir = try TestSupport.temporaryDirectory("wall-controls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let cameraPort = TestSupport.freePort(), webPort = TestSupport.freePort()
        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let sim = try Peer(vigil, ["simulate", "--cameras", "5", "--port", "\(cameraPort)", "--file", clip], log: dir + "/sim.log")
        try await sim.waitFor("/cam5", seconds: 10)
        for n in 1...5 {
            let added = try await TestSupport.run(
                vigil, ["camera", "add", "--data", data, "cam-\(n)", "rtsp://127.0.0.1:\(cameraPort)/cam\(n)"])
            try #require(added.status == 0, "\(added.stderr)")
        }
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
        let cameraOf =
            "[...document.querySelectorAll('#grid .tile')].map(t => { const v = t.querySelector('video'); return v ? Number(v.dataset.camera) : null; })"
        try await browser.waitUntil("\(cameraOf).join() === '1,2,3,4'", session: page, seconds: 15, describe: cameraOf)

        // Drag camera 5 from the tree: its dragstart handler (given a DataTransfer by script)
        // names the camera; that data is dropped on tile 3 by Chromium's own drag events
        // (Input.dispatchDragEvent: enter, over, drop at the tile's middle).
        let named =
            try browser.evaluate(
                """
                (() => { const dt = new DataTransfer();
                  document.querySelector('#camera-tree [data-camera="5"]').dispatchEvent(new DragEvent('dragstart', { dataTransfer: dt, bubbles: true }));
                  return dt.getData('application/x-vigil-camera'); })()
                """, session: page) as? String
        #expect(named == "5")
        let middle = try #require(
            try browser.evaluate(
                "(r => [r.left + r.width / 2, r.top + r.height / 2])(document.querySelectorAll('#grid .tile')[2].getBoundingClientRect())",
                session: page) as? [Double])
        for type in ["dragEnter", "dragOver", "drop"] {
            _ = try browser.call(
                "Input.dispatchDragEvent",
                [
                    "type": type, "x": middle[0], "y": middle[1],
                    "data": ["items": [["mimeType": "application/x-vigil-camera", "data": named ?? ""]], "dragOperationsMask": 1]
                ], session: page)
        }
        try await browser.waitUntil("\(cameraOf).join() === '1,2,5,4'", session: page, seconds: 5, describe: cameraOf)

        // A timed sequence goes through the pages by itself (every 10 s: 2 pages of 2×2).
        _ = try browser.evaluate("showPage(0); true", session: page)
        try await browser.waitUntil("\(cameraOf).join() === '1,2,3,4'", session: page, seconds: 5, describe: cameraOf)
        _ = try browser.evaluate("$('sequence').value = '10'; $('sequence').dispatchEvent(new Event('change')); true", session: page)
        let started = Date()
        try await browser.waitUntil(
            "wall.page === 1 && \(cameraOf)[0] === 5", session: page, seconds: 15, describe: "[wall.page, \(cameraOf)]")
        let stepped = Date().timeIntervalSince(started)
        #expect(stepped > 9 && stepped < 14, "the page turned after \(stepped) s")
        #expect(try browser.evaluate("$('page-text').textContent", session: page) as? String == "Page 2 of 2 (5 cameras)")
        try await browser.waitUntil("wall.page === 0", session: page, seconds: 13, describe: "wall.page")
        _ = try browser.evaluate("$('sequence').value = '0'; $('sequence').dispatchEvent(new Event('change')); true", session: page)

        // Full screen, by a real click (a user gesture): the grid is the full-screen element,
        // grown to the whole screen with its tiles in it; leaving returns the wall as it was.
        let gridBefore = try #require(try browser.evaluate("$('grid').getBoundingClientRect().height", session: page) as? Double)
        let button = try #require(
            try browser.evaluate(
                "(r => [r.left + r.width / 2, r.top + r.height / 2])($('wall-fullscreen').getBoundingClientRect())", session: page)
                as? [Double])
        for type in ["mousePressed", "mouseReleased"] {
            _ = try browser.call(
                "Input.dispatchMouseEvent",
                [
                    "type": type, "x": button[0], "y": button[1], "button": "left", "buttons": type == "mousePressed" ? 1 : 0,
                    "clickCount": 1
                ],
                session: page)
        }
        try await browser.waitUntil(
            "document.fullscreenElement === $('grid')", session: page, seconds: 5,
            describe: "[String(document.fullscreenElement), $('wall-error').textContent]")
        let fits = try #require(
            try browser.evaluate(
                """
                [$('grid').getBoundingClientRect().height, innerHeight,
                 [...document.querySelectorAll('#grid .tile')].every(t => { const r = t.getBoundingClientRect();
                   return r.right <= innerWidth + 0.5 && r.bottom <= innerHeight + 0.5 && r.width > 100; })]
                """, session: page) as? [Any])
        #expect(
            (fits[0] as? Double ?? 0) >= (fits[1] as? Double ?? 1e9) - 1 && fits[2] as? Bool == true, "the grid fills the screen: \(fits)")
        #expect(gridBefore < (fits[1] as? Double ?? 0) - 20, "the wall was smaller than the screen before: \(gridBefore)")
        _ = try browser.evaluate("document.exitFullscreen().then(() => true)", session: page)
        try await browser.waitUntil("document.fullscreenElement === null", session: page, seconds: 5)

        // The account disabled (from the command line, beside the server): the push closes
        // within its round and the page says why, at the sign-in form.
        try await browser.waitUntil("state.events && state.events.readyState === WebSocket.OPEN", session: page, seconds: 10)
        let disabled = try await TestSupport.run(vigil, ["user", "disable", "--data", data, "watcher"])
        #expect(disabled.status == 0, "\(disabled.stderr)")
        try await browser.waitUntil(
            "!$('sign-in').hidden && $('sign-in-error').textContent.startsWith('Your session ended')", session: page, seconds: 10,
            describe: "[$('sign-in').hidden, $('sign-in-error').textContent]")
        try await browser.waitUntil("state.liveStreams === 0", session: page, seconds: 5, describe: "state.liveStreams")
    }
}
