import Foundation
import TestSupport
import Testing

/// The camera page in a real browser: an administrator finds the simulated domes with a
/// WS-Discovery probe and adds one by its ONVIF address; a supervisor then builds a tour of
/// that dome's presets in the tour editor, by keyboard-reachable buttons, and deletes it; the
/// administrator then removes the dome.
extension EndToEndTests {
    @Test func anAdministratorFindsAndAddsADomeAndASupervisorBuildsItsTour() async throws {
        let dir = try TestSupport.temporaryDirectory("camera-admin-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let cameraPort = TestSupport.freePort(), onvifPort = TestSupport.freePort(), webPort = TestSupport.freePort()
        let discoveryPort = TestSupport.freePort()
        let clip = try await TestSupport.clip(codec: .h264, seconds: 4)
        let sim = try Peer(
            vigil,
            [
                "simulate", "--cameras", "2", "--port", "\(cameraPort)", "--file", clip, "--onvif-port", "\(onvifPort)",
                "--discovery-port", "\(discoveryPort)", "--still-picture", "--user", "dome", "--password", "dome pass 1"
            ], log: dir + "/sim.log")
        try await sim.waitFor("WS-Discovery probes on UDP 127.0.0.1:\(discoveryPort)", seconds: 10)
        for (name, role) in [("keeper", "admin"), ("chief", "supervisor")] {
            let user = try await TestSupport.run(
                vigil, ["user", "add", "--data", data, name, "--role", role], input: "a long passphrase 7\n")
            try #require(user.status == 0, "\(user.stderr)")
        }
        // The probe goes to the simulator's port (a test machine may have no multicast).
        let config = dir + "/vigil.json"
        try Data(#"{"discoveryTargets": ["127.0.0.1:\#(discoveryPort)"]}"#.utf8).write(to: URL(fileURLWithPath: config))
        let server = try Peer(
            vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)", "--config", config], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)

        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        func signIn(_ name: String) async throws {
            try await browser.signIn(name, password: "a long passphrase 7", session: page)
        }
        try await signIn("keeper")
        try await browser.waitUntil("!document.getElementById('camera-add').hidden", session: page, seconds: 10)
        _ = try browser.evaluate(
            "document.getElementById('camera-add').open = true; document.getElementById('discover-button').click(); true", session: page)
        try await browser.waitUntil(
            "document.querySelectorAll('#found-rows tr').length === 2", session: page, seconds: 15,
            describe: "document.getElementById('discover-status').textContent")
        let status = try browser.evaluate("document.getElementById('discover-status').textContent", session: page) as? String
        #expect(status == "2 devices answered.", "\(status ?? "")")
        // Use the first: the form gets its address and name; the account is typed.
        _ = try browser.evaluate(
            """
            document.querySelector('#found-rows tr button').click();
            document.getElementById('camera-user').value = 'dome';
            document.getElementById('camera-password').value = 'dome pass 1'; true
            """, session: page)
        let filled =
            try browser.evaluate(
                "[document.getElementById('camera-address').value, document.getElementById('camera-name').value, document.activeElement.id]",
                session: page) as? [String]
        #expect(filled == ["http://127.0.0.1:\(onvifPort)/onvif/cam1/device_service", "Simulated dome 1", "camera-user"], "\(filled ?? [])")
        try browser.screenshot("camera-admin-found", session: page)
        _ = try browser.evaluate("document.getElementById('camera-form').requestSubmit(); true", session: page)
        try await browser.waitUntil(
            "document.getElementById('camera-added').textContent.startsWith('Added Simulated dome 1, with PTZ')", session: page,
            seconds: 20, describe: "document.getElementById('camera-error').textContent")
        #expect(
            try browser.evaluate("document.getElementById('camera-rows').textContent.includes('Simulated dome 1')", session: page) as? Bool
                == true)
        // A wrong password is said in words, and adds nothing.
        _ = try browser.evaluate(
            """
            document.getElementById('camera-name').value = 'dome two';
            document.getElementById('camera-address').value = 'http://127.0.0.1:\(onvifPort)/onvif/cam2/device_service';
            document.getElementById('camera-user').value = 'dome';
            document.getElementById('camera-password').value = 'not it';
            document.getElementById('camera-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.getElementById('camera-error').textContent.includes('the device refused')", session: page, seconds: 20,
            describe: "document.getElementById('camera-error').textContent")
        try browser.screenshot("camera-admin-refused", session: page)
        // Found again, the added dome is marked as in Vigil.
        _ = try browser.evaluate("document.getElementById('discover-button').click(); true", session: page)
        try await browser.waitUntil(
            "document.querySelector('#found-rows tr td:last-child').textContent === 'added as Simulated dome 1'", session: page,
            seconds: 15, describe: "document.getElementById('found-rows').textContent")

        // Edited from its row: a place, an area, and recording switched off; the row says so.
        _ = try browser.evaluate("document.querySelector('#camera-rows tr[data-camera=\"1\"] button').click(); true", session: page)
        #expect(try browser.evaluate("document.getElementById('edit-name').value", session: page) as? String == "Simulated dome 1")
        _ = try browser.evaluate(
            """
            document.getElementById('edit-location').value = 'Market square, north corner';
            document.getElementById('edit-area').value = 'Old Town';
            document.getElementById('edit-retention').value = '120';
            document.getElementById('camera-edit-form').requestSubmit(); true
            """, session: page)
        // A retention past the legal limit is refused in words, and nothing changes.
        try await browser.waitUntil(
            "document.getElementById('camera-edit-error').textContent.includes('retention of 120 days refused')", session: page,
            seconds: 10, describe: "document.getElementById('camera-edit-error').textContent")
        _ = try browser.evaluate(
            """
            document.getElementById('edit-retention').value = '30';
            document.getElementById('edit-enabled').checked = false;
            document.getElementById('camera-edit-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.getElementById('camera-edited').textContent.startsWith('Saved Simulated dome 1: recording stopped')", session: page,
            seconds: 10, describe: "document.getElementById('camera-edit-error').textContent")
        let edited = try #require(
            try browser.evaluate(
                "[...document.querySelectorAll('#camera-rows tr[data-camera=\"1\"] td')].map(td => td.textContent)", session: page)
                as? [String])
        #expect(
            edited.count == 10 && edited[2] == "Market square, north corner" && edited[3] == "Old Town"
                && edited[4] == "Recording is switched off for this camera", "\(edited)")
        try browser.screenshot("camera-admin-edited", session: page)
        try await browser.screenshotPage("cameras-administrator", session: page)
        // And switched on again.
        _ = try browser.evaluate(
            """
            document.querySelector('#camera-rows tr[data-camera="1"] button').click();
            document.getElementById('edit-enabled').checked = true;
            document.getElementById('camera-edit-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.getElementById('camera-edited').textContent.startsWith('Saved Simulated dome 1: recording starts')", session: page,
            seconds: 10, describe: "document.getElementById('camera-edit-error').textContent")
        _ = try browser.evaluate("document.getElementById('sign-out').click(); true", session: page)

        // The supervisor saves two presets on the dome, then builds a tour of them.
        try await signIn("chief")
        for (name, pan) in [("Gate", 0.5), ("Square", -0.5)] {
            let saved =
                try browser.evaluate(
                    """
                    api('POST', '/api/cameras/1/ptz/move', {pan: \(pan), tilt: 0, zoom: 0})
                      .then(() => new Promise((r) => setTimeout(r, 400)))
                      .then(() => api('POST', '/api/cameras/1/ptz/stop'))
                      .then(() => api('PUT', '/api/cameras/1/ptz/presets/\(name)')).then(() => 'ok', (e) => e.message)
                    """, session: page) as? String
            #expect(saved == "ok", "\(saved ?? "")")
        }
        try await browser.waitUntil(
            "!document.getElementById('tours').hidden && document.getElementById('tour-camera').options.length === 1", session: page,
            seconds: 10)
        _ = try browser.evaluate("document.getElementById('tour-camera').dispatchEvent(new Event('change')); true", session: page)
        try await browser.waitUntil(
            "document.getElementById('tour-presets').options.length === 2", session: page, seconds: 10,
            describe: "document.getElementById('tour-error').textContent")
        _ = try browser.evaluate(
            """
            $('tour-name').value = 'Night round';
            $('tour-step-preset').value = 'Gate'; $('tour-step-dwell').value = 5; $('tour-step-add').click();
            // By keyboard: Enter in the preset's field adds the step (it does not submit the form).
            $('tour-step-preset').value = 'Square'; $('tour-step-dwell').value = 7;
            $('tour-step-preset').dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
            const earlier = document.querySelector('#tour-steps li:last-child button[aria-label="Move step 2 earlier"]');
            earlier.focus(); earlier.click();
            for (const box of $('tour-days').querySelectorAll('input')) box.checked = box.value === '6' || box.value === '7';
            $('tour-window-from').value = '22:00'; $('tour-window-to').value = '06:00'; $('tour-window-add').click();
            $('tour-form').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "document.querySelectorAll('#tour-rows tr').length === 1", session: page, seconds: 10,
            describe: "document.getElementById('tour-error').textContent")
        // The reordered list kept the focus on the same button, not on the page.
        #expect(
            try browser.evaluate("document.activeElement.closest('#tour-steps') !== null || document.activeElement.id", session: page)
                as? Bool == true)
        let row = try browser.evaluate("document.querySelector('#tour-rows tr').textContent", session: page) as? String
        #expect(row == "Night roundSimulated dome 12 (12 s a round)Sat, Sun 22:00–06:00yes", "\(row ?? "")")
        let stored =
            try browser.evaluate(
                "api('GET', '/api/tours').then((t) => JSON.stringify([t[0].steps, t[0].schedule, t[0].enabled]))", session: page) as? String
        #expect(
            stored
                == #"[[{"dwellSeconds":7,"preset":"Square"},{"dwellSeconds":5,"preset":"Gate"}],[{"days":[6,7],"fromMinute":1320,"toMinute":360}],true]"#,
            "\(stored ?? "")")
        _ = try browser.evaluate("document.activeElement.blur(); true", session: page) // the preset's suggestions
        try browser.screenshot("tour-editor", session: page)
        try await browser.screenshotPage("cameras-supervisor-tours", session: page)
        // Delete asks once more, then the tour is gone.
        _ = try browser.evaluate(
            "document.querySelector('#tour-rows tr').click(); document.getElementById('tour-delete').click(); true", session: page)
        #expect(
            try browser.evaluate("document.getElementById('tour-delete').textContent", session: page) as? String
                == "Press again to delete this tour")
        _ = try browser.evaluate("document.getElementById('tour-delete').click(); true", session: page)
        try await browser.waitUntil(
            "document.querySelectorAll('#tour-rows tr').length === 0", session: page, seconds: 10,
            describe: "document.getElementById('tour-error').textContent")

        try await browser.waitUntil(
            "api('GET', '/api/cameras/1').then((c) => c.status.recording === true)", session: page, seconds: 15,
            describe: "api('GET', '/api/cameras/1').then((c) => JSON.stringify(c.status))")
        // The administrator removes the dome: asked once more with what it means, then the
        // row says it was removed and until when its footage stays, with no Edit left.
        _ = try browser.evaluate("document.getElementById('sign-out').click(); true", session: page)
        try await signIn("keeper")
        try await browser.waitUntil(
            "document.querySelector('#camera-rows tr[data-camera=\"1\"] button') !== null", session: page, seconds: 10)
        _ = try browser.evaluate(
            "document.querySelector('#camera-rows tr[data-camera=\"1\"] button').click(); document.getElementById('camera-remove').click(); true",
            session: page)
        let question = try browser.evaluate("document.getElementById('camera-remove-text').textContent", session: page) as? String
        #expect(question?.hasPrefix("Remove Simulated dome 1 for good? It stops being recorded") == true, "\(question ?? "")")
        #expect(try browser.evaluate("document.activeElement.id", session: page) as? String == "camera-remove-yes")
        try browser.screenshot("camera-admin-remove", session: page)
        _ = try browser.evaluate("document.getElementById('camera-remove-yes').click(); true", session: page)
        try await browser.waitUntil(
            "document.getElementById('camera-edited').textContent.startsWith('Removed Simulated dome 1: it is no longer recorded')",
            session: page, seconds: 10, describe: "document.getElementById('camera-edit-error').textContent")
        let removedRow = try #require(
            try browser.evaluate(
                "[...document.querySelectorAll('#camera-rows tr[data-camera=\"1\"] td')].map(td => td.textContent)", session: page)
                as? [String])
        #expect(
            removedRow.count == 10 && removedRow[4].hasPrefix("Removed on ") && removedRow[4].contains("its footage is kept at most until")
                && removedRow[9] == "removed", "\(removedRow)")
        #expect(
            try browser.evaluate("document.querySelector('#camera-rows tr[data-camera=\"1\"] button') === null", session: page) as? Bool
                == true)
        // Its recorder stops: the fleet follows the catalog within seconds.
        try await browser.waitUntil(
            "api('GET', '/api/cameras/1').then((c) => c.status.recording === false)", session: page, seconds: 15,
            describe: "api('GET', '/api/cameras/1').then((c) => JSON.stringify(c.status))")

        browser.close()
        #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        _ = sim.interrupt()
        let listed = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        #expect(listed.stdout.contains("\"camera.discover\"") && listed.stdout.contains("over ONVIF: Vigil Simulated PTZ dome"))
        #expect(!listed.stdout.contains("dome pass 1") && !listed.stdout.contains("Square"), "a password or a route reached the audit log")
        #expect(listed.stdout.contains("\"camera.remove\""))
    }
}

