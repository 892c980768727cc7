// Chromium — a headless Debian `chromium` driven over the Chrome DevTools Protocol, for
// tests that must see the console work in a real browser (sign-in, MSE live view,
// playback). The protocol runs over `--remote-debugging-pipe`: the browser reads commands
// from its file descriptor 3 and writes replies and events to 4, each message one JSON
// object ending in a NUL byte. No WebSocket client and no third-party driver are needed.

import Foundation

#if canImport(Glibc)
    import Glibc
#endif

public final class Chromium {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    private let pid: pid_t
    private let commands: Int32 // our end of the browser's fd 3
    private let replies: Int32 // our end of the browser's fd 4
    private var pending: [UInt8] = []
    private var nextID = 1
    private var closed = false
    public let log: String

    /// The browser binary: `CHROMIUM` overrides, else Debian's `chromium` on PATH.
    public static var binary: String? {
        ProcessInfo.processInfo.environment["CHROMIUM"] ?? TestSupport.which("chromium")
    }

    /// Starts a headless browser with a fresh profile under `directory`.
    public init(directory: String) throws {
        guard let binary = Chromium.binary else { throw Failure("chromium is not installed: run scripts/setup.sh") }
        signal(SIGPIPE, SIG_IGN) // a dead browser must fail the test, not kill the runner
        log = directory + "/chromium.log"
        var toBrowser: [Int32] = [0, 0], fromBrowser: [Int32] = [0, 0]
        guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else { throw Failure("pipe: \(errno)") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
        for fd in [toBrowser[0], toBrowser[1], fromBrowser[0], fromBrowser[1]] where fd > 4 {
            posix_spawn_file_actions_addclose(&actions, fd)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        let arguments = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--mute-audio", "--autoplay-policy=no-user-gesture-required", "--disable-background-networking",
            "--remote-debugging-pipe", "--user-data-dir=\(directory)/profile", "about:blank"
        ]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, binary, &actions, &attributes, &argv, environ)
        Glibc.close(toBrowser[0])
        Glibc.close(fromBrowser[1])
        guard status == 0 else {
            Glibc.close(toBrowser[1])
            Glibc.close(fromBrowser[0])
            throw Failure("cannot start \(binary): \(String(cString: strerror(status)))")
        }
        pid = child
        commands = toBrowser[1]
        replies = fromBrowser[0]
    }

    deinit { close() }

