import Foundation
import Testing

@testable import Onvif

func fixture(_ name: String) throws -> [UInt8] {
    let url = try #require(Bundle.module.resourceURL?.appendingPathComponent("Fixtures/\(name)"))
    return [UInt8](try Data(contentsOf: url))
}

func envelope(_ body: String, namespaces: String = "") -> [UInt8] {
    Array(#"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" \#(namespaces)><s:Body>\#(body)</s:Body></s:Envelope>"#.utf8)
}

@Suite("ONVIF: WS-Security UsernameToken")
struct UsernameTokenTests {
    /// Digests computed independently (Python's hashlib and base64) for the same inputs.
    @Test func theDigestIsBase64OfSHA1OfNonceCreatedAndPassword() {
        #expect(
            UsernameToken.digest(nonce: Array(0..<16), created: "2026-12-02T05:00:00Z", password: "Str0ng pass")
                == "cTUFH3TbIUj7/dfQUsxa0WLwbHA=")
        #expect(
            UsernameToken.digest(
                nonce: [0x4c, 0x2a, 0x9f, 0x1e, 0x00, 0xff, 0x7a, 0x33], created: "2001-02-03T04:05:06.789Z", password: "pąss<&>")
                == "NX+noN03c0oi8ZPCkkJ+jC4cM1U=")
    }

    @Test func theHeaderCarriesTheDigestNonceAndCreatedAndEscapesTheName() throws {
        let token = UsernameToken(username: "op<&>\"'", password: "Str0ng pass")
        let request = Soap.envelope(
            body: PTZRequests.getNodes(), security: token.header(nonce: Array(0..<16), created: "2026-12-02T05:00:00Z"))
        // The request is itself well-formed and namespaced: read it back with the same parser.
        let root = try XMLTree.parse(request, action: "test")
        let wsse = OnvifNamespace.security
        let usernameToken = try #require(root.path(OnvifNamespace.soap, "Header")?.path(wsse, "Security", "UsernameToken"))
        #expect(usernameToken.child(wsse, "Username")?.text == "op<&>\"'")
        #expect(usernameToken.child(wsse, "Password")?.text == "cTUFH3TbIUj7/dfQUsxa0WLwbHA=")
        #expect(usernameToken.child(wsse, "Password")?.attributes["Type"]?.hasSuffix("#PasswordDigest") == true)
        #expect(usernameToken.child(wsse, "Nonce")?.text == "AAECAwQFBgcICQoLDA0ODw==")
        #expect(usernameToken.child(OnvifNamespace.utility, "Created")?.text == "2026-12-02T05:00:00Z")
        #expect(root.path(OnvifNamespace.soap, "Body")?.child(OnvifNamespace.ptz, "GetNodes") != nil)
        #expect(!String(decoding: request, as: UTF8.self).contains("Str0ng"), "the password itself was sent")
    }
}

@Suite("ONVIF: the device's clock")
struct DeviceTimeTests {
    @Test func theUTCTimeIsReadFromTheReply() throws {
        #expect(try DeviceTime.parse(try fixture("GetSystemDateAndTime.xml")) == 1_709_251_198 * 1_000_000)
    }

    @Test func aDayThatDoesNotExistOrAFieldOutOfRangeIsRefused() throws {
        let base = String(decoding: try fixture("GetSystemDateAndTime.xml"), as: UTF8.self)
        for (from, to) in [
            ("<tt:Day>29</tt:Day>", "<tt:Day>30</tt:Day>"), ("<tt:Hour>23</tt:Hour>", "<tt:Hour>24</tt:Hour>"),
            ("<tt:Year>2024</tt:Year>", "<tt:Year>-5</tt:Year>"), ("<tt:Minute>59</tt:Minute>", "<tt:Minute>x</tt:Minute>"),
            ("<tt:Month>2</tt:Month>", ""), ("<tt:Year>2024</tt:Year>", "<tt:Year>2100</tt:Year>")
        ] {
            let text = base.replacingOccurrences(of: from, with: to)
            #expect(throws: OnvifError.self, "\(to)") { try DeviceTime.parse(Array(text.utf8)) }
        }
        // 2000 is a leap year (divisible by 400), 2100 is not (above).
        let y2000 = base.replacingOccurrences(of: "<tt:Year>2024</tt:Year>", with: "<tt:Year>2000</tt:Year>")
        #expect(try DeviceTime.parse(Array(y2000.utf8)) == 951_868_798 * 1_000_000)
        do {
            _ = try DeviceTime.parse(Array(base.replacingOccurrences(of: "<tt:Hour>23</tt:Hour>", with: "<tt:Hour>24</tt:Hour>").utf8))
        } catch let OnvifError.malformed(action, reason) {
            #expect(action == "GetSystemDateAndTime" && reason.contains("Time/Hour"))
        }
    }

