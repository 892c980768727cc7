// vigil-bench — the benchmarks, each against a peer run side by side on the same input
// (BENCHMARKS.md has the commands and the figures). `vigil bench …` runs this program,
// which is built beside `vigil`; it drives `vigil` itself (simulate, serve, verify) as
// child processes, so it measures the program that ships.
//
// What belongs here: setting up a benchmark, running Vigil and its peer, reading their
// costs and printing the comparison. What does not: anything `vigil` needs to run.

import ArgumentParser
import Foundation

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil bench",
        abstract: "Benchmarks against peers run side by side.",
        subcommands: [BenchIngest.self, BenchExport.self, BenchLive.self, BenchAudit.self, BenchVerify.self, BenchSoak.self, BenchPtz.self])
}

/// The `vigil` program that the benchmarks measure: the one built beside this program
/// (or `VIGIL_EXECUTABLE`).
func vigilExecutable() throws -> String {
    if let path = ProcessInfo.processInfo.environment["VIGIL_EXECUTABLE"] { return path }
    // The kernel's own record of this program's file, whatever argv[0] says.
    let ownPath =
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        ?? URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    let own = URL(fileURLWithPath: ownPath)
    let path = own.deletingLastPathComponent().appendingPathComponent("vigil").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw ValidationError("no vigil program beside \(own.path) (build it with `swift build`, or set VIGIL_EXECUTABLE)")
    }
    return path
}
