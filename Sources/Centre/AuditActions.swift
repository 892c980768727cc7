/// Every kind of audit entry Vigil writes, declared here and nowhere else, each with what it
/// records. An entry stores the raw value: the log's bytes are hashed and signed, so a name,
/// once written, never changes (a new meaning gets a new name). `AuditEntry.action` stays
/// text, so that a log written by another version still reads.
public enum AuditAction: String, CaseIterable, Sendable {
    // MARK: Sessions and accounts
    /// A sign-in: ok, or denied with the reason (repeated refusals for the same reason are
    /// counted into summaries, `AuditTrail.appendRepeatable`). `user` is the name typed.
    case signIn = "session.sign-in"
    case signOut = "session.sign-out"
    /// A user changed their own password (ok; denied for a wrong current password).
    case passwordChange = "user.password-change"
    /// An account made (from the console, the command line, or the demo), with its role.
    case userAdd = "user.add"
    /// An account changed: password set by an administrator, disabled, role changed.
    case userEdit = "user.edit"
    /// A permission granted or withdrawn, on one camera or all.
    case grantAdd = "grant.add"
    case grantRemove = "grant.remove"
    /// An API token issued (its name and lifetime, never the token) or revoked.
    case tokenIssue = "token.issue"
    case tokenRevoke = "token.revoke"

    // MARK: Cameras
    case cameraAdd = "camera.add"
    /// A camera's settings changed (which ones, never a password).
    case cameraEdit = "camera.edit"
    /// A camera removed: no longer recorded; its footage kept to its retention.
    case cameraRemove = "camera.remove"
    /// An administrator probed the network for ONVIF cameras (how many answered).
    case cameraDiscover = "camera.discover"

    // MARK: The workstation
    /// A video-wall view saved, changed or deleted (its id and name, whether shared; the
    /// cameras it names are in the catalog, not the entry).
    case wallViewChange = "view.change"

    // MARK: Imagery: one entry per request that shows footage, ok, denied or failed
    /// A live view opened (ok), refused, or failed to start.
    case liveStart = "live.start"
    /// A live view ended, with how long it lasted.
    case liveStop = "live.stop"
    /// The list of a camera's recordings over a range.
    case recordingsList = "recordings.list"
    /// Footage played back: camera, range, purpose.
    case playbackView = "playback.view"
    /// Footage downloaded as MP4: camera, range, purpose, case.
    case exportDownload = "export.download"

    // MARK: PTZ: one entry per command (who, camera, when, the kind; never a position or a preset's name)
    case ptzMove = "ptz.move"
    case ptzStop = "ptz.stop"
    /// Control of a camera given back before its lease ran out.
    case ptzRelease = "ptz.release"
    case ptzPresetSave = "ptz.preset-save"
    case ptzPresetGoto = "ptz.preset-goto"
    case ptzPresetRemove = "ptz.preset-remove"
    /// A control channel (the joystick's WebSocket) opened, refused, or closed with how many
    /// moves it carried; each gesture on it (a move after a stop) is a `ptz.move` entry.
    case ptzChannel = "ptz.channel"
    /// A tour added, changed or deleted (which tour and camera; never its route).
    case ptzTourChange = "ptz.tour-change"
    /// A supervisor read the tours' routes (all, or one).
    case ptzTourView = "ptz.tour-view"
    /// A supervisor read a camera's confidential history of commands.
    case ptzHistoryView = "ptz.history-view"

    // MARK: Evidence: one entry per custody event (`CustodyKind`), and refused downloads
    case evidenceCreated = "evidence.created"
    case evidenceShared = "evidence.shared"
    case evidenceUnshared = "evidence.unshared"
    case evidenceHoldReleased = "evidence.hold-released"
    case evidenceHandedOver = "evidence.handed-over"
    case evidenceAcknowledged = "evidence.acknowledged"
    case evidenceExported = "evidence.exported"
    /// A signed bundle downloaded from the server's shelf (the custody event).
    case evidenceDownloaded = "evidence.downloaded"
    case evidenceExportRemoved = "evidence.export-removed"
    /// A bundle download refused or failed (no custody event: nothing was handed over).
    case evidenceDownload = "evidence.download"

    // MARK: Incidents (personal data: every read and change)
    /// An incident reported (its number and category; never its description).
    case incidentReport = "incident.report"
    /// The register read: a list (how many), or one incident.
    case incidentView = "incident.view"
    /// An incident's status, details or a note changed (which fields; never their text).
    case incidentUpdate = "incident.update"
    /// A category added, changed, retired or deleted.
    case incidentCategoryChange = "incident.category-change"
    /// A request to secure an incident's footage as an exhibit: made (the incident, its
    /// cameras held), listed by an investigator, or decided (the exhibit, or refused).
    case incidentExhibitRequest = "incident.exhibit-request"
    /// A picture of an incident's camera: made from its recording (the camera, the frame's
    /// time and the JPEG's SHA-256) or not (why), or looked at (which picture).
    case incidentSnapshot = "incident.snapshot"
    /// Incidents' personal data removed at the end of their retention (how many, and the
    /// cutoff), by Vigil or from the command line.
    case incidentRetention = "incident.retention"
    /// A notification handed to its recipient (console, e-mail, webhook), by Vigil dispatch.
    case dispatchDeliver = "dispatch.deliver"
    /// A notification acknowledged: by the duty officer on the console, or recorded from a
    /// telephone call by an operator or supervisor.
    case dispatchAcknowledge = "dispatch.acknowledge"
    /// A delivered notification left unacknowledged past its recipient's wait.
    case dispatchEscalate = "dispatch.escalate"
    /// Dispatch set up: a recipient added or changed (never its secret), a category's
    /// routes, the mail relay.
    case dispatchChange = "dispatch.change"

    // MARK: Administration
    /// The server started (where it listens).
    case serverStart = "server.start"
    /// Files moved to quarantine at start-up were deleted by an administrator.
    case quarantinePurge = "quarantine.purge"
    /// An administrator started the server although a witness disagreed with the log.
    case witnessMismatchAccepted = "audit.witness-mismatch-accepted"
}

/// How the request an entry records ended.
public enum AuditResult: String, Sendable {
    case ok
    /// Refused: a permission, a rule, a lock, a limit.
    case denied
    /// Vigil could not do it (its own trouble, or nothing to show).
    case failed
}

/// What happened to an exhibit, as its custody record says (the catalog's `kind`).
public enum CustodyKind: String, CaseIterable, Sendable {
    case created, shared, unshared, acknowledged, exported, downloaded
    case holdReleased = "hold-released"
    case handedOver = "handed-over"
    case exportRemoved = "export-removed"

    /// The audit entry each custody event also makes.
    public var auditAction: AuditAction {
        switch self {
        case .created: .evidenceCreated
        case .shared: .evidenceShared
        case .unshared: .evidenceUnshared
        case .acknowledged: .evidenceAcknowledged
        case .exported: .evidenceExported
        case .downloaded: .evidenceDownloaded
        case .holdReleased: .evidenceHoldReleased
        case .handedOver: .evidenceHandedOver
        case .exportRemoved: .evidenceExportRemoved
        }
    }
}
