import Base
import CameraSim
import Foundation
import NIOCore
import NIOPosix
import Testing

@testable import Onvif

/// WS-Discovery: a device's answer read strictly, the probe and the answer written and read
/// back, and a probe over UDP to the simulated cameras and to a hostile responder.
@Suite("ONVIF: WS-Discovery")
struct DiscoveryTests {
    static let probeID = "urn:uuid:8f7b3bd0-1c1e-4f43-9a57-2f1d4bbd6c01"

    @Test func aDevicesAnswerIsReadWithItsAddressesNameAndPlace() throws {
        let devices = try WSDiscovery.probeMatches(try fixture("ProbeMatches.xml"), answering: Self.probeID)
        #expect(devices.count == 2)
        let first = try #require(devices.first)
        #expect(first.endpoint == "urn:uuid:4d454930-0000-1000-8000-bcbac2a1b2c3")
        // The ftp address is not a device service Vigil can use.
        #expect(first.addresses == ["http://192.0.2.71/onvif/device_service", "http://[2001:db8::71]/onvif/device_service"])
        #expect(first.types == ["dn:NetworkVideoTransmitter", "tds:Device"])
        #expect(first.name == "Rynek północ" && first.hardware == "SD-7071" && first.location == "city/Rynek")
        #expect(first.scopes.count == 6)
        let second = devices[1]
        #expect(second.addresses == ["https://192.0.2.72:8443/onvif/device_service"])
        // A name that decodes to a line break is not shown at all.
        #expect(second.name == nil && second.hardware == "SD-7071")
    }

