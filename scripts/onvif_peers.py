#!/usr/bin/env python3
"""Both ends of Vigil's ONVIF against code Vigil did not write (issue 15).

1. Vigil's client against ipycam 1.3.0 (PyPI), a Python ONVIF camera with digital PTZ:
   its own ONVIF service, PTZ controller, WS-Security check, HTTP handler and WS-Discovery
   server, run by this script inside a network namespace of its own (`unshare -n`, with
   loopback up and a multicast route on it), because ipycam announces itself and answers
   probes on 239.255.255.250:3702 and must not do so on the machine's network. Its camera
   process (a video source) is not started: only its ONVIF side is checked. The known
   faults of 1.3.0 are corrected by this launcher: PTZ replies use the `ptz:`/`tptz:`
   prefixes without declaring them, GetStatus returns unfilled `{{...}}` placeholders,
   SetPreset ignores the requested token, GotoPreset of an unknown preset succeeds, and
   its ProbeMatch is not WS-Discovery's (no ProbeMatches around it, the endpoint
   reference in the wrong namespace, an unescaped space in a scope). Vigil's parser stays
   strict: with the corrections off, Vigil refuses the reply and says why.
   Vigil is driven as a user drives it: `vigil camera discover`, `vigil camera add
   --onvif`, `vigil serve`, the HTTP API; the camera's state is read from ipycam's own
   controller.
2. onvif-zeep-async (PyPI; zeep over the ONVIF WSDLs) against `vigil simulate
   --onvif-port`: device information, profiles, stream URI, PTZ moves, status, presets
   and home, and a wrong password refused.

Usage: onvif_peers.py --vigil .build/debug/vigil
The last line is `onvif-peers: every check passed`, or the script exits 1.
"""

import argparse
import asyncio
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from http.server import ThreadingHTTPServer

PTZ_NS = "http://www.onvif.org/ver20/ptz/wsdl"
failures = []


def check(condition, what):
    print(f"onvif-peers: {'ok  ' if condition else 'FAIL'} {what}", flush=True)
    if not condition:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


# ---- 1. ipycam, served by its own handler, with the launcher's corrections ----


