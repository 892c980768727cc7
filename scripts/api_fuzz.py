#!/usr/bin/env python3
"""The HTTP API under a fuzzer we did not write: schemathesis against a live `vigil serve`.

Starts a server on a fresh data directory with one camera and one user per role, then
runs schemathesis (every check it has) against docs/openapi.json once per role, each
with that role's API token, and finally checks that the server is still answering.
Exit status 0 only when every run passed and the server lived through them.

  scripts/api_fuzz.py --vigil .build/debug/vigil [--examples 5] [--seed 1] [--roles ...]

CI runs it with a few examples per operation and a fixed seed (scripts/test.sh); longer
runs: --examples 200 --seed random (docs/design/security.md).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import http.cookiejar

# The administrator goes last: its run edits accounts, which would get in the others' way.
ROLES = ["operator", "guard-duty", "police-duty", "investigator", "prosecutor", "court", "media-officer", "supervisor", "admin"]


def password(role):
    return f"schemathesis {role} passphrase"


def token(base, role):
    """Signs in as the role's user and issues an API token (shown once)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = json.dumps({"username": f"u-{role}", "password": password(role)}).encode()
    reply = opener.open(urllib.request.Request(base + "/api/session", data=body, headers={"Content-Type": "application/json"}))
    csrf = json.load(reply)["csrfToken"]
    body = json.dumps({"name": "schemathesis"}).encode()
    reply = opener.open(urllib.request.Request(base + "/api/tokens", data=body,
                                               headers={"Content-Type": "application/json", "X-CSRF-Token": csrf}))
    return json.load(reply)["token"]


def wait_for(path, text, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if os.path.exists(path) and text in open(path, errors="replace").read():
            return True
        time.sleep(0.2)
    return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vigil", default=".build/debug/vigil")
    parser.add_argument("--schemathesis", default=shutil.which("schemathesis") or "schemathesis")
    parser.add_argument("--examples", type=int, default=5, help="examples per operation and phase")
    parser.add_argument("--seed", default="1", help="a number, or 'random'")
    parser.add_argument("--port", type=int, default=18900)
    parser.add_argument("--roles", nargs="*", default=ROLES)
    parser.add_argument("--keep", action="store_true", help="keep the data directory and logs")
    args = parser.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    vigil = os.path.abspath(args.vigil)
    work = tempfile.mkdtemp(prefix="vigil-api-fuzz-")
    data, log = f"{work}/data", f"{work}/serve.log"

    def run(*argv, stdin=None):
        subprocess.run([vigil, *argv], input=stdin, text=True, check=True, stdout=subprocess.DEVNULL)

    run("camera", "add", "--data", data, "gate", "rtsp://127.0.0.1:9/none")
    for role in ROLES:
        run("user", "add", "--data", data, f"u-{role}", "--role", role, stdin=password(role) + "\n")
    # The fuzzer authenticates with bearer tokens: its copy of the document offers that
    # scheme alone (with both, it sends made-up session cookies beside a valid token).
    with open(f"{root}/docs/openapi.json") as f:
        document = json.load(f)
    document["security"] = [{"token": []}]
    schema = f"{work}/openapi.json"
    with open(schema, "w") as f:
        json.dump(document, f)

    base = f"http://127.0.0.1:{args.port}"
    server = subprocess.Popen([vigil, "serve", "--data", data, "--listen", f"127.0.0.1:{args.port}"],
                              stdout=open(log, "w"), stderr=subprocess.STDOUT)
    failed = []
    try:
        if not wait_for(log, "Vigil console:", 60):
            print(f"api-fuzz: vigil serve did not start; see {log}", file=sys.stderr)
            return 1
        # Every token before any run: the runs' made-up sign-ins soon have this address
        # refused by the per-address limit on failed sign-ins, as they should.
        tokens = {role: token(base, role) for role in args.roles}
        for role in args.roles:
            bearer = tokens[role]
            command = [args.schemathesis, "--config-file", f"{root}/scripts/schemathesis.toml", "run", schema, "--url", base, "-H", f"Authorization: Bearer {bearer}",
                       "--checks", "all", "--max-examples", str(args.examples), "--phases", "examples,coverage,fuzzing",
                       "--workers", "1", "--no-color"]
            if args.seed != "random":
                command += ["--seed", args.seed]
            print(f"api-fuzz: {role}", flush=True)
            result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            out = result.stdout
            with open(f"{work}/schemathesis-{role}.log", "w") as f:
                f.write(out)
            summary = [line for line in out.splitlines() if line.startswith("=") and " in " in line]
            print(f"api-fuzz: {role}: {summary[-1].strip('= ') if summary else 'no summary'}", flush=True)
            if result.returncode != 0:
                failed.append(role)
                print(out[-6000:])
            if server.poll() is not None:
                print(f"api-fuzz: vigil serve died during the {role} run (exit {server.returncode}); see {log}", file=sys.stderr)
                return 1
        # Still answering after all of it.
        try:
            urllib.request.urlopen(base + "/api/session", timeout=10)
        except urllib.error.HTTPError as e:
            if e.code != 401:
                failed.append(f"after the runs GET /api/session answered {e.code}")
        except Exception as e:  # noqa: BLE001 - any failure to answer is the finding
            failed.append(f"after the runs the server did not answer: {e}")
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if not args.keep and not failed:
            shutil.rmtree(work, ignore_errors=True)
    if failed:
        print(f"api-fuzz: FAILED for {', '.join(failed)} (logs in {work})", file=sys.stderr)
        return 1
    print(f"api-fuzz: every role passed ({args.examples} examples per operation and phase, seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
