import Foundation
import Media

/// A session description (RFC 4566), reduced to what a recorder needs: the session-level
/// control URL and every media section with its attributes. Unknown lines and
/// attributes are kept or skipped, never fatal; line endings may be CRLF or LF and values
/// may carry trailing whitespace (both seen on real cameras).
public struct SessionDescription: Sendable {
    public struct Media: Sendable {
        /// "video", "audio", "application"...
        public var type: String
        public var proto: String
        public var formats: [String]
        /// `a=` lines in order: name and (possibly empty) value.
        public var attributes: [(name: String, value: String)]

        public func attribute(_ name: String) -> String? { attributes.first { $0.name == name }?.value }
        public var control: String? { attribute("control") }
    }

    public var sessionAttributes: [(name: String, value: String)] = []
    public var media: [Media] = []

    public var sessionControl: String? { sessionAttributes.first { $0.name == "control" }?.value }

    public init(parsing text: String) throws {
        var current: Media? = nil
        var sawVersion = false
        for (number, rawLine) in text.split(omittingEmptySubsequences: true, whereSeparator: { $0.isNewline }).enumerated() {
            let line = rawLine.trimmingWhitespace()
            guard line.count >= 2, line.dropFirst().first == "=" else { continue }
            let type = line.first!
            let value = String(line.dropFirst(2))
            switch type {
            case "v":
                sawVersion = true
            case "m":
                if let m = current { media.append(m) }
                let fields = value.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard fields.count >= 3 else {
                    throw RTSPError(.sdp("line \(number + 1): media line \"\(value)\" has fewer than 3 fields"))
                }
                current = Media(type: fields[0], proto: fields[2], formats: Array(fields.dropFirst(3)), attributes: [])
            case "a":
                let attribute: (String, String)
                if let colon = value.firstIndex(of: ":") {
                    attribute = (String(value[..<colon]), String(value[value.index(after: colon)...]).trimmingWhitespace())
                } else {
                    attribute = (value, "")
                }
                if current != nil { current!.attributes.append(attribute) } else { sessionAttributes.append(attribute) }
            default:
                continue
            }
        }
        if let m = current { media.append(m) }
        guard sawVersion || !media.isEmpty else {
            throw RTSPError(.sdp("no v= line and no media: not an SDP body"))
        }
    }
}

/// A video stream the camera offers, as the recorder sees it.
public struct VideoTrack: Sendable {
    public var codec: VideoCodec
    public var payloadType: UInt8
    public var clockRate: Int
    /// The control attribute as written in the SDP (resolve it against the base URL).
    public var control: String?
    /// `a=fmtp` parameters with lower-cased names.
    public var formatParameters: [String: String]
    /// Parameter sets from `sprop-parameter-sets` / `sprop-vps,sps,pps`, when usable.
    public var parameters: VideoParameters?
    /// Why the out-of-band parameter sets were not usable, if they were present but broken.
    public var parameterSetProblem: String?

    /// The first H.264 or H.265 track of a session description (RFC 6184 §8.1,
    /// RFC 7798 §7.1). Other media (audio, ONVIF metadata) are ignored.
    public static func first(in sdp: SessionDescription, policies: QuirkPolicies) throws -> VideoTrack {
        var reasons: [String] = []
        for m in sdp.media where m.type == "video" {
            for format in m.formats {
                guard let pt = UInt8(format) else { continue }
                let rtpmap = m.attributes.first { $0.name == "rtpmap" && $0.value.hasPrefix(format + " ") }?.value
                guard let rtpmap else {
                    reasons.append("payload type \(pt) has no rtpmap")
                    continue
                }
                let encoding = rtpmap.dropFirst(format.count + 1).trimmingWhitespace()
                let pieces = encoding.split(separator: "/")
                let name = pieces.first.map { $0.uppercased() } ?? ""
                let codec: VideoCodec
                switch name {
                case "H264": codec = .h264
                case "H265", "HEVC": codec = .h265
                default:
                    reasons.append("payload type \(pt) is \(name), not H.264/H.265")
                    continue
                }
                let clockRate = pieces.count > 1 ? Int(pieces[1]) ?? 0 : 0
                guard clockRate == 90_000 else {
                    throw RTSPError(.sdp("\(name) clock rate \(clockRate), expected 90000 (RFC 6184 §8.2.1)"))
                }
                let fmtpLine = m.attributes.first { $0.name == "fmtp" && $0.value.hasPrefix(format + " ") }?.value
                let fmtp = fmtpLine.map { parseFormatParameters(String($0.dropFirst(format.count + 1))) } ?? [:]
                var track = VideoTrack(
                    codec: codec, payloadType: pt, clockRate: clockRate, control: m.control,
                    formatParameters: fmtp, parameters: nil, parameterSetProblem: nil)
                do {
                    track.parameters = try outOfBandParameters(codec: codec, fmtp: fmtp)
                } catch {
                    if policies.parameterSets == .reject { throw RTSPError(.sdp("unusable parameter sets: \(error)")) }
                    track.parameterSetProblem = "\(error)"
                }
                return track
            }
        }
        throw RTSPError(.noUsableVideoTrack(reasons.isEmpty ? "no video media section" : reasons.joined(separator: "; ")))
    }

    /// Splits "a=b; c=d" (RFC 4566 `a=fmtp`), splitting each pair at its first "=" so that
    /// base64 padding survives.
    static func parseFormatParameters(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in text.split(separator: ";") {
            let trimmed = pair.trimmingWhitespace()
            guard !trimmed.isEmpty else { continue }
            if let eq = trimmed.firstIndex(of: "=") {
                out[trimmed[..<eq].trimmingWhitespace().lowercased()] = trimmed[trimmed.index(after: eq)...].trimmingWhitespace()
            } else {
                out[trimmed.lowercased()] = ""
            }
        }
        return out
    }