    /// Property: `created` writes the time `daysFromCivil` reads back, across 1970…2400.
    @Test func createdAndTheCivilCalendarAreInverses() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let seconds = Int64(state % 13_569_465_600) // 1970-01-01 up to 2400-01-01
            let text = DeviceTime.created(localMicros: seconds * 1_000_000 + 999_999, offsetMicros: 0)
            let parts = text.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int($0) }
            #expect(parts.count == 6)
            let back =
                DeviceTime.daysFromCivil(year: parts[0], month: parts[1], day: parts[2]) * 86_400
                + Int64(parts[3] * 3600 + parts[4] * 60 + parts[5])
            #expect(back == seconds, "\(seconds) → \(text)")
        }
        #expect(DeviceTime.created(localMicros: 0, offsetMicros: 1_709_251_198_000_000) == "2024-02-29T23:59:58Z")
        // A device clock no token can carry is held to 1970…9999, however far off it claims.
        #expect(DeviceTime.created(localMicros: 1_000_000, offsetMicros: -2_000_000) == "1970-01-01T00:00:00Z")
        #expect(DeviceTime.created(localMicros: .max, offsetMicros: .max) == "9999-12-31T23:59:59Z")
        #expect(DeviceTime.created(localMicros: .min, offsetMicros: .min) == "1970-01-01T00:00:00Z")
        #expect(DeviceTime.created(localMicros: 4_102_444_800_000_000, offsetMicros: 0) == "2100-01-01T00:00:00Z")
    }
}

@Suite("ONVIF: replies read strictly")
struct OnvifReplyTests {
    @Test func nodesAreReadWithTheirSpacesWhateverThePrefixes() throws {
        let nodes = try PTZReplies.nodes(try fixture("GetNodes.xml"))
        #expect(nodes.count == 1)
        let node = try #require(nodes.first)
        #expect(node.token == "PTZNODE_1" && node.name == "Dome" && node.maximumPresets == 255 && node.homeSupported)
        #expect(node.absolutePanTilt.first?.x == FloatRange(min: -1, max: 1))
        #expect(node.absoluteZoom.first?.x == FloatRange(min: 0, max: 1) && node.absoluteZoom.first?.y == nil)
        #expect(node.continuousPanTilt.first?.uri.hasSuffix("VelocityGenericSpace") == true)
        #expect(node.relativePanTilt.isEmpty && node.relativeZoom.isEmpty)
    }

    @Test func aSpaceThatIsNotAFiniteRangeIsRefused() throws {
        let base = String(decoding: try fixture("GetNodes.xml"), as: UTF8.self)
        for bad in ["<ns2:Min>NaN</ns2:Min>", "<ns2:Min>2</ns2:Min>", "<ns2:Min>-1e300</ns2:Min>", "<ns2:Min></ns2:Min>"] {
            let text = base.replacingOccurrences(of: "<ns2:Min>-1</ns2:Min>", with: bad)
            #expect(throws: OnvifError.self, "\(bad)") { try PTZReplies.nodes(Array(text.utf8)) }
        }
        let presets = base.replacingOccurrences(of: "255", with: "-1")
        #expect(throws: OnvifError.self) { try PTZReplies.nodes(Array(presets.utf8)) }
        let home = base.replacingOccurrences(of: "<ns2:HomeSupported>true", with: "<ns2:HomeSupported>yes")
        #expect(throws: OnvifError.self) { try PTZReplies.nodes(Array(home.utf8)) }
    }

    @Test func statusInADefaultNamespaceIsRead() throws {
        let status = try PTZReplies.status(try fixture("GetStatus.xml"))
        #expect(status.position == PTZPosition(pan: -0.25, tilt: 0.5, zoom: 0.125))
        #expect(status.panTiltMoving == "IDLE" && status.zoomMoving == "MOVING")
    }

