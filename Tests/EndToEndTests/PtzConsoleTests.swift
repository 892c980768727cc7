import Foundation
import TestSupport
import Testing

/// PTZ in the console, in a real browser: a simulated dome added with `vigil camera add
/// --onvif`, an operator steering it from its live tile by keyboard, saving a preset and
/// going back to it by digit, the position read back through the server from the camera
/// itself, and every command in the audit log.
extension EndToEndTests {
    @Test func anOperatorSteersADomeFromItsLiveTileByKeyboard() async throws {
        let dir = try TestSupport.temporaryDirectory("ptz-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let cameraPort = TestSupport.freePort(), onvifPort = TestSupport.freePort(), webPort = TestSupport.freePort()
        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let sim = try Peer(
            vigil,
            [
                "simulate", "--cameras", "1", "--port", "\(cameraPort)", "--file", clip, "--onvif-port", "\(onvifPort)", "--user", "dome",
                "--password", "dome pass 1"
            ], log: dir + "/sim.log")
        try await sim.waitFor("/onvif/cam1/device_service", seconds: 10)
        let added = try await TestSupport.run(
            vigil,
            [
                "camera", "add", "--data", data, "dome-1", "--onvif",
                "http://dome@127.0.0.1:\(onvifPort)/onvif/cam1/device_service"
            ], input: "dome pass 1\n") // the password from standard input, not the command line
        try #require(added.status == 0, "\(added.stderr)")
        #expect(added.stdout.contains("rtsp://127.0.0.1:\(cameraPort)/cam1") && added.stdout.contains("PTZ: yes"), "\(added.stdout)")
        #expect(!added.stdout.contains("dome pass"), "the camera's password is printed: \(added.stdout)")
        let user = try await TestSupport.run(
            vigil, ["user", "add", "--data", data, "watcher", "--role", "operator"], input: "a long passphrase 7\n")
        try #require(user.status == 0, "\(user.stderr)")
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)

        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try await browser.waitUntil("!document.getElementById('sign-in').hidden", session: page, seconds: 20)
        _ = try browser.evaluate(
            """
            document.getElementById('username').value = 'watcher';
            document.getElementById('password').value = 'a long passphrase 7';
            document.getElementById('sign-in-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil("!document.getElementById('nav').hidden", session: page, seconds: 20)
        _ = try browser.evaluate("document.querySelector('nav [data-view=live]').click(); true", session: page)
        try await browser.waitUntil(
            "document.querySelector('#grid .tile .ptz-status') && document.querySelector('#grid .tile .ptz-status').textContent === 'Free'",
            session: page, seconds: 30, describe: "document.querySelector('#grid').innerText")
        let position = "api('GET', '/api/cameras/1/ptz').then(v => [v.pan, v.tilt, v.zoom])"
        let start = try #require(try browser.evaluate(position, session: page) as? [Double])

        // Hold → on the focused tile for about a second, then let go.
        func key(_ type: String, _ name: String) throws {
            _ = try browser.evaluate(
                "document.querySelector('#grid .tile').dispatchEvent(new KeyboardEvent('\(type)', {key: '\(name)', bubbles: true})); true",
                session: page)
        }
        _ = try browser.evaluate("document.querySelector('#grid .tile').focus(); true", session: page)
        try key("keydown", "ArrowRight")
        try await Task.sleep(for: .seconds(1))
        try key("keyup", "ArrowRight")
        try await browser.waitUntil(
            "document.querySelector('#grid .ptz-status').textContent.startsWith('You control it until')", session: page, seconds: 10,
            describe: "document.querySelector('#grid .ptz-status').textContent")
        try await Task.sleep(for: .milliseconds(500))
        let turned = try #require(try browser.evaluate(position, session: page) as? [Double])
        #expect(turned[0] > start[0] + 0.1 && abs(turned[1] - start[1]) < 1e-6, "the dome did not pan right: \(start) → \(turned)")
        try browser.screenshot("ptz-live-tile", session: page)
        try await browser.screenshotPage("live-ptz", session: page)

        // Save the position as a preset, tilt away, and press 1 to come back.
        _ = try browser.evaluate(
            """
            const bar = document.querySelector('#grid .ptz');
            bar.querySelector('input').value = 'Gate';
            [...bar.querySelectorAll('button')].find(b => b.textContent === 'Save').click(); true
            """, session: page)
        try await browser.waitUntil(
            "document.querySelector('#grid .ptz select').options.length === 1", session: page, seconds: 10,
            describe: "document.querySelector('#grid .ptz-status').textContent")
        try key("keydown", "ArrowUp")
        try await Task.sleep(for: .milliseconds(800))
        try key("keyup", "ArrowUp")
        try await Task.sleep(for: .milliseconds(500))
        let tilted = try #require(try browser.evaluate(position, session: page) as? [Double])
        #expect(tilted[1] > turned[1] + 0.05, "the dome did not tilt up: \(turned) → \(tilted)")
        try key("keydown", "1")
        try await browser.waitUntil(
            "\(position).then(p => Math.abs(p[0] - \(turned[0])) < 1e-6 && Math.abs(p[1] - \(turned[1])) < 1e-6)", session: page,
            seconds: 10,
            describe: position)

        // The tile outlives its camera: a hidden and shown tab leaves one control bar, and
        // emptying the tile (Delete) takes the bar and its keys with the camera.
        for state in ["hidden", "visible"] {
            _ = try browser.evaluate(
                "Object.defineProperty(document, 'hidden', {value: \(state == "hidden"), configurable: true}); document.dispatchEvent(new Event('visibilitychange')); true",
                session: page)
        }
        #expect(
            try browser.evaluate("document.querySelectorAll('#grid .tile')[0].querySelectorAll('.ptz').length", session: page) as? Int == 1)
        _ = try browser.evaluate("document.querySelector('#grid .tile').focus(); true", session: page)
        try key("keydown", "Delete")
        #expect(try browser.evaluate("document.querySelectorAll('#grid .ptz, #grid video').length", session: page) as? Int == 0)

        browser.close()
        #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        _ = sim.interrupt()
        let listed = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        let actions = listed.stdout.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]).flatMap { $0 }
        }.filter { $0["user"] as? String == "watcher" && ($0["action"] as? String)?.hasPrefix("ptz.") == true }
        let kinds = Set(actions.compactMap { $0["action"] as? String })
        #expect(kinds.isSuperset(of: ["ptz.channel", "ptz.move", "ptz.stop", "ptz.preset-save", "ptz.preset-goto"]), "\(kinds)")
        // The moves went over the control channel: each gesture one entry, marked so.
        let gestures = actions.filter { $0["action"] as? String == "ptz.move" }
        #expect(gestures.count == 2 && gestures.allSatisfy { $0["detail"] as? String == "control channel" }, "\(gestures)")
        #expect(!listed.stdout.contains("Gate"), "a preset's name reached the audit log")
    }
}
