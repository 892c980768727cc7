// Evidence — what a court's expert needs, without the database: the site's signing
// certificate, ONVIF-signed MP4 files (sealing and checking them), the evidence bundle's
// manifest, and the offline verifier behind `vigil verify`.
// What belongs here: formats, signatures and their verification. What does not: the
// register's workflow (Centre) or how the bytes were recorded (Recording).

import Base
import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

/// The site's export-signing identity: an RSA-3072 key (RSASSA-PSS, as the ONVIF Export
/// File Format requires RSA) and a self-signed X.509 certificate for it, created on first
/// start under DATA/keys. The key file is owner-only; the certificate is public, meant to
/// be published so that courts can pin it (`vigil site-certificate`, `vigil verify --trust`).
public struct SiteCertificate: Sendable {
    public let certificate: Certificate
    public let der: [UInt8]
    let key: _RSA.Signing.PrivateKey

    public static let keyFile = "site-rsa.pem"
    public static let certificateFile = "site-certificate.pem"

    public var pem: String { (try? certificate.serializeAsPEM().pemString) ?? "" }

    public static func loadOrCreate(directory: String, siteName: String) throws -> SiteCertificate {
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let keyPath = "\(directory)/\(keyFile)", certPath = "\(directory)/\(certificateFile)"
        let key: _RSA.Signing.PrivateKey
        if let pem = try? String(contentsOfFile: keyPath, encoding: .utf8) {
            key = try _RSA.Signing.PrivateKey(pemRepresentation: pem)
        } else {
            key = try _RSA.Signing.PrivateKey(keySize: .bits3072)
            guard
                FileManager.default.createFile(
                    atPath: keyPath, contents: Data(key.pemRepresentation.utf8),
                    attributes: [.posixPermissions: 0o600])
            else {
                throw EvidenceError("cannot write \(keyPath)")
            }
        }
        if let pem = try? String(contentsOfFile: certPath, encoding: .utf8) {
            let certificate = try Certificate(pemEncoded: pem)
            guard let rsa = _RSA.Signing.PublicKey(certificate.publicKey), rsa.derRepresentation == key.publicKey.derRepresentation else {
                throw EvidenceError("\(certPath) does not belong to the key in \(keyPath)")
            }
            return try SiteCertificate(certificate: certificate, key: key)
        }
        let issuerKey = Certificate.PrivateKey(key)
        let name = try DistinguishedName {
            CommonName("Vigil evidence export — \(siteName)")
            OrganizationName(siteName)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: issuerKey.publicKey,
            notValidBefore: now.addingTimeInterval(-300), notValidAfter: now.addingTimeInterval(20 * 365 * 86_400),
            issuer: name, subject: name, signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, nonRepudiation: true))
            },
            issuerPrivateKey: issuerKey)
        try certificate.serializeAsPEM().pemString.write(toFile: certPath, atomically: true, encoding: .utf8)
        return try SiteCertificate(certificate: certificate, key: key)
    }

    /// A signer from a key and certificate given separately (a second party re-signing).
    public init(certificate: Certificate, key: _RSA.Signing.PrivateKey) throws {
        self.certificate = certificate
        self.key = key
        var serializer = DER.Serializer()
        try serializer.serialize(certificate)
        der = serializer.serializedBytes
    }

    /// RSASSA-PSS over a SHA-256 digest: MGF1-SHA-256, 32-byte salt (declared in `sigC`).
    public func sign(_ digest: SHA256.Digest) throws -> [UInt8] {
        Array(try key.signature(for: digest, padding: .PSS).rawRepresentation)
    }

    public var signatureLength: Int { key.keySizeInBits / 8 }
}

/// A bundle, file, signature or certificate that does not verify (`invalid`), or the site's
/// keys and files failing (`failure`).
public struct EvidenceError: CodedError {
    public var description: String
    public var code: ErrorCode
    public init(_ d: String, code: ErrorCode = .invalid) {
        description = d
        self.code = code
    }
}

/// RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt, as a DER AlgorithmIdentifier
/// (RFC 4055 §3.1). The ONVIF default is a 20-byte salt; a file signed otherwise must say
/// so in its `sigC` box, which is what this is.
public enum SignatureAlgorithms {
    public static let rsaPSSSHA256Salt32: [UInt8] = {
        let sha256: [UInt8] = [0x30, 0x0D, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00]
        let mgf1: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08]
        let pss: [UInt8] = [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A]
        let hashAlgorithm = [0xA0, UInt8(sha256.count)] + sha256
        let mgfSequence = [0x30, UInt8(mgf1.count + sha256.count)] + mgf1 + sha256
        let maskGen = [0xA1, UInt8(mgfSequence.count)] + mgfSequence
        let salt: [UInt8] = [0xA2, 0x03, 0x02, 0x01, 0x20]
        let params = [0x30, UInt8(hashAlgorithm.count + maskGen.count + salt.count)] + hashAlgorithm + maskGen + salt
        return [0x30, UInt8(pss.count + params.count)] + pss + params
    }()
}
