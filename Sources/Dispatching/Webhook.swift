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
/// Any 2xx is delivered; anything else is retried.
public struct Webhook: Sendable {
    let client: HTTPClient

    public init(client: HTTPClient = .shared) {
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
        // Read a little of the answer for the error, no more.
        let answer = (try? await response.body.collect(upTo: 4096)).map { String(buffer: $0) } ?? ""
        guard (200..<300).contains(response.status.code) else {
            throw VigilError(.failure, "the webhook answered \(response.status.code) \(answer.prefix(200))")
        }
    }
}
