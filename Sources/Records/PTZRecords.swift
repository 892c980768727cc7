// What the centre keeps of steering its cameras: one row per PTZ command (Catalog's
// PtzTables; PTZ's `CameraControl` writes them). Confidential: supervisors read it, and it
// goes with the camera's footage at the end of its retention.

public struct PTZHistoryRecord: Sendable, Equatable {
    public var cameraID: Int64
    public var atMicros: Int64
    /// Who: a user, or a tour (the other nil).
    public var userID: Int64?
    public var tourID: Int64?
    /// `move`, `stop`, `goto-preset`, `save-preset`, `remove-preset`, `home`.
    public var command: String
    /// A move's velocities, or where the camera said it pointed.
    public var pan: Double?
    public var tilt: Double?
    public var zoom: Double?
    public var preset: String?

    public init(
        cameraID: Int64, atMicros: Int64, userID: Int64?, tourID: Int64? = nil, command: String, pan: Double? = nil,
        tilt: Double? = nil, zoom: Double? = nil, preset: String? = nil
    ) {
        self.cameraID = cameraID
        self.atMicros = atMicros
        self.userID = userID
        self.tourID = tourID
        self.command = command
        self.pan = pan
        self.tilt = tilt
        self.zoom = zoom
        self.preset = preset
    }
}

/// A tour: presets visited in order, each held for its dwell, on one camera, while its
/// weekly schedule says so. Confidential: its route is for supervisors.
public struct PTZTourRecord: Sendable, Equatable, Codable {
    public struct Step: Sendable, Equatable, Codable {
        /// A preset's name, as the camera knows it.
        public var preset: String
        public var dwellSeconds: Int
        public init(preset: String, dwellSeconds: Int) {
            self.preset = preset
            self.dwellSeconds = dwellSeconds
        }
    }

    /// When a tour runs: on these ISO weekdays (1 Monday … 7 Sunday), from `from` to `to`
    /// minutes after local midnight (`to` ≤ `from` runs past midnight).
    public struct Window: Sendable, Equatable, Codable {
        public var days: [Int]
        public var fromMinute: Int
        public var toMinute: Int
        public init(days: [Int], fromMinute: Int, toMinute: Int) {
            self.days = days
            self.fromMinute = fromMinute
            self.toMinute = toMinute
        }
    }

    public var id: Int64
    public var cameraID: Int64
    public var name: String
    public var steps: [Step]
    /// No window: always.
    public var schedule: [Window]
    public var enabled: Bool

    public init(id: Int64, cameraID: Int64, name: String, steps: [Step], schedule: [Window], enabled: Bool) {
        self.id = id
        self.cameraID = cameraID
        self.name = name
        self.steps = steps
        self.schedule = schedule
        self.enabled = enabled
    }
}
