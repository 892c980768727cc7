#!/usr/bin/python3
"""A real RTSP server that is not Vigil's: GStreamer's gst-rtsp-server (Debian packages
gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, python3-gst-1.0, plugins good/ugly/bad).

Serves one live H.264 or H.265 stream at rtsp://127.0.0.1:PORT/cam with Digest
authentication. The source is `videotestsrc is-live=true`, so every frame carries a fresh
timestamp (a looping file source would restart at 0). Prints READY when listening; exits
on SIGTERM/SIGINT. Run with /usr/bin/python3 (Debian's, which has the gi bindings).
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
gi.require_version("GstRtsp", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8555)
    parser.add_argument("--codec", choices=["h264", "h265"], default="h264")
    parser.add_argument("--user", default="vigil")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    parser.add_argument("--fps", type=int, default=25)
    args = parser.parse_args()

    # A parent may have blocked these (a test runner's threads do); signal masks are
    # inherited across exec, so unblock them or SIGINT/SIGTERM never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    Gst.init(None)
    gop = args.fps  # a key frame every second
    if args.codec == "h264":
        encoder = (f"x264enc tune=zerolatency speed-preset=ultrafast bframes=0 key-int-max={gop} bitrate=800 "
                   "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1")
    else:
        encoder = (f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=800 "
                   "! video/x-h265,profile=main ! rtph265pay name=pay0 pt=96 config-interval=-1")
    launch = (f"( videotestsrc is-live=true pattern=ball ! video/x-raw,width={args.width},height={args.height},"
              f"framerate={args.fps}/1 ! videoconvert ! {encoder} )")

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(True)
    factory.set_protocols(GstRtsp.RTSPLowerTrans.TCP)

    auth = GstRtspServer.RTSPAuth()
    auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    token = GstRtspServer.RTSPToken()
    token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "recorder")
    auth.add_digest(args.user, args.password, token)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_role("recorder")
    permissions.add_permission_for_role("recorder", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
    permissions.add_permission_for_role("recorder", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True)
    factory.set_permissions(permissions)

    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on port {args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
