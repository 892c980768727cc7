// Dispatch's rows (Catalog's DispatchTables; the Dispatch module writes them): the services
// the centre tells (recipients, as data), which categories go to whom (routes), the mail
// relay, and the outbox: one row per notification, from its writing with the incident to
// its delivery and acknowledgement.

/// A service the centre tells: the police duty station, the guard's duty officer, the
/// ambulance service, a municipal service. Data, not code: administrators set addresses and
/// add recipients; one ever notified is retired, never deleted.
public struct DispatchRecipientRecord: Sendable, Equatable, Codable {
    public var id: Int64
    /// A stable name for scripts and routes (`police`, `guard`, `roads`).
    public var key: String
    public var name: String
    /// `console` (the address is a duty role), `email` (an address) or `webhook` (a URL).
    public var channel: String
    /// Empty: the recipient is not set up, and nothing is sent to it.
    public var address: String
    /// A webhook's signing secret, sealed like camera passwords.
    public var sealedSecret: [UInt8]?
    /// How long a delivered notification may wait for its acknowledgement before it escalates.
    public var escalateAfterSeconds: Int
    public var retired: Bool

    public init(
        id: Int64, key: String, name: String, channel: String, address: String = "", sealedSecret: [UInt8]? = nil,
        escalateAfterSeconds: Int = 180, retired: Bool = false
    ) {
        self.id = id
        self.key = key
        self.name = name
        self.channel = channel
        self.address = address
        self.sealedSecret = sealedSecret
        self.escalateAfterSeconds = escalateAfterSeconds
        self.retired = retired
    }
}

/// One notification: an incident's event (`reported`, `updated`, `reminder`) for one
/// recipient, written in the incident's own transaction, then delivered at least once.
public struct OutboxRecord: Sendable, Equatable, Codable {
    public var id: Int64
    public var incidentID: Int64
    public var recipientID: Int64
    public var event: String
    /// 32 hex digits, random: the same on every attempt, so a receiver drops a repeat.
    public var idempotencyKey: String
    /// What the recipient is sent (JSON), fixed when it was written.
    public var payload: String
    public var createdMicros: Int64
    public var attempts: Int = 0
    public var nextMicros: Int64
    public var lastError: String?
    public var deliveredMicros: Int64?
    public var acknowledgedMicros: Int64?
    public var acknowledgedBy: String?
    public var escalatedMicros: Int64?

    public init(
        id: Int64, incidentID: Int64, recipientID: Int64, event: String, idempotencyKey: String, payload: String, createdMicros: Int64
    ) {
        self.id = id
        self.incidentID = incidentID
        self.recipientID = recipientID
        self.event = event
        self.idempotencyKey = idempotencyKey
        self.payload = payload
        self.createdMicros = createdMicros
        self.nextMicros = createdMicros
    }
}

/// The site's mail relay: where e-mail notifications are handed over.
public struct MailRelayRecord: Sendable, Equatable, Codable {
    public var host: String
    public var port: Int
    /// The sender's address on every message.
    public var from: String
    public var username: String?
    public var sealedPassword: [UInt8]?
    /// `when-offered` (STARTTLS if the relay offers it) or `required` (never in clear).
    public var tls: String
    /// A PEM file of certificate authorities trusted besides the system's (a site's own CA).
    public var caFile: String?

    public init(
        host: String, port: Int = 25, from: String, username: String? = nil, sealedPassword: [UInt8]? = nil, tls: String = "when-offered",
        caFile: String? = nil
    ) {
        self.host = host
        self.port = port
        self.from = from
        self.username = username
        self.sealedPassword = sealedPassword
        self.tls = tls
        self.caFile = caFile
    }
}
