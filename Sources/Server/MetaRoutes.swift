import Access
import Base
import Centre
import Foundation
import Hummingbird
import Records

/// The API's own description and the metrics endpoint.
struct MetaRoutes {
    let env: ServerEnvironment

    func register(_ t: inout RouteTable) {
        let env = self.env
        t.add(.get, "/api/openapi.json", nil) { _, _, _ in
            guard let data = FileManager.default.contents(atPath: env.openAPIPath) else {
                throw APIError(status: .internalServerError, message: "OpenAPI document missing at \(env.openAPIPath)")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(bytes: data)))
        }
        t.add(.get, "/metrics", .viewMetrics) { _, _, _ in
            let text = env.metrics.render(
                cameras: try await env.cameras.all().filter { $0.removedMicros == nil }, fleet: env.fleet, footage: env.footage,
                now: env.clock.nowMicros())
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: .init(bytes: text)))
        }
    }
}
