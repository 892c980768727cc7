// The evidence register's exhibits, shares and custody events as rows (Catalog's
// EvidenceTables stores them; Centre's EvidenceRegister decides who may see what).

/// An exhibit in the evidence register.
public struct EvidenceRecord: Sendable, Equatable {
    public struct Range: Sendable, Equatable {
        public var cameraID: Int64
        public var fromMicros: Int64
        public var toMicros: Int64
        public init(cameraID: Int64, fromMicros: Int64, toMicros: Int64) {
            self.cameraID = cameraID
            self.fromMicros = fromMicros
            self.toMicros = toMicros
        }
    }

    public var id: Int64
    /// e.g. `EV-2026-000001`.
    public var exhibit: String
    /// `police`, `guard`, `prosecutor` or `court`.
    public var requestingBody: String
    public var caseReference: String
    public var legalBasis: String
    public var purpose: String
    public var createdBy: String
    /// The account that registered it (nil: the machine's command line).
    public var createdByUserID: Int64?
    public var createdMicros: Int64
    public var ranges: [Range]
    public var releasedMicros: Int64?
    public var releasedBy: String?
    public var releaseReason: String?

    public var isHeld: Bool { releasedMicros == nil }

    public init(
        id: Int64 = 0, exhibit: String = "", requestingBody: String, caseReference: String, legalBasis: String, purpose: String,
        createdBy: String, createdByUserID: Int64? = nil, createdMicros: Int64, ranges: [Range]
    ) {
        self.id = id
        self.createdByUserID = createdByUserID
        self.exhibit = exhibit
        self.requestingBody = requestingBody
        self.caseReference = caseReference
        self.legalBasis = legalBasis
        self.purpose = purpose
        self.createdBy = createdBy
        self.createdMicros = createdMicros
        self.ranges = ranges
    }
}

/// An exhibit shared with a user, who may then see it (Centre decides what that means).
public struct EvidenceShareRecord: Sendable, Equatable {
    public var userID: Int64
    public var userName: String
    public var sharedBy: String
    public var sharedMicros: Int64

    public init(userID: Int64, userName: String, sharedBy: String, sharedMicros: Int64) {
        self.userID = userID
        self.userName = userName
        self.sharedBy = sharedBy
        self.sharedMicros = sharedMicros
    }
}

/// Something that happened to an exhibit: created, exported, handed over, acknowledged,
/// hold released.
public struct CustodyRecord: Sendable, Equatable {
    public var id: Int64
    public var evidenceID: Int64
    public var kind: String
    /// Who did it.
    public var actor: String
    /// To or from whom (a hand-over's recipient), when there is one.
    public var counterpart: String?
    public var purpose: String?
    public var detail: String?
    public var atMicros: Int64

    public init(
        id: Int64 = 0, evidenceID: Int64, kind: String, actor: String, counterpart: String? = nil, purpose: String? = nil,
        detail: String? = nil, atMicros: Int64
    ) {
        self.id = id
        self.evidenceID = evidenceID
        self.kind = kind
        self.actor = actor
        self.counterpart = counterpart
        self.purpose = purpose
        self.detail = detail
        self.atMicros = atMicros
    }
}