    @Test func ipycamsAnswerIsRefusedInWords() throws {
        let refusal = #expect(throws: OnvifError.self) {
            try WSDiscovery.probeMatches(try fixture("ipycam-ProbeMatch.xml"), answering: Self.probeID)
        }
        #expect(
            "\(refusal.map { "\($0)" } ?? "")".contains("expected <ProbeMatches> in the Body, found <ProbeMatch>"),
            "\(String(describing: refusal))")
    }

    @Test func anAnswerToAnotherProbeIsRefused() throws {
        let refusal = #expect(throws: OnvifError.self) {
            try WSDiscovery.probeMatches(try fixture("ProbeMatches.xml"), answering: "urn:uuid:00000000-0000-4000-8000-000000000000")
        }
        #expect("\(refusal.map { "\($0)" } ?? "")".contains("answers another probe"))
    }

    @Test func hostileAnswersAreRefusedOrCut() throws {
        func answer(_ matches: String, relatesTo: String = DiscoveryTests.probeID) -> [UInt8] {
            Array(
                """
                <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="\(DiscoveryNamespace.addressing)" \
                xmlns:d="\(DiscoveryNamespace.discovery)"><s:Header><a:RelatesTo>\(relatesTo)</a:RelatesTo></s:Header>\
                <s:Body><d:ProbeMatches>\(matches)</d:ProbeMatches></s:Body></s:Envelope>
                """.utf8)
        }
        func match(_ n: Int, address: String = "http://192.0.2.1/onvif/device_service") -> String {
            "<d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:\(n)</a:Address></a:EndpointReference><d:XAddrs>\(address)</d:XAddrs></d:ProbeMatch>"
        }
        func refusal(_ datagram: [UInt8]) -> String {
            do {
                _ = try WSDiscovery.probeMatches(datagram, answering: DiscoveryTests.probeID)
                return "accepted"
            } catch { return "\(error)" }
        }
        // More matches than one answer may hold: the first 32 are kept.
        #expect(try WSDiscovery.probeMatches(answer((1...40).map { match($0) }.joined()), answering: Self.probeID).count == 32)
        // A value past 512 bytes, or with a control or format character, is refused, not cut.
        #expect(refusal(answer(match(1, address: "http://h/" + String(repeating: "a", count: 600)))).contains("longer than 512 bytes"))
        #expect(refusal(answer(match(1, address: "http://h/a&#x85;b"))).contains("control or format character"))
        #expect(refusal(answer(match(1, address: "http://h/a&#x202E;b"))).contains("control or format character"))
        // A match without an endpoint reference, a document type declaration, or a
        // datagram past 64 KiB (here a comment: few elements) is refused, saying which.
        #expect(refusal(answer("<d:ProbeMatch><d:XAddrs>http://h/</d:XAddrs></d:ProbeMatch>")).contains("without an endpoint reference"))
        #expect(refusal(Array("<!DOCTYPE x [<!ENTITY a 'b'>]>".utf8) + answer(match(1))) != "accepted")
        let padded = answer(match(1) + "<!--" + String(repeating: "x", count: 66_000) + "-->")
        #expect(refusal(padded).contains("more than the 65535"), "\(refusal(padded))")
        // A name that decodes to a right-to-left override is not shown.
        let disguised = answer(
            "<d:ProbeMatch><a:EndpointReference><a:Address>urn:uuid:1</a:Address></a:EndpointReference>"
                + "<d:Scopes>onvif://www.onvif.org/name/gate%E2%80%AEcod.exe</d:Scopes></d:ProbeMatch>")
        #expect(try WSDiscovery.probeMatches(disguised, answering: Self.probeID).first?.name == nil)
    }

    /// What the simulated cameras answer is read back as they described themselves, for
    /// text that must be escaped too.
    @Test func anAnswerWrittenIsReadBackTheSame() throws {
        let names = ["dome 1", "Rynek <&> \"pół\"", "a'b"]
        for (i, name) in names.enumerated() {
            let encoded = name.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? name
            let device = DiscoveredDevice(
                endpoint: "urn:uuid:5ea1ed00-0000-4000-8000-00000000000\(i)",
                addresses: ["http://127.0.0.1:8\(i)/onvif/cam1/device_service?a=1&b=2"], types: ["dn:NetworkVideoTransmitter"],
                scopes: ["onvif://www.onvif.org/name/\(encoded)", "onvif://www.onvif.org/location/<&>"], name: name, location: "<&>")
            let datagram = WSDiscovery.probeMatches(relatesTo: "urn:uuid:p-\(i) & <x>", devices: [device], messageNumber: i + 1)
            let read = try WSDiscovery.probeMatches(datagram, answering: "urn:uuid:p-\(i) & <x>")
            #expect(read == [device])
        }
    }

    @Test func aProbeIsReadBackWithItsIdAndWhatItAsksFor() throws {
        let id = WSDiscovery.messageID()
        let read = try WSDiscovery.probeRequest(WSDiscovery.probe(messageID: id))
        #expect(read.messageID == id && read.wantsVideo)
        func probe(types: String) -> [UInt8] {
            Array(
                """
                <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="\(DiscoveryNamespace.addressing)" \
                xmlns:d="\(DiscoveryNamespace.discovery)"><s:Header><a:MessageID>urn:uuid:1</a:MessageID></s:Header>\
                <s:Body><d:Probe>\(types)</d:Probe></s:Body></s:Envelope>
                """.utf8)
        }
        #expect(try WSDiscovery.probeRequest(probe(types: "")).wantsVideo)
        #expect(try !WSDiscovery.probeRequest(probe(types: "<d:Types>p:Printer</d:Types>")).wantsVideo)
        #expect(try WSDiscovery.probeRequest(probe(types: "<d:Types>x:Printer y:NetworkVideoTransmitter</d:Types>")).wantsVideo)
        #expect(throws: OnvifError.self) { try WSDiscovery.probeRequest(try fixture("ProbeMatches.xml")) }
    }

    /// A directed probe to the simulated cameras over UDP on loopback: each camera once,
    /// though the probe goes out twice and each is answered twice.
    @Test func aProbeFindsEachSimulatedCameraOnce() async throws {
        let devices = DiscoveryResponder.devices(cameras: 3, host: "127.0.0.1", onvifPort: 8123)
        let responder = try await DiscoveryResponder.start(devices: devices, host: "127.0.0.1", port: 0, multicast: false)
        let result: DiscoveryResult
        do {
            result = try await DiscoveryProbe.run(to: ["127.0.0.1:\(responder.port)"], seconds: 0.5)
        } catch {
            await responder.close()
            throw error
        }
        await responder.close()
        #expect(result.devices.map(\.endpoint) == devices.map(\.endpoint))
        #expect(result.devices.map(\.addresses) == (1...3).map { ["http://127.0.0.1:8123/onvif/cam\($0)/device_service"] })
        #expect(result.devices.allSatisfy { $0.from == "127.0.0.1" && $0.hardware == "camera-sim" })
        #expect(result.devices.first?.name == "Simulated dome 1")
        #expect(result.unreadableCount == 0)
    }

    /// A responder that answers every probe with garbage, with an answer to another probe,
    /// and with one true answer: the true one is kept, the others counted and said why.
    @Test func aHostileResponderCostsNothingButItsOwnAnswers() async throws {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0) {
            channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
            }
        }
        let port = try #require(channel.channel.localAddress?.port)
        let device = DiscoveredDevice(endpoint: "urn:uuid:true-one", addresses: ["http://127.0.0.1:1/onvif/device_service"])
        let hostile = Task {
            try await channel.executeThenClose { inbound, outbound in
                for try await datagram in inbound {
                    guard let probe = try? WSDiscovery.probeRequest(Array(datagram.data.readableBytesView)) else { continue }
                    for reply in [
                        Array("<not xml".utf8),
                        WSDiscovery.probeMatches(relatesTo: "urn:uuid:someone-else", devices: [device], messageNumber: 1),
                        WSDiscovery.probeMatches(relatesTo: probe.messageID, devices: [device], messageNumber: 2)
                    ] {
                        try await outbound.write(AddressedEnvelope(remoteAddress: datagram.remoteAddress, data: ByteBuffer(bytes: reply)))
                    }
                }
            }
        }
        let result = try await DiscoveryProbe.run(to: ["127.0.0.1:\(port)"], seconds: 0.5)
        try await channel.channel.close()
        _ = await hostile.result
        #expect(result.devices.map(\.endpoint) == ["urn:uuid:true-one"])
        #expect(result.unreadableCount == 4, "\(result.unreadable)")
        #expect(result.unreadable.contains { $0.hasPrefix("127.0.0.1: ") && $0.contains("answers another probe") }, "\(result.unreadable)")
        #expect(result.unreadable.contains { $0.contains("not well-formed") }, "\(result.unreadable)")
    }

    /// A target that cannot be sent to costs only itself: the others are probed and the
    /// failure said; when every target fails, the probe fails in words.
    @Test func aTargetThatCannotBeProbedIsSaidAndTheOthersAreStillProbed() async throws {
        let devices = DiscoveryResponder.devices(cameras: 1, host: "127.0.0.1", onvifPort: 8123)
        let responder = try await DiscoveryResponder.start(devices: devices, host: "127.0.0.1", port: 0, multicast: false)
        let unsendable = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        let result: DiscoveryResult
        do {
            result = try await DiscoveryProbe.run(
                targets: [unsendable, try SocketAddress(ipAddress: "127.0.0.1", port: responder.port)], seconds: 0.5)
        } catch {
            await responder.close()
            throw error
        }
        await responder.close()
        #expect(result.devices.map(\.endpoint) == devices.map(\.endpoint))
        #expect(result.failures.count == 1 && result.failures[0].contains("could not be sent"), "\(result.failures)")
        let error = await #expect(throws: VigilError.self) { try await DiscoveryProbe.run(targets: [unsendable], seconds: 0.5) }
        #expect(error?.code == .deviceFailed && error?.message.contains("could not be sent") == true, "\(String(describing: error))")
    }

    /// Two hosts answering as one device are both listed and both marked, whichever
    /// answered first: the first answer to a multicast probe need not be the true one.
    @Test func twoHostsAnsweringAsOneDeviceAreBothMarked() async throws {
        let devices = DiscoveryResponder.devices(cameras: 1, host: "127.0.0.1", onvifPort: 8123)
        var forged = devices[0]
        forged.addresses = ["http://127.0.0.2:8123/onvif/cam1/device_service"]
        let genuine = try await DiscoveryResponder.start(devices: devices, host: "127.0.0.1", port: 0, multicast: false)
        let impostor = try await DiscoveryResponder.start(devices: [forged], host: "127.0.0.2", port: 0, multicast: false)
        let result: DiscoveryResult
        do {
            result = try await DiscoveryProbe.run(to: ["127.0.0.1:\(genuine.port)", "127.0.0.2:\(impostor.port)"], seconds: 0.5)
        } catch {
            await genuine.close()
            await impostor.close()
            throw error
        }
        await genuine.close()
        await impostor.close()
        #expect(Set(result.devices.map(\.from)) == ["127.0.0.1", "127.0.0.2"], "\(result.devices)")
        #expect(result.devices.count == 2 && result.devices.allSatisfy(\.contested), "\(result.devices)")
    }

    @Test func targetsAreMulticastOrAnIPAddressAndPort() throws {
        #expect(try DiscoveryProbe.target("multicast").ipAddress == "239.255.255.250")
        #expect(try DiscoveryProbe.target("[::1]:3702").port == 3702)
        #expect(try DiscoveryProbe.target("127.0.0.1:3702").ipAddress == "127.0.0.1")
        for bad in ["camera.local:3702", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:70000", ""] {
            #expect(throws: VigilError.self, "\(bad)") { try DiscoveryProbe.target(bad) }
        }
    }
}
