// The site's secrets, created on first start under DATA/keys with owner-only permissions:
// the Ed25519 key that signs audit checkpoints, and the key that seals camera passwords in
// the catalog. The public half of the signing key is written beside it for verifiers.

import Audit
import Base
import Crypto
import Foundation

public struct SiteKeys: Sendable {
    public let signer: NoteSigner
    let credentialKey: SymmetricKey

    public static let signingKeyFile = "site-ed25519.key"
    /// The verifier key in C2SP note-verifier form (`name+keyid+base64`), safe to publish.
    public static let verifierKeyFile = "site-ed25519.vkey"
    static let credentialKeyFile = "credentials.key"

    /// Loads the keys under `directory`, creating any that are missing.
    public static func loadOrCreate(directory: String, siteName: String) throws -> SiteKeys {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let signingRaw = try secret(at: "\(directory)/\(signingKeyFile)") { Curve25519.Signing.PrivateKey().rawRepresentation }
        let key = try Curve25519.Signing.PrivateKey(rawRepresentation: signingRaw)
        let vkeyPath = "\(directory)/\(verifierKeyFile)"
        // The key keeps the name it was first published under, whatever a later config says.
        let published = (try? String(contentsOfFile: vkeyPath, encoding: .utf8)).flatMap {
            try? NoteVerifier(encoded: $0.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let signer = try NoteSigner(
            name: published?.publicKey.rawRepresentation == key.publicKey.rawRepresentation ? published!.name : siteName, key: key)
        let encoded = signer.verifier.encoded + "\n"
        if (try? String(contentsOfFile: vkeyPath, encoding: .utf8)) != encoded {
            try encoded.write(toFile: vkeyPath, atomically: true, encoding: .utf8)
        }
        let credentialRaw = try secret(at: "\(directory)/\(credentialKeyFile)") {
            SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        }
        return SiteKeys(signer: signer, credentialKey: SymmetricKey(data: credentialRaw))
    }

    /// The published verifier key of the site whose data directory is `dataDirectory`.
    public static func verifier(dataDirectory: String) throws -> NoteVerifier {
        let path = "\(dataDirectory)/keys/\(verifierKeyFile)"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw VigilError(.notFound, "no site verifier key at \(path)")
        }
        return try NoteVerifier(encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func secret(at path: String, create: () -> Data) throws -> Data {
        if let existing = FileManager.default.contents(atPath: path) { return existing }
        let data = create()
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw VigilError(.invalid, "cannot write key file \(path)")
        }
        return data
    }

    /// Seals a camera password for storage (AES-GCM, random nonce).
    public func seal(_ password: String) throws -> [UInt8] {
        [UInt8](try AES.GCM.seal(Data(password.utf8), using: credentialKey).combined!)
    }

    public func unseal(_ sealed: [UInt8]) throws -> String {
        let box = try AES.GCM.SealedBox(combined: Data(sealed))
        return String(decoding: try AES.GCM.open(box, using: credentialKey), as: UTF8.self)
    }
}