def start_ipycam(port, user, password, workdir):
    from ipycam.config import CameraConfig
    from ipycam.http import IPCameraHTTPHandler
    from ipycam.onvif import ONVIFService
    from ipycam.ptz import PTZController

    class CorrectedONVIF(ONVIFService):
        correct = True

        def _wrap_envelope(self, body):
            envelope = super()._wrap_envelope(body)
            if self.correct:  # declare the prefixes the PTZ templates use
                envelope = envelope.replace(
                    'xmlns:trt=', f'xmlns:ptz="{PTZ_NS}" xmlns:tptz="{PTZ_NS}" xmlns:trt=', 1)
            return envelope

        def ptz_get_status(self, body):
            reply = super().ptz_get_status(body)
            if self.correct:  # fill what the template leaves as {{...}}
                moving = "MOVING" if self.ptz.get_status()["moving"] else "IDLE"
                now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                reply = (reply.replace("{{pan_tilt_status}}", moving).replace("{{zoom_status}}", moving)
                         .replace("{{utc_time}}", now))
            return reply

        def ptz_set_preset(self, body):
            if not self.correct:
                return super().ptz_set_preset(body)
            # The requested token is an element, not an attribute of SetPreset.
            token = self._extract_xml_value(body, "PresetToken")
            name = self._extract_xml_value(body, "PresetName") or "Preset"
            if not token:
                return super().ptz_set_preset(body)
            self.ptz.set_preset(token, name)
            return self._wrap_envelope(self._render("ptz_set_preset", preset_token=token))

        def ptz_goto_preset(self, body):
            token = self._extract_xml_value(body, "PresetToken")
            if self.correct and token not in self.ptz.get_presets():
                return self.fault("no such preset")
            return super().ptz_goto_preset(body)

        def create_probe_match(self, relates_to):
            reply = super().create_probe_match(relates_to)
            if not self.correct:
                return reply
            # WS-Discovery's shape: ProbeMatches around the match, the endpoint reference
            # in WS-Addressing's namespace, the action's name, a scope without a space.
            name = f"onvif://www.onvif.org/name/{self.config.name}"
            return (reply.replace("<d:ProbeMatch>", "<d:ProbeMatches><d:ProbeMatch>")
                    .replace("</d:ProbeMatch>", "</d:ProbeMatch></d:ProbeMatches>")
                    .replace("d:EndpointReference", "wsa:EndpointReference")
                    .replace("discovery/ProbeMatch<", "discovery/ProbeMatches<")
                    .replace(name, name.replace(" ", "%20")))

    os.chdir(workdir)  # ipycam keeps its presets in ./ptz_presets.json
    config = CameraConfig(local_ip="127.0.0.1", onvif_port=port, name="ipycam dome")
    config.set_credentials(user, password)
    controller = PTZController()
    service = CorrectedONVIF(config, controller)

    class Camera:  # what IPCameraHTTPHandler reads of the camera
        pass

    camera = Camera()
    camera.config = config
    camera.onvif = service
    camera.ptz = controller
    IPCameraHTTPHandler.camera = camera
    server = ThreadingHTTPServer(("127.0.0.1", port), IPCameraHTTPHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, service, controller


class Console:
    """Vigil's HTTP API as the console uses it: a session cookie and the CSRF header."""

    def __init__(self, port):
        self.port = port
        self.cookie = None
        self.csrf = None

    def request(self, method, path, body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if self.cookie:
            headers["Cookie"] = self.cookie
        if self.csrf and method != "GET":
            headers["X-CSRF-Token"] = self.csrf
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        response = connection.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        connection.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return response.status, parsed

    def sign_in(self, user, password):
        status, body = self.request("POST", "/api/session", {"username": user, "password": password})
        self.csrf = body and body.get("csrfToken")
        return status


def discover(vigil):
    """`vigil camera discover` as an administrator runs it: its output lines."""
    found = subprocess.run([vigil, "camera", "discover", "--seconds", "1"], capture_output=True, text=True, timeout=60)
    return found.returncode, found.stdout + found.stderr


def vigil_against_ipycam(vigil, workdir):
    from ipycam.discovery import WSDiscoveryServer

    onvif_port, web_port = free_port(), free_port()
    server, service, controller = start_ipycam(onvif_port, "admin", "ipycam pass 1", workdir)
    discovery = WSDiscoveryServer(service)
    discovery.start()
    address = f"http://127.0.0.1:{onvif_port}/onvif/device_service"
    status, output = discover(vigil)
    check(status == 0 and f"{address}\tipycam dome" in output and "1 device answered" in output,
          f"vigil camera discover finds ipycam by multicast ({output.strip()[-400:]})")
    service.correct = False
    status, output = discover(vigil)
    check(status == 0 and "0 devices answered" in output and "expected <ProbeMatches> in the Body, found <ProbeMatch>" in output,
          f"ipycam's own ProbeMatch is refused, in words ({output.strip()[-400:]})")
    service.correct = True
    data = os.path.join(workdir, "data")
    added = subprocess.run(
        [vigil, "camera", "add", "--data", data, "ipycam", "--disabled", "--onvif",
         f"http://admin@127.0.0.1:{onvif_port}/onvif/device_service"],
        input="ipycam pass 1\n", capture_output=True, text=True, timeout=60)
    check(added.returncode == 0 and "PTZ: yes" in added.stdout,
          f"vigil camera add --onvif finds ipycam's stream and PTZ ({added.stdout.strip()} {added.stderr.strip()[-300:]})")
    subprocess.run([vigil, "user", "add", "--data", data, "watcher", "--role", "operator"],
                   input="a long passphrase 7\n", capture_output=True, text=True, timeout=60, check=True)
    serve = subprocess.Popen([vigil, "serve", "--data", data, "--listen", f"127.0.0.1:{web_port}"],
                             stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "serve.log"), "w"))
    try:
        check(wait_for_port(web_port), "vigil serve listens")
        console = Console(web_port)
        check(console.sign_in("watcher", "a long passphrase 7") == 200, "the operator signs in")
        ptz = "/api/cameras/1/ptz"

        status, _ = console.request("POST", ptz + "/move", {"pan": 0.8, "tilt": 0.0, "zoom": 0.0})
        check(status == 200, f"a move through Vigil reaches ipycam ({status})")
        time.sleep(0.6)
        status, _ = console.request("POST", ptz + "/stop")
        check(status == 200, f"stop ({status})")
        time.sleep(0.2)
        state = controller.get_status()
        check(state["pan"] > 0.05 and not state["moving"], f"ipycam's dome panned right and stopped ({state})")

        status, view = console.request("GET", ptz)
        check(status == 200 and view and abs(view["pan"] - controller.get_status()["pan"]) < 1e-3,
              f"Vigil reads ipycam's position back ({status} {view})")
        until = (view or {}).get("control", {}).get("until", "")
        check(until.endswith("Z") and until.startswith(str(datetime.now(timezone.utc).year)),
              f"the lease's end is an ISO 8601 time ({until})")

        status, _ = console.request("PUT", ptz + "/presets/Gate")
        saved = controller.get_status()
        names = [p.name for p in controller.get_presets().values()]
        check(status == 204 and "Gate" in names, f"a preset saved through Vigil is ipycam's ({status} {names})")
        console.request("POST", ptz + "/move", {"pan": -0.8, "tilt": 0.5, "zoom": 0.0})
        time.sleep(0.5)
        console.request("POST", ptz + "/stop")
        away = controller.get_status()
        check(abs(away["tilt"] - saved["tilt"]) > 0.05, f"the dome moved away from the preset ({saved} -> {away})")
        status, _ = console.request("POST", ptz + "/presets/Gate/goto")
        time.sleep(0.3)
        back = controller.get_status()
        check(status == 204 and abs(back["pan"] - saved["pan"]) < 0.02 and abs(back["tilt"] - saved["tilt"]) < 0.02,
              f"going to the preset brings ipycam back ({saved} -> {back})")
        status, body = console.request("DELETE", ptz + "/presets/Gate")
        check(status == 502 and body and "refused" in body.get("error", ""),
              f"ipycam has no RemovePreset: Vigil says the camera refused ({status} {body})")

        # Without the corrections Vigil refuses ipycam's PTZ replies, and says why.
        service.correct = False
        status, body = console.request("GET", ptz)
        error = (body or {}).get("error", "")
        check(status == 502 and "prefix" in error, f"an undeclared prefix is refused, in words ({status} {error})")
        service.correct = True
    finally:
        serve.terminate()
        serve.wait(timeout=30)
        discovery.stop()
        server.shutdown()


