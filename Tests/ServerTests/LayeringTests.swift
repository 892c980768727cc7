import Foundation
import TestSupport
import Testing

/// The server builds on the domain only: it speaks HTTP over Centre's and Access's services
/// and Records' plain rows, never to the database or the sample files directly.
@Suite struct LayeringTests {
    /// Modules below the domain that the server must not import: storage (Catalog and its
    /// SQL), the recording pipeline and its files (Recording), the cameras' protocols (RTSP,
    /// Onvif: PTZ goes through PTZ's `CameraControl`).
    static let forbidden = ["Catalog", "Recording", "RTSP", "Onvif", "SQLKit", "SQLiteKit"]

    static func imports(in text: String) -> [String] {
        text.split(whereSeparator: { $0.isNewline || $0 == ";" }).compactMap { line in
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            // `import X`, `@_exported import X`, `import struct X.Y`, `@testable import X`,
            // `private import X` (an access-level import), several on a line with `;`.
            guard let at = words.firstIndex(of: "import"), at + 1 < words.count else { return nil }
            let modifiers: Set<Substring> = ["public", "package", "internal", "fileprivate", "private", "open"]
            guard words[..<at].allSatisfy({ $0.hasPrefix("@") || modifiers.contains($0) }) else { return nil }
            let kinds: Set<Substring> = ["struct", "class", "enum", "protocol", "typealias", "func", "var", "let", "actor"]
            let target = kinds.contains(words[at + 1]) && at + 2 < words.count ? words[at + 2] : words[at + 1]
            return String(target.split(separator: ".").first ?? target)
        }
    }

    /// Every Swift file of the Server target, in subdirectories too (SwiftPM compiles them all).
    static func serverSources() throws -> [(name: String, text: String)] {
        let root = "\(TestSupport.packageRoot)/Sources/Server"
        guard let walker = FileManager.default.enumerator(atPath: root) else { throw CocoaError(.fileReadNoSuchFile) }
        var files: [(String, String)] = []
        for case let path as String in walker where path.hasSuffix(".swift") {
            files.append((path, try String(contentsOfFile: "\(root)/\(path)", encoding: .utf8)))
        }
        return files.sorted { $0.0 < $1.0 }
    }

    @Test func theImportScannerSeesEveryForm() {
        let text = """
            import Catalog
            @_exported import Recording
            import struct SQLKit.SQLRaw
            @preconcurrency import RTSP
            private import SQLiteKit
            import Foundation; import Catalog\r
            import Evidence\r
            // import Nothing
            let important = 1
            """
        #expect(Self.imports(in: text) == ["Catalog", "Recording", "SQLKit", "RTSP", "SQLiteKit", "Foundation", "Catalog", "Evidence"])
    }

    @Test func serverImportsNoStorage() throws {
        let files = try Self.serverSources()
        #expect(files.count >= 10, "the server's sources were not found under \(TestSupport.packageRoot)/Sources/Server")
        var offending: [String] = []
        for file in files {
            for module in Self.imports(in: file.text) where Self.forbidden.contains(module) {
                offending.append("\(file.name) imports \(module)")
            }
        }
        #expect(offending.isEmpty, "the server must build on Centre, Access and Records: \(offending)")
    }

    /// Nor does it reach around the services to the storage some of them hold (those
    /// properties are internal to their modules; this catches a new one made public).
    @Test func serverReachesNoServiceStorage() throws {
        var offending: [String] = []
        for file in try Self.serverSources() {
            for (number, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            where line.contains(/\.(catalog|store|database)\b/) {
                offending.append("\(file.name):\(number + 1)")
            }
        }
        #expect(offending.isEmpty, "the server reaches a service's catalog or sample store: \(offending)")
    }

    /// The modules the server builds on do not hand storage on to it.
    @Test func noModuleReExportsAnother() throws {
        let root = "\(TestSupport.packageRoot)/Sources"
        let walker = try #require(FileManager.default.enumerator(atPath: root))
        var offending: [String] = []
        for case let path as String in walker where path.hasSuffix(".swift") {
            let text = try String(contentsOfFile: "\(root)/\(path)", encoding: .utf8)
            if text.contains("@_exported") { offending.append(path) }
        }
        #expect(offending.isEmpty, "re-exported modules: \(offending)")
    }

    @Test func theServerTargetDependsOnNoStorage() throws {
        let manifest = try String(contentsOfFile: "\(TestSupport.packageRoot)/Package.swift", encoding: .utf8)
        // The Server target's declaration, up to the next target.
        let start = try #require(manifest.range(of: "name: \"Server\","))
        let rest = manifest[start.upperBound...]
        let end = rest.range(of: ".target(")?.lowerBound ?? rest.endIndex
        let declaration = rest[..<end]
        for module in Self.forbidden {
            #expect(!declaration.contains("\"\(module)\""), "the Server target lists \(module) among its dependencies")
        }
        #expect(declaration.contains("MemberImportVisibility"))
    }
}
