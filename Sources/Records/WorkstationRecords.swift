// The operator's workstation as the catalog keeps it: saved video-wall views (Catalog's
// WorkstationTables; Centre's WallViews decides what a valid one is).

/// A saved arrangement of the video wall: its layout and the camera in each tile.
public struct WallViewRecord: Sendable, Equatable, Codable {
    public var id: Int64
    /// The user who saved it; only they change or delete it.
    public var ownerID: Int64
    public var name: String
    /// Offered to every user of the live wall, not only its owner.
    public var shared: Bool
    /// One of `WallLayout`'s names (`2x2`, `1+5`, …).
    public var layout: String
    /// The camera in each tile, in the layout's order; nil: an empty tile.
    public var tiles: [Int64?]
    public var updatedMicros: Int64

    public init(id: Int64, ownerID: Int64, name: String, shared: Bool, layout: String, tiles: [Int64?], updatedMicros: Int64) {
        self.id = id
        self.ownerID = ownerID
        self.name = name
        self.shared = shared
        self.layout = layout
        self.tiles = tiles
        self.updatedMicros = updatedMicros
    }
}
