// The simulated cameras' WS-Discovery: a UDP socket that answers each Probe for video
// transmitters (or for any device) with one ProbeMatches naming every camera, sent back
// to the prober, as ONVIF devices do (ONVIF Core §7.3). It joins the ONVIF multicast group when it
// can (a machine without multicast still answers directed probes). What arrives is read
// with the Onvif module's strict parser; anything else is dropped.

import Base
import Foundation
import Logging
import NIOCore
import NIOPosix
import Onvif

public final class DiscoveryResponder: Sendable {
    public let port: Int
    /// Whether the socket joined 239.255.255.250 (otherwise only directed probes are heard).
    public let joinedGroup: Bool
    let channel: any Channel
    let task: Task<Void, Never>

    private init(port: Int, joinedGroup: Bool, channel: any Channel, task: Task<Void, Never>) {
        self.port = port
        self.joinedGroup = joinedGroup
        self.channel = channel
        self.task = task
    }

    /// The ProbeMatch contents of `cameras` cameras whose device services are at
    /// `http://host:onvifPort/onvif/camN/device_service`.
    public static func devices(cameras: Int, host: String, onvifPort: Int) -> [DiscoveredDevice] {
        let shownHost = host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host.contains(":") ? "[\(host)]" : host
        return (1...max(1, cameras)).map { n in
            let node = String(format: "%04x%08x", onvifPort & 0xFFFF, n)
            return DiscoveredDevice(
                endpoint: "urn:uuid:5ea1ed00-0000-4000-8000-\(node)",
                addresses: ["http://\(shownHost):\(onvifPort)/onvif/cam\(n)/device_service"],
                types: ["dn:NetworkVideoTransmitter", "tds:Device"],
                scopes: [
                    "onvif://www.onvif.org/type/video_encoder", "onvif://www.onvif.org/type/ptz",
                    "onvif://www.onvif.org/Profile/Streaming", "onvif://www.onvif.org/name/Simulated%20dome%20\(n)",
                    "onvif://www.onvif.org/hardware/camera-sim", "onvif://www.onvif.org/location/city/demo"
                ])
        }
    }

    /// Answers probes on `host:port` (0: any free port) for `devices`, in one ProbeMatches
    /// per probe. Bound to every address (`0.0.0.0`), it also joins the multicast group
    /// when `multicast` is set and the machine allows; bound to one address, it hears
    /// directed probes there only. A source may have 10 probes answered in 10 s (no more
    /// is a reflector); a probe from port 0 or a multicast source is not answered.
    public static func start(
        devices: [DiscoveredDevice], host: String = "127.0.0.1", port: Int = WSDiscovery.port, multicast: Bool = true,
        logger: Logger = Logger(label: "camera-sim.discovery")
    ) async throws -> DiscoveryResponder {
        let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        do {
            channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                .bind(host: host, port: port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw VigilError(.failure, "the simulated cameras' discovery could not listen on UDP \(host):\(port): \(error)")
        }
        var joined = false
        if multicast, host == "0.0.0.0", let multicastChannel = channel.channel as? any MulticastChannel {
            do {
                try await multicastChannel.joinGroup(try SocketAddress(ipAddress: WSDiscovery.multicastGroup, port: WSDiscovery.port))
                    .get()
                joined = true
            } catch {
                logger.warning("the simulated cameras answer directed probes only: joining the ONVIF multicast group failed: \(error)")
            }
        }
        let bound = channel.channel.localAddress?.port ?? port
        let task = Task {
            var sent = 0
            var answered: [String: [Double]] = [:]
            do {
                try await channel.executeThenClose { inbound, outbound in
                    for try await datagram in inbound {
                        let source = datagram.remoteAddress
                        guard let address = source.ipAddress, let sourcePort = source.port, sourcePort != 0,
                            !address.hasPrefix("224.") && !address.hasPrefix("239.") && !address.lowercased().hasPrefix("ff")
                        else { continue }
                        guard let probe = try? WSDiscovery.probeRequest(Array(datagram.data.readableBytesView)), probe.wantsVideo else {
                            continue
                        }
                        let now = Double(DispatchTime.now().uptimeNanoseconds) / 1e9
                        var recent = (answered[address] ?? []).filter { now - $0 < 10 }
                        guard recent.count < 10 else { continue }
                        recent.append(now)
                        answered[address] = recent
                        if answered.count > 4096 { answered = answered.filter { !$0.value.allSatisfy { now - $0 >= 10 } } }
                        for first in stride(from: 0, to: devices.count, by: WSDiscovery.maxMatches) {
                            sent += 1
                            let some = Array(devices[first..<min(devices.count, first + WSDiscovery.maxMatches)])
                            let reply = WSDiscovery.probeMatches(relatesTo: probe.messageID, devices: some, messageNumber: sent)
                            try await outbound.write(AddressedEnvelope(remoteAddress: source, data: ByteBuffer(bytes: reply)))
                        }
                    }
                }
            } catch {
                logger.warning("the simulated cameras stopped answering WS-Discovery probes: \(error)")
            }
        }
        return DiscoveryResponder(port: bound, joinedGroup: joined, channel: channel.channel, task: task)
    }

    public func close() async {
        try? await channel.close()
        await task.value
    }
}
