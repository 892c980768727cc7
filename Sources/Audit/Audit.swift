// Audit — a log that cannot be rewritten unnoticed.
//
// What belongs here: RFC 9162 Merkle tree hashing over log entries, inclusion and
// consistency proofs (generation and verification), and checkpoints in the C2SP
// tlog-checkpoint format signed as C2SP signed notes with Ed25519.
// What does not: where entries are stored, who may read them, HTTP. (The server issue
// adds the append-only store and the API; this module is what both they and an offline
// verifier rely on.)
// Invariants: hashing follows RFC 9162 §2.1.1 exactly (leaf = SHA-256(0x00 ‖ entry),
// node = SHA-256(0x01 ‖ left ‖ right), split at the largest power of two below n);
// every verification failure is an `AuditError` naming what did not match.

import Base
import Crypto
import Foundation

public enum AuditError: CodedError, Equatable {
    case invalidProof(String)
    case rootMismatch(expected: [UInt8], computed: [UInt8])
    case malformedCheckpoint(String)
    case signature(String)

    /// Every audit error is a proof, checkpoint or signature that does not hold.
    public var code: ErrorCode { .invalid }

    public var description: String {
        switch self {
        case let .invalidProof(why): "invalid proof: \(why)"
        case let .rootMismatch(expected, computed): "root hash mismatch: expected \(hex(expected)), computed \(hex(computed))"
        case let .malformedCheckpoint(why): "malformed checkpoint: \(why)"
        case let .signature(why): "signature: \(why)"
        }
    }
}