    /// Asks the browser to close, then makes sure it has.
    public func close() {
        guard !closed else { return }
        _ = try? call("Browser.close", timeout: 5)
        closed = true
        let deadline = Date().addingTimeInterval(5)
        var status: Int32 = 0
        while waitpid(pid, &status, WNOHANG) == 0 {
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                break
            }
            usleep(50_000)
        }
        Glibc.close(commands)
        Glibc.close(replies)
    }

    /// Sends one command and returns its `result`, skipping the events that arrive meanwhile.
    @discardableResult
    public func call(_ method: String, _ params: [String: Any] = [:], session: String? = nil, timeout: Double = 30) throws -> [String: Any]
    {
        let id = nextID
        nextID += 1
        var message: [String: Any] = ["id": id, "method": method, "params": params]
        if let session { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { write(commands, $0.baseAddress, $0.count) }
            guard n > 0 else { throw Failure("\(method): the browser stopped reading (\(errno)); its log: \(browserLog)") }
            written += n
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let reply = try nextMessage(until: deadline, waitingFor: method)
            guard reply["id"] as? Int == id else { continue }
            if let error = reply["error"] as? [String: Any] { throw Failure("\(method): \(error)") }
            return reply["result"] as? [String: Any] ?? [:]
        }
    }

    /// Opens a page and returns the session that drives it.
    public func open(_ url: String) throws -> String {
        let target = try call("Target.createTarget", ["url": "about:blank"])
        guard let targetID = target["targetId"] as? String else { throw Failure("no target: \(target)") }
        let attached = try call("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        guard let session = attached["sessionId"] as? String else { throw Failure("no session: \(attached)") }
        try call("Page.enable", session: session)
        try call("Runtime.enable", session: session)
        let navigated = try call("Page.navigate", ["url": url], session: session)
        if let error = navigated["errorText"] as? String, !error.isEmpty {
            // Said at once, with whether the server's port takes a connection now: a server
            // that went away and one the browser could not reach for a moment differ.
            let port = URL(string: url)?.port
            let listening = port.map { TestSupport.canConnect(port: $0) } ?? false
            guard listening else { throw Failure("\(url) did not load (\(error)); nothing takes connections on its port now") }
            print("chromium: \(url) did not load (\(error)) though its port takes connections now: loading it again")
            let again = try call("Page.navigate", ["url": url], session: session)
            if let error = again["errorText"] as? String, !error.isEmpty { throw Failure("\(url) did not load twice (\(error))") }
        }
        return session
    }

    /// Saves a PNG of the page to `VIGIL_SCREENSHOTS/name.png` when that variable names a
    /// directory (to look at the console as its users see it); does nothing otherwise.
    public func screenshot(_ name: String, session: String) throws {
        guard let directory = ProcessInfo.processInfo.environment["VIGIL_SCREENSHOTS"] else { return }
        let shot = try call("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true], session: session)
        guard let base64 = shot["data"] as? String, let png = Data(base64Encoded: base64) else {
            throw Failure("no screenshot: \(shot.keys)")
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try png.write(to: URL(fileURLWithPath: "\(directory)/\(name).png"))
    }

    /// The console's page as a reviewer sees it, at the centre's two screen sizes: PNGs
    /// `name-1600x900.png` and `name-1920x1080.png` in `VIGIL_SCREENS` when that variable
    /// names a directory (scripts/screens.sh sets it to docs/screens); nothing otherwise,
    /// so a test's own window is untouched in CI.
    public func screenshotPage(_ name: String, session: String) async throws {
        guard let directory = ProcessInfo.processInfo.environment["VIGIL_SCREENS"] else { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (width, height) in [(1600, 900), (1920, 1080)] {
            try setViewport(width: width, height: height, session: session)
            try await Task.sleep(for: .milliseconds(600)) // relaid out, and a frame or two drawn
            let shot = try call("Page.captureScreenshot", ["format": "png"], session: session)
            guard let base64 = shot["data"] as? String, let png = Data(base64Encoded: base64) else {
                throw Failure("no screenshot: \(shot.keys)")
            }
            try png.write(to: URL(fileURLWithPath: "\(directory)/\(name)-\(width)x\(height).png"))
        }
        try call("Emulation.clearDeviceMetricsOverride", session: session)
    }

    /// Evaluates a JavaScript expression in the page (awaiting a promise) and returns its
    /// JSON value; an exception in the page is thrown with its text.
    public func evaluate(_ expression: String, session: String, timeout: Double = 30) throws -> Any? {
        let result = try call(
            "Runtime.evaluate", ["expression": expression, "awaitPromise": true, "returnByValue": true],
            session: session, timeout: timeout)
        if let exception = result["exceptionDetails"] as? [String: Any] {
            let text = (exception["exception"] as? [String: Any])?["description"] ?? exception["text"] ?? exception
            throw Failure("page threw: \(text)")
        }
        return (result["result"] as? [String: Any])?["value"]
    }

    /// Signs in through the console's form as `name` and waits for its menu.
    public func signIn(_ name: String, password: String, session: String) async throws {
        // Where the page stands if it is not there: a page that could not reach the server
        // says so in its text (a server stopped early, say).
        try await waitUntil(
            "document.getElementById('sign-in') !== null && !document.getElementById('sign-in').hidden", session: session, seconds: 20,
            describe: "[location.href, document.readyState, document.body ? document.body.innerText.slice(0, 300) : 'no body']")
        _ = try evaluate(
            """
            document.getElementById('username').value = '\(name)';
            document.getElementById('password').value = '\(password)';
            document.getElementById('sign-in-form').requestSubmit(); true
            """, session: session)
        try await waitUntil(
            "!document.getElementById('nav').hidden", session: session, seconds: 20, describe: "document.body.innerText")
    }

    /// Sizes the page's window as a station's screen would be (CSS pixels).
    public func setViewport(width: Int, height: Int, session: String) throws {
        try call(
            "Emulation.setDeviceMetricsOverride", ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": false],
            session: session)
    }

    /// The elements the page marks `hidden` that a style rule draws all the same (a
    /// `display` rule outranks the attribute's): each as `tag#id`. What a role may not use
    /// must be gone from the screen, not only flagged.
    public func shownDespiteHidden(session: String) throws -> [String] {
        let shown = try evaluate(
            """
            [...document.querySelectorAll('[hidden]')].filter(e => getComputedStyle(e).display !== 'none')
              .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : ''))
            """, session: session)
        return shown as? [String] ?? ["?"]
    }

    /// Whether the element is drawn: it and every ancestor lay out with a size.
    public func isDrawn(_ id: String, session: String) throws -> Bool {
        try evaluate(
            "(() => { const e = document.getElementById('\(id)'); return !!e && e.getClientRects().length > 0; })()", session: session)
            as? Bool == true
    }

    /// Evaluates `expression` until it returns true, or fails with the last value of
    /// `describe` after `seconds`. A page still loading may throw; that counts as not yet.
    public func waitUntil(_ expression: String, session: String, seconds: Double, describe: String = "null") async throws {
        let deadline = Date().addingTimeInterval(seconds)
        var lastError = ""
        while Date() < deadline {
            do {
                if try evaluate(expression, session: session) as? Bool == true { return }
            } catch let failure as Failure where failure.description.hasPrefix("page threw") {
                lastError = " (last error: \(failure))"
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let state = (try? evaluate(describe, session: session)).flatMap { $0 }.map { "\($0)" } ?? "?"
        throw Failure("not true within \(seconds) s: \(expression) (page state: \(state))\(lastError)")
    }

    private var browserLog: String {
        String(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(2000))
    }

    private func nextMessage(until deadline: Date, waitingFor method: String) throws -> [String: Any] {
        while true {
            if let end = pending.firstIndex(of: 0) {
                let body = Data(pending[..<end])
                pending.removeSubrange(...end)
                if let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] { return object }
                continue
            }
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { throw Failure("\(method): no reply from the browser in time") }
            var poller = pollfd(fd: replies, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, Int32(min(left, 1) * 1000))
            if ready < 0 && errno == EINTR { continue }
            guard ready >= 0 else { throw Failure("poll: \(errno)") }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let n = read(replies, &chunk, chunk.count)
            guard n > 0 else { throw Failure("\(method): the browser closed its pipe; its log: \(browserLog)") }
            pending.append(contentsOf: chunk[..<n])
        }
    }
}
