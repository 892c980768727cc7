import ArgumentParser
import CommandSupport
import Foundation

/// `vigil bench …` runs the benchmarks' own program, `vigil-bench`, built beside this one:
/// the benchmarks are not part of what `vigil` carries, but keep the command people know.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks against peers run side by side (runs vigil-bench; `vigil bench` alone lists them).",
        discussion: "ingest, export, live, audit, verify, soak: see BENCHMARKS.md for each one's command and figures.")

    @Argument(parsing: .captureForPassthrough, help: "The benchmark and its options.")
    var arguments: [String] = []

    func run() throws {
        let own = URL(
            fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        let bench = own.deletingLastPathComponent().appendingPathComponent("vigil-bench").path
        guard FileManager.default.isExecutableFile(atPath: bench) else {
            throw ValidationError("no vigil-bench beside \(own.path): build it with `swift build --product vigil-bench`")
        }
        let argv = [bench] + (arguments.isEmpty ? ["--help"] : arguments)
        // Replaces this process, so the benchmark owns the terminal, its signals and its exit status.
        let cArguments = argv.map { strdup($0) } + [nil]
        execv(bench, cArguments)
        throw ValidationError("could not run \(bench): \(String(cString: strerror(errno)))")
    }
}