extension EndToEndTests {
    /// `vigil camera edit|disable|enable|remove`: each change is checked by the same rules as the
    /// API's, refused in words when it breaks one, and audited as `camera.edit`.
    @Test func theCommandLineEditsDisablesEnablesAndRemovesACamera() async throws {
        let dir = try TestSupport.temporaryDirectory("camera-cli")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let added = try await TestSupport.run(vigil, ["camera", "add", "--data", data, "gate", "rtsp://127.0.0.1:9/a", "--disabled"])
        try #require(added.status == 0, "\(added.stderr)")
        let edited = try await TestSupport.run(
            vigil,
            [
                "camera", "edit", "--data", data, "gate", "--name", "north-gate", "--location", "North gate", "--area", "Old Town",
                "--retention-days", "30", "--url", "rtsp://viewer@127.0.0.1:9/b"
            ],
            input: "s3cret\n")
        #expect(edited.status == 0, "\(edited.stderr)")
        #expect(edited.stdout.contains("north-gate rtsp://127.0.0.1:9/b"), "credentials never printed: \(edited.stdout)")
        for (arguments, said) in [
            (["north-gate", "--retention-days", "400"], "retention of 400 days refused"),
            (["gate", "--area", "x"], "no camera named gate"),
            (["north-gate"], "say what to change"),
            (["north-gate", "--area", "a\u{202E}b"], "a camera's area may hold no")
        ] {
            let refused = try await TestSupport.run(vigil, ["camera", "edit", "--data", data] + arguments)
            #expect(refused.status != 0 && refused.stderr.contains(said), "\(arguments): \(refused.stderr)")
        }
        func listed() async throws -> String { try await TestSupport.run(vigil, ["camera", "list", "--data", data]).stdout }
        #expect(try await listed() == "1\tnorth-gate\tdisabled\trtsp://127.0.0.1:9/b\t30 days\tNorth gate\tOld Town\n")
        #expect(try await TestSupport.run(vigil, ["camera", "enable", "--data", data, "north-gate"]).status == 0)
        #expect(try await listed().contains("\tenabled\t"))
        #expect(try await TestSupport.run(vigil, ["camera", "disable", "--data", data, "north-gate"]).status == 0)
        #expect(try await listed().contains("\tdisabled\t"))

        // Removed: listed as such, and neither changed, removed again nor replaced by name.
        let removed = try await TestSupport.run(vigil, ["camera", "remove", "--data", data, "north-gate"])
        #expect(removed.status == 0 && removed.stdout.contains("north-gate removed: its footage is kept until"), "\(removed.stderr)")
        #expect(try await listed().hasPrefix("1\tnorth-gate\tremoved 20"))
        for (arguments, said) in [
            (["remove", "--data", data, "north-gate"], "was already removed"),
            (["edit", "--data", data, "north-gate", "--area", "x"], "cannot be changed"),
            (["enable", "--data", data, "north-gate"], "cannot be changed"),
            (["add", "--data", data, "north-gate", "rtsp://127.0.0.1:9/c"], "was removed on")
        ] {
            let refused = try await TestSupport.run(vigil, ["camera"] + arguments)
            #expect(refused.status != 0 && refused.stderr.contains(said), "\(arguments): \(refused.stderr)")
        }

        let log = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        let edits = log.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }.filter { $0["action"] as? String == "camera.edit" }
        #expect(edits.count == 3, "one entry per change made, none for a refusal: \(log.stdout)")
        #expect(log.stdout.components(separatedBy: "\"camera.remove\"").count == 2)
        #expect(edits.allSatisfy { ($0["user"] as? String)?.hasPrefix("cli:") == true && $0["camera"] as? Int == 1 })
        #expect(!log.stdout.contains("s3cret"))
        #expect(try await TestSupport.run(vigil, ["audit", "verify", "--data", data]).status == 0)
    }
}

