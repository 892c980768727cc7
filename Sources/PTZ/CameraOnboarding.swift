// Adding a camera over ONVIF: from its device address and account, what Vigil records of
// it. The main profile is the H.264 or H.265 one with the most pixels (a camera's first
// profile is usually that, but not always); its RTSP URI is the stream recorded, and when
// that profile steers a PTZ node and the device has a PTZ service, the camera is steerable.
// Another H.264 or H.265 profile with fewer pixels is its sub-stream, which small tiles of
// the video wall show and nothing records: the largest up to 1280 pixels wide (a camera's
// second stream, not a CIF third one), or else the smallest.

import Base
import Centre
import Foundation
import Onvif
import Records

public struct OnboardedCamera: Sendable, Equatable {
    public var streamURL: String
    public var onvifURL: String
    public var username: String?
    public var password: String?
    public var profile: String
    /// The profile to steer with, when the camera has PTZ.
    public var ptzProfile: String?
    public var device: DeviceInformation
    /// The host the camera named for its stream, when it was not the device's own (the
    /// stream is recorded from the device's host all the same).
    public var namedStreamHost: String?
    /// The smaller stream for viewing only, and its profile, when the camera has one.
    public var subStreamURL: String?
    public var subProfile: String?

    /// The device as it named itself (`Vigil Simulated PTZ dome, profile main, PTZ`), and
    /// the host it named for its stream when that was not its own.
    public var summary: String {
        "\(Soap.clip(device.manufacturer, 64)) \(Soap.clip(device.model, 64)), profile \(Soap.clip(profile, 64))"
            + (ptzProfile == nil ? ", no PTZ" : ", PTZ")
            + (subProfile.map { ", sub-stream profile \(Soap.clip($0, 64))" } ?? "")
            + (namedStreamHost.map { "; it named \(Soap.clip($0, 64)) for its stream, recorded from its own address instead" } ?? "")
    }

    /// A camera record for `name` with these settings, the password sealed.
    public func record(name: String, retentionDays: Int, keys: SiteKeys) throws -> CameraRecord {
        var c = CameraRecord(id: 0, name: name, url: streamURL, retentionDays: retentionDays)
        c.onvifURL = onvifURL
        c.ptzProfile = ptzProfile
        c.subStreamURL = subStreamURL
        c.username = username
        c.sealedPassword = try password.map { try keys.seal($0) }
        return c
    }
}

public enum CameraOnboarding {
    /// Asks the device at `address` (`http://USER:PASS@HOST:PORT/onvif/device_service`) what
    /// to record and how to steer it.
    public static func inspect(_ address: String, transport: any OnvifTransport = HTTPOnvifTransport.shared) async throws -> OnboardedCamera
    {
        let (endpoint, account) = try OnvifEndpoint.parse(address)
        return try await inspect(endpoint: endpoint, account: account, transport: transport)
    }

    /// The same for an address without credentials and the account apart (the console's
    /// form): credentials in the address itself are refused, so a password never travels
    /// in a field that is shown or logged.
    public static func inspect(
        _ address: String, username: String?, password: String?, transport: any OnvifTransport = HTTPOnvifTransport.shared
    ) async throws -> OnboardedCamera {
        let (endpoint, inAddress) = try OnvifEndpoint.parse(address)
        guard inAddress == nil else {
            throw VigilError(.invalid, "give the camera's user and password in their own fields, not in the ONVIF address")
        }
        let account = username.flatMap { $0.isEmpty ? nil : UsernameToken(username: $0, password: password ?? "") }
        return try await inspect(endpoint: endpoint, account: account, transport: transport)
    }

    static func inspect(endpoint: OnvifEndpoint, account: UsernameToken?, transport: any OnvifTransport) async throws -> OnboardedCamera {
        let device = OnvifDevice(endpoint: endpoint, account: account, transport: transport)
        let information = try await device.information()
        let profiles = try await device.profiles()
        let video = profiles.filter { ["H264", "H265"].contains($0.encoding?.uppercased() ?? "") }
        guard let main = video.max(by: { ($0.width ?? 0) * ($0.height ?? 0) < ($1.width ?? 0) * ($1.height ?? 0) }) ?? profiles.first else {
            throw VigilError(.invalid, "camera \(endpoint) has no media profile")
        }
        let (stream, namedHost) = try Self.onDeviceHost(try await device.streamURI(profile: main.token), endpoint: endpoint)
        var ptzProfile: String?
        if main.ptzNode != nil, try await device.services().ptz != nil {
            ptzProfile = main.token
        } else if let steering = profiles.first(where: { $0.ptzNode != nil }), try await device.services().ptz != nil {
            ptzProfile = steering.token
        }
        var found = OnboardedCamera(
            streamURL: stream, onvifURL: endpoint.description, username: account?.username, password: account?.password,
            profile: main.token, ptzProfile: ptzProfile, device: information, namedStreamHost: namedHost)
        // The sub-stream is a convenience: a profile whose URI the camera will not give, or
        // gives badly, leaves the camera without one rather than unadded.
        let pixels = { (p: MediaProfile) in (p.width ?? 0) * (p.height ?? 0) }
        let smaller = video.filter { $0.token != main.token && pixels($0) > 0 && pixels($0) < pixels(main) }
        let viewing = smaller.filter { ($0.width ?? 0) <= 1280 }.max { pixels($0) < pixels($1) }
        if let sub = viewing ?? smaller.min(by: { pixels($0) < pixels($1) }),
            let uri = try? await device.streamURI(profile: sub.token), let (subStream, _) = try? Self.onDeviceHost(uri, endpoint: endpoint)
        {
            // Kept only as `CameraRules` would store it: an RTSP URL without credentials
            // that is not the recorded stream itself.
            var checked = CameraRecord(id: 0, name: "sub-stream", url: stream, retentionDays: 1)
            if (try? CameraRules.setSubStream(subStream, on: &checked)) != nil, let url = checked.subStreamURL,
                (try? CameraRules.validate(checked)) != nil
            {
                found.subStreamURL = url
                found.subProfile = sub.token
            }
        }
        return found
    }

    /// The stream's URI with the host the operator gave for the device: the recorder will
    /// send the camera's account there, so a camera (or whoever answers in its name) cannot
    /// point it at another machine; a camera behind NAT names its private address anyway.
    /// The host the camera named, when it was another, comes back beside it.
    static func onDeviceHost(_ uri: String, endpoint: OnvifEndpoint) throws -> (String, String?) {
        guard var parts = URLComponents(string: uri), let named = parts.host else {
            throw VigilError(.deviceFailed, "camera \(endpoint) gave a stream URI without a host")
        }
        let bare = named.hasPrefix("[") ? String(named.dropFirst().dropLast()) : named
        guard bare.lowercased() != endpoint.host.lowercased() else { return (uri, nil) }
        parts.percentEncodedHost = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
        guard let rewritten = parts.string else {
            throw VigilError(.deviceFailed, "camera \(endpoint) gave a stream URI that cannot be used")
        }
        return (rewritten, bare)
    }
}
