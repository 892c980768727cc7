// Roles and permissions, from the city's rules (../shared/DESIGN.md): live images only for
// the operator team and the two duty officers; recordings for investigators under evidence
// rules; the administrator runs the system and sees no imagery unless granted.

/// What a request may do. Imagery permissions (live, playback, export, ptz) are checked per
/// camera; the rest are global.
public enum Permission: String, Sendable, CaseIterable, Codable {
    case live, playback, export, ptz
    case manageCameras = "manage-cameras"
    case manageUsers = "manage-users"
    case viewAudit = "view-audit"
    case viewMetrics = "view-metrics"
    case manageEvidence = "manage-evidence"
    case viewEvidence = "view-evidence"
    case releaseHold = "release-hold"
    case mediaRelease = "media-release"
    /// Register exhibits over a camera's footage (which the registrant may then export
    /// through the exhibit): granted per camera to an investigator for a case, without
    /// the free playback or export of that camera.
    case registerEvidence = "register-evidence"
    /// Read the confidential history of PTZ commands and the tours' routes (the city's
    /// rules: "must not be disclosed in real time in any form"): the supervisor only.
    case ptzHistory = "ptz-history"
    /// Create, change and delete the tours the server runs (their routes are confidential
    /// too): the supervisor only.
    case manageTours = "manage-tours"
    /// Report incidents, read the register and follow them up: personal data, for the
    /// operator team, the duty officers and supervisors.
    case incidents
    /// Add, rename and retire the incident categories (the list is data).
    case manageIncidentCategories = "manage-incident-categories"
    /// The city's figures of incidents: counts and times only, no personal data.
    case incidentStatistics = "incident-statistics"
    /// Set up dispatch: the services told of incidents, their addresses and secrets, which
    /// categories go to whom, the mail relay.
    case manageDispatch = "manage-dispatch"

    public var isImagery: Bool { [.live, .playback, .export, .ptz, .registerEvidence].contains(self) }

    /// Tour routes and the history of steering: the supervisor role's by the city's rules,
    /// never granted to another.
    public var isSupervisorsOnly: Bool { self == .ptzHistory || self == .manageTours }

    /// Held by roles only, never granted: the supervisors' own, and the incident register
    /// (personal data, for the operator team, the duty officers and supervisors by the
    /// city's rules).
    public var isRoleOnly: Bool { isSupervisorsOnly || self == .incidents }

    /// The roles that hold it, in words, for a refused grant.
    public var holders: String {
        let roles = Role.allCases.filter { $0.permissions.contains(self) }.map(\.title)
        return roles.isEmpty ? "no role" : roles.joined(separator: ", ")
    }
}

public enum Role: String, Sendable, CaseIterable, Codable {
    case `operator`
    case guardDuty = "guard-duty"
    case policeDuty = "police-duty"
    case investigator, prosecutor, court
    case mediaOfficer = "media-officer"
    case supervisor
    case admin

    public var permissions: Set<Permission> {
        switch self {
        case .operator, .guardDuty, .policeDuty: [.live, .playback, .ptz, .incidents, .incidentStatistics]
        // Footage through their exhibits only; registering one needs `register-evidence`
        // granted on its cameras (EvidenceRegister.create).
        case .investigator: [.manageEvidence, .viewEvidence]
        case .prosecutor, .court: [.viewEvidence]
        case .mediaOfficer: [.mediaRelease]
        case .supervisor:
            [
                .live, .playback, .export, .ptz, .ptzHistory, .manageTours, .viewAudit, .viewEvidence, .releaseHold, .mediaRelease,
                .incidents, .incidentStatistics
            ]
        case .admin:
            [.manageCameras, .manageUsers, .viewAudit, .viewMetrics, .manageIncidentCategories, .manageDispatch, .incidentStatistics]
        }
    }

    public var title: String {
        switch self {
        case .operator: "operator"
        case .guardDuty: "municipal-guard duty officer"
        case .policeDuty: "police duty officer"
        case .investigator: "investigator"
        case .prosecutor: "prosecutor"
        case .court: "court"
        case .mediaOfficer: "media officer"
        case .supervisor: "supervisor"
        case .admin: "administrator"
        }
    }
}

/// Who is asking, resolved from a session or API token: the user, their role, and the
/// permissions granted beyond the role.
public struct Principal: Sendable, Equatable {
    public var userID: Int64
    public var name: String
    public var role: Role
    /// Extra grants: permission → cameras (nil = every camera).
    public var grants: [Permission: Set<Int64>?]
    public var mustChangePassword: Bool

    public init(userID: Int64, name: String, role: Role, grants: [Permission: Set<Int64>?] = [:], mustChangePassword: Bool = false) {
        self.userID = userID
        self.name = name
        self.role = role
        self.grants = grants
        self.mustChangePassword = mustChangePassword
    }

    /// May this principal do `permission` (on `camera`, for imagery permissions)?
    public func may(_ permission: Permission, camera: Int64? = nil) -> Bool {
        if role.permissions.contains(permission) { return true }
        // The supervisors' own: a grant stored before that rule, or kept through a change
        // of role, counts for nothing.
        if permission.isRoleOnly { return false }
        guard let granted = grants[permission] else { return false }
        guard let cameras = granted else { return true }
        return camera.map(cameras.contains) ?? false
    }

    /// Whether any camera at all is reachable with `permission`.
    public func mayOnSomeCamera(_ permission: Permission) -> Bool {
        role.permissions.contains(permission) || (!permission.isRoleOnly && grants[permission] != nil)
    }
}