    /// ipycam 1.3.0 leaves `{{…}}` placeholders unfilled in GetStatus.
    @Test func anUnfilledPlaceholderIsNotAPosition() throws {
        let text = String(decoding: try fixture("GetStatus.xml"), as: UTF8.self).replacingOccurrences(
            of: "x=\"-0.25\"", with: "x=\"{{pan}}\"")
        #expect(throws: OnvifError.self) { try PTZReplies.status(Array(text.utf8)) }
        let moving = String(decoding: try fixture("GetStatus.xml"), as: UTF8.self).replacingOccurrences(of: ">IDLE<", with: ">{{state}}<")
        #expect(throws: OnvifError.self) { try PTZReplies.status(Array(moving.utf8)) }
    }

    @Test func presetsKeepTheirNamesEntitiesAndCDATAIncluded() throws {
        let presets = try PTZReplies.presets(try fixture("GetPresets.xml"))
        #expect(presets.map(\.token) == ["1", "2"])
        #expect(presets.map(\.name) == ["Rynek & ratusz", "Dworzec <PKP>"])
        #expect(presets[0].position == PTZPosition(pan: 0.1, tilt: -0.2, zoom: 0))
        #expect(presets[1].position == nil)
    }

    @Test func profilesAndTheStreamURIAreRead() throws {
        let profiles = try MediaReplies.profiles(try fixture("GetProfiles.xml"))
        #expect(profiles.map(\.token) == ["MainStream", "SubStream"])
        #expect(
            profiles[0].encoding == "H264" && profiles[0].width == 1920 && profiles[0].height == 1080 && profiles[0].ptzNode == "PTZNODE_1")
        #expect(profiles[1].encoding == "H265" && profiles[1].ptzNode == nil)
        #expect(
            try MediaReplies.streamURI(try fixture("GetStreamUri.xml"))
                == "rtsp://192.0.2.10:554/Streaming/Channels/101?transportmode=unicast&profile=MainStream")
        let http = envelope(
            #"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>http://192.0.2.10/x</tt:Uri></trt:MediaUri></trt:GetStreamUriResponse>"#,
            namespaces: #"xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema""#)
        #expect(throws: OnvifError.self) { try MediaReplies.streamURI(http) }
    }

    @Test func aFaultIsThrownWithItsSubcodeAndReason() throws {
        do {
            _ = try PTZReplies.status(try fixture("Fault-NotAuthorized.xml"))
            Issue.record("a fault was read as a status")
        } catch let error as OnvifError {
            #expect(error == .fault(action: "GetStatus", code: "Sender", subcode: "NotAuthorized", reason: "Sender not Authorized"))
            #expect(error.isNotAuthorized)
        }
        // Many devices refuse a token with WS-Security's own code instead of ONVIF's.
        let wsse = String(decoding: try fixture("Fault-NotAuthorized.xml"), as: UTF8.self)
            .replacingOccurrences(of: "ter:NotAuthorized", with: "wsse:FailedAuthentication")
            .replacingOccurrences(of: "xmlns:ter=", with: #"xmlns:wsse="\#(OnvifNamespace.security)" xmlns:ter="#)
        do {
            _ = try PTZReplies.status(Array(wsse.utf8))
        } catch let error as OnvifError {
            #expect(error.isNotAuthorized)
        }
        #expect(!OnvifError.fault(action: "x", code: "Receiver", subcode: "ActionNotSupported", reason: "").isNotAuthorized)
    }

    @Test func aStreamURIGoesIntoARequestLineOnlyClean() throws {
        func reply(_ uri: String) -> [UInt8] {
            envelope(
                #"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>\#(uri)</tt:Uri></trt:MediaUri></trt:GetStreamUriResponse>"#,
                namespaces: #"xmlns:trt="http://www.onvif.org/ver10/media/wsdl" xmlns:tt="http://www.onvif.org/ver10/schema""#)
        }
        #expect(try MediaReplies.streamURI(reply("rtsp://admin:s3cret@192.0.2.10:554/live?a=1")) == "rtsp://192.0.2.10:554/live?a=1")
        #expect(try MediaReplies.streamURI(reply("rtsp://192.0.2.10/a@b")) == "rtsp://192.0.2.10/a@b")
        for bad in [
            "rtsp://192.0.2.10/live&#13;&#10;Authorization: x", "rtsp://192.0.2.10/li ve", "rtsp://192.0.2.10/łódź", "rtspx://192.0.2.10/"
        ] {
            do {
                _ = try MediaReplies.streamURI(reply(bad))
                Issue.record("accepted \(bad)")
            } catch let OnvifError.malformed(_, reason) {
                #expect(!reason.contains("192.0.2.10"), "the URI is in the error: \(reason)")
            }
        }
        do {
            _ = try MediaReplies.streamURI(reply("http://admin:s3cret@192.0.2.10/"))
        } catch let OnvifError.malformed(_, reason) {
            #expect(!reason.contains("s3cret"))
        }
    }

    @Test func anotherResponseThanTheOneAskedForIsRefused() throws {
        #expect(
            throws: OnvifError.malformed(
                action: "GetPresets", reason: "expected <GetPresetsResponse> in the Body, found <GetStatusResponse>")
        ) {
            try PTZReplies.presets(try fixture("GetStatus.xml"))
        }
    }
}

