// vigil — the command line. Each subcommand wires the modules together; no domain logic
// lives here beyond argument checking and printing.

import ArgumentParser
import CommandSupport

@main
struct Vigil: AsyncParsableCommand {

    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Video management for a city's monitoring centre: record, play back, export, verify.",
        subcommands: [
            Serve.self, CameraCommand.self, IncidentCommand.self, DispatchCommand.self, UserCommand.self, AuditCommand.self, Record.self,
            Recordings.self,
            Export.self, Check.self,
            QuarantineCommand.self, EvidenceCommand.self, VerifyCommand.self, SiteCertificateCommand.self, Simulate.self, Demo.self,
            Bench.self, MakeClip.self
        ])
}