extension EndToEndTests {
    /// The users page as an administrator uses it: an account added with a one-time
    /// password (a short one refused in words), its role changed, a grant on one camera
    /// given and withdrawn, the account disabled; each change audited. The administrator's
    /// own row offers no edit.
    @Test func anAdministratorManagesUsersAndGrantsInTheConsole() async throws {
        let dir = try TestSupport.temporaryDirectory("users-console")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = dir + "/data"
        let vigil = TestSupport.vigilBinary
        let webPort = TestSupport.freePort()
        let added = try await TestSupport.run(vigil, ["camera", "add", "--data", data, "gate", "rtsp://127.0.0.1:9/a", "--disabled"])
        try #require(added.status == 0, "\(added.stderr)")
        let user = try await TestSupport.run(
            vigil, ["user", "add", "--data", data, "keeper", "--role", "admin"], input: "a long passphrase 7\n")
        try #require(user.status == 0, "\(user.stderr)")
        let server = try Peer(vigil, ["serve", "--data", data, "--listen", "127.0.0.1:\(webPort)"], log: dir + "/serve.log")
        try await server.waitFor("Vigil console:", seconds: 30)
        let browser = try Chromium(directory: dir)
        defer { browser.close() }
        let page = try browser.open("http://127.0.0.1:\(webPort)/")
        try await browser.signIn("keeper", password: "a long passphrase 7", session: page)
        try await browser.waitUntil("!document.querySelector('nav [data-view=users]').hidden", session: page, seconds: 10)
        _ = try browser.evaluate("document.querySelector('nav [data-view=users]').click(); true", session: page)
        try await browser.waitUntil("document.querySelectorAll('#user-rows tr').length === 1", session: page, seconds: 10)
        #expect(
            try browser.evaluate("document.querySelector('#user-rows tr td:last-child').textContent", session: page) as? String == "you")

