// The camera registry: the rules a camera's settings must meet and the sealing of its
// password (`CameraRules`), and the registry's reads and writes as the server and the
// command line make them (`CameraRegistry`). The recorders that follow the registry are in
// Fleet.swift.

import Base
import Catalog
import Foundation
import RTSP
import Recording
import Records

/// The rules for a camera's settings, and the sealing of its password.
public enum CameraRules {
    public static func validate(_ c: CameraRecord) throws {
        try TextField.check(c.name, "a camera's name", maximum: 64)
        guard !c.name.contains("/") else { throw VigilError(.invalid, "a camera's name may not contain '/'") }
        try TextField.check(c.location, "a camera's location", maximum: 200, required: false)
        try TextField.check(c.area, "a camera's area", maximum: 64, required: false)
        if let user = c.username { try TextField.check(user, "a camera's user name", maximum: 128, required: false) }
        let url: RTSPURL
        do { url = try RTSPURL(c.url) } catch { throw VigilError(.invalid, "camera URL: \(error)") }
        guard url.user == nil, url.password == nil else {
            throw VigilError(.invalid, "give camera credentials as username/password, not inside the URL")
        }
        guard (1...RetentionPolicy.maximumDays).contains(c.retentionDays) else {
            throw VigilError(
                .invalid, "retention of \(c.retentionDays) days refused: it must be 1...\(RetentionPolicy.maximumDays) (legal limit)")
        }
        let lengths = RecorderConfiguration.allowedSegmentSeconds
        guard lengths.contains(c.segmentSeconds) else {
            throw VigilError(.invalid, "segment length must be \(lengths.lowerBound)...\(lengths.upperBound) seconds")
        }
        if let sub = c.subStreamURL {
            guard sub.utf8.count <= 2048 else { throw VigilError(.invalid, "a sub-stream URL is at most 2048 bytes") }
            let parsed: RTSPURL
            do { parsed = try RTSPURL(sub) } catch { throw VigilError(.invalid, "sub-stream URL: \(Self.reason(error))") }
            guard parsed.user == nil, parsed.password == nil else {
                throw VigilError(.invalid, "a sub-stream is opened with the camera's own account: give no credentials in its URL")
            }
            guard parsed.requestURL != url.requestURL else {
                throw VigilError(.invalid, "the sub-stream is the recorded stream itself: give the camera's second stream, or none")
            }
            // The camera's own second stream, on its own address: small tiles never show
            // another device's picture under this camera's name (nor is its account sent there).
            guard parsed.host.lowercased() == url.host.lowercased() else {
                throw VigilError(
                    .invalid, "the sub-stream must come from the camera's own address (\(url.host)), not \(parsed.host)")
            }
        }
        if let onvif = c.onvifURL {
            guard onvif.utf8.count <= 2048, let parts = URLComponents(string: onvif),
                ["http", "https"].contains(parts.scheme?.lowercased() ?? ""),
                parts.host?.isEmpty == false
            else { throw VigilError(.invalid, "a camera's ONVIF address must be http(s)://HOST[:PORT]/PATH") }
            guard parts.user == nil, parts.password == nil else {
                throw VigilError(.invalid, "give camera credentials as username/password, not inside the ONVIF address")
            }
        }
        if let profile = c.ptzProfile {
            try TextField.check(profile, "a camera's PTZ profile", maximum: 64)
            guard c.onvifURL != nil else { throw VigilError(.invalid, "a PTZ profile needs the camera's ONVIF address") }
        }
        if let lat = c.latitude, !(-90...90).contains(lat) { throw VigilError(.invalid, "latitude must be -90...90") }
        if let lon = c.longitude, !(-180...180).contains(lon) { throw VigilError(.invalid, "longitude must be -180...180") }
    }

    /// Sets the camera's URL from `rtsp://[user:pass@]host/path`: the URL is stored without
    /// credentials, the user name beside it and the password sealed with the site key.
    public static func setURL(_ text: String, on c: inout CameraRecord, keys: SiteKeys) throws {
        let url: RTSPURL
        do { url = try RTSPURL(text) } catch { throw VigilError(.invalid, "camera URL: \(error)") }
        // New hardware at another address: its old sub-stream is no longer the camera's
        // (one given in the same change is set after this).
        if let sub = c.subStreamURL, (try? RTSPURL(sub))?.host.lowercased() != url.host.lowercased() { c.subStreamURL = nil }
        c.url = url.requestURL
        if let user = url.user { c.username = user }
        if let password = url.password { c.sealedPassword = try keys.seal(password) }
    }

    /// An RTSP URL's fault in words.
    static func reason(_ error: any Error) -> String { (error as? RTSPError)?.reason ?? "\(error)" }

