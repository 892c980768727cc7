// The simulated cameras' ONVIF over HTTP (Hummingbird): POST /onvif/camN/{device,media,ptz}_service.

import Base
import Hummingbird
import Logging
import NIOCore
import Onvif
import ServiceLifecycle

public final class OnvifSimulator: Sendable {
    public let port: Int
    public let responder: OnvifResponder
    let group: ServiceGroup
    let task: Task<Void, any Error>

    private init(port: Int, responder: OnvifResponder, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.responder = responder
        self.group = group
        self.task = task
    }

    /// Serves `responder`'s cameras on `host:port` (0: any free port) until `close`.
    public static func start(responder: OnvifResponder, host: String = "127.0.0.1", port: Int = 0) async throws -> OnvifSimulator {
        let router = Router()
        // `/onvif/camN/SERVICE`, and `/onvif/SERVICE` for camera 1 (where ONVIF clients look
        // for the device service when they are given only a host and port).
        @Sendable func answer(_ request: Request, camera n: Int, service: String) async throws -> Response {
            guard n >= 1, ["device_service", "media_service", "ptz_service"].contains(service) else { return Response(status: .notFound) }
            let body = try await request.body.collect(upTo: 64 << 10)
            let (status, reply) = await responder.respond(
                camera: n - 1, body: Array(body.readableBytesView), authority: request.head.authority)
            return Response(
                status: .init(code: status), headers: [.contentType: "application/soap+xml; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: reply)))
        }
        // One parameter name at each depth: the router's tree holds both paths.
        router.post("/onvif/:first/:service") { request, context -> Response in
            let camera = context.parameters.get("first") ?? ""
            guard camera.hasPrefix("cam"), let n = Int(camera.dropFirst(3)) else { return Response(status: .notFound) }
            return try await answer(request, camera: n, service: context.parameters.get("service") ?? "")
        }
        router.post("/onvif/:first") { request, context -> Response in
            try await answer(request, camera: 1, service: context.parameters.get("first") ?? "")
        }
        var logger = Logger(label: "camera-sim.onvif")
        logger.logLevel = .warning
        let (bound, boundContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "camera-sim"),
            onServerRunning: { channel in boundContinuation.yield(channel.localAddress?.port ?? port) }, logger: logger)
        // The stream ends when the server stops, so a server that cannot listen ends the wait.
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        let task = Task {
            defer { boundContinuation.finish() }
            try await group.run()
        }
        var started: Int?
        for await port in bound {
            started = port
            break
        }
        guard let started else {
            task.cancel()
            throw VigilError(.failure, "the simulated cameras' ONVIF server could not listen on \(host):\(port)")
        }
        return OnvifSimulator(port: started, responder: responder, group: group, task: task)
    }

    /// Stops listening and waits for the requests being answered.
    public func close() async {
        await group.triggerGracefulShutdown()
        _ = try? await task.value
    }
}
