import Access
import Base
import Centre
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// Resolves the session cookie or bearer token for every API request and refuses the
/// request when there is none (401), when a browser session's state-changing request lacks
/// its CSRF token (403), or when a one-time password has not been changed yet (403).
/// Static console files pass without sign-in; they hold no data.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = VigilContext
    let accounts: Accounts

    static let cookieName = "vigil_session"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!

    func handle(_ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response) async throws -> Response
    {
        let path = request.uri.path
        guard path.hasPrefix("/api/") || path == "/api" || path == "/metrics" else { return try await next(request, context) }
        if request.method == .post && path == "/api/session" { return try await next(request, context) }
        guard let credential = Self.credential(of: request),
            let authenticated = try await accounts.authenticate(credential)
        else {
            throw APIError(status: .unauthorized, message: "sign in first", headers: [.wwwAuthenticate: "Bearer realm=\"vigil\""])
        }
        if let csrf = authenticated.csrfToken, ![.get, .head, .options].contains(request.method) {
            guard let sent = request.headers[Self.csrfHeader], constantTimeEqual(sent, csrf) else {
                throw APIError(status: .forbidden, message: "missing or wrong X-CSRF-Token")
            }
        }
        if authenticated.principal.mustChangePassword {
            let allowed =
                (path == "/api/session" && [.get, .delete].contains(request.method))
                || (path == "/api/session/password" && request.method == .post)
            guard allowed else { throw APIError(status: .forbidden, message: "change your one-time password first") }
        }
        var context = context
        context.authenticated = authenticated
        return try await next(request, context)
    }

    static func credential(of request: Request) -> Credential? {
        if let auth = request.headers[.authorization], auth.lowercased().hasPrefix("bearer ") {
            return .apiToken(String(auth.dropFirst(7)).trimmingCharacters(in: .whitespaces))
        }
        if let cookie = request.cookies[cookieName]?.value, !cookie.isEmpty { return .session(token: cookie) }
        return nil
    }
}

/// Headers that keep the console from being framed, sniffed or fed foreign scripts.
struct SecurityHeadersMiddleware: RouterMiddleware {
    typealias Context = VigilContext
    /// Under TLS: browsers are told to use HTTPS only for this host (RFC 6797).
    var strictTransportSecurity = false

    func handle(_ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response) async throws -> Response
    {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            // Hummingbird's own refusals (a body that is not the JSON asked for, no such
            // route) in the API's one error shape: {"error": "..."}.
            response = try APIError(status: error.status, message: error.body ?? error.status.reasonPhrase, headers: error.headers)
                .response(from: request, context: context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch let error as any CodedError {
            // Every module's errors, by their code (`APIError.from`); Vigil's own faults
            // are logged whole, as below.
            if error.code == .failure { context.logger.error("request failed: \(request.method) \(request.uri.path): \(error)") }
            response = try APIError.from(error).response(from: request, context: context)
        } catch {
            // Anything else is a fault of ours: logged whole, answered without its details.
            context.logger.error("request failed: \(request.method) \(request.uri.path): \(error)")
            response = try APIError(status: .internalServerError, message: "internal error; the server's log has the details")
                .response(from: request, context: context)
        }
        response.headers[.contentSecurityPolicy] =
            "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        if strictTransportSecurity { response.headers[HTTPField.Name("Strict-Transport-Security")!] = "max-age=31536000" }
        return response
    }
}

func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
}

/// A method the API does not offer on a path it has answers 405 with `Allow` (RFC 9110
/// §15.5.6), not 404: the path exists. Consulted only when the router matched nothing, so
/// the requests that do match (playback's many Range requests) pay nothing for it. Runs
/// after sign-in, so it tells only signed-in callers which methods a path takes (the
/// OpenAPI document says as much).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = VigilContext
    let routes: RouteShapes

    func handle(_ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response) async throws -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let path = request.uri.path
            guard path.hasPrefix("/api/") || path == "/metrics", let allowed = routes.methods(for: path),
                !allowed.contains(request.method.rawValue)
            else { throw error }
            let allow = allowed.sorted().joined(separator: ", ")
            throw APIError(
                status: .methodNotAllowed, message: "\(request.method.rawValue) is not offered here; this path takes \(allow)",
                headers: [.allow: allow])
        }
    }
}

/// The API's paths and their methods, filled in once the routes are registered (the
/// middleware that reads it is added before them).
final class RouteShapes: Sendable {
    private let shapes = Mutex<[(segments: [Substring], methods: Set<String>)]>([])

    func set(_ policies: [RoutePolicy]) {
        var byPath: [String: Set<String>] = [:]
        for p in policies { byPath[p.path, default: []].insert(p.method) }
        shapes.withLock {
            $0 = byPath.sorted { $0.key < $1.key }.map {
                (segments: $0.key.split(separator: "/", omittingEmptySubsequences: false), methods: $0.value)
            }
        }
    }

    /// The methods of the route whose template matches `path` (`{name}` matches one
    /// segment), or nil when no route has this shape. Where several match, the one the
    /// router would take is the path's: a literal segment before a parameter, from the left
    /// (`/api/cameras/discover` over `/api/cameras/{id}`).
    func methods(for path: String) -> Set<String>? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        return shapes.withLock { shapes in
            shapes.filter { shape in
                shape.segments.count == parts.count
                    && zip(shape.segments, parts).allSatisfy { template, part in
                        (template.hasPrefix("{") && !part.isEmpty) || template == part
                    }
            }
            .max { a, b in
                // The router tries a literal segment before a parameter, from the left.
                for (x, y) in zip(a.segments, b.segments) where x.hasPrefix("{") != y.hasPrefix("{") {
                    return x.hasPrefix("{")
                }
                return false
            }?
            .methods
        }
    }
}

/// Behind a reverse proxy every connection comes from the proxy: per-address limits would
/// count the whole centre as one station, and the audit log would name the proxy. From an
/// address in `trusted` (the site's proxies, `trustedProxies`), the station is the
/// right-most `X-Forwarded-For` hop that is not itself a trusted proxy; from anywhere else
/// the header is ignored, since any client can send it.
struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = VigilContext
    let trusted: Set<String>
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    func handle(_ request: Request, context: VigilContext, next: (Request, VigilContext) async throws -> Response) async throws -> Response
    {
        let forwarded = request.headers[values: Self.forwardedFor]
        guard !trusted.isEmpty, trusted.contains(context.address), !forwarded.isEmpty else {
            return try await next(request, context)
        }
        var context = context
        let hops = forwarded.joined(separator: ",").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if let station = hops.reversed().first(where: { !trusted.contains($0) }), (try? SocketAddress(ipAddress: station, port: 0)) != nil {
            context.address = station
        }
        return try await next(request, context)
    }
}
