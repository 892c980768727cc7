// CommandSupport — what Vigil's two programs (`vigil`, the commands; `vigil-bench`, the
// benchmarks) share at their edge.
//
// What belongs here: a data directory opened as a site (catalog, samples, keys, accounts,
// audit trail, certificate), the `--data` option, time arguments, printing, logging
// configuration and the shutdown signal.
// What does not: anything a server or a test needs (that lives in the domain modules);
// subcommands themselves (they stay in their program).

import ArgumentParser
import Base
import Foundation
import Logging

/// Options shared by every command that works on a data directory.
public struct DataOptions: ParsableArguments {
    public init() {}

    @Option(name: .long, help: "Data directory (catalog.sqlite, samples/, keys/, exports/).")
    public var data: String

    public var catalogPath: String { "\(data)/catalog.sqlite" }
    public var samplesPath: String { "\(data)/samples" }
    public var keysPath: String { "\(data)/keys" }
    /// Bundles the server exported, kept for download (`ExportShelf`).
    public var exportsPath: String { "\(data)/exports" }
}

public func makeLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["VIGIL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    return logger
}

/// Parses an ISO 8601 time argument.
public func parseTime(_ text: String, option: String) throws -> Int64 {
    guard let micros = parseISO8601(text) else {
        throw ValidationError("\(option) \"\(text)\" is not an ISO 8601 time such as 2026-11-24T10:00:00Z")
    }
    return micros
}

/// Prints a line and flushes, so progress reaches logs and pipes at once (and survives a
/// later crash or kill).
public func say(_ text: String) {
    print(text)
    fflush(nil)
}
