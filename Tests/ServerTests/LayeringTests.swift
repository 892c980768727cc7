import Foundation
import TestSupport
import Testing

/// The server builds on the domain only: it speaks HTTP over Centre's and Access's services
/// and Records' plain rows, never to the database or the sample files directly.
@Suite struct LayeringTests {
    /// Modules below the domain that the server must not import: storage (Catalog and its
    /// SQL), the recording pipeline and its files (Recording), the camera protocol (RTSP).
    static let forbidden = ["Catalog", "Recording", "RTSP", "SQLKit", "SQLiteKit"]

    static func imports(in text: String) -> [String] {
        text.split(separator: "\n").compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // `import X`, `@_exported import X`, `import struct X.Y`, `@testable import X`.
            guard let at = words.firstIndex(of: "import"), at + 1 < words.count else { return nil }
            guard words[..<at].allSatisfy({ $0.hasPrefix("@") || $0 == "public" || $0 == "internal" || $0 == "package" }) else {
                return nil
            }
            let kinds: Set<Substring> = ["struct", "class", "enum", "protocol", "typealias", "func", "var", "let", "actor"]
            let target = kinds.contains(words[at + 1]) && at + 2 < words.count ? words[at + 2] : words[at + 1]
            return String(target.split(separator: ".").first ?? target)
        }
    }

    @Test func theImportScannerSeesEveryForm() {
        let text = """
            import Catalog
            @_exported import Recording
            import struct SQLKit.SQLRaw
            @preconcurrency import RTSP
            // import Nothing
            let important = 1
            """
        #expect(Self.imports(in: text) == ["Catalog", "Recording", "SQLKit", "RTSP"])
    }

    @Test func serverImportsNoStorage() throws {
        let directory = "\(TestSupport.packageRoot)/Sources/Server"
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".swift") }
        #expect(files.count >= 10, "the server's sources were not found at \(directory)")
        var offending: [String] = []
        for file in files.sorted() {
            let text = try String(contentsOfFile: "\(directory)/\(file)", encoding: .utf8)
            for module in Self.imports(in: text) where Self.forbidden.contains(module) {
                offending.append("\(file) imports \(module)")
            }
        }
        #expect(offending.isEmpty, "the server must build on Centre, Access and Records: \(offending)")
    }

    @Test func theServerTargetDependsOnNoStorage() throws {
        let manifest = try String(contentsOfFile: "\(TestSupport.packageRoot)/Package.swift", encoding: .utf8)
        // The Server target's declaration, up to the next target.
        let start = try #require(manifest.range(of: "name: \"Server\","))
        let rest = manifest[start.upperBound...]
        let end = rest.range(of: ".target(")?.lowerBound ?? rest.endIndex
        let declaration = rest[..<end]
        for module in Self.forbidden.prefix(3) {
            #expect(!declaration.contains("\"\(module)\""), "the Server target lists \(module) among its dependencies")
        }
        #expect(declaration.contains("MemberImportVisibility"))
    }
}
