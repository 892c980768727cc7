import Access
import ArgumentParser
import Audit
import Base
import Catalog
import Centre
import CommandSupport
import Foundation
import Onvif
import PTZ
import Recording
import Records

// Administration from the command line. Each opens the data directory beside a running
// server (SQLite in WAL mode lets both write) and appends its own audit entry; the server
// picks up camera changes within a couple of seconds.

struct CameraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "camera", abstract: "Add, change, list or find cameras.",
        subcommands: [Add.self, Edit.self, Disable.self, Enable.self, Remove.self, List.self, Discover.self])

    /// Applies a change to camera `name` with its audit entry; a refused change is said in words.
    static func edit(
        _ dataOptions: DataOptions, _ name: String, detail: String,
        _ change: @escaping @Sendable (inout CameraRecord, SiteKeys) throws -> Void
    ) async throws -> CameraRecord {
        try await onSite(dataOptions) { site in
            let keys = site.keys
            return try await site.editCamera(named: name, detail: detail) { try change(&$0, keys) }
        }
    }

    /// Runs `body` on the site in `dataOptions`, closing it after; a refusal is said in words.
    static func onSite<T: Sendable>(_ dataOptions: DataOptions, _ body: (Site) async throws -> T) async throws -> T {
        let site = try await Site.open(dataOptions, recover: false, logger: makeLogger("vigil.camera"))
        do {
            let result = try await body(site)
            await site.catalog.close()
            return result
        } catch let error as VigilError {
            await site.catalog.close()
            throw ValidationError(error.message)
        } catch {
            await site.catalog.close()
            throw error
        }
    }

    struct Edit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a camera's settings; a running server follows within seconds. Its footage is kept.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The camera's name.") var camera: String
        @Option(name: .long, help: "A new name.") var name: String?
        @Option(
            name: .long,
            help: "A new RTSP URL, rtsp://[user[:password]@]host[:port]/path (a password left out is read from standard input).")
        var url: String?
        @Option(name: .long, help: "Where the camera is.") var location: String?
        @Option(name: .long, help: "The area it watches over.") var area: String?
        @Option(name: .long, help: "Keep recordings this many days (at most 90).") var retentionDays: Int?
        @Option(name: .long, help: "Segment length in seconds.") var segmentSeconds: Int?
        @Option(
            name: .long,
            help:
                "The camera's second RTSP stream, on its own address, for viewing on small tiles only (no credentials: the camera's own account opens it); \"\" removes it."
        )
        var subStream: String?

        func validate() throws {
            guard [name, url, location, area, subStream].contains(where: { $0 != nil }) || retentionDays != nil || segmentSeconds != nil
            else {
                throw ValidationError(
                    "say what to change: --name, --url, --location, --area, --retention-days, --segment-seconds or --sub-stream")
            }
        }

        func run() async throws {
            let given: [(String, Bool)] = [
                ("name", name != nil), ("url", url != nil), ("location", location != nil), ("area", area != nil),
                ("retentionDays", retentionDays != nil), ("segmentSeconds", segmentSeconds != nil), ("subStream", subStream != nil)
            ]
            let address = try url.map(Add.withPassword)
            let name = self.name, location = self.location, area = self.area, subStream = self.subStream
            let retentionDays = self.retentionDays, segmentSeconds = self.segmentSeconds
            let changed = try await CameraCommand.edit(
                dataOptions, camera, detail: "changed: " + given.filter(\.1).map(\.0).joined(separator: ", ") + " (command line)"
            ) { c, keys in
                if let name { c.name = name }
                if let address { try CameraRules.setURL(address, on: &c, keys: keys) }
                if let location { c.location = location }
                if let area { c.area = area }
                if let retentionDays { c.retentionDays = retentionDays }
                if let segmentSeconds { c.segmentSeconds = segmentSeconds }
                if let subStream { try CameraRules.setSubStream(subStream, on: &c) }
            }
            say("camera \(changed.id) \(changed.name) \(changed.url)" + (changed.subStreamURL.map { " (sub-stream \($0))" } ?? ""))
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop recording a camera (a running server stops within seconds); its footage is kept to its retention.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The camera's name.") var camera: String

        func run() async throws {
            let changed = try await CameraCommand.edit(dataOptions, camera, detail: "changed: enabled (disabled from the command line)") {
                c, _ in
                c.enabled = false
            }
            say("camera \(changed.id) \(changed.name) disabled: not recorded; its footage is kept to its retention")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record a disabled camera again.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The camera's name.") var camera: String

        func run() async throws {
            let changed = try await CameraCommand.edit(dataOptions, camera, detail: "changed: enabled (enabled from the command line)") {
                c, _ in
                c.enabled = true
            }
            say("camera \(changed.id) \(changed.name) enabled")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a camera: no longer recorded, live or steered, its password forgotten; "
                + "its footage is kept to its retention (held footage longer), and its name stays taken.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "The camera's name.") var camera: String

        func run() async throws {
            let camera = self.camera
            let removed = try await CameraCommand.onSite(dataOptions) { try await $0.removeCamera(named: camera) }
            let until = iso8601(micros: (removed.removedMicros ?? 0) + Int64(removed.retentionDays) * 86_400_000_000)
            say("camera \(removed.id) \(removed.name) removed: its footage is kept until about \(until), held footage longer")
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a camera (credentials in the URL are stored sealed).")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "Camera name.") var name: String
        @Argument(help: "rtsp://[user:password@]host[:port]/path (found over ONVIF with --onvif)") var url: String?
        @Option(
            name: .long,
            help:
                "The camera's ONVIF device service, http://USER:PASSWORD@HOST:PORT/onvif/device_service: its main stream and PTZ are found there."
        ) var onvif: String?
        @Option(name: .long, help: "Where the camera is.") var location: String = ""
        @Option(name: .long, help: "The area it watches over (a district, a square): the live wall groups cameras by it.")
        var area: String = ""
        @Option(name: .long, help: "Keep recordings this many days (at most 90).") var retentionDays: Int = RetentionPolicy.defaultDays
        @Option(name: .long, help: "Segment length in seconds.") var segmentSeconds: Int = 60
        @Flag(name: .long, help: "Register without recording yet.") var disabled = false
        @Option(
            name: .long,
            help:
                "The camera's second RTSP stream, on its own address, for viewing on small tiles only (no credentials: the camera's own account opens it); over ONVIF another, smaller profile's is found unless given (\"\" for none)."
        )
        var subStream: String?

        /// An address with a user and no password gets the password from standard input (a
        /// password on the command line shows in `ps` and the shell's history).
        static func withPassword(_ address: String) throws -> String {
            guard var parts = URLComponents(string: address), parts.user != nil, parts.password == nil else { return address }
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                throw ValidationError("give the camera's password on standard input (or in the address)")
            }
            parts.password = line
            return parts.string ?? address
        }

        func validate() throws {
            guard (url == nil) != (onvif == nil) else {
                throw ValidationError("give the camera's RTSP URL or --onvif ADDRESS (one of them)")
            }
        }

        func run() async throws {
            // The device is asked before the data directory is opened: a camera that does not
            // answer changes nothing.
            let onboarded: OnboardedCamera?
            do {
                onboarded = try await onvif.asyncMap { try await CameraOnboarding.inspect(try Self.withPassword($0)) }
            } catch let error as any CodedError {
                throw ValidationError(error.description)
            }
            let site = try await Site.open(dataOptions, recover: false, logger: makeLogger("vigil.camera"))
            let added: CameraRecord
            do {
                var record: CameraRecord
                if let onboarded {
                    record = try onboarded.record(name: name, retentionDays: retentionDays, keys: site.keys)
                } else {
                    record = CameraRecord(id: 0, name: name, url: url ?? "", retentionDays: retentionDays)
                    try CameraRules.setURL(url ?? "", on: &record, keys: site.keys)
                }
                record.location = location
                record.area = area
                record.segmentSeconds = segmentSeconds
                record.enabled = !disabled
                if let subStream { try CameraRules.setSubStream(subStream, on: &record) }
                added = try await site.registerCamera(
                    record, detail: onboarded == nil ? "from the command line" : "from the command line, over ONVIF")
            } catch let error as VigilError {
                await site.catalog.close()
                throw ValidationError(error.message)
            }
            await site.catalog.close()
            say("camera \(added.id) \(added.name) \(added.url)" + (added.subStreamURL.map { " (sub-stream \($0))" } ?? ""))
            if let onboarded {
                say(
                    "  \(onboarded.device.manufacturer) \(onboarded.device.model), profile \(onboarded.profile); PTZ: \(onboarded.ptzProfile == nil ? "none" : "yes")"
                )
                if let named = onboarded.namedStreamHost {
                    say("  the camera named \(named) for its stream; it is recorded from the device's own address instead")
                }
            }
        }
    }

    struct Discover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the ONVIF cameras on the local network segment (a WS-Discovery probe to 239.255.255.250:3702).")
        @Option(name: .long, help: "Listen this many seconds for answers (at most 30).") var seconds: Double = 3
        @Option(
            name: .long,
            help: "Probe this HOST:PORT directly instead of the multicast group (a camera on another segment; repeatable).")
        var to: [String] = []

        func validate() throws {
            guard seconds.isFinite, seconds > 0, seconds <= 30 else { throw ValidationError("--seconds must be above 0 and at most 30") }
        }

        func run() async throws {
            let result: DiscoveryResult
            do {
                result = try await DiscoveryProbe.run(to: to, seconds: seconds)
            } catch let error as any CodedError {
                throw ValidationError(error.description)
            }
            for d in result.devices {
                let described = [d.name, d.hardware, d.location.map { "at \($0)" }].compactMap { $0 }.joined(separator: ", ")
                say("\(d.addresses.first ?? "(no http address)")\t\(described.isEmpty ? d.endpoint : described)\tfrom \(d.from)")
                for more in d.addresses.dropFirst() { say("  also \(more)") }
            }
            let heard = result.devices.count == 1 ? "1 device answered" : "\(result.devices.count) devices answered"
            say(
                "\(heard) in \(seconds.formatted()) s"
                    + (result.devices.isEmpty
                        ? "" : "; add one with: vigil camera add --data DIR NAME --onvif http://USER@HOST:PORT/onvif/device_service"))
            if result.unreadableCount > 0 {
                say("\(result.unreadableCount) answers could not be read:")
                for reason in result.unreadable { say("  \(reason)") }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List cameras.")
        @OptionGroup var dataOptions: DataOptions
        func run() async throws {
            let catalog = try await Catalog.openSQLite(path: dataOptions.catalogPath)
            for c in try await catalog.cameras() {
                say(
                    "\(c.id)\t\(c.name)\t\(c.removedMicros.map { "removed \(iso8601(micros: $0))" } ?? (c.enabled ? "enabled" : "disabled"))\t\(c.url)\t\(c.retentionDays) days\t\(c.location)\t\(c.area)"
                )
            }
            await catalog.close()
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage accounts (passwords are read from standard input).",
        subcommands: [Add.self, Passwd.self, Disable.self, Grant.self, Revoke.self, List.self])

    static func readPassword() throws -> String {
        guard let line = readLine(strippingNewline: true), !line.isEmpty else {
            throw ValidationError("give the password on standard input")
        }
        return line
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a user; the password is read from standard input.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "User name.") var name: String
        @Option(name: .long, help: "One of: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).") var role: String
        @Flag(name: .long, help: "The user must change the password at first sign-in.") var oneTime = false

        func run() async throws {
            guard let r = Role(rawValue: role) else {
                throw ValidationError("unknown role \(role); one of \(Role.allCases.map(\.rawValue))")
            }
            let password = try UserCommand.readPassword()
            let site = try await Site.open(dataOptions, recover: false, logger: makeLogger("vigil.user"))
            do {
                let change = try await site.accounts.prepareUser(name: name, role: r, password: password, oneTime: oneTime)
                let user = try await site.auditCommandLine(.userAdd, detail: "user \(name) as \(r.rawValue)", change: change)
                say("user \(user.id) \(user.name) (\(r.title))")
            } catch let error as VigilError {
                await site.catalog.close()
                throw ValidationError(error.message)
            }
            await site.catalog.close()
        }
    }

    struct Passwd: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Set a user's password (from standard input); ends their sessions.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "User name.") var name: String
        @Flag(name: .long, help: "The user must change it at next sign-in.") var oneTime = false

        func run() async throws {
            let password = try UserCommand.readPassword()
            let site = try await Site.open(dataOptions, recover: false, logger: makeLogger("vigil.user"))
            guard let user = try await site.catalog.user(named: name) else { throw ValidationError("no user \(name)") }
            do {
                let change = try await site.accounts.prepareEdit(userID: user.id, password: password, oneTime: oneTime, by: nil)
                try await site.auditCommandLine(.userEdit, detail: "user \(name): password set", change: change)
            } catch let error as VigilError {
                throw ValidationError(error.message)
            }
            await site.catalog.close()
            say("password of \(name) set")
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable a user and end their sessions.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "User name.") var name: String

        func run() async throws {
            let site = try await Site.open(dataOptions, recover: false, logger: makeLogger("vigil.user"))
            guard let user = try await site.catalog.user(named: name) else { throw ValidationError("no user \(name)") }
            try await site.auditCommandLine(
                .userEdit, detail: "user \(name): disabled",
                change: try await site.accounts.prepareEdit(userID: user.id, disabled: true, by: nil))
            await site.catalog.close()
            say("\(name) disabled")
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Give a user a permission beyond their role, on one camera or all (e.g. register-evidence on the cameras of an investigator's case)."
        )
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "User name.") var name: String
        @Option(name: .long, help: "One of: \(Permission.allCases.map(\.rawValue).joined(separator: ", ")).") var permission: String
        @Option(name: .long, help: "Camera name; every camera when left out.") var camera: String?

        func run() async throws { try await UserCommand.setGrant(dataOptions, name, permission, camera, granted: true) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take back a permission given with `user grant`.")
        @OptionGroup var dataOptions: DataOptions
        @Argument(help: "User name.") var name: String
        @Option(name: .long, help: "The permission.") var permission: String
        @Option(name: .long, help: "Camera name; the grant on every camera when left out.") var camera: String?

        func run() async throws { try await UserCommand.setGrant(dataOptions, name, permission, camera, granted: false) }
    }

    static func setGrant(_ data: DataOptions, _ name: String, _ permission: String, _ cameraName: String?, granted: Bool) async throws {
        guard Permission(rawValue: permission) != nil else {
            throw ValidationError("unknown permission \(permission); one of \(Permission.allCases.map(\.rawValue))")
        }
        let site = try await Site.open(data, recover: false, logger: makeLogger("vigil.user"))
        do {
            guard let user = try await site.catalog.user(named: name) else { throw ValidationError("no user \(name)") }
            var camera: CameraRecord?
            if let cameraName {
                camera = try await site.catalog.camera(named: cameraName)
                guard camera != nil else { throw ValidationError("no camera named \(cameraName)") }
            }
            let change = try await site.accounts.prepareGrant(
                GrantRecord(userID: user.id, permission: permission, cameraID: camera?.id),
                granted: granted, by: nil)
            let scope = camera.map { "camera \($0.id)" } ?? "all cameras"
            try await site.auditCommandLine(
                granted ? .grantAdd : .grantRemove, detail: "user \(name): \(permission) on \(scope)", change: change)
            await site.catalog.close()
            say("\(name): \(permission) on \(cameraName ?? "every camera") \(granted ? "granted" : "taken back")")
        } catch let error as VigilError {
            await site.catalog.close()
            throw ValidationError(error.message)
        } catch {
            await site.catalog.close()
            throw error
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List users.")
        @OptionGroup var dataOptions: DataOptions
        func run() async throws {
            let catalog = try await Catalog.openSQLite(path: dataOptions.catalogPath)
            for u in try await catalog.users() {
                say("\(u.id)\t\(u.name)\t\(u.role)\(u.disabled ? "\tdisabled" : "")\(u.mustChangePassword ? "\tone-time password" : "")")
            }
            await catalog.close()
        }
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify or read the audit log, or print a signed checkpoint.",
        subcommands: [Verify.self, List.self, CheckpointCommand.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print audit entries as stored, one canonical JSON object per line (verify them with `audit verify`).")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "First position to print (0 = the first entry).") var from: Int64 = 0
        @Option(name: .long, help: "At most this many entries.") var limit: Int = Int.max

        func run() async throws {
            let catalog = try await Catalog.openSQLite(path: dataOptions.catalogPath)
            for row in try await catalog.auditEntries(from: from, limit: limit) {
                say(String(decoding: row.body, as: UTF8.self))
            }
            await catalog.close()
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the audit log offline against the site's signed checkpoints; exit 0 only when it is intact.")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "A checkpoint obtained earlier (signed note): the log must still contain it.") var checkpoint: String?
        @Option(name: .long, help: "The site's verifier key (name+id+key); default: DATA/keys/site-ed25519.vkey.") var key: String?
        @Option(
            name: .customLong("witness-dir"),
            help: "A witness directory (serve's --witness-dir): the log must contain its checkpoint. Repeatable.")
        var witnessDirs: [String] = []

        func run() async throws {
            let verifier: NoteVerifier
            if let key {
                let text = FileManager.default.contents(atPath: key).map { String(decoding: $0, as: UTF8.self) } ?? key
                verifier = try NoteVerifier(encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
            } else {
                verifier = try SiteKeys.verifier(dataDirectory: dataOptions.data)
            }
            let external = try checkpoint.map { path -> String in
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
                return String(decoding: data, as: UTF8.self)
            }
            // Read the store as it is: no migration, no recovery, nothing trusted but bytes.
            let catalog = try await Catalog.openSQLite(path: dataOptions.catalogPath)
            let entries = try await catalog.auditEntries().map { LogVerifier.StoredEntry(position: $0.seq, body: $0.body) }
            let checkpoints = try await catalog.checkpoints().map(\.note)
            await catalog.close()
            var witnessed: [(source: String, note: String)] = []
            var unreadable: [String] = []
            for dir in witnessDirs {
                // The log's origin is in each stored checkpoint; witnesses are filed under it.
                let origin = checkpoints.last.flatMap { try? Checkpoint(text: verifier.verify($0)).origin } ?? "vigil/audit"
                let witness = AuditWitness(directory: dir, origin: origin)
                do {
                    if let note = try witness.read() {
                        witnessed.append(("the checkpoint witnessed in \(witness.path)", note))
                    } else {
                        unreadable.append("witness \(witness.path) holds no checkpoint")
                    }
                } catch {
                    unreadable.append("\(error)")
                }
            }
            var report = LogVerifier.verify(
                entries: entries, checkpoints: checkpoints, external: external, witnessed: witnessed,
                verifier: verifier)
            report.problems += unreadable
            say("audit log: \(report.entryCount) entries, \(report.checkpointsVerified) signed checkpoints checked (key \(verifier.name))")
            if report.uncoveredEntries > 0 {
                say("note: the newest \(report.uncoveredEntries) entries are not yet covered by a signed checkpoint")
            }
            guard report.passed else {
                for problem in report.problems { FileHandle.standardError.write(Data("FAIL: \(problem)\n".utf8)) }
                throw ExitCode(1)
            }
            say("OK: the log matches every signed checkpoint up to \(report.verifiedSize) entries")
        }
    }

    struct CheckpointCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "checkpoint", abstract: "Sign and print a checkpoint of the log as it is now.")
        @OptionGroup var dataOptions: DataOptions
        func run() async throws {
            let site = try await Site.open(dataOptions, recover: false, logger: makeLogger("vigil.audit"))
            let row = try await site.audit.checkpoint()
            await site.catalog.close()
            print(row.note, terminator: "")
        }
    }
}

struct QuarantineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quarantine",
        abstract:
            "List the sample files that start-up recovery could not account for and moved aside (DATA/samples/quarantine); --purge deletes them."
    )
    @OptionGroup var dataOptions: DataOptions
    @Flag(name: .long, help: "Delete every quarantined file (audited). Nothing else ever deletes them.") var purge = false

    func run() async throws {
        let site = try await Site.open(dataOptions, recover: false, logger: makeLogger("vigil.quarantine"))
        let files = purge ? try site.store.purgeQuarantine() : site.store.quarantined()
        let bytes = files.reduce(Int64(0)) { $0 + $1.bytes }
        for file in files { say("\(purge ? "deleted" : "kept")\t\(file.bytes)\t\(file.path)") }
        if purge, !files.isEmpty {
            let detail = "\(files.count) quarantined files, \(bytes) bytes, deleted"
            try await site.catalog.log(action: "quarantine-purged", detail: detail)
            try await site.auditCommandLine(.quarantinePurge, detail: detail)
        }
        await site.catalog.close()
        say("\(files.count) files, \(bytes) bytes \(purge ? "deleted" : "in \(site.store.quarantineRoot)")")
    }
}

extension Optional {
    func asyncMap<U>(_ transform: (Wrapped) async throws -> U) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
