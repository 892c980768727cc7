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
