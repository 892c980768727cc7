import Access
import Audit
import Base
import Catalog
import Centre
import Evidence
import Foundation
import Logging
import Recording
import Records

/// A data directory opened for the centre: catalog (migrated), sample store (reconciled
/// when `recover`), site keys and export certificate, accounts and the audit trail. Used by `serve`, `demo` and
/// the administration commands, which may run beside a live server.
public struct Site {
    public let data: DataOptions
    public let catalog: Catalog
    public let store: SampleStore
    public let keys: SiteKeys
    public let accounts: Accounts
    public let audit: AuditTrail
    public let certificate: SiteCertificate
    /// Held while this process records into the directory (`recover`); nil for the
    /// administration commands that run beside it.
    public let writer: WriterLock?
    public var evidence: EvidenceRegister {
        EvidenceRegister(catalog: catalog, store: store, audit: audit, keys: keys, certificate: certificate)
    }

    public static func open(_ data: DataOptions, siteName: String = "vigil", recover: Bool, logger: Logger) async throws -> Site {
        try FileManager.default.createDirectory(atPath: data.data, withIntermediateDirectories: true)
        let writer = recover ? try WriterLock.acquire(dataDirectory: data.data, command: "serve") : nil
        let catalog = try await Catalog.openSQLite(path: data.catalogPath)
        return try await Site.closingOnError(catalog) {
            let store = try SampleStore(root: data.samplesPath)
            if recover {
                for action in try await Recovery.reconcile(catalog: catalog, store: store) { say("recovery: \(action)") }
            }
            let keys = try await loadKeys(data, catalog: catalog, siteName: siteName)
            let audit = try await AuditTrail(catalog: catalog, signer: keys.signer, origin: "\(siteName)/audit", logger: logger)
            let certificate = try SiteCertificate.loadOrCreate(directory: data.keysPath, siteName: keys.signer.name)
            return Site(
                data: data, catalog: catalog, store: store, keys: keys, accounts: Accounts(catalog: catalog), audit: audit,
                certificate: certificate, writer: writer)
        }
    }

    /// Runs `body`, closing `catalog` if it throws: a refusal must reach the operator as its
    /// message (the debug build's SQLite asserts on a connection dropped unclosed).
    public static func closingOnError<T>(_ catalog: Catalog, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            await catalog.close()
            throw error
        }
    }

    /// The site's keys, created on first use only: a new signing key beside an existing log
    /// would sign checkpoints that no earlier verifier key checks, and the log's history
    /// would silently lose its anchor.
    public static func loadKeys(_ data: DataOptions, catalog: Catalog, siteName: String) async throws -> SiteKeys {
        let path = "\(data.keysPath)/\(SiteKeys.signingKeyFile)"
        if !FileManager.default.fileExists(atPath: path), try await !catalog.auditEntries(from: 0, limit: 1).isEmpty {
            throw RecordingError.refusedToStart(
                """
                the site's signing key \(path) is missing, but the audit log has entries signed with it. A new key \
                would make the log's checkpoints unverifiable; nothing was created. Restore the keys directory from its backup.
                """)
        }
        return try SiteKeys.loadOrCreate(directory: data.keysPath, siteName: siteName)
    }

    /// An audit entry for something done at this machine's command line.
    public func auditCommandLine(_ action: AuditAction, camera: CameraRecord? = nil, detail: String) async throws {
        try await audit.append(commandLineEntry(action, camera: camera, detail: detail))
    }

    /// Registers a camera (`CameraRegistry.register`) and its `camera.add` entry in one
    /// transaction.
    public func registerCamera(_ record: CameraRecord, detail: String) async throws -> CameraRecord {
        let registry = CameraRegistry(catalog: catalog)
        let who = commandLineEntry(.cameraAdd, camera: nil, detail: detail)
        return try await audit.append(
            with: { try await registry.register(record) },
            entry: { added in
                var entry = who
                entry.camera = added.id
                entry.cameraName = added.name
                return entry
            }
        ).1
    }

    /// Changes camera `name` with `change` (the registry checks the result) and appends its
    /// `camera.edit` entry in one transaction; a running server follows within seconds.
    public func editCamera(
        named name: String, detail: String, _ change: @escaping @Sendable (inout CameraRecord) throws -> Void
    ) async throws -> CameraRecord {
        let registry = CameraRegistry(catalog: catalog)
        guard let current = try await registry.camera(named: name) else { throw VigilError(.notFound, "no camera named \(name)") }
        return try await audit.append(commandLineEntry(.cameraEdit, camera: current, detail: detail)) {
            try await registry.update(id: current.id, change)
        }.1
    }

    /// Removes camera `name` with its audit entry, in one transaction.
    public func removeCamera(named name: String) async throws -> CameraRecord {
        let registry = CameraRegistry(catalog: catalog)
        guard let current = try await registry.camera(named: name) else { throw VigilError(.notFound, "no camera named \(name)") }
        let now = catalog.clock.nowMicros()
        return try await audit.append(commandLineEntry(.cameraRemove, camera: current, detail: "removed from the command line")) {
            try await registry.remove(id: current.id, nowMicros: now)
        }.1
    }

    /// Applies an account change and its audit entry in one transaction.
    @discardableResult
    public func auditCommandLine(_ action: AuditAction, detail: String, change: Accounts.AccountChange) async throws -> UserRecord {
        let catalog = self.catalog
        return try await audit.append(commandLineEntry(action, camera: nil, detail: detail), with: { try await change.apply(to: catalog) })
            .1
    }

    /// An entry for the person at the command line (`cli:` and their login name).
    public func commandLineEntry(_ action: AuditAction, camera: CameraRecord?, detail: String) -> AuditEntry {
        let who = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "unknown"
        return AuditEntry(
            action: action, result: .ok, user: "cli:\(who)", address: "localhost", userAgent: "vigil command line",
            camera: camera?.id, cameraName: camera?.name, detail: detail)
    }
}
