// Cameras: what to record and how long to keep it. Camera rules (names, URLs, sealed
// passwords) are decided in Centre.

import Base
import Foundation
import Media
import Records
import SQLKit

extension Catalog {
    // MARK: Cameras

    /// Returns the camera named `name`, creating it or updating its URL and retention.
    public func upsertCamera(name: String, url: String, retentionDays: Int) async throws -> CameraRecord {
        if var existing = try await camera(named: name) {
            if existing.url != url || existing.retentionDays != retentionDays {
                try await run("update camera \(name)") {
                    try await database.raw(
                        "UPDATE cameras SET url = \(bind: url), retention_days = \(bind: retentionDays) WHERE id = \(bind: existing.id)"
                    ).run()
                }
                existing.url = url
                existing.retentionDays = retentionDays
            }
            return existing
        }
        let rows = try await run("insert camera \(name)") {
            try await database.raw(
                "INSERT INTO cameras (name, url, retention_days) VALUES (\(bind: name), \(bind: url), \(bind: retentionDays)) RETURNING id"
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert camera returned no id")
        }
        return CameraRecord(id: id, name: name, url: url, retentionDays: retentionDays)
    }

    public func camera(named name: String) async throws -> CameraRecord? {
        let rows = try await run("find camera \(name)") {
            try await database.raw("SELECT * FROM cameras WHERE name = \(bind: name)").all()
        }
        return try rows.first.map(Self.cameraRecord)
    }

    public func cameras() async throws -> [CameraRecord] {
        let rows = try await run("list cameras") { try await database.raw("SELECT * FROM cameras ORDER BY name").all() }
        return try rows.map(Self.cameraRecord)
    }

    public func camera(id: Int64) async throws -> CameraRecord? {
        let rows = try await run("find camera \(id)") {
            try await database.raw("SELECT * FROM cameras WHERE id = \(bind: id)").all()
        }
        return try rows.first.map(Self.cameraRecord)
    }

    /// Adds a camera with everything the server knows of it; the name must be new.
    public func addCamera(_ c: CameraRecord) async throws -> CameraRecord {
        let rows = try await run("insert camera \(c.name)") {
            try await database.raw(
                """
                INSERT INTO cameras (name, url, retention_days, location, latitude, longitude, username, sealed_password,
                                     segment_seconds, enabled, onvif_url, ptz_profile, area, removed_micros, sub_url)
                VALUES (\(bind: c.name), \(bind: c.url), \(bind: c.retentionDays), \(bind: c.location), \(bind: c.latitude),
                        \(bind: c.longitude), \(bind: c.username), \(bind: c.sealedPassword.map { Data($0) }),
                        \(bind: c.segmentSeconds), \(bind: c.enabled ? 1 : 0), \(bind: c.onvifURL), \(bind: c.ptzProfile),
                        \(bind: c.area), \(bind: c.removedMicros), \(bind: c.subStreamURL))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert camera returned no id")
        }
        var added = c
        added.id = id
        return added
    }

    /// Replaces every field of camera `c.id` but its id.
    public func updateCamera(_ c: CameraRecord) async throws {
        try await run("update camera \(c.id)") {
            try await database.raw(
                """
                UPDATE cameras SET name = \(bind: c.name), url = \(bind: c.url), retention_days = \(bind: c.retentionDays),
                       location = \(bind: c.location), latitude = \(bind: c.latitude), longitude = \(bind: c.longitude),
                       username = \(bind: c.username), sealed_password = \(bind: c.sealedPassword.map { Data($0) }),
                       segment_seconds = \(bind: c.segmentSeconds), enabled = \(bind: c.enabled ? 1 : 0),
                       onvif_url = \(bind: c.onvifURL), ptz_profile = \(bind: c.ptzProfile), area = \(bind: c.area),
                       removed_micros = \(bind: c.removedMicros), sub_url = \(bind: c.subStreamURL)
                WHERE id = \(bind: c.id)
                """
            ).run()
        }
    }

    private static func cameraRecord(_ row: any SQLRow) throws -> CameraRecord {
        var c = CameraRecord(
            id: try row.decode(column: "id", as: Int64.self), name: try row.decode(column: "name", as: String.self),
            url: try row.decode(column: "url", as: String.self), retentionDays: try row.decode(column: "retention_days", as: Int.self))
        c.location = try row.decode(column: "location", as: String.self)
        c.latitude = try row.decode(column: "latitude", as: Double?.self)
        c.longitude = try row.decode(column: "longitude", as: Double?.self)
        c.username = try row.decode(column: "username", as: String?.self)
        c.sealedPassword = try row.decode(column: "sealed_password", as: Data?.self).map { [UInt8]($0) }
        c.segmentSeconds = try row.decode(column: "segment_seconds", as: Int.self)
        c.enabled = try row.decode(column: "enabled", as: Int.self) != 0
        c.onvifURL = try row.decode(column: "onvif_url", as: String?.self)
        c.ptzProfile = try row.decode(column: "ptz_profile", as: String?.self)
        c.area = try row.decode(column: "area", as: String.self)
        c.removedMicros = try row.decode(column: "removed_micros", as: Int64?.self)
        c.subStreamURL = try row.decode(column: "sub_url", as: String?.self)
        return c
    }
}
