// vigil — the command line. Each subcommand wires the modules together; no domain logic
// lives here beyond argument checking and printing.

import Base
import ArgumentParser
import Foundation
import Logging
import Recording

@main
struct Vigil: AsyncParsableCommand {

    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Video management for a city's monitoring centre: record, play back, export, verify.",
        subcommands: [Serve.self, CameraCommand.self, UserCommand.self, AuditCommand.self, Record.self, Recordings.self, Export.self, Check.self, QuarantineCommand.self, EvidenceCommand.self, VerifyCommand.self, SiteCertificateCommand.self, Simulate.self, Demo.self, Bench.self, MakeClip.self])
}

/// Options shared by every command that works on a data directory.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Data directory (catalog.sqlite, samples/, keys/, exports/).")
    var data: String

    var catalogPath: String { "\(data)/catalog.sqlite" }
    var samplesPath: String { "\(data)/samples" }
    var keysPath: String { "\(data)/keys" }
    /// Bundles the server exported, kept for download (`ExportShelf`).
    var exportsPath: String { "\(data)/exports" }
}

func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["VIGIL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

/// Parses an ISO 8601 time argument.
func parseTime(_ text: String, option: String) throws -> Int64 {
    guard let micros = parseISO8601(text) else {
        throw ValidationError("\(option) \"\(text)\" is not an ISO 8601 time such as 2026-11-24T10:00:00Z")
    }
    return micros
}

/// Prints a line and flushes, so progress reaches logs and pipes at once (and survives a
/// later crash or kill).
func say(_ text: String) {
    print(text)
    fflush(nil)
}
