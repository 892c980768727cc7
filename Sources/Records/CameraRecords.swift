// A camera as the catalog keeps it (Catalog's CameraTables; Centre's CameraRules decides
// what a valid one is).

public struct CameraRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The camera's URL without credentials.
    public var url: String
    public var retentionDays: Int
    public var location: String = ""
    /// The area the camera watches over (a district, a square): the camera tree of the live
    /// wall groups cameras by it. Empty: none given.
    public var area: String = ""
    public var latitude: Double?
    public var longitude: Double?
    /// Credentials for the camera's RTSP server; the password is sealed (see Centre's
    /// `SiteKeys.seal`) and never leaves the server.
    public var username: String?
    public var sealedPassword: [UInt8]?
    public var segmentSeconds: Int = 60
    public var enabled: Bool = true
    /// The camera's ONVIF device service (`http://HOST:PORT/onvif/device_service`), without
    /// credentials (it uses `username` and the sealed password); nil for a camera that is
    /// RTSP only.
    public var onvifURL: String?
    /// The ONVIF media profile whose PTZ configuration steers the camera; nil: no PTZ.
    public var ptzProfile: String?
    /// When the camera was removed: no longer recorded, live or steered, its password gone,
    /// its footage kept to its retention (and holds) like any other. The row stays so that
    /// the audit log, chain heads and exhibits keep naming what camera `id` was. Nil: in use.
    public var removedMicros: Int64?
    /// A second RTSP stream of the camera's, for viewing only: a smaller picture that a small
    /// tile of the video wall shows instead of the main stream. Never recorded. Without
    /// credentials: it is opened with the camera's account. Nil: the camera has none.
    public var subStreamURL: String?

    public init(id: Int64, name: String, url: String, retentionDays: Int) {
        self.id = id
        self.name = name
        self.url = url
        self.retentionDays = retentionDays
    }
}
