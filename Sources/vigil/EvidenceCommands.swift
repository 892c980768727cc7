import ArgumentParser
import Base
import Catalog
import Centre
import CommandSupport
import Evidence
import Foundation
import Recording
import Records

extension Site {
    /// The person at this machine's command line, as the audit log and custody record them.
    var commandLineAgent: EvidenceRegister.Agent {
        let who = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"
        return EvidenceRegister.Agent(user: "cli:\(who)", role: nil, address: "localhost", userAgent: "vigil command line")
    }
}

struct EvidenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evidence", abstract: "The evidence register: create exhibits (holding their footage), custody, signed export.",
        subcommands: [
            Create.self, List.self, Show.self, Share.self, Unshare.self, Release.self, Handover.self, Acknowledge.self, Export.self
        ])

    /// Runs `body` on the opened site, closing it whatever happens.
    static func withSite<T>(_ data: DataOptions, _ body: (Site) async throws -> T) async throws -> T {
        let site = try await Site.open(data, recover: false, logger: makeLogger("vigil.evidence"))
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

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an exhibit; prints its number. Its footage is held until released.")
        @OptionGroup var dataOptions: DataOptions
        @Option(name: .long, help: "Camera name (repeat for several cameras over the same range).") var camera: [String]
        @Option(name: .long, help: "Start (ISO 8601).") var from: String
        @Option(name: .long, help: "End (ISO 8601).") var to: String
        @Option(name: .long, help: "Case reference of the requesting body.") var `case`: String
        @Option(name: .long, help: "Requesting body: police, guard, prosecutor or court.") var body: String
        @Option(name: .long, help: "Purpose of securing the footage.") var purpose: String
        @Option(name: .long, help: "Legal basis of the request.") var legalBasis: String = "not given"

        func run() async throws {
            let from = try parseTime(self.from, option: "--from"), to = try parseTime(self.to, option: "--to")
            let item = try await EvidenceCommand.withSite(dataOptions) { site in
                var ranges: [EvidenceRecord.Range] = []
                for name in camera {
                    guard let c = try await site.catalog.camera(named: name) else { throw ValidationError("no camera named \(name)") }
                    ranges.append(.init(cameraID: c.id, fromMicros: from, toMicros: to))
                }
                return try await site.evidence.create(
                    ranges: ranges, requestingBody: body, caseReference: `case`, legalBasis: legalBasis,
                    purpose: purpose, by: site.commandLineAgent, actor: nil)
            }
            print(item.exhibit)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List exhibits.")
        @OptionGroup var dataOptions: DataOptions
        func run() async throws {
            try await EvidenceCommand.withSite(dataOptions) { site in
                for e in try await site.catalog.evidenceItems() {
                    say(
                        "\(e.exhibit)\t\(e.requestingBody)\t\(e.caseReference)\t\(e.isHeld ? "held" : "released")\t\(iso8601(micros: e.createdMicros))\t\(e.purpose)"
                    )
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an exhibit, its ranges, held segments and custody.")
        @OptionGroup var dataOptions: DataOptions
        @Argument var exhibit: String
        func run() async throws {
            try await EvidenceCommand.withSite(dataOptions) { site in
                let e = try await site.evidence.find(exhibit)
                say("exhibit \(e.exhibit): \(e.isHeld ? "held" : "released")")
                say("requested by \(e.requestingBody), case \(e.caseReference), legal basis: \(e.legalBasis)")
                say("purpose: \(e.purpose); created by \(e.createdBy) at \(iso8601(micros: e.createdMicros))")
                for r in e.ranges {
                    let name = try await site.catalog.camera(id: r.cameraID)?.name ?? "#\(r.cameraID)"
                    say("range: \(name) \(iso8601(micros: r.fromMicros)) – \(iso8601(micros: r.toMicros))")
                }
                let segments = try await site.evidence.coveredSegments(e)
                let held = try await site.catalog.heldByEvidence(segmentIDs: segments.map(\.id))
                say("segments: \(segments.count), held by this or another exhibit: \(held.count)")
                if let released = e.releasedMicros {
                    say("hold released by \(e.releasedBy ?? "?") at \(iso8601(micros: released)): \(e.releaseReason ?? "")")
                }
                for c in try await site.catalog.custody(evidenceID: e.id) {
                    say(
                        "custody: \(iso8601(micros: c.atMicros)) \(c.kind) by \(c.actor)"
                            + (c.counterpart.map { " to \($0)" } ?? "") + (c.purpose.map { " for \($0)" } ?? "")
                            + (c.detail.map { " — \($0)" } ?? ""))
                }
            }
        }
    }

    struct Share: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Let a user (investigator, prosecutor, court) see an exhibit; supervisors see every exhibit, others only their own and those shared with them."
        )
        @OptionGroup var dataOptions: DataOptions
        @Argument var exhibit: String
        @Option(name: .long, help: "The user to share it with.") var user: String
        func run() async throws {
            try await EvidenceCommand.withSite(dataOptions) { site in
                try await site.evidence.share(exhibit: exhibit, with: user, by: site.commandLineAgent, actor: nil)
            }
            say("\(exhibit): shared with \(user)")
        }
    }

    struct Unshare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop sharing an exhibit with a user.")
        @OptionGroup var dataOptions: DataOptions
        @Argument var exhibit: String
        @Option(name: .long, help: "The user to stop sharing it with.") var user: String
        func run() async throws {
            try await EvidenceCommand.withSite(dataOptions) { site in
                try await site.evidence.unshare(exhibit: exhibit, with: user, by: site.commandLineAgent, actor: nil)
            }
            say("\(exhibit): no longer shared with \(user)")
        }
    }

    struct Release: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Release an exhibit's hold (retention may then delete its footage).")
        @OptionGroup var dataOptions: DataOptions
        @Argument var exhibit: String
        @Option(name: .long, help: "Why the hold ends.") var reason: String
        func run() async throws {
            try await EvidenceCommand.withSite(dataOptions) { site in
                try await site.evidence.release(exhibit: exhibit, reason: reason, by: site.commandLineAgent)
            }
            say("\(exhibit): hold released")
        }
    }

    struct Handover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that an exhibit was handed over.")
        @OptionGroup var dataOptions: DataOptions
        @Argument var exhibit: String
        @Option(name: .long, help: "To whom (name, unit).") var to: String
        @Option(name: .long, help: "For what purpose.") var purpose: String
        func run() async throws {
            try await EvidenceCommand.withSite(dataOptions) { site in
                try await site.evidence.handOver(exhibit: exhibit, to: to, purpose: purpose, by: site.commandLineAgent)
            }
            say("\(exhibit): hand-over to \(to) recorded")
        }
    }

    struct Acknowledge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that the recipient acknowledged receipt.")
        @OptionGroup var dataOptions: DataOptions
        @Argument var exhibit: String
        @Option(name: .long, help: "Note (who signed for it).") var note: String?
        func run() async throws {
            try await EvidenceCommand.withSite(dataOptions) { site in
                try await site.evidence.acknowledge(exhibit: exhibit, by: site.commandLineAgent, note: note)
            }
            say("\(exhibit): acknowledgement recorded")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Write the exhibit's bundle: ONVIF-signed MP4s, the signed manifest and the site certificate. Check it with `vigil verify`."
        )
        @OptionGroup var dataOptions: DataOptions
        @Argument var exhibit: String
        @Option(name: .long, help: "Output directory.") var out: String
        func run() async throws {
            let files = try await EvidenceCommand.withSite(dataOptions) { site in
                try await site.evidence.export(exhibit: exhibit, to: out, by: site.commandLineAgent)
            }
            for f in files { say("\(out)/\(f)") }
        }
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an evidence bundle or a signed MP4 offline; exit 0 only when every check passes.")
    @Argument(help: "A bundle directory, its manifest.json, or one of its MP4 files (or any ONVIF-signed MP4).") var path: String
    // Exit status: 0 verified against a pinned certificate; 1 a check failed; 2 intact but no certificate pinned.
    @Option(name: .long, help: "A certificate (PEM) to trust, e.g. the site's published one; repeatable.") var trust: [String] = []

    func run() async throws {
        let pinned = try trust.map { file -> String in
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw ValidationError("cannot read \(file)") }
            return text
        }
        let report: EvidenceVerifier.Report
        do {
            report = try EvidenceVerifier.verify(path: path, pinned: pinned)
        } catch {
            FileHandle.standardError.write(Data("FAIL: \(error)\n".utf8))
            throw ExitCode(1)
        }
        for f in report.findings { print("\(f.status.rawValue)  \(f.check): \(f.detail)") }
        guard report.passed else {
            print("NOT VERIFIED: see FAIL lines above")
            throw ExitCode(1)
        }
        guard !pinned.isEmpty else {
            // Integrity alone proves only that whoever signed it has not changed it since:
            // anyone can make a self-consistent bundle with a key of their own.
            print(
                """
                INTACT, SIGNER UNTRUSTED: every integrity check passed, but no certificate was pinned, so who signed \
                this is not known. Verify again with --trust SITE-CERTIFICATE.pem (the site's published certificate).
                """)
            throw ExitCode(2)
        }
        print("VERIFIED: every check passed, signed by a pinned certificate")
    }
}

struct SiteCertificateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "site-certificate", abstract: "Print the site's export-signing certificate (PEM), to publish for courts to pin.")
    @OptionGroup var dataOptions: DataOptions
    func run() async throws {
        let keys = try SiteKeys.loadOrCreate(directory: dataOptions.keysPath, siteName: "vigil")
        print(try SiteCertificate.loadOrCreate(directory: dataOptions.keysPath, siteName: keys.signer.name).pem, terminator: "")
    }
}
