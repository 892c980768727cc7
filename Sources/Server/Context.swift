import Access
import Base
import Centre
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The per-request context: who is asking (set by `AuthMiddleware`) and from where.
public struct VigilContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<VigilContext>
    public var authenticated: Authenticated?
    /// The client's address (no port): the connection's peer, or behind a trusted reverse
    /// proxy the station it forwarded for (`ClientAddressMiddleware`).
    public internal(set) var address: String
    /// The connection, for what must reach its pipeline (`HandshakeRefusal`).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        address = source.channel.remoteAddress?.ipAddress ?? "unknown"
        channel = source.channel
    }

    /// The signed-in principal; routes behind `AuthMiddleware` always have one.
    public func principal() throws -> Principal {
        guard let p = authenticated?.principal else { throw HTTPError(.unauthorized, message: "sign in first") }
        return p
    }
}

/// Errors as JSON bodies: `{"error": "..."}`.
struct APIError: HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var headers: HTTPFields = [:]

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        fields[.cacheControl] = "no-store"
        let body = (try? JSONEncoder().encode(["error": message])) ?? Data()
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The one place an error's code becomes an HTTP status. A `failure` (Vigil's own
    /// fault: a disk, the database) is answered without its details, which may name
    /// paths; whoever catches it logs it whole.
    static func from(_ error: any CodedError) -> APIError {
        let message = error.description
        return switch error.code {
        case .invalid: APIError(status: .badRequest, message: message)
        case .notFound: APIError(status: .notFound, message: message)
        case .conflict: APIError(status: .conflict, message: message)
        case .unauthenticated: APIError(status: .unauthorized, message: message)
        case .forbidden, .passwordChangeRequired: APIError(status: .forbidden, message: message)
        case let .locked(seconds), let .rateLimited(seconds, _):
            APIError(status: .tooManyRequests, message: message, headers: [.retryAfter: String(seconds)])
        case .quotaExceeded: APIError(status: .tooManyRequests, message: message)
        case .insufficientStorage: APIError(status: .init(code: 507, reasonPhrase: "Insufficient Storage"), message: message)
        case let .busy(seconds):
            APIError(status: .serviceUnavailable, message: message, headers: [.retryAfter: String(seconds)])
        case .deviceFailed: APIError(status: .badGateway, message: message)
        case .failure: APIError(status: .internalServerError, message: "internal error; the server's log has the details")
        }
    }
}

/// Encodes `value` as a JSON response that no cache keeps.
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    var headers = extra
    headers[.contentType] = "application/json"
    headers[.cacheControl] = "no-store"
    return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}
