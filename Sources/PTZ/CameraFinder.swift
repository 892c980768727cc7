// Finding cameras to add: a WS-Discovery probe (Onvif's `DiscoveryProbe`) of the local
// segment, or of the addresses the site names, each answer shown beside the camera already
// added at its address. An answer is a stranger's datagram: it is only ever shown to the
// administrator, who decides whether to add the device it names.

import Base
import Foundation
import Onvif
import Records

/// A device that answered, as the console shows it.
public struct FoundCamera: Sendable, Equatable, Codable {
    /// Its device service (the first http address it gave), to add it with.
    public var address: String?
    public var otherAddresses: [String]
    public var endpoint: String
    public var name: String?
    public var hardware: String?
    public var location: String?
    /// The address the answer came from.
    public var from: String
    /// The device's address names another host than the one that answered (a camera
    /// behind NAT, or someone answering in another's name).
    public var namesAnotherHost: Bool
    /// Another host answered as the same device: one of them may be answering in the
    /// other's name; check before adding either.
    public var contested: Bool
    /// The camera already added at that address.
    public var cameraID: Int64?
    public var cameraName: String?
}

public struct FoundCameras: Sendable, Equatable, Codable {
    public var cameras: [FoundCamera]
    /// Answers that could not be read, with why (the first few), and how many in all.
    public var unreadable: [String]
    public var unreadableCount: Int
    /// Targets that could not be probed (no route to the multicast group), with why.
    public var failures: [String]
}

public struct CameraFinder: Sendable {
    /// Where probes go: `multicast`, or `HOST:PORT` (a camera on another segment, or the
    /// simulated cameras); none: the local segment.
    public var targets: [String]

    public init(targets: [String] = []) {
        self.targets = targets
    }

    /// Probes for `seconds` and marks each answer with the camera of `known` at its address
    /// (host, port and path: one device may serve several cameras, one path each).
    public func find(seconds: Double, known: [CameraRecord]) async throws -> FoundCameras {
        let heard = try await DiscoveryProbe.run(to: targets, seconds: seconds)
        let added = known.compactMap { camera in camera.onvifURL.flatMap(Self.place).map { ($0, camera) } }
        let cameras = heard.devices.map { device -> FoundCamera in
            let address = device.addresses.first
            let place = address.flatMap(Self.place)
            // Added at any of the device's addresses is added.
            let places = device.addresses.compactMap(Self.place)
            let camera = added.first { known in places.contains(known.0) }?.1
            let named = place.map { $0.host != device.from.lowercased() } ?? false
            return FoundCamera(
                address: address, otherAddresses: Array(device.addresses.dropFirst()), endpoint: device.endpoint, name: device.name,
                hardware: device.hardware, location: device.location, from: device.from, namesAnotherHost: named,
                contested: device.contested, cameraID: camera?.id, cameraName: camera?.name)
        }
        return FoundCameras(
            cameras: cameras, unreadable: heard.unreadable, unreadableCount: heard.unreadableCount, failures: heard.failures)
    }

    /// Where an http(s) address points, read as every device address is (`OnvifEndpoint`),
    /// its host in lower case.
    static func place(_ address: String) -> OnvifEndpoint? {
        guard var endpoint = try? OnvifEndpoint.parse(address).0 else { return nil }
        endpoint.host = endpoint.host.lowercased()
        return endpoint
    }
}