        func row(_ name: String) throws -> [String] {
            try browser.evaluate(
                "[...document.querySelectorAll('#user-rows tr')].map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)).find((r) => r[0] === '\(name)') || []",
                session: page) as? [String] ?? []
        }
        func add(_ password: String) throws {
            _ = try browser.evaluate(
                """
                $('user-new').open = true;
                $('new-user-name').value = 'night-op'; $('new-user-role').value = 'operator'; $('new-user-password').value = '\(password)';
                $('user-form').requestSubmit(); true
                """, session: page)
        }
        try add("short")
        try await browser.waitUntil(
            "$('user-error').textContent.startsWith('The user was not added: a password needs at least')", session: page, seconds: 10,
            describe: "$('user-error').textContent")
        try add("night shift passphrase 1")
        try await browser.waitUntil("$('user-said').textContent.startsWith('Added night-op as operator')", session: page, seconds: 10)
        #expect(try row("night-op") == ["night-op", "operator", "active, must change password", "—", "Edit"])

        // Edited: a supervisor now, granted register-evidence on the gate, then not.
        _ = try browser.evaluate(
            """
            document.querySelector('#user-rows tr[data-user] button[aria-label="Edit night-op"]').click();
            $('user-role').value = 'supervisor'; $('user-edit').requestSubmit(); true
            """, session: page)
        try await browser.waitUntil(
            "$('user-said').textContent === 'Saved night-op: role supervisor.'", session: page, seconds: 10,
            describe: "[$('user-said').textContent, $('user-edit-error').textContent]")
        _ = try browser.evaluate(
            "$('grant-permission').value = 'register-evidence'; $('grant-camera').value = '1'; $('grant-add').click(); true", session: page)
        try await browser.waitUntil(
            "$('user-said').textContent === 'Granted register-evidence on gate to night-op.'", session: page, seconds: 10,
            describe: "[$('user-said').textContent, $('user-edit-error').textContent]")
        #expect(try row("night-op")[1...3] == ["supervisor", "active, must change password", "register-evidence on gate"])
        try browser.screenshot("users-edit", session: page)
        try await browser.screenshotPage("users", session: page)
        _ = try browser.evaluate("document.querySelector('#user-grants button').click(); true", session: page)
        try await browser.waitUntil(
            "$('user-said').textContent === 'Withdrew register-evidence on gate from night-op.'", session: page, seconds: 10,
            describe: "[$('user-said').textContent, $('user-edit-error').textContent]")
        #expect(try row("night-op")[3] == "—")
        _ = try browser.evaluate("$('user-disabled').checked = true; $('user-edit').requestSubmit(); true", session: page)
        try await browser.waitUntil(
            "$('user-said').textContent === 'Saved night-op: disabled and signed out.'", session: page, seconds: 10,
            describe: "[$('user-said').textContent, $('user-edit-error').textContent]")
        #expect(try row("night-op")[2] == "disabled, must change password")
        #expect(try browser.shownDespiteHidden(session: page) == [])

        browser.close()
        #expect(server.interrupt() == 0, "\(server.output.suffix(2000))")
        let log = try await TestSupport.run(vigil, ["audit", "list", "--data", data])
        for action in ["user.add", "user.edit", "grant.add", "grant.remove"] {
            #expect(log.stdout.contains("\"\(action)\""), "no \(action) in the audit log")
        }
        #expect(!log.stdout.contains("night shift passphrase"), "a password reached the audit log")
    }
}