def in_own_network(vigil):
    """Runs part 1 in a network namespace of its own: this script again, under `unshare -n`,
    with loopback up and the multicast group routed to it. Its check lines are its own."""
    setup = ("ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo && "
             f'exec "{sys.executable}" "{os.path.abspath(__file__)}" --vigil "{vigil}" --ipycam-here')
    child = subprocess.run(["unshare", "-n", "sh", "-c", setup], timeout=600)
    if child.returncode != 0:
        failures.append("Vigil against ipycam in its own network namespace")


# ---- 2. onvif-zeep-async against Vigil's simulated dome ----


async def zeep_against_vigil(vigil, workdir):
    from onvif import ONVIFCamera

    rtsp_port, onvif_port = free_port(), free_port()
    simulator = subprocess.Popen(
        [vigil, "simulate", "--cameras", "1", "--port", str(rtsp_port), "--onvif-port", str(onvif_port),
         "--still-picture", "--user", "zeep", "--password", "zeep pass 1"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "simulate.log"), "w"))
    try:
        check(wait_for_port(onvif_port), "vigil simulate serves ONVIF")
        camera = ONVIFCamera("127.0.0.1", onvif_port, "zeep", "zeep pass 1", adjust_time=True)
        await camera.update_xaddrs()
        device = await camera.create_devicemgmt_service()
        info = await device.GetDeviceInformation()
        check(info.Model == "Simulated PTZ dome", f"GetDeviceInformation ({info.Manufacturer} {info.Model})")
        media = await camera.create_media_service()
        profiles = await media.GetProfiles()
        check([p.token for p in profiles] == ["main"] and profiles[0].PTZConfiguration is not None,
              "GetProfiles: the main profile with its PTZ configuration")
        uri = await media.GetStreamUri({"StreamSetup": {"Stream": "RTP-Unicast", "Transport": {"Protocol": "RTSP"}},
                                        "ProfileToken": "main"})
        check(uri.Uri == f"rtsp://127.0.0.1:{rtsp_port}/cam1", f"GetStreamUri ({uri.Uri})")
        ptz = await camera.create_ptz_service()
        nodes = await ptz.GetNodes()
        check(len(nodes) == 1 and nodes[0].HomeSupported, "GetNodes")

        async def position():
            status = await ptz.GetStatus({"ProfileToken": "main"})
            return status.Position.PanTilt.x, status.Position.PanTilt.y, status.Position.Zoom.x

        await ptz.ContinuousMove({"ProfileToken": "main", "Velocity": {"PanTilt": {"x": 0.5, "y": -0.5}, "Zoom": {"x": 0.5}},
                                  "Timeout": "PT5S"})
        await asyncio.sleep(0.5)
        await ptz.Stop({"ProfileToken": "main", "PanTilt": True, "Zoom": True})
        pan, tilt, zoom = await position()
        check(pan > 0.05 and tilt < -0.05 and zoom > 0.02, f"ContinuousMove and Stop move the dome ({pan}, {tilt}, {zoom})")
        token = await ptz.SetPreset({"ProfileToken": "main", "PresetName": "Square"})
        presets = await ptz.GetPresets({"ProfileToken": "main"})
        check([p.Name for p in presets] == ["Square"] and presets[0].token == token, "SetPreset and GetPresets")
        await ptz.AbsoluteMove({"ProfileToken": "main", "Position": {"PanTilt": {"x": -0.5, "y": 0.5}, "Zoom": {"x": 0.25}}})
        check(await position() == (-0.5, 0.5, 0.25), "AbsoluteMove")
        await ptz.GotoPreset({"ProfileToken": "main", "PresetToken": token})
        check(await position() == (pan, tilt, zoom), "GotoPreset returns to the preset")
        await ptz.GotoHomePosition({"ProfileToken": "main"})
        check(await position() == (0.0, 0.0, 0.0), "GotoHomePosition")
        await ptz.RemovePreset({"ProfileToken": "main", "PresetToken": token})
        check(len(await ptz.GetPresets({"ProfileToken": "main"}) or []) == 0, "RemovePreset")
        await camera.close()

        wrong = ONVIFCamera("127.0.0.1", onvif_port, "zeep", "not the password", adjust_time=True)
        try:
            await wrong.update_xaddrs()
            refused = False
        except Exception as error:  # the library wraps the device's Fault; its words say why
            text = f"{error!r} {getattr(error, 'message', '')} {getattr(error, 'code', '')}"
            refused = "NotAuthorized" in text or "password is wrong" in text
            if not refused:
                print(f"onvif-peers: the refusal was {text[:300]}", flush=True)
        await wrong.close()
        check(refused, "a wrong password is refused")
    finally:
        simulator.terminate()
        simulator.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--vigil", required=True)
    parser.add_argument("--ipycam-here", action="store_true",
                        help="run part 1 in this process (inside the namespace that the script makes for it)")
    args = parser.parse_args()
    vigil = os.path.abspath(args.vigil)
    with tempfile.TemporaryDirectory(prefix="onvif-peers-") as workdir:
        if args.ipycam_here:
            try:
                vigil_against_ipycam(vigil, workdir)
            except Exception as error:
                check(False, f"Vigil against ipycam: {type(error).__name__}: {error}")
            sys.exit(1 if failures else 0)
        in_own_network(vigil)
        try:
            asyncio.run(zeep_against_vigil(vigil, workdir))
        except Exception as error:
            check(False, f"onvif-zeep-async against Vigil: {type(error).__name__}: {error}")
    if failures:
        print(f"onvif-peers: {len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("onvif-peers: every check passed", flush=True)


if __name__ == "__main__":
    main()
