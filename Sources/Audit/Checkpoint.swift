import Base
import Crypto
import Foundation

/// A log checkpoint (C2SP tlog-checkpoint): origin line, tree size, base64 root hash,
/// optional extension lines — the text a signed note signs.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var treeSize: Int
    public var rootHash: [UInt8]
    public var extensions: [String]

    public init(origin: String, treeSize: Int, rootHash: [UInt8], extensions: [String] = []) {
        self.origin = origin
        self.treeSize = treeSize
        self.rootHash = rootHash
        self.extensions = extensions
    }

    /// The note text, ending in a newline.
    public var text: String {
        ([origin, String(treeSize), Data(rootHash).base64EncodedString()] + extensions).joined(separator: "\n") + "\n"
    }

    public init(text: String) throws {
        guard text.hasSuffix("\n") else { throw AuditError.malformedCheckpoint("text must end with a newline") }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.count >= 3, !lines[0].isEmpty else { throw AuditError.malformedCheckpoint("needs origin, size and root lines") }
        guard let size = Int(lines[1]), size >= 0, String(size) == lines[1] else {
            throw AuditError.malformedCheckpoint("tree size \"\(lines[1])\" is not a decimal number")
        }
        guard let root = Data(base64Encoded: lines[2]), root.count == 32 else {
            throw AuditError.malformedCheckpoint("root hash is not 32 bytes of base64")
        }
        guard !lines.dropFirst(3).contains(where: \.isEmpty) else { throw AuditError.malformedCheckpoint("empty extension line") }
        self.init(origin: lines[0], treeSize: size, rootHash: [UInt8](root), extensions: Array(lines.dropFirst(3)))
    }
}

/// Signs notes (C2SP signed-note) with an Ed25519 key.
public struct NoteSigner: Sendable {
    public let name: String
    private let key: Curve25519.Signing.PrivateKey

    public init(name: String, key: Curve25519.Signing.PrivateKey) throws {
        guard !name.isEmpty, !name.contains(where: { $0 == "+" || $0.isWhitespace }) else {
            throw AuditError.signature("key name \"\(name)\" must be non-empty, without spaces or '+'")
        }
        self.name = name
        self.key = key
    }

    public var verifier: NoteVerifier { NoteVerifier(name: name, publicKey: key.publicKey) }

    /// The signed note: text, blank line, "— name base64(keyID ‖ signature)".
    public func sign(_ text: String) throws -> String {
        guard text.hasSuffix("\n") else { throw AuditError.signature("note text must end with a newline") }
        let signature = try key.signature(for: Array(text.utf8))
        let blob = verifier.keyID + [UInt8](signature)
        return text + "\n— \(name) \(Data(blob).base64EncodedString())\n"
    }
}

/// Verifies signed notes from one known key.
public struct NoteVerifier: Sendable {
    public let name: String
    public let publicKey: Curve25519.Signing.PublicKey

    public init(name: String, publicKey: Curve25519.Signing.PublicKey) {
        self.name = name
        self.publicKey = publicKey
    }

    /// key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4] (C2SP signed-note, Ed25519).
    public var keyID: [UInt8] {
        Array(SHA256.hash(data: Array(name.utf8) + [0x0A, 0x01] + [UInt8](publicKey.rawRepresentation)).prefix(4))
    }

    /// The "name+keyid+base64(0x01‖key)" form a verifier's key is published in.
    public var encoded: String {
        "\(name)+\(hex(keyID))+\(Data([0x01] + [UInt8](publicKey.rawRepresentation)).base64EncodedString())"
    }

    public init(encoded: String) throws {
        let parts = encoded.split(separator: "+", maxSplits: 2).map(String.init)
        guard parts.count == 3, let raw = Data(base64Encoded: parts[2]), raw.count == 33, raw.first == 0x01,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw.dropFirst())
        else {
            throw AuditError.signature("verifier key is not name+keyid+base64(0x01 ‖ Ed25519 key)")
        }
        self.init(name: parts[0], publicKey: key)
        guard hex(keyID) == parts[1] else { throw AuditError.signature("verifier key ID does not match its key") }
    }

    /// Returns the note's text if this key signed it; throws otherwise.
    public func verify(_ note: String) throws -> String {
        guard let split = note.range(of: "\n\n— ", options: .backwards) else {
            throw AuditError.signature("no signature block")
        }
        let text = String(note[..<note.index(after: split.lowerBound)])
        var found = false
        for line in note[note.index(after: split.lowerBound)...].dropFirst().split(separator: "\n") {
            guard line.hasPrefix("— ") else { throw AuditError.signature("malformed signature line") }
            let fields = line.dropFirst(2).split(separator: " ")
            guard fields.count == 2, let blob = Data(base64Encoded: String(fields[1])), blob.count > 4 else {
                throw AuditError.signature("malformed signature line")
            }
            guard String(fields[0]) == name, [UInt8](blob.prefix(4)) == keyID else { continue } // another key's
            guard publicKey.isValidSignature(blob.dropFirst(4), for: Array(text.utf8)) else {
                throw AuditError.signature("signature by \(name) does not verify: the note was altered")
            }
            found = true
        }
        guard found else { throw AuditError.signature("not signed by \(name)") }
        return text
    }
}
