import AsyncHTTPClient
import Base
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// A notification POSTed to a recipient's own system: JSON, signed with the recipient's
/// secret so it can tell the message came from the centre and was not changed.
///
/// Headers: `Idempotency-Key` (the same on every attempt), `X-Vigil-Timestamp` (Unix
/// seconds) and `X-Vigil-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
/// Any 2xx is delivered; anything else, a redirect too, is retried. The key is also inside
/// the signed body (`idempotencyKey`): a receiver drops repeats by that one.
public struct Webhook: Sendable {
    let client: HTTPClient

    /// Redirects are not followed: a 3xx is a failure, so a notification is never taken as
    /// delivered by where a redirect (as a GET, without its body) ended, nor sent to an
    /// address its URL's check did not see. One client for the process, never shut down.
    public static let noRedirects = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    public init(client: HTTPClient = Webhook.noRedirects) {
        self.client = client
    }

    public static func signature(secret: String, timestamp: Int64, body: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    public func send(to url: String, secret: String, idempotencyKey: String, body: String, nowMicros: Int64) async throws {
        try DispatchRules.checkWebhookURL(url)
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        let timestamp = nowMicros / 1_000_000
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "Vigil dispatch")
        request.headers.add(name: "Idempotency-Key", value: idempotencyKey)
        request.headers.add(name: "X-Vigil-Timestamp", value: String(timestamp))
        request.headers.add(name: "X-Vigil-Signature", value: Self.signature(secret: secret, timestamp: timestamp, body: body))
        request.body = .bytes(ByteBuffer(string: body))
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(DispatchRules.deliveryTimeoutSeconds))
        } catch {
            throw VigilError(.failure, "the webhook could not be reached: \(error)")
        }
        // The status says it all: the body is not read (a receiver trickling one would hold
        // the delivery past its deadline, which ends with the response's head).
        guard (200..<300).contains(response.status.code) else {
            throw VigilError(.failure, "the webhook answered \(response.status.code) \(response.status.reasonPhrase.prefix(100))")
        }
    }
}
