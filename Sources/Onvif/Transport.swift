// Carrying SOAP to a device: an HTTP POST of `application/soap+xml` (ONVIF Core §5.5,
// SOAP 1.2 HTTP binding) over async-http-client, with a deadline and a cap on the reply,
// and no redirects followed (a camera must not send Vigil's requests, with their
// UsernameToken, to another host).

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A device's address, as the operator gave it: `http://HOST:PORT/onvif/device_service`,
/// with the account kept apart from the URL. Every service is asked on this host and port
/// (`resolve`).
public struct OnvifEndpoint: Sendable, Equatable, CustomStringConvertible {
    public var secure: Bool
    public var host: String
    public var port: Int
    public var path: String

    public init(secure: Bool = false, host: String, port: Int, path: String = "/onvif/device_service") {
        self.secure = secure
        self.host = host
        self.port = port
        self.path = path
    }

    /// Reads `http(s)://[USER:PASS@]HOST[:PORT][/PATH]`; the account, when there is one,
    /// comes back beside the endpoint (percent-decoded), never in it.
    public static func parse(_ text: String) throws -> (OnvifEndpoint, UsernameToken?) {
        guard text.utf8.count <= 2048, let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else {
            throw OnvifError.badAddress(reason: "expected http://[USER:PASS@]HOST[:PORT]/onvif/device_service")
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else { throw OnvifError.badAddress(reason: "port \(port) is outside 1…65535") }
        let path = url.percentEncodedPath.isEmpty ? "/onvif/device_service" : url.percentEncodedPath
        let account = url.user.map { UsernameToken(username: $0, password: url.password ?? "") }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return (OnvifEndpoint(secure: scheme == "https", host: bare, port: port, path: path), account)
    }

    /// The URL of a service this device named: its path and query on this endpoint's host
    /// and port. A device behind NAT names its private address, and a hostile one could
    /// name another host to have Vigil carry its requests there; neither is followed.
    public func resolve(_ xaddr: String?) -> String {
        guard let xaddr, let url = URLComponents(string: xaddr), !url.percentEncodedPath.isEmpty else { return url(path: path) }
        return self.url(path: url.percentEncodedPath + (url.percentEncodedQuery.map { "?" + $0 } ?? ""))
    }

    func url(path: String) -> String {
        let shownHost = host.contains(":") ? "[\(host)]" : host
        return "\(secure ? "https" : "http")://\(shownHost):\(port)\(path.hasPrefix("/") ? path : "/" + path)"
    }

    public var description: String { url(path: path) }
}

/// One exchange with a device: a SOAP request out, the status and body of its reply back.
public protocol OnvifTransport: Sendable {
    func post(url: String, soapAction: String, body: [UInt8]) async throws -> (status: Int, body: [UInt8])
}

/// The transport over async-http-client: one per process (its connections are pooled).
public final class HTTPOnvifTransport: OnvifTransport {
    public static let replyLimit = 1 << 20
    /// The process's transport, never shut down (its connections close with the process).
    public static let shared = HTTPOnvifTransport()
    let client: HTTPClient
    let deadline: TimeAmount

    /// `deadline`: for the whole exchange, reply included (a camera that trickles its
    /// reply is cut off like one that never answers).
    /// `readTimeout`: the longest silence within a reply (the deadline by default).
    public init(deadline: TimeAmount = .seconds(5), readTimeout: TimeAmount? = nil) {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow, timeout: .init(connect: .seconds(3), read: readTimeout ?? deadline))
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.deadline = deadline
    }

    public func shutdown() async throws { try await client.shutdown() }

    /// The exchange, reply body included, within `deadline`: async-http-client's own
    /// deadline ends with the reply's head, and a camera could trickle its body forever.
    public func post(url: String, soapAction: String, body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
        let deadline = self.deadline
        return try await withThrowingTaskGroup(of: (status: Int, body: [UInt8])?.self) { group in
            group.addTask { try await self.exchange(url: url, soapAction: soapAction, body: body) }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(deadline.nanoseconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let reply = first else {
                throw OnvifError.unreachable(
                    action: Self.action(soapAction), reason: "no complete reply within \(deadline.nanoseconds / 1_000_000) ms")
            }
            return reply
        }
    }

    static func action(_ soapAction: String) -> String { String(soapAction.split(separator: "/").last ?? "request") }

    func exchange(url: String, soapAction: String, body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: #"application/soap+xml; charset=utf-8; action="\#(soapAction)""#)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, deadline: .now() + deadline)
        let bytes = try await response.body.collect(upTo: Self.replyLimit)
        return (Int(response.status.code), Array(bytes.readableBytesView))
    }
}
