// The operator's workstation: the video wall's layouts and the views users save of it
// (which camera in which tile). What belongs here: the rules a view must meet and who may
// change it; the live streams themselves are in Live.swift, the page in Web/.

import Base
import Catalog
import Foundation
import Records

/// The video wall's layouts: a grid, or one large tile with smaller ones around it.
public enum WallLayout: String, CaseIterable, Sendable {
    case one = "1"
    case twoByTwo = "2x2"
    case threeByThree = "3x3"
    case fourByFour = "4x4"
    /// One tile over 2×2 cells of a 3×3 grid, and five around it.
    case onePlusFive = "1+5"
    /// One tile over 3×3 cells of a 4×4 grid, and seven around it.
    case onePlusSeven = "1+7"

    public var tileCount: Int {
        switch self {
        case .one: 1
        case .twoByTwo: 4
        case .threeByThree: 9
        case .fourByFour: 16
        case .onePlusFive: 6
        case .onePlusSeven: 8
        }
    }
}

/// Saved wall views: each user's own, and those shared with every user of the wall.
public struct WallViews: Sendable {
    let catalog: Catalog
    let clock: WallClock

    public init(catalog: Catalog, clock: WallClock = .system) {
        self.catalog = catalog
        self.clock = clock
    }

    /// What a view's owner asks to save.
    public struct Draft: Sendable, Decodable {
        public var name: String
        public var shared: Bool?
        public var layout: String
        public var tiles: [Int64?]

        public init(name: String, shared: Bool? = nil, layout: String, tiles: [Int64?]) {
            self.name = name
            self.shared = shared
            self.layout = layout
            self.tiles = tiles
        }
    }

    /// A view must name a layout Vigil draws, a camera (or none) for each of its tiles, and
    /// cameras that exist. Whether the viewer may watch each camera is decided when the
    /// wall opens its streams, not here: a shared view may hold cameras some users may not see.
    public func check(_ draft: Draft) async throws {
        try TextField.check(draft.name, "a view's name", maximum: 64)
        guard let layout = WallLayout(rawValue: draft.layout) else {
            throw VigilError(.invalid, "layout must be one of \(WallLayout.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard draft.tiles.count == layout.tileCount else {
            throw VigilError(.invalid, "layout \(layout.rawValue) has \(layout.tileCount) tiles; \(draft.tiles.count) given")
        }
        let known = Set(try await catalog.cameras().map(\.id))
        for case let id? in draft.tiles where !known.contains(id) {
            throw VigilError(.invalid, "tile camera \(id): no such camera")
        }
    }

    public func visible(to userID: Int64) async throws -> [WallViewRecord] {
        try await catalog.wallViews(visibleTo: userID)
    }

    /// The most views one user keeps: every shared one is offered to every user of the wall.
    public static let maximumPerUser = 50

    public func add(_ draft: Draft, owner: Int64) async throws -> WallViewRecord {
        try await check(draft)
        let owned = try await catalog.wallViews(visibleTo: owner).filter { $0.ownerID == owner }.count
        guard owned < Self.maximumPerUser else {
            throw VigilError(.conflict, "a user keeps at most \(Self.maximumPerUser) views; delete one first")
        }
        return try await catalog.addWallView(
            WallViewRecord(
                id: 0, ownerID: owner, name: draft.name, shared: draft.shared ?? false, layout: draft.layout, tiles: draft.tiles,
                updatedMicros: clock.nowMicros()))
    }

    /// Replaces view `id` for its owner; anyone else is refused, a shared view included.
    public func replace(id: Int64, with draft: Draft, by userID: Int64) async throws -> WallViewRecord {
        var view = try await owned(id, by: userID)
        try await check(draft)
        view.name = draft.name
        view.shared = draft.shared ?? view.shared
        view.layout = draft.layout
        view.tiles = draft.tiles
        view.updatedMicros = clock.nowMicros()
        try await catalog.updateWallView(view)
        return view
    }

    /// Deletes view `id` for its owner, and returns what it was.
    public func remove(id: Int64, by userID: Int64) async throws -> WallViewRecord {
        let view = try await owned(id, by: userID)
        _ = try await catalog.deleteWallView(id: id)
        return view
    }

    /// View `id` when `userID` owns it; another's shared view is forbidden, the rest not found.
    private func owned(_ id: Int64, by userID: Int64) async throws -> WallViewRecord {
        guard let view = try await catalog.wallView(id: id), view.ownerID == userID || view.shared else {
            throw VigilError(.notFound, "no such view")
        }
        guard view.ownerID == userID else { throw VigilError(.forbidden, "only the user who saved a view changes or deletes it") }
        return view
    }
}

extension CameraRegistry {
    /// The saved wall views, kept in the same catalog as the cameras they show.
    public func wallViews(clock: WallClock) -> WallViews { WallViews(catalog: catalog, clock: clock) }
}
