import ArgumentParser

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Benchmarks against peers run side by side.",
                                                    subcommands: [BenchIngest.self, BenchExport.self, BenchLive.self, BenchAudit.self, BenchVerify.self, BenchSoak.self])
}