    /// Sets or, with an empty text, clears the camera's sub-stream (viewing only); it is
    /// stored without credentials, and any in the text are refused (`validate`).
    public static func setSubStream(_ text: String, on c: inout CameraRecord) throws {
        guard !text.isEmpty else {
            c.subStreamURL = nil
            return
        }
        let url: RTSPURL
        do { url = try RTSPURL(text) } catch { throw VigilError(.invalid, "sub-stream URL: \(reason(error))") }
        guard url.user == nil, url.password == nil else {
            throw VigilError(.invalid, "a sub-stream is opened with the camera's own account: give no credentials in its URL")
        }
        c.subStreamURL = url.requestURL
    }
}

extension CameraRules {
    /// Days a camera's footage is kept unless its settings say otherwise.
    public static let defaultRetentionDays = RetentionPolicy.defaultDays
}

/// The cameras as the server and the command line see them. Its writes are catalog writes
/// only, so each can run inside `AuditTrail.append(with:entry:)` and be stored with the
/// entry that records it.
public struct CameraRegistry: Sendable {
    let catalog: Catalog

    public init(catalog: Catalog) {
        self.catalog = catalog
    }

    public func all() async throws -> [CameraRecord] { try await catalog.cameras() }

    public func camera(id: Int64) async throws -> CameraRecord? { try await catalog.camera(id: id) }

    public func camera(named name: String) async throws -> CameraRecord? { try await catalog.camera(named: name) }

    /// Each camera's name by its id (for lists that name cameras by id).
    public func names() async throws -> [Int64: String] {
        Dictionary(uniqueKeysWithValues: try await catalog.cameras().map { ($0.id, $0.name) })
    }

    /// Validates a new camera and adds it; its name must be unused. Catalog writes only:
    /// the server and `vigil camera add` run it inside the entry's transaction.
    public func register(_ c: CameraRecord) async throws -> CameraRecord {
        try CameraRules.validate(c)
        if let other = try await catalog.camera(named: c.name) { throw Self.nameTaken(other) }
        return try await catalog.addCamera(c)
    }

    /// A camera's name stays its own after it is removed: the audit log and the exhibits name
    /// it. A camera replaced by new hardware is edited (a new URL), not removed and added.
    static func nameTaken(_ other: CameraRecord) -> VigilError {
        guard let removed = other.removedMicros else { return VigilError(.conflict, "camera \(other.name) already exists") }
        return VigilError(
            .conflict,
            "camera \(other.name) was removed on \(iso8601(micros: removed)) and keeps its name while its records exist: "
                + "give the new camera another name, or edit a camera to replace its hardware")
    }

    /// Removes camera `id` at `nowMicros`: it is no longer recorded, shown live or steered, its
    /// tours are disabled, its password is forgotten, and its footage stays to its retention
    /// (held footage longer).
    /// Catalog writes only, like `update`.
    public func remove(id: Int64, nowMicros: Int64) async throws -> CameraRecord {
        guard var record = try await catalog.camera(id: id) else { throw VigilError(.notFound, "no such camera") }
        if let removed = record.removedMicros {
            throw VigilError(.conflict, "camera \(record.name) was already removed on \(iso8601(micros: removed))")
        }
        record.removedMicros = nowMicros
        record.enabled = false
        record.sealedPassword = nil
        try await catalog.updateCamera(record)
        // Its tours stop with it (the tour runner reads the tours each tick); they stay, disabled.
        for var tour in try await catalog.tours() where tour.cameraID == id && tour.enabled {
            tour.enabled = false
            try await catalog.updateTour(tour)
        }
        return record
    }

    /// Reads camera `id` as it is now, applies `change` and writes it back: an edit made
    /// meanwhile is built on, never overwritten by a copy read earlier. The result must meet
    /// `CameraRules` (unless only recording was switched on or off: a camera stored under
    /// older rules can still be stopped), and a new name must be unused.
    public func update(id: Int64, _ change: @Sendable (inout CameraRecord) throws -> Void) async throws -> CameraRecord {
        guard var record = try await catalog.camera(id: id) else { throw VigilError(.notFound, "no such camera") }
        if let removed = record.removedMicros {
            throw VigilError(.conflict, "camera \(record.name) was removed on \(iso8601(micros: removed)): it cannot be changed")
        }
        let before = record
        try change(&record)
        var onlySwitched = record
        onlySwitched.enabled = before.enabled
        if onlySwitched != before { try CameraRules.validate(record) }
        if record.name != before.name, let other = try await catalog.camera(named: record.name), other.id != record.id {
            throw Self.nameTaken(other)
        }
        record.removedMicros = nil // only `remove` removes
        try await catalog.updateCamera(record)
        return record
    }
}
