// Sending a WS-Discovery Probe over UDP (SwiftNIO) and gathering the answers for a few
// seconds. WS-Discovery's own advice for UDP (SOAP-over-UDP §3.4) is to send a message more
// than once: the probe goes out twice, 100 ms apart. Answers are unicast back to the
// probe's socket; whatever arrives there is a stranger's datagram and is read with
// `WSDiscovery.probeMatches`, which refuses an answer to any other probe.

import Base
import NIOCore
import NIOPosix
import Synchronization

public struct DiscoveryResult: Sendable, Equatable, Codable {
    /// The devices that answered, once each (by endpoint reference and sender), in the
    /// order heard.
    public var devices: [DiscoveredDevice]
    /// Datagrams that came back but could not be read, with why (the first few).
    public var unreadable: [String]
    /// How many could not be read, all told.
    public var unreadableCount: Int
    /// The targets that could not be probed, each with why.
    public var failures: [String] = []
}

public enum DiscoveryProbe {
    /// The ONVIF multicast group and port, where a probe for the local segment goes.
    public static func multicast() throws -> SocketAddress {
        try SocketAddress(ipAddress: WSDiscovery.multicastGroup, port: WSDiscovery.port)
    }

    /// Probes the places `targets` names: `multicast` (the local segment) or `HOST:PORT`
    /// with HOST an IP address (`[::1]:3702` for IPv6); none at all is the segment.
    public static func run(to targets: [String], seconds: Double = 3) async throws -> DiscoveryResult {
        try await run(targets: targets.isEmpty ? nil : try targets.map(target), seconds: seconds)
    }

    /// `multicast`, or `HOST:PORT` with HOST an IP address, as a socket address.
    public static func target(_ text: String) throws -> SocketAddress {
        if text == "multicast" { return try multicast() }
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (1...65_535).contains(port) else {
            throw VigilError(.invalid, "discovery target \(Soap.clip(text)): expected multicast or HOST:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        do { return try SocketAddress(ipAddress: host, port: port) } catch {
            throw VigilError(.invalid, "discovery target \(Soap.clip(text)): the host must be an IP address")
        }
    }

    /// At most this many devices are kept from one probe.
    static let maxDevices = 1024

    /// Probes `targets` (nil: the multicast group; a device's own address for a directed
    /// probe) and gathers answers for `seconds`. Each target has a socket of its own: a
    /// send that fails (no route to the group) closes its socket, and must not silence the
    /// others. A target that could not be probed is said in `failures`; when none could
    /// be, the probe fails.
    public static func run(
        targets: [SocketAddress]? = nil, seconds: Double = 3, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> DiscoveryResult {
        let targets = try targets ?? [multicast()]
        guard !targets.isEmpty else { return DiscoveryResult(devices: [], unreadable: [], unreadableCount: 0, failures: []) }
        guard seconds.isFinite, seconds > 0, seconds <= 30 else {
            throw VigilError(.invalid, "a discovery listens between 0 and 30 seconds")
        }
        let id = WSDiscovery.messageID()
        let heard = Heard()
        let failures = await withTaskGroup(of: String?.self) { tasks in
            for target in targets {
                tasks.addTask { await probe(target, id: id, seconds: seconds, group: group, into: heard) }
            }
            return await tasks.reduce(into: [String]()) { all, failure in if let failure { all.append(failure) } }
        }
        guard failures.count < targets.count else {
            throw VigilError(.deviceFailed, "the discovery probe could not be sent: " + failures.joined(separator: "; "))
        }
        var result = heard.state.withLock { $0.result }
        result.failures = failures
        return result
    }

    /// One target's probe, sent twice, and its answers gathered into `heard` for `seconds`;
    /// what went wrong, if it could not be sent.
    static func probe(_ target: SocketAddress, id: String, seconds: Double, group: any EventLoopGroup, into heard: Heard) async -> String? {
        let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 65_536))
                // A broadcast address (a segment's .255) is refused without it.
                .channelOption(.socketOption(.so_broadcast), value: 1)
                .bind(host: target.protocol == .inet6 ? "::" : "0.0.0.0", port: 0) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(
                            wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            return "\(target): no UDP socket (\(error))"
        }
        let probe = WSDiscovery.probe(messageID: id)
        let failure: String? =
            try? await channel.executeThenClose { inbound, _ in
                try await withThrowingTaskGroup(of: Void.self) { tasks -> String? in
                    tasks.addTask {
                        for try await datagram in inbound {
                            let bytes = Array(datagram.data.readableBytesView)
                            let from = datagram.remoteAddress.ipAddress ?? "\(datagram.remoteAddress)"
                            let read = Result { try WSDiscovery.probeMatches(bytes, answering: id) }
                            heard.state.withLock { $0.take(read, from: from) }
                        }
                    }
                    for round in 0..<2 {
                        if round > 0 { try await Task.sleep(for: .milliseconds(100)) }
                        // Written and flushed on the channel itself, to learn whether the
                        // datagram went (the async writer only queues it).
                        do {
                            try await channel.channel.writeAndFlush(
                                AddressedEnvelope(remoteAddress: target, data: ByteBuffer(bytes: probe)))
                        } catch {
                            tasks.cancelAll()
                            return "\(target): the probe could not be sent (\(error))"
                        }
                    }
                    try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                    tasks.cancelAll() // the listening time is over
                    return nil
                }
            } ?? nil
        return failure
    }

    /// What the listeners have heard, read by the prober once they have stopped listening.
    final class Heard: Sendable {
        let state = Mutex(Gathered())
    }

    struct Gathered: Sendable {
        var devices: [DiscoveredDevice] = []
        var unreadable: [String] = []
        var unreadableCount = 0

        mutating func take(_ read: Result<[DiscoveredDevice], any Error>, from: String) {
            switch read {
            case let .success(found):
                for var device in found {
                    device.from = from
                    if let i = devices.firstIndex(where: { $0.endpoint == device.endpoint && $0.from == from }) {
                        // The same device heard twice (both probes, or two interfaces).
                        for address in device.addresses
                        where !devices[i].addresses.contains(address) && devices[i].addresses.count < WSDiscovery.maxAddresses {
                            devices[i].addresses.append(address)
                        }
                    } else if devices.count < DiscoveryProbe.maxDevices {
                        // Another host answering as a device already heard is kept apart,
                        // and both are marked: one of them may be answering in the other's
                        // name (first to answer a multicast probe is not the true one).
                        let twins = devices.indices.filter { devices[$0].endpoint == device.endpoint }
                        for t in twins { devices[t].contested = true }
                        device.contested = !twins.isEmpty
                        devices.append(device)
                    }
                }
            case let .failure(error):
                unreadableCount += 1
                if unreadable.count < 10 { unreadable.append("\(from): \(error)") }
            }
        }

        var result: DiscoveryResult { DiscoveryResult(devices: devices, unreadable: unreadable, unreadableCount: unreadableCount) }
    }
}
