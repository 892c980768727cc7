// The operator's workstation (migration 8): the cameras' area, by which the live wall's
// camera tree groups them, and the saved wall views. A view's tiles are stored as JSON
// beside it: read and written whole, never queried into.

import Base
import Foundation
import Records
import SQLKit

extension Catalog {
    static func migrateToWorkstation(_ db: any SQLDatabase) async throws {
        try await db.raw("ALTER TABLE cameras ADD COLUMN area TEXT NOT NULL DEFAULT ''").run()
        try await db.create(table: "wall_views")
            .column("id", type: .bigint, .primaryKey(autoIncrement: true))
            .column("owner_id", type: .bigint, .notNull, .references("users", "id"))
            .column("name", type: .text, .notNull)
            .column("shared", type: .int, .notNull)
            .column("layout", type: .text, .notNull)
            .column("tiles", type: .text, .notNull)
            .column("updated_micros", type: .bigint, .notNull)
            .run()
        try await db.create(index: "wall_views_by_owner").on("wall_views").column("owner_id").run()
    }

    /// The views `userID` may use: their own and those shared by others, by name.
    public func wallViews(visibleTo userID: Int64) async throws -> [WallViewRecord] {
        let rows = try await run("read wall views") {
            try await database.raw(
                "SELECT * FROM wall_views WHERE owner_id = \(bind: userID) OR shared = 1 ORDER BY name, id"
            ).all()
        }
        return try rows.map(Self.wallView)
    }

    public func wallView(id: Int64) async throws -> WallViewRecord? {
        let rows = try await run("read wall view \(id)") {
            try await database.raw("SELECT * FROM wall_views WHERE id = \(bind: id)").all()
        }
        return try rows.first.map(Self.wallView)
    }

    public func addWallView(_ v: WallViewRecord) async throws -> WallViewRecord {
        let tiles = try Self.encodedTiles(v.tiles)
        let rows = try await run("insert wall view") {
            try await database.raw(
                """
                INSERT INTO wall_views (owner_id, name, shared, layout, tiles, updated_micros)
                VALUES (\(bind: v.ownerID), \(bind: v.name), \(bind: v.shared ? 1 : 0), \(bind: v.layout), \(bind: tiles),
                        \(bind: v.updatedMicros))
                RETURNING id
                """
            ).all()
        }
        guard let id = try rows.first?.decode(column: "id", as: Int64.self) else {
            throw CatalogError.invalid("insert wall view returned no id")
        }
        var added = v
        added.id = id
        return added
    }

    /// Replaces view `v.id`'s name, sharing, layout and tiles (never its owner).
    public func updateWallView(_ v: WallViewRecord) async throws {
        let tiles = try Self.encodedTiles(v.tiles)
        try await run("update wall view \(v.id)") {
            try await database.raw(
                """
                UPDATE wall_views SET name = \(bind: v.name), shared = \(bind: v.shared ? 1 : 0), layout = \(bind: v.layout),
                       tiles = \(bind: tiles), updated_micros = \(bind: v.updatedMicros)
                WHERE id = \(bind: v.id)
                """
            ).run()
        }
    }

    /// True when there was such a view.
    public func deleteWallView(id: Int64) async throws -> Bool {
        let rows = try await run("delete wall view \(id)") {
            try await database.raw("DELETE FROM wall_views WHERE id = \(bind: id) RETURNING id").all()
        }
        return !rows.isEmpty
    }

    static func encodedTiles(_ tiles: [Int64?]) throws -> String {
        String(decoding: try JSONEncoder().encode(tiles), as: UTF8.self)
    }

    static func wallView(_ row: any SQLRow) throws -> WallViewRecord {
        WallViewRecord(
            id: try row.decode(column: "id", as: Int64.self), ownerID: try row.decode(column: "owner_id", as: Int64.self),
            name: try row.decode(column: "name", as: String.self), shared: try row.decode(column: "shared", as: Int.self) != 0,
            layout: try row.decode(column: "layout", as: String.self),
            tiles: try JSONDecoder().decode([Int64?].self, from: Data(try row.decode(column: "tiles", as: String.self).utf8)),
            updatedMicros: try row.decode(column: "updated_micros", as: Int64.self))
    }
}