    static func outOfBandParameters(codec: VideoCodec, fmtp: [String: String]) throws -> VideoParameters? {
        switch codec {
        case .h264:
            guard let sprop = fmtp["sprop-parameter-sets"], !sprop.isEmpty else { return nil }
            let units = try sprop.split(separator: ",").flatMap { try decodeParameterSet(String($0)) }
            guard let sps = units.first(where: { H264.nalType($0[0]) == H264.NALType.sps }),
                let pps = units.first(where: { H264.nalType($0[0]) == H264.NALType.pps })
            else {
                throw RTSPError(.sdp("sprop-parameter-sets lacks an SPS or a PPS"))
            }
            return try VideoParameters(h264SPS: sps, pps: pps)
        case .h265:
            guard let v = fmtp["sprop-vps"], let s = fmtp["sprop-sps"], let p = fmtp["sprop-pps"] else { return nil }
            let vps = try decodeParameterSet(v), sps = try decodeParameterSet(s), pps = try decodeParameterSet(p)
            guard let vps0 = vps.first, let sps0 = sps.first, let pps0 = pps.first else {
                throw RTSPError(.sdp("empty sprop-vps/sps/pps"))
            }
            return try VideoParameters(h265VPS: vps0, sps: sps0, pps: pps0)
        }
    }

    /// Base64 (with or without padding) of one or more NAL units; Annex B start codes
    /// inside the decoded bytes split it into several (a GW Security quirk).
    static func decodeParameterSet(_ text: String) throws -> [[UInt8]] {
        var b64 = text.trimmingWhitespace()
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64), !data.isEmpty else {
            throw RTSPError(.sdp("parameter set \"\(text.prefix(40))\" is not base64"))
        }
        // Read as if preceded by a start code: a plain NAL unit comes back whole, and start
        // codes inside (or trailing) split and trim it.
        let units = NALUnits.splitAnnexB([0, 0, 1] + [UInt8](data)).map(Array.init)
        guard !units.isEmpty else { throw RTSPError(.sdp("parameter set \"\(text.prefix(40))\" holds no NAL unit")) }
        return units
    }
}

/// `Transport` header values (RFC 2326 §12.39), in any parameter order.
public struct TransportHeader: Sendable, Equatable {
    public var interleaved: ClosedRange<UInt8>?
    public var ssrc: UInt32?
    public var isTCP: Bool

    public init(parsing value: String) {
        let first = value.split(separator: ",").first.map(String.init) ?? value
        let params = first.split(separator: ";").map { $0.trimmingWhitespace() }
        isTCP = params.first?.uppercased().hasSuffix("/TCP") ?? false
        interleaved = nil
        ssrc = nil
        for p in params {
            let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
            guard kv.count == 2 else { continue }
            switch kv[0].lowercased() {
            case "interleaved":
                let ends = kv[1].split(separator: "-").compactMap { UInt8($0) }
                if ends.count == 2, ends[0] <= ends[1] {
                    interleaved = ends[0]...ends[1]
                } else if ends.count == 1 {
                    interleaved = ends[0]...ends[0]
                }
            case "ssrc":
                ssrc = UInt32(kv[1].trimmingWhitespace(), radix: 16)
            default:
                break
            }
        }
    }
}

/// `Session` header (RFC 2326 §12.37): "id[;timeout=seconds]", spaces tolerated.
public struct SessionHeader: Sendable, Equatable {
    public var id: String
    /// Seconds; RFC 2326 defaults to 60.
    public var timeout: Int

    public init?(parsing value: String) {
        let parts = value.split(separator: ";").map { $0.trimmingWhitespace() }
        guard let id = parts.first, !id.isEmpty else { return nil }
        self.id = id
        timeout = 60
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].trimmingWhitespace().lowercased() == "timeout", let t = Int(kv[1].trimmingWhitespace()), t > 0 {
                timeout = t
            }
        }
    }
}

/// One entry of an `RTP-Info` header (RFC 2326 §12.33).
public struct RTPInfoEntry: Sendable, Equatable {
    public var url: String
    public var sequenceNumber: UInt16?
    public var rtpTime: UInt32?

    /// Parses the header; an unparseable `rtptime` (`-1`) is dropped or rejected per policy.
    public static func parse(_ value: String, policy: QuirkPolicies.RTPInfoPolicy) throws -> [RTPInfoEntry] {
        var out: [RTPInfoEntry] = []
        // Entries are separated by commas that precede "url=".
        for item in value.components(separatedBy: ",url=").enumerated().map({ $0.offset == 0 ? $0.element : "url=" + $0.element }) {
            var entry = RTPInfoEntry(url: "", sequenceNumber: nil, rtpTime: nil)
            for p in item.split(separator: ";") {
                let kv = p.split(separator: "=", maxSplits: 1).map { $0.trimmingWhitespace() }
                guard kv.count == 2 else { continue }
                switch kv[0].lowercased() {
                case "url": entry.url = kv[1]
                case "seq": entry.sequenceNumber = UInt16(kv[1])
                case "rtptime":
                    if let t = UInt32(kv[1]) {
                        entry.rtpTime = t
                    } else if policy == .reject {
                        throw RTSPError(.malformedMessage("RTP-Info rtptime \"\(kv[1])\" is not a 32-bit unsigned number"))
                    }
                default: break
                }
            }
            out.append(entry)
        }
        return out
    }
}
