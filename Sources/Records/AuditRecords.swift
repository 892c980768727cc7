// The audit log's stored entries and signed checkpoints as rows (Catalog's AuditTables
// stores them; Audit hashes and signs them).

/// One stored audit-log entry: its position and the exact bytes that were hashed.
public struct AuditRow: Sendable, Equatable {
    public var seq: Int64
    public var body: [UInt8]

    public init(seq: Int64, body: [UInt8]) {
        self.seq = seq
        self.body = body
    }
}

public struct CheckpointRow: Sendable, Equatable {
    public var treeSize: Int64
    /// The signed note, as issued.
    public var note: String
    public var issuedMicros: Int64

    public init(treeSize: Int64, note: String, issuedMicros: Int64) {
        self.treeSize = treeSize
        self.note = note
        self.issuedMicros = issuedMicros
    }
}