@Suite("ONVIF: hostile XML")
struct HostileXMLTests {
    /// ipycam 1.3.0 answers PTZ with prefixes it never declares.
    @Test func anUndeclaredPrefixIsRefusedAndNamed() throws {
        do {
            _ = try PTZReplies.status(try fixture("Undeclared-prefix.xml"))
            Issue.record("an undeclared prefix was read")
        } catch let OnvifError.unreadable(action, reason) {
            #expect(action == "GetStatus" && reason.contains("prefix") && reason.contains("not declared"), "\(reason)")
        }
    }

    @Test func onlyUTF8IsReadSoNoEncodingHidesADocumentType() throws {
        let plain = #"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "x">]><r>&a;</r>"#
        var utf16: [UInt8] = [0xFF, 0xFE]
        for unit in plain.utf16 { utf16 += [UInt8(unit & 0xFF), UInt8(unit >> 8)] }
        #expect(throws: OnvifError.unreadable(action: "x", reason: "not UTF-8 XML (it does not begin with <)")) {
            try XMLTree.parse(utf16, action: "x")
        }
        let declared = #"<?xml version="1.0" encoding="UTF-7"?><r>+ADw-</r>"#
        #expect(throws: OnvifError.unreadable(action: "x", reason: "encoding utf-7 (only UTF-8 is read)")) {
            try XMLTree.parse(Array(declared.utf8), action: "x")
        }
        #expect(throws: OnvifError.unreadable(action: "x", reason: "a NUL byte")) {
            try XMLTree.parse(Array("<r>\u{0}</r>".utf8), action: "x")
        }
        let declaredUTF8 = "\u{FEFF}<?xml version='1.0' encoding='utf-8'?><r/>"
        #expect(try XMLTree.parse(Array(declaredUTF8.utf8), action: "x").name == "r")
        #expect(try XMLTree.parse(Array("\r\n <r/>".utf8), action: "x").name == "r")
    }

    @Test func aPrefixedAttributeCannotStandInForThePlainOne() throws {
        let text = #"<r xmlns:evil="urn:e"><p evil:x="9" x="0.5"/><q evil:x="9"/></r>"#
        let root = try XMLTree.parse(Array(text.utf8), action: "x")
        #expect(root.children.map(\.attributes) == [["x": "0.5"], [:]])
    }

    @Test func aLongNamespaceOrTooMuchKeptIsRefused() {
        let long = String(repeating: "u", count: 300)
        #expect(throws: OnvifError.self) { try XMLTree.parse(Array(#"<p:r xmlns:p="urn:\#(long)"/>"#.utf8), action: "x") }
        var limits = XMLLimits()
        limits.retainedBytes = 10_000
        let attributes = "<r>" + String(repeating: #"<a v="\#(String(repeating: "v", count: 500))"/>"#, count: 30) + "</r>"
        #expect(throws: OnvifError.unreadable(action: "x", reason: "more than 10000 bytes kept")) {
            try XMLTree.parse(Array(attributes.utf8), action: "x", limits: limits)
        }
    }

    @Test func aDocumentTypeIsRefusedBeforeParsing() {
        let laughs =
            #"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>"#
            + #"<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>&lol2;</s:Body></s:Envelope>"#
        #expect(throws: OnvifError.self) { try XMLTree.parse(Array(laughs.utf8), action: "x") }
    }

    @Test func limitsOnDepthElementsAttributesTextAndSizeHold() {
        var limits = XMLLimits()
        limits.depth = 8
        let deep = String(repeating: "<a>", count: 9) + String(repeating: "</a>", count: 9)
        #expect(throws: OnvifError.self) { try XMLTree.parse(Array(deep.utf8), action: "x", limits: limits) }
        let fine = String(repeating: "<a>", count: 8) + String(repeating: "</a>", count: 8)
        #expect(throws: Never.self) { try XMLTree.parse(Array(fine.utf8), action: "x", limits: limits) }
        limits = XMLLimits()
        limits.elements = 100
        let many = "<r>" + String(repeating: "<a/>", count: 100) + "</r>"
        #expect(throws: OnvifError.self) { try XMLTree.parse(Array(many.utf8), action: "x", limits: limits) }
        limits = XMLLimits()
        limits.textPerElement = 1000
        let long = "<r>" + String(repeating: "x", count: 1001) + "</r>"
        #expect(throws: OnvifError.self) { try XMLTree.parse(Array(long.utf8), action: "x", limits: limits) }
        limits = XMLLimits()
        limits.bytes = 100
        #expect(throws: OnvifError.self) { try XMLTree.parse(Array(many.utf8), action: "x", limits: limits) }
        let attributes = "<r " + (0..<65).map { "a\($0)=\"1\"" }.joined(separator: " ") + "/>"
        #expect(throws: OnvifError.self) { try XMLTree.parse(Array(attributes.utf8), action: "x") }
    }

    @Test func notXMLAtAllIsUnreadable() {
        for text in ["", "HTTP/1.1 200 OK", "<s:Envelope", "<a></b>", "\u{0}\u{1}"] {
            #expect(throws: OnvifError.self, "\(text.debugDescription)") { try XMLTree.parse(Array(text.utf8), action: "x") }
        }
        #expect(throws: OnvifError.self) { try PTZReplies.status(Array("<html><body>login</body></html>".utf8)) }
    }
}

@Suite("ONVIF: requests")
struct OnvifRequestTests {
    @Test func aVelocityIsClampedFiniteAndTheTimeoutWholeSeconds() throws {
        let body = PTZRequests.continuousMove(
            profile: "Main&1", velocity: PTZVelocity(pan: 3, tilt: -.infinity, zoom: .nan), timeoutSeconds: 0)
        let root = try XMLTree.parse(Soap.envelope(body: body), action: "x")
        let move = try #require(root.path(OnvifNamespace.soap, "Body")?.child(OnvifNamespace.ptz, "ContinuousMove"))
        #expect(move.child(OnvifNamespace.ptz, "ProfileToken")?.text == "Main&1")
        let panTilt = move.child(OnvifNamespace.ptz, "Velocity")?.child(OnvifNamespace.schema, "PanTilt")
        #expect(panTilt?.attributes["x"] == "1.0000" && panTilt?.attributes["y"] == "0.0000")
        #expect(move.child(OnvifNamespace.ptz, "Velocity")?.child(OnvifNamespace.schema, "Zoom")?.attributes["x"] == "0.0000")
        #expect(move.child(OnvifNamespace.ptz, "Timeout")?.text == "PT1S")
        let slow = PTZRequests.continuousMove(profile: "p", velocity: PTZVelocity(pan: -0.123456, tilt: 0.5, zoom: 0), timeoutSeconds: 3600)
        #expect(slow.contains(#"x="-0.1235""#) && slow.contains("PT60S"))
        #expect(PTZRequests.number(-0.00001) == "0.0000" && PTZRequests.number(-1) == "-1.0000" && PTZRequests.number(0.99995) == "1.0000")
        #expect(panTilt?.attributes["space"] == "http://www.onvif.org/ver10/tptz/PanTiltSpaces/VelocityGenericSpace")
    }

    @Test func printingATokenNeverShowsItsPassword() {
        let token = UsernameToken(username: "operator", password: "Str0ng pass")
        for shown in ["\(token)", String(reflecting: token), String(describing: Mirror(reflecting: token).children.map(\.value))] {
            #expect(!shown.contains("Str0ng"), "\(shown)")
        }
    }
}
